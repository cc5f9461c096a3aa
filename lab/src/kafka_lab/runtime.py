"""The Apache Kafka 3.9.1 runtime: jars fetched from Maven Central into a cache, or $KAFKA_HOME."""
from __future__ import annotations

import os
import shutil
import subprocess
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

from kafka_lab.errors import LabError

KAFKA_VERSION = "3.9.1"


@dataclass(frozen=True)
class KafkaRuntime:
    libs: Path
    java_home: Path

    @property
    def java(self) -> Path:
        return self.java_home / "bin" / "java"

    @property
    def classpath(self) -> str:
        return f"{self.libs}/*"

    def java_cmd(self, main_class: str, *args: str, heap: str = "-Xmx256m") -> list[str]:
        return [str(self.java), heap, "-cp", self.classpath, main_class, *args]


def cache_dir() -> Path:
    base = Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache"))
    return base / "kafka-lab" / f"kafka-{KAFKA_VERSION}"


def find_java_home() -> Path:
    if os.environ.get("JAVA_HOME"):
        return Path(os.environ["JAVA_HOME"])
    java = shutil.which("java")
    if not java:
        raise LabError("java not found: install a Java 17 runtime (Debian: openjdk-17-jre-headless)")
    return Path(os.path.realpath(java)).parent.parent


def locate(fetch: bool = True) -> KafkaRuntime:
    """$KAFKA_HOME/libs if set, else the Maven cache (filled with `mvn` when empty and `fetch`)."""
    java_home = find_java_home()
    if os.environ.get("KAFKA_HOME"):
        libs = Path(os.environ["KAFKA_HOME"]) / "libs"
        if not any(libs.glob("kafka_2.13-*.jar")):
            raise LabError(f"KAFKA_HOME={os.environ['KAFKA_HOME']} has no libs/kafka_2.13-*.jar; "
                                "point it at an unpacked Apache Kafka distribution or unset it")
        return KafkaRuntime(libs, java_home)
    libs = cache_dir() / "libs"
    if not (libs / f"kafka_2.13-{KAFKA_VERSION}.jar").exists():
        if not fetch:
            raise LabError(f"Kafka jars not in {libs}; run `kafka-lab fetch`")
        fetch_jars(libs)
    return KafkaRuntime(libs, java_home)


def fetch_jars(libs: Path) -> None:
    mvn = shutil.which("mvn")
    if not mvn:
        raise LabError("mvn not found: install Maven (Debian: maven) or set KAFKA_HOME")
    tmp = libs.with_name("libs.partial")
    shutil.rmtree(tmp, ignore_errors=True)
    with resources.as_file(resources.files("kafka_lab") / "pom.xml") as pom:
        proc = subprocess.run(
            [mvn, "-B", "-q", "-f", str(pom), "dependency:copy-dependencies",
             f"-DoutputDirectory={tmp}", "-DincludeScope=runtime"],
            capture_output=True, text=True)
    if proc.returncode != 0:
        raise LabError("mvn could not fetch Kafka " + KAFKA_VERSION + ":\n" + (proc.stdout + proc.stderr)[-2000:])
    shutil.rmtree(libs, ignore_errors=True)
    tmp.rename(libs)
