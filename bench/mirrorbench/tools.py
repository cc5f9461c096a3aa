"""The three tools, each started the way its users start it, from the same Kafka 3.9.1 artifacts.

Every tool gets only what the article's setup gives it (bootstrap servers, a group, the topic, the parallelism)
plus what a side-by-side run needs (start from the earliest offset, keep the topic name); everything else is the
tool's own default, since that is what its users run.
"""
from __future__ import annotations

import os
import shutil
import sys
from dataclasses import dataclass, field, replace
from pathlib import Path

from kafka_lab.runtime import KafkaRuntime
from mirrorbench.report import SECURED

# What kafka-run-class.sh gives every Kafka tool.
JVM_PERFORMANCE = ["-server", "-XX:+UseG1GC", "-XX:MaxGCPauseMillis=20", "-XX:InitiatingHeapOccupancyPercent=35",
                   "-XX:+ExplicitGCInvokesConcurrent", "-XX:MaxInlineLevel=15", "-Djava.awt.headless=true"]
LOG4J = """log4j.rootLogger={level}, file
log4j.appender.file=org.apache.log4j.FileAppender
log4j.appender.file.File={path}
log4j.appender.file.layout=org.apache.log4j.PatternLayout
log4j.appender.file.layout.ConversionPattern=[%d] %p %m (%c)%n
"""


@dataclass(frozen=True)
class Launch:
    argv: list[str]
    env: dict[str, str]


@dataclass(frozen=True)
class Job:
    """One run of one tool: where its files go and what it mirrors."""
    workdir: Path
    topic: str
    parallelism: int
    run_id: str
    primary: str
    secondary: str
    producer_extra: dict[str, str] = field(default_factory=dict)  # Java producer settings, e.g. delivery.timeout.ms
    instance_id: str | None = None  # kafka-mirror's static membership, as the mirror_worker role deploys it
    # Java client properties for each cluster besides its bootstrap servers (security); files only, never argv.
    primary_client: dict[str, str] = field(default_factory=dict)
    secondary_client: dict[str, str] = field(default_factory=dict)
    metrics_port: int = 0  # kafka-mirror's /metrics on the loopback (0: off), read for the latency breakdown


def _write(path: Path, text: str) -> Path:
    """0600 from the first byte: the files may hold a SASL password (--secure)."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as f:
        f.write(text)
    path.chmod(0o600)  # a file an earlier run left with another mode
    return path


def _client_files(job: Job) -> tuple[Path, Path]:
    """The article's consumer.properties and producer.properties; kafka-mirror and MirrorMaker 1 read the same."""
    consumer = _write(job.workdir / "consumer.properties",
                      f"bootstrap.servers={job.primary}\ngroup.id=bench-{job.run_id}\nauto.offset.reset=earliest\n" +
                      "".join(f"{k}={v}\n" for k, v in job.primary_client.items()))
    producer = _write(job.workdir / "producer.properties", f"bootstrap.servers={job.secondary}\n" +
                      "".join(f"{k}={v}\n" for k, v in {**job.secondary_client, **job.producer_extra}.items()))
    return consumer, producer


def _java(runtime: KafkaRuntime, heap: list[str], job: Job, level: str, main: str, *args: str) -> list[str]:
    log4j = _write(job.workdir / "log4j.properties", LOG4J.format(level=level, path=job.workdir / "tool.log"))
    return [str(runtime.java), *heap, *JVM_PERFORMANCE, f"-Dlog4j.configuration=file:{log4j}",
            "-cp", runtime.classpath, main, *args]


class Tool:
    name: str
    breakdown = False  # serves kafka-mirror's /metrics: a latency run reads where the time went

    def launch(self, job: Job, runtime: KafkaRuntime) -> Launch:
        raise NotImplementedError

    @staticmethod
    def internal_topics(run_id: str) -> list[str]:
        """Topics of the secondary a run leaves besides the target (deleted after it): none, offsets live in a group."""
        return []


class KafkaMirror(Tool):
    """`consumer_extra`, `producer_extra`: lines appended to consumer.properties, producer.properties, for an A/B of
    one setting; `exactly_once`: the mode of that name, with the static instance id it needs (unique per run);
    `offset_map`: the offset map on; `source`: another checkout's worker/src, put first on the import path, for an
    A/B of a code change (the same interpreter and clients); `options`: more of kafka-mirror's own options."""

    breakdown = True

    def __init__(self, name: str = "kafka-mirror", consumer_extra: str = "", exactly_once: bool = False,
                 offset_map: bool = False, producer_extra: str = "", source: Path | None = None,
                 options: tuple[str, ...] = ()) -> None:
        self.name = name
        self.options = options
        self.source = source
        self.consumer_extra = consumer_extra
        self.producer_extra = producer_extra
        self.exactly_once = exactly_once
        self.offset_map = offset_map

    def launch(self, job: Job, runtime: KafkaRuntime) -> Launch:
        consumer, producer = _client_files(job)
        if self.consumer_extra:
            consumer.write_text(consumer.read_text() + self.consumer_extra)
        if self.producer_extra:
            producer.write_text(producer.read_text() + self.producer_extra)
        exe = shutil.which("kafka-mirror", path=str(Path(sys.executable).parent)) or "kafka-mirror"
        instance_id = job.instance_id or (f"bench-{job.run_id}" if self.exactly_once else None)
        static = ["--instance.id", instance_id] if instance_id else []
        if self.exactly_once:
            static.append("--exactly-once")
        if self.offset_map:
            static.append("--offset-map")
        return Launch([exe, "--consumer.config", str(consumer), "--producer.config", str(producer),
                       "--whitelist", job.topic, "--num.streams", str(job.parallelism), "--metrics.port",
                       str(job.metrics_port),
                       *static, *self.options], {"STATE_DIRECTORY": str(job.workdir),
                                  **({"PYTHONPATH": str(self.source)} if self.source else {})})


# The tuned peers' client settings (issue 13, item 1), from Confluent's "Optimize Confluent Cloud Clients for
# Throughput" (docs.confluent.io/cloud/current/client-apps/optimizing/throughput.html) and its producer tutorial
# (developer.confluent.io/tutorials/optimize-producer-throughput): batch.size 100000-200000 (the top), linger.ms
# 10-100 (20: the guide's low end, the lab's 2 cores favour not waiting), fetch.min.bytes ~100000. Kept equal to
# kafka-mirror, not the guide: acks=all (the guide's acks=1 gives up durability kafka-mirror keeps) and no
# compression (compression.type as the source's records: the workloads' are uncompressed). Idempotence with 5
# requests in flight (Kafka's default since 3.0, named: MirrorMaker 1's kafka-run-class client and MM2's worker
# producer must not fall back to one). max.poll.records 2000 and a 2 MiB partition fetch: larger polls per loop.
TUNED_PRODUCER = {"batch.size": "200000", "linger.ms": "20", "acks": "all", "enable.idempotence": "true",
                  "max.in.flight.requests.per.connection": "5", "compression.type": "none"}
TUNED_CONSUMER = {"fetch.min.bytes": "100000", "max.partition.fetch.bytes": "2097152", "max.poll.records": "2000"}


class MirrorMaker2(Tool):
    """Dedicated mode (connect-mirror-maker.sh): one flow primary->secondary, `tasks.max` = parallelism.

    By default IdentityReplicationPolicy keeps the topic's name, as the other two tools do (`identity=False`: the
    default policy's `primary.<topic>`); `flow`: more settings of the flow (`primary->secondary.<name>`). The Connect
    worker's internal topics and group are named per run, so every run starts from the earliest offset like the
    others.
    """
    name = "MirrorMaker 2"

    def __init__(self, identity: bool = True, flow: dict[str, str] | None = None, name: str = "MirrorMaker 2",
                 consumer: dict[str, str] | None = None, producer: dict[str, str] | None = None) -> None:
        self.identity = identity
        self.flow = flow or {}
        self.name = name
        self.consumer = consumer or {}  # the source connector's consumer: primary.consumer.* (below)
        self.producer = producer or {}  # the Connect worker's producer into the target: secondary.producer.*

    def launch(self, job: Job, runtime: KafkaRuntime) -> Launch:
        r = job.run_id
        props = _write(job.workdir / "mm2.properties", "\n".join([
            "clusters = primary, secondary",
            f"primary.bootstrap.servers = {job.primary}",
            f"secondary.bootstrap.servers = {job.secondary}",
            "primary->secondary.enabled = true",
            f"primary->secondary.topics = {job.topic}",
            *(f"primary->secondary.{k} = {v}" for k, v in self.flow.items()),
            "secondary->primary.enabled = false",
            f"tasks.max = {job.parallelism}",
            *(["replication.policy.class = org.apache.kafka.connect.mirror.IdentityReplicationPolicy"]
              if self.identity else []),
            "sync.topic.acls.enabled = false",  # the lab's brokers have no authorizer
            # <alias>.<client setting>: every client of that cluster, the Connect worker's own included
            # (apache/kafka 3.9, MirrorMakerConfig.clusterProps)
            *(f"primary.{k} = {v}" for k, v in job.primary_client.items()),
            *(f"secondary.{k} = {v}" for k, v in job.secondary_client.items()),
            f"secondary.group.id = bench-{r}",
            f"secondary.offset.storage.topic = bench-{r}-offsets",
            f"secondary.config.storage.topic = bench-{r}-configs",
            f"secondary.status.storage.topic = bench-{r}-status",
            # secondary.producer.*: the Connect worker's producer into the target (apache/kafka 3.9,
            # MirrorMakerConfig.clusterProps and workerConfig); primary.consumer.*: the source connector's consumer
            # (connectorBaseConfig: source.consumer.*)
            *(f"secondary.producer.{k} = {v}" for k, v in {**self.producer, **job.producer_extra}.items()),
            *(f"primary.consumer.{k} = {v}" for k, v in self.consumer.items()),
            "",
        ]))
        heap = ["-Xms256M", "-Xmx2G"]  # connect-mirror-maker.sh
        return Launch(_java(runtime, heap, job, "INFO", "org.apache.kafka.connect.mirror.MirrorMaker", str(props)),
                      {})

    @staticmethod
    def internal_topics(run_id: str) -> list[str]:
        """The Connect worker's topics of the run, on the secondary."""
        return [f"bench-{run_id}-{t}" for t in ("offsets", "configs", "status")]


class MirrorMaker1(Tool):
    """kafka-mirror-maker.sh: kafka.tools.MirrorMaker, the article's tool, with the article's options; `consumer` and
    `producer`: settings added to its property files (the tuned peer)."""

    def __init__(self, name: str = "MirrorMaker 1", consumer: dict[str, str] | None = None,
                 producer: dict[str, str] | None = None) -> None:
        self.name = name
        self.consumer = consumer or {}
        self.producer = producer or {}

    def launch(self, job: Job, runtime: KafkaRuntime) -> Launch:
        consumer, producer = _client_files(job)
        for path, extra in ((consumer, self.consumer), (producer, self.producer)):
            path.write_text(path.read_text() + "".join(f"{k}={v}\n" for k, v in extra.items()))
        heap = ["-Xmx256M"]  # kafka-run-class.sh's default
        return Launch(_java(runtime, heap, job, "WARN", "kafka.tools.MirrorMaker", "--consumer.config", str(consumer),
                            "--producer.config", str(producer), "--whitelist", job.topic,
                            "--num.streams", str(job.parallelism)), {})


class OverSaslSsl(Tool):
    """A tool reaching both clusters on the secure lab's SASL_SSL listeners (TLS and SCRAM), all else unchanged: the
    throughput cost of security, against the same tool on PLAINTEXT in the same run."""

    def __init__(self, tool: Tool, secure) -> None:
        self.tool, self.secure = tool, secure
        self.name = SECURED % tool.name

    def launch(self, job: Job, runtime: KafkaRuntime) -> Launch:
        primary, secondary = self.secure
        return self.tool.launch(replace(job, primary=primary.bootstrap, secondary=secondary.bootstrap,
                                        primary_client=primary.client, secondary_client=secondary.client), runtime)

    def internal_topics(self, run_id: str) -> list[str]:
        return self.tool.internal_topics(run_id)


TOOLS = {"kafka-mirror": KafkaMirror(), "mm2": MirrorMaker2(), "mm1": MirrorMaker1(),
         # the peers as a user who cares about speed runs them (TUNED_*)
         "mm2-tuned": MirrorMaker2(name="MirrorMaker 2 tuned", consumer=TUNED_CONSUMER, producer=TUNED_PRODUCER),
         "mm1-tuned": MirrorMaker1(name="MirrorMaker 1 tuned", consumer=TUNED_CONSUMER, producer=TUNED_PRODUCER),
         # librdkafka's own default, which kafka-mirror overrode after profiling (bench/README.md)
         "kafka-mirror-backoff1000": KafkaMirror("kafka-mirror, fetch.queue.backoff.ms=1000",
                                                 "fetch.queue.backoff.ms=1000\n"),
         # librdkafka's own linger.ms, against kafka-mirror's 20 (issue 13, item 2: no better at 1,000 or 10,000/s)
         "kafka-mirror-linger5": KafkaMirror("kafka-mirror, linger.ms=5", producer_extra="linger.ms=5\n"),
         # the producer's partitioner places every record, as MirrorMaker 1's (issue 13, item 2: the p50 at 1,000/s)
         "kafka-mirror-producer": KafkaMirror("kafka-mirror, --partitioning producer",
                                              options=("--partitioning", "producer")),
         # the same, keyless records kept on a partition for two of the producer's lingers (librdkafka's default 10 ms
         # is two of its own default linger.ms, 5; kafka-mirror lingers 20)
         "kafka-mirror-producer-sticky40": KafkaMirror("kafka-mirror, --partitioning producer, "
                                                       "sticky.partitioning.linger.ms=40",
                                                       producer_extra="sticky.partitioning.linger.ms=40\n",
                                                       options=("--partitioning", "producer")),
         # MirrorMaker 1's commit interval (its offset.commit.interval.ms default): a checkpoint's pause 12x rarer
         "kafka-mirror-commit60": KafkaMirror("kafka-mirror, --offset.commit.interval.ms 60000",
                                              options=("--offset.commit.interval.ms", "60000")),
         # both: how much of the tail at 1 KiB and parallelism 4 the checkpoint's pause is
         "kafka-mirror-producer-commit60": KafkaMirror("kafka-mirror, --partitioning producer, "
                                                       "--offset.commit.interval.ms 60000",
                                                       options=("--partitioning", "producer",
                                                                "--offset.commit.interval.ms", "60000")),
         # no linger, as MirrorMaker 1's Java producer by default (Kafka 3.9): the p50 gap at 1,000 records/s
         "kafka-mirror-linger0": KafkaMirror("kafka-mirror, linger.ms=0", producer_extra="linger.ms=0\n"),
         # TCP_NODELAY on every broker socket, as Kafka's Java clients set it (librdkafka leaves Nagle on)
         "kafka-mirror-nodelay": KafkaMirror("kafka-mirror, socket.nagle.disable=true", "socket.nagle.disable=true\n",
                                             producer_extra="socket.nagle.disable=true\n"),
         # the source consumer as Kafka's Java client sets it by default (librdkafka reads read_committed), and with a
         # short fetch wait: the fetched age at 1,000 records/s (issue 13, item 2)
         "kafka-mirror-uncommitted": KafkaMirror("kafka-mirror, isolation.level=read_uncommitted",
                                                 "isolation.level=read_uncommitted\n"),
         "kafka-mirror-fetchwait10": KafkaMirror("kafka-mirror, fetch.wait.max.ms=10", "fetch.wait.max.ms=10\n"),
         # transactions on the target with the positions in them (issue 11): its throughput cost
         "kafka-mirror-eos": KafkaMirror("kafka-mirror --exactly-once", exactly_once=True),
         # the offset map (issue 11, item 1): its cost, alone and inside the transactions
         "kafka-mirror-map": KafkaMirror("kafka-mirror --offset-map", offset_map=True),
         "kafka-mirror-eos-map": KafkaMirror("kafka-mirror --exactly-once --offset-map", exactly_once=True,
                                             offset_map=True)}
