"""The mirror's configuration: MirrorMaker's command line and properties files, or one worker.yaml."""
from __future__ import annotations

import argparse
import socket
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import yaml

from kafka_mirror.errors import ConfigError
from kafka_mirror.properties import parse_properties, translate
from kafka_mirror.selection import TopicSelection

# Settings the mirror's guarantees rest on: not overridable from the properties files.
CONSUMER_FIXED = {"enable.auto.commit": False, "enable.auto.offset.store": False, "enable.partition.eof": False}
PRODUCER_FIXED = {"enable.idempotence": True, "acks": "all"}
# fetch.queue.backoff.ms: librdkafka pauses a partition's fetching this long whenever the prefetch queue is over its
# thresholds; its default (1000) left a stream idle 56% of the time waiting for records (bench/RESULTS.md, py-spy).
CONSUMER_DEFAULTS = {"auto.offset.reset": "earliest", "partition.assignment.strategy": "cooperative-sticky",
                     "fetch.min.bytes": "1", "queued.max.messages.kbytes": "65536", "fetch.queue.backoff.ms": "10"}
PRODUCER_DEFAULTS = {"linger.ms": "20", "batch.size": "1000000", "partitioner": "murmur2_random",
                     "compression.type": "none", "queue.buffering.max.messages": "500000"}
ADMIN_KEYS = ("bootstrap.servers", "security.protocol", "sasl.mechanism", "sasl.mechanisms", "sasl.username",
              "sasl.password", "ssl.ca.location", "ssl.certificate.location", "ssl.key.location", "ssl.key.password",
              "ssl.endpoint.identification.algorithm", "client.id")


@dataclass(frozen=True)
class MirrorConfig:
    consumer: dict[str, Any]
    producer: dict[str, Any]
    topics: TopicSelection
    streams: int = 1
    commit_interval_s: float = 5.0
    abort_on_send_failure: bool = True
    refresh_interval_s: float = 30.0
    create_topics: bool = True  # False: leave creation to the target broker's auto.create.topics.enable
    replication_factor: int = -1  # -1: the target broker's default.replication.factor
    metrics_port: int | None = 9464
    metrics_host: str = "0.0.0.0"
    log_format: str = "plain"
    instance_id: str = field(default_factory=socket.gethostname)
    batch_size: int = 10000
    warnings: tuple[str, ...] = ()

    def admin(self, side: str) -> dict[str, Any]:
        conf = self.consumer if side == "source" else self.producer
        return {k: v for k, v in conf.items() if k in ADMIN_KEYS}

    def for_stream(self, index: int) -> "MirrorConfig":
        """Each stream is a group member with its own static identity (group.instance.id)."""
        consumer = {**self.consumer, "group.instance.id": f"{self.instance_id}-{index}",
                    "client.id": f"kafka-mirror-{self.instance_id}-{index}"}
        return replace(self, consumer=consumer)


def _load_properties(path: str | None, inline: dict[str, Any] | None, role: str) -> tuple[dict, list[str]]:
    props: dict[str, str] = {}
    if path:
        try:
            props.update(parse_properties(Path(path).read_text()))
        except OSError as exc:
            raise ConfigError(f"cannot read --{role}.config {path}: {exc.strerror}") from None
    props.update({k: _text(v) for k, v in (inline or {}).items()})
    if not props:
        raise ConfigError(f"no {role} configuration: give --{role}.config FILE (or '{role}' in --config worker.yaml)")
    return translate(props, role)


def _text(value: Any) -> str:
    return ("true" if value else "false") if isinstance(value, bool) else str(value)


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="kafka-mirror",
        description="Mirror Kafka topics from a source cluster to a target cluster (MirrorMaker-compatible).")
    p.add_argument("--config", help="worker.yaml with everything below (command-line options override it)")
    p.add_argument("--consumer.config", dest="consumer_config", help="source cluster consumer properties file")
    p.add_argument("--producer.config", dest="producer_config", help="target cluster producer properties file")
    p.add_argument("--whitelist", "--include", dest="include",
                   help="topics to mirror: a Java regex; a comma means '|' (as MirrorMaker)")
    p.add_argument("--exclude", "--blacklist", dest="exclude", help="topics not to mirror (Java regex)")
    p.add_argument("--num.streams", dest="num_streams", type=int, help="consumer processes (default 1)")
    p.add_argument("--offset.commit.interval.ms", dest="offset_commit_interval_ms", type=int,
                   help="how often acknowledged progress is committed (default 5000)")
    p.add_argument("--abort.on.send.failure", dest="abort_on_send_failure", choices=["true", "false"],
                   help="stop on a record that cannot be delivered (default true); false pauses and retries")
    p.add_argument("--topic.refresh.interval.ms", dest="topic_refresh_interval_ms", type=int,
                   help="how often new topics and partitions are picked up (default 30000)")
    p.add_argument("--no-create-topics", dest="create_topics", action="store_const", const=False,
                   help="leave topic creation to the target broker's auto.create.topics.enable")
    p.add_argument("--replication.factor", dest="replication_factor", type=int,
                   help="of topics the mirror creates (default: the target broker's default)")
    p.add_argument("--metrics.port", dest="metrics_port", type=int, help="port of /metrics and /health (0: off)")
    p.add_argument("--metrics.host", dest="metrics_host", help="address of /metrics and /health (default 0.0.0.0)")
    p.add_argument("--log.format", dest="log_format", choices=["plain", "json"])
    p.add_argument("--instance.id", dest="instance_id", help="static group membership id prefix (default hostname)")
    p.add_argument("--message.handler", dest="message_handler", help=argparse.SUPPRESS)
    p.add_argument("--consumer.rebalance.listener", dest="rebalance_listener", help=argparse.SUPPRESS)
    p.add_argument("--new.consumer", action="store_true", help=argparse.SUPPRESS)
    return p


def load(argv: list[str]) -> MirrorConfig:
    args = parser().parse_args(argv)
    for java_only in ("message_handler", "rebalance_listener"):
        if getattr(args, java_only):
            raise ConfigError(f"--{java_only.replace('_', '.')} loads a Java class, which the mirror cannot run; "
                              "it copies records as they are")
    yml: dict[str, Any] = {}
    if args.config:
        try:
            yml = yaml.safe_load(Path(args.config).read_text()) or {}
        except (OSError, yaml.YAMLError) as exc:
            raise ConfigError(f"cannot read --config {args.config}: {exc}") from None
        if not isinstance(yml, dict):
            raise ConfigError(f"--config {args.config} must be a mapping of settings")

    def pick(name: str, default: Any = None) -> Any:
        value = getattr(args, name, None)
        return value if value is not None else yml.get(name, default)

    consumer, w1 = _load_properties(pick("consumer_config"), yml.get("consumer"), "consumer")
    producer, w2 = _load_properties(pick("producer_config"), yml.get("producer"), "producer")
    if not consumer.get("group.id"):
        raise ConfigError("consumer configuration has no group.id: the mirror's consumers form one group "
                          "(set group.id in consumer.properties)")
    include = pick("include")
    if not include:
        raise ConfigError("no topics to mirror: give --whitelist (or --include) REGEX, e.g. --whitelist testtopic")
    streams = int(pick("num_streams", 1))
    if streams < 1:
        raise ConfigError("--num.streams must be 1 or more")
    abort = pick("abort_on_send_failure", True)
    metrics_port = pick("metrics_port", 9464)
    return MirrorConfig(
        consumer={**CONSUMER_DEFAULTS, **consumer, **CONSUMER_FIXED},
        producer={**PRODUCER_DEFAULTS, **producer, **PRODUCER_FIXED},
        topics=TopicSelection(str(include), pick("exclude")),
        streams=streams,
        commit_interval_s=int(pick("offset_commit_interval_ms", 5000)) / 1000,
        abort_on_send_failure=str(abort).lower() == "true",
        refresh_interval_s=int(pick("topic_refresh_interval_ms", 30000)) / 1000,
        create_topics=bool(pick("create_topics", True)),
        replication_factor=int(pick("replication_factor", -1)),
        metrics_port=int(metrics_port) or None,
        metrics_host=str(pick("metrics_host", "0.0.0.0")),
        log_format=str(pick("log_format", "plain")),
        instance_id=str(pick("instance_id", socket.gethostname())),
        warnings=tuple(w1 + w2),
    )
