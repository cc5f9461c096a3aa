"""MirrorMaker 2 as its users fail a group over with it: checkpoints and sync.group.offsets (dedicated mode)."""
from __future__ import annotations

from kafka_lab.runtime import KafkaRuntime
from mirrorbench.tools import Job, Launch, _java, _write

SOURCE_ALIAS = "primary"
INTERVAL_S = 10  # kafka-mirror copies sync_groups every 10 s; MM2's defaults are 60 s (checkpoints, sync) and 600 s


def remote_topic(topic: str) -> str:
    """DefaultReplicationPolicy: what MM2's users get unless they choose another policy."""
    return f"{SOURCE_ALIAS}.{topic}"


# Each setting besides the connection and the run's names, and why (apache/kafka 3.9, MirrorCheckpointConfig):
SETTINGS = {
    "emit.checkpoints.enabled": "true",  # the default
    "emit.checkpoints.interval.seconds": str(INTERVAL_S),  # default 60
    "sync.group.offsets.enabled": "true",  # default false: MM2's equivalent of failover.yml's commit
    "sync.group.offsets.interval.seconds": str(INTERVAL_S),  # default 60
    "refresh.groups.interval.seconds": str(INTERVAL_S),  # default 600: a group that appears later is found late
}


def launch(job: Job, runtime: KafkaRuntime, groups: str) -> Launch:
    """`job.topic` and `groups`: regular expressions of MM2's `topics` and `groups`."""
    r = job.run_id
    flow = f"{SOURCE_ALIAS}->secondary"
    props = _write(job.workdir / "mm2.properties", "\n".join([
        f"clusters = {SOURCE_ALIAS}, secondary",
        f"{SOURCE_ALIAS}.bootstrap.servers = {job.primary}",
        f"secondary.bootstrap.servers = {job.secondary}",
        f"{flow}.enabled = true",
        f"{flow}.topics = {job.topic}",
        f"{flow}.groups = {groups}",
        *(f"{flow}.{k} = {v}" for k, v in SETTINGS.items()),
        f"secondary->{SOURCE_ALIAS}.enabled = false",
        f"tasks.max = {job.parallelism}",
        "sync.topic.acls.enabled = false",  # the lab's brokers have no authorizer
        f"secondary.group.id = failover-{r}",
        f"secondary.offset.storage.topic = failover-{r}-offsets",
        f"secondary.config.storage.topic = failover-{r}-configs",
        f"secondary.status.storage.topic = failover-{r}-status",
        "",
    ]))
    return Launch(_java(runtime, ["-Xms256M", "-Xmx2G"], job, "INFO", "org.apache.kafka.connect.mirror.MirrorMaker",
                        str(props)), {})


def internal_topics(run_id: str) -> list[str]:
    """The run's Connect topics on the secondary (MM2's checkpoints, heartbeats and offset syncs stay: shared)."""
    return [f"failover-{run_id}-{t}" for t in ("offsets", "configs", "status")]
