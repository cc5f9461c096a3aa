"""The Apache Kafka runtime of a lab: one of the releases below, jars fetched from Maven Central into a cache,
or $KAFKA_HOME."""
from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path

from kafka_lab.errors import LabError


@dataclass(frozen=True)
class KafkaRelease:
    """A Kafka release the lab can run, and how: KRaft or ZooKeeper, and what Maven must fetch for it."""

    version: str
    scala: str
    kraft: bool  # False: brokers register in ZooKeeper (every release before 3.3 in production)
    extra: tuple[str, ...] = ()  # group:artifact:version beside the broker
    note: str = ""

    @property
    def broker_jar(self) -> str:
        return f"kafka_{self.scala}-{self.version}.jar"

    def pom(self) -> str:
        deps = [f"org.apache.kafka:kafka_{self.scala}:{self.version}", *self.extra]
        xml = "".join(
            f"<dependency><groupId>{g}</groupId><artifactId>{a}</artifactId><version>{v}</version></dependency>"
            for g, a, v in (d.split(":") for d in deps))
        return ('<project xmlns="http://maven.apache.org/POM/4.0.0"><modelVersion>4.0.0</modelVersion>'
                f"<groupId>ambari-kafka.mirroring</groupId><artifactId>kafka-lab-runtime-{self.version}</artifactId>"
                f"<version>1</version><packaging>pom</packaging><dependencies>{xml}</dependencies></project>\n")


DEFAULT_VERSION = "3.9.1"
# What HDInsight ships (4.0: Kafka 2.1, 5.0: 2.4, 5.1: 3.2, all with ZooKeeper) and the lab's default. Each
# ran on this machine's Java 17 (tests/integration/test_kafka_releases.py).
RELEASES = {r.version: r for r in (
    KafkaRelease("3.9.1", "2.13", kraft=True, extra=(
        "org.apache.kafka:kafka-tools:3.9.1",  # console producer/consumer, perf tools
        "org.apache.kafka:connect-mirror:3.9.1", "org.apache.kafka:connect-runtime:3.9.1",  # MirrorMaker 2
        "org.slf4j:slf4j-reload4j:1.7.36")),  # the binding the Apache distribution ships in libs/
    KafkaRelease("3.2.0", "2.13", kraft=False, extra=("org.slf4j:slf4j-reload4j:1.7.36",)),
    KafkaRelease("2.4.1", "2.13", kraft=False, extra=("org.slf4j:slf4j-log4j12:1.7.28",)),
    KafkaRelease("2.1.1", "2.12", kraft=False, extra=(
        "org.slf4j:slf4j-log4j12:1.7.25",
        # The ZooKeeper 3.4.13 client it ships cannot connect on Java 14+ (it hands an unresolved address to
        # SocketChannel.connect: UnresolvedAddressException); 3.5.7, the client Kafka 2.4 ships, can.
        "org.apache.zookeeper:zookeeper:3.5.7"),
        note="with the ZooKeeper 3.5.7 client: its own 3.4.13 cannot connect on Java 17"),
)}


@dataclass(frozen=True)
class KafkaRuntime:
    libs: Path
    java_home: Path
    release: KafkaRelease = RELEASES[DEFAULT_VERSION]

    @property
    def java(self) -> Path:
        return self.java_home / "bin" / "java"

    @property
    def classpath(self) -> str:
        return f"{self.libs}/*"

    def java_cmd(self, main_class: str, *args: str, heap: str = "-Xmx256m") -> list[str]:
        return [str(self.java), heap, "-cp", self.classpath, main_class, *args]


def release(version: str) -> KafkaRelease:
    try:
        return RELEASES[version]
    except KeyError:
        raise LabError(f"The lab runs Kafka {', '.join(RELEASES)}, not '{version}'") from None


def cache_dir(version: str = DEFAULT_VERSION) -> Path:
    base = Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache"))
    return base / "kafka-lab" / f"kafka-{version}"


def fetched(version: str = DEFAULT_VERSION) -> bool:
    return bool(os.environ.get("KAFKA_HOME")) or (cache_dir(version) / "libs" / release(version).broker_jar).exists()


def find_java_home() -> Path:
    if os.environ.get("JAVA_HOME"):
        return Path(os.environ["JAVA_HOME"])
    java = shutil.which("java")
    if not java:
        raise LabError("java not found: install a Java 17 runtime (Debian: openjdk-17-jre-headless)")
    return Path(os.path.realpath(java)).parent.parent


def locate(fetch: bool = True, version: str = DEFAULT_VERSION) -> KafkaRuntime:
    """$KAFKA_HOME/libs if set (it must hold `version`), else the Maven cache (filled by `mvn` when empty and
    `fetch`)."""
    java_home = find_java_home()
    wanted = release(version)
    if os.environ.get("KAFKA_HOME"):
        libs = Path(os.environ["KAFKA_HOME"]) / "libs"
        if not (libs / wanted.broker_jar).exists():
            raise LabError(f"KAFKA_HOME={os.environ['KAFKA_HOME']} has no libs/{wanted.broker_jar}; point it at "
                           f"an unpacked Apache Kafka {version} distribution or unset it")
        return KafkaRuntime(libs, java_home, wanted)
    libs = cache_dir(version) / "libs"
    if not (libs / wanted.broker_jar).exists():
        if not fetch:
            raise LabError(f"Kafka {version} jars not in {libs}; run `kafka-lab fetch --kafka-version {version}`")
        fetch_jars(wanted, libs)
    return KafkaRuntime(libs, java_home, wanted)


def fetch_jars(wanted: KafkaRelease, libs: Path) -> None:
    mvn = shutil.which("mvn")
    if not mvn:
        raise LabError("mvn not found: install Maven (Debian: maven) or set KAFKA_HOME")
    tmp = libs.with_name("libs.partial")
    shutil.rmtree(tmp, ignore_errors=True)
    libs.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.NamedTemporaryFile("w", suffix=".xml", dir=libs.parent) as pom:
        pom.write(wanted.pom())
        pom.flush()
        proc = subprocess.run(
            [mvn, "-B", "-q", "-f", pom.name, "dependency:copy-dependencies",
             f"-DoutputDirectory={tmp}", "-DincludeScope=runtime"],
            capture_output=True, text=True)
    if proc.returncode != 0:
        raise LabError(f"mvn could not fetch Kafka {wanted.version}:\n" + (proc.stdout + proc.stderr)[-2000:])
    shutil.rmtree(libs, ignore_errors=True)
    tmp.rename(libs)
