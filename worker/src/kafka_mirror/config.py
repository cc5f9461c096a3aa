"""The mirror's configuration: MirrorMaker's command line and properties files, or one worker.yaml."""
from __future__ import annotations

import argparse
import difflib
import os
import re
import shutil
import socket
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import yaml

from kafka_mirror.errors import ConfigError
from kafka_mirror.partitioning import MODES as PARTITIONING
from kafka_mirror.properties import parse_properties, translate
from kafka_mirror.selection import TopicSelection
from kafka_mirror.topics import TIMEOUT_S

# Settings the mirror's guarantees rest on: not overridable from the properties files.
POSITIONS_TOPIC = "kafka-mirror.positions"  # exactly-once: where each partition resumes (transactions.py)
POSITIONS_GRACE_S = 15.0  # exactly-once: an assignment waits this long past transaction.timeout.ms for them
CONSUMER_FIXED = {"enable.auto.commit": False, "enable.auto.offset.store": False, "enable.partition.eof": False}
PRODUCER_FIXED = {"enable.idempotence": True, "acks": "all"}
# fetch.queue.backoff.ms: librdkafka pauses a partition's fetching this long whenever the prefetch queue is over its
# thresholds; its default (1000) left a stream idle 56% of the time waiting for records (bench/RESULTS.md, py-spy).
CONSUMER_DEFAULTS = {"auto.offset.reset": "earliest", "partition.assignment.strategy": "cooperative-sticky",
                     "fetch.min.bytes": "1", "queued.max.messages.kbytes": "65536", "fetch.queue.backoff.ms": "10"}
# linger.ms 20: librdkafka's own default (5) measured no higher throughput at 100 B, and 5 and 0 a higher p50 at
# 1,000 and 10,000 records/s, 0 in every one of 6 rounds (bench/results/linger-quick, latency-ab, linger-ab2,
# linger0-ab; bench/README.md, issue 13).
# message.max.bytes: librdkafka's default (1,000,000) refuses records that MirrorMaker's Java producer
# (max.request.size 1,048,576) and a default broker (message.max.bytes 1,048,588) accept.
PRODUCER_DEFAULTS = {"linger.ms": "20", "batch.size": "1000000", "partitioner": "murmur2_random",
                     "compression.type": "none", "queue.buffering.max.messages": "500000",
                     "message.max.bytes": "1048588"}
# What an admin client takes from the consumer's or producer's settings: how to reach and authenticate to the
# cluster, whatever the mechanism (PLAIN, SCRAM, GSSAPI, OAUTHBEARER/OIDC, mTLS with PEM or PKCS#12).
ADMIN_KEYS = ("bootstrap.servers", "security.protocol", "client.id", "client.rack", "broker.address.family",
              "socket.timeout.ms", "socket.keepalive.enable", "socket.connection.setup.timeout.ms",
              "enable.ssl.certificate.verification", "enable.sasl.oauthbearer.unsecure.jwt")
ADMIN_PREFIXES = ("sasl.", "ssl.", "ssl_", "https.")


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
    sync_topic_configs: bool = True  # existing target topics get the source's own configs (default: not provenance)
    provenance: bool = False  # stamp each record with the cluster it was first written to; never mirror one back
    replication_factor: int = -1  # -1: the target broker's default.replication.factor
    partitioning: str = "source"  # who places records on the target (partitioning.py)
    metrics_port: int | None = 9464
    metrics_host: str = "127.0.0.1"
    log_format: str = "plain"
    instance_id: str | None = None  # static group membership: set, unique per worker, to keep partitions
    batch_size: int = 10000
    warnings: tuple[str, ...] = ()
    # The offset map on the target (offset_map.py) and the source groups whose offsets it mirrors (translate.py).
    offset_map: bool = False  # opt-in until its limits (docs/FAILOVER.md) are lifted
    offset_map_topic: str = "kafka-mirror.offset-map"
    source_alias: str = ""  # names the source in the map's keys; default: the mirror's group.id
    sync_groups: tuple[str, ...] = ()
    sync_group_offsets: bool = False  # the sync_groups' translated offsets committed on the target (group_sync.py)
    # Exactly-once (transactions.py): a transactional producer per stream, positions stored in its transactions.
    exactly_once: bool = False
    positions_topic: str = POSITIONS_TOPIC

    def admin(self, side: str) -> dict[str, Any]:
        conf = self.consumer if side == "source" else self.producer
        return {k: v for k, v in conf.items() if k in ADMIN_KEYS or k.startswith(ADMIN_PREFIXES)}

    def for_stream(self, index: int) -> "MirrorConfig":
        """Each stream is a member of the group; with an instance id, a static one (group.instance.id) that keeps
        its partitions across a quick restart. Without one, a dynamic member, unique per process by design."""
        consumer = {**self.consumer, "client.id": f"kafka-mirror-{self.instance_id or socket.gethostname()}-{index}"}
        if self.instance_id:
            consumer["group.instance.id"] = f"{self.instance_id}-{index}"
        return replace(self, consumer=consumer)

    @property
    def transaction_timeout_s(self) -> float:
        """librdkafka's transaction.timeout.ms (default 60000): how long a dead producer's transaction stays open."""
        return int(self.producer.get("transaction.timeout.ms", 60000)) / 1000

    @property
    def positions_wait_s(self) -> float:
        """Exactly-once: how long an assignment waits for the end of the positions topic, which a dead worker's open
        transaction holds back until the coordinator aborts it (transaction.timeout.ms)."""
        return self.transaction_timeout_s + POSITIONS_GRACE_S


def _load_properties(path: str | None, inline: dict[str, Any] | None, role: str) -> tuple[dict, list[str]]:
    props: dict[str, str] = {}
    if path is not None and not isinstance(path, str):
        raise ConfigError(f"{role}_config must be the path of a {role}.properties file, not {path!r}")
    if path:
        try:  # as Java's Properties.load(InputStream) reads it: ISO 8859-1, so any byte is a character
            props.update(parse_properties(Path(path).read_text(encoding="latin-1")))
        except OSError as exc:
            raise ConfigError(f"cannot read --{role}.config {path}: {exc.strerror}") from None
        except ValueError:  # a NUL in the path
            raise ConfigError(f"--{role}.config is not a usable path: {path!r}") from None
    for key, value in (inline or {}).items():
        if value is None or isinstance(value, (dict, list)):
            raise ConfigError(f"{role} property {key} needs a single value (a string, number or boolean), not "
                              f"{'nothing' if value is None else type(value).__name__}")
        props[str(key)] = _text(value)
    if "group.instance.id" in props:
        raise ConfigError(f"{role} configuration sets group.instance.id, which every stream would share (each one "
                          "would fence the others): give --instance.id (instance_id in worker.yaml) instead; each "
                          "stream then gets <instance.id>-<stream>-<digest of its topics>")
    if not props:
        raise ConfigError(f"no {role} configuration: give --{role}.config FILE (or '{role}' in --config worker.yaml)")
    conf, warnings = translate(props, role)
    check_kerberos(conf, role)
    return conf, warnings


def check_kerberos(conf: dict[str, str], role: str) -> None:
    """GSSAPI (Kerberos, HDInsight ESP): librdkafka runs kinit with a keytab; without one the client only logs
    authentication failures forever. Stop at start-up instead, naming what is missing on this node."""
    if str(conf.get("sasl.mechanism", conf.get("sasl.mechanisms", ""))).upper() != "GSSAPI":
        return
    side = "source (primary)" if role == "consumer" else "target (secondary)"
    keytab, principal = conf.get("sasl.kerberos.keytab"), conf.get("sasl.kerberos.principal")
    if not keytab:
        raise ConfigError(f"{role} configuration uses sasl.mechanism=GSSAPI (Kerberos) without sasl.kerberos.keytab: "
                          f"give the keytab of the {side} cluster's principal (sasl.kerberos.principal) on this node")
    if not os.path.isfile(keytab):
        raise ConfigError(f"{role} configuration: the Kerberos keytab {keytab} (sasl.kerberos.keytab) does not exist "
                          f"on this node ({socket.gethostname()}); copy the principal's keytab there (ktutil, or the "
                          "ESP cluster's domain join), readable by the mirror's user")
    if not os.access(keytab, os.R_OK):
        raise ConfigError(f"{role} configuration: the Kerberos keytab {keytab} (sasl.kerberos.keytab) is not "
                          f"readable by this user (uid {os.getuid()}); give the mirror's user read access (mode 0440, "
                          "group of the service)")
    if not principal:
        raise ConfigError(f"{role} configuration uses sasl.mechanism=GSSAPI without sasl.kerberos.principal: give the "
                          f"principal of {keytab}, e.g. mirror@EXAMPLE.COM")
    if "sasl.kerberos.kinit.cmd" not in conf and not shutil.which("kinit"):  # librdkafka's default command
        raise ConfigError(f"{role} configuration uses Kerberos (GSSAPI) but kinit is not installed on this node: "
                          "install the Kerberos client tools (Debian/Ubuntu: krb5-user; RHEL: krb5-workstation)")


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
    p.add_argument("--sync.topic.configs", dest="sync_topic_configs", choices=["true", "false"],
                   help="set on existing target topics the configs their source topics set, at each topic refresh "
                        "(default true, false with --provenance: set it on one direction only; as MirrorMaker 2's "
                        "sync.topic.configs.enabled, but never removing a config the target sets and the source "
                        "does not)")
    p.add_argument("--provenance", dest="provenance", choices=["true", "false"],
                   help="active-active: stamp each record with the id of the cluster it was first written to (header "
                        "kafka-mirror.origin, kept on further hops) and never mirror a record back to that cluster "
                        "(default false: records are copied as they are)")
    p.add_argument("--partitioning", dest="partitioning", choices=PARTITIONING,
                   help="source (the default): each record keeps its source partition (order per partition, the "
                        "offset map) where the target has as many; producer: the producer's partitioner places "
                        "every record, as MirrorMaker 1 (keyed records by murmur2, keyless ones a partition at a "
                        "time: fewer, fuller requests and a lower latency at low rates; order per key only (while the "
                        "partition counts stay), not per source partition; not with --offset-map)")
    p.add_argument("--replication.factor", dest="replication_factor", type=int,
                   help="of topics the mirror creates (default: the target broker's default)")
    p.add_argument("--metrics.port", dest="metrics_port", type=int, help="port of /metrics and /health (0: off)")
    p.add_argument("--metrics.host", dest="metrics_host",
                   help="address of /metrics and /health (default 127.0.0.1; 0.0.0.0 exposes them)")
    p.add_argument("--log.format", dest="log_format", choices=["plain", "json"])
    p.add_argument("--instance.id", dest="instance_id",
                   help="static group membership: member ids <instance.id>-<stream>-<digest of its topics>, unique "
                        "per worker (default: dynamic membership)")
    p.add_argument("--offset-map", dest="offset_map", action="store_const", const=True,
                   help="keep the offset map on the target, for `kafka-mirror offsets translate` (off by default)")
    p.add_argument("--no-offset-map", dest="offset_map", action="store_const", const=False,
                   help="do not keep the offset map (the default)")
    p.add_argument("--exactly-once", dest="exactly_once", action="store_const", const=True,
                   help="write the target in transactions that also store where each source partition resumes: a "
                        "read_committed consumer of the target sees every record once, even after kill -9 (needs "
                        "--instance.id)")
    p.add_argument("--no-exactly-once", dest="exactly_once", action="store_const", const=False,
                   help="do not use transactions (the default)")
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
            yml = yaml.safe_load(Path(args.config).read_text(encoding="utf-8")) or {}
        except (OSError, ValueError, yaml.YAMLError) as exc:  # ValueError: not UTF-8
            raise ConfigError(f"cannot read --config {args.config}: {exc}") from None
        if not isinstance(yml, dict):
            raise ConfigError(f"--config {args.config} must be a mapping of settings")
        _check_keys(yml, args.config)

    def pick(name: str, default: Any = None) -> Any:
        value = getattr(args, name, None)
        return value if value is not None else yml.get(name, default)

    for role in ("consumer", "producer"):
        if yml.get(role) is not None and not isinstance(yml[role], dict):
            raise ConfigError(f"--config {args.config}: '{role}' must be a map of {role} properties "
                              f"(name: value), not {type(yml[role]).__name__}")
    consumer, w1 = _load_properties(pick("consumer_config"), yml.get("consumer"), "consumer")
    producer, w2 = _load_properties(pick("producer_config"), yml.get("producer"), "producer")
    if not consumer.get("group.id"):
        raise ConfigError("consumer configuration has no group.id: the mirror's consumers form one group "
                          "(set group.id in consumer.properties)")
    include = pick("include")
    if not include or not isinstance(include, str):
        raise ConfigError("no topics to mirror: give --whitelist (or --include) REGEX, e.g. --whitelist testtopic")
    exclude = pick("exclude")
    if exclude is not None and not isinstance(exclude, str):
        raise ConfigError("exclude must be one regular expression (a string), e.g. 'test.*|tmp.*'")
    metrics_port = _integer(pick("metrics_port", 9464), "metrics_port", 0, 65535)
    provenance = _boolean(pick("provenance", False), "provenance")
    instance_id = pick("instance_id")
    exactly_once = _boolean(pick("exactly_once", False), "exactly_once")
    offset_map = _boolean(pick("offset_map", False), "offset_map")
    partitioning = _choice_text(pick("partitioning", "source"), "partitioning", PARTITIONING)
    if partitioning == "producer" and offset_map:
        raise ConfigError("--partitioning producer (partitioning: producer) cannot go with --offset-map (offset_map: "
                          "true): the producer's partitioner places records, so no target offset follows from a "
                          "source offset. Give --partitioning source (the default) to keep the map, or "
                          "--no-offset-map (offset_map: false)")
    if exactly_once:
        _check_exactly_once(instance_id, producer, consumer)
    offset_map_topic = _choice_text(pick("offset_map_topic", "kafka-mirror.offset-map"), "offset_map_topic")
    sync_groups = _groups(pick("sync_groups", []))
    sync_group_offsets = _boolean(pick("sync_group_offsets", False), "sync_group_offsets")
    if sync_group_offsets and not (offset_map and sync_groups):
        raise ConfigError("sync_group_offsets commits the translated offsets of the sync_groups on the target: it needs "
                          "offset_map: true and the groups in sync_groups")
    positions_topic = _choice_text(pick("positions_topic", POSITIONS_TOPIC), "positions_topic")
    return MirrorConfig(
        consumer={**CONSUMER_DEFAULTS, **consumer, **CONSUMER_FIXED},
        producer={**PRODUCER_DEFAULTS, **producer, **PRODUCER_FIXED},
        # the mirror's own topics are never mirrored: a reverse or chained mirror would copy another's state
        topics=TopicSelection(include, exclude, own=(offset_map_topic, positions_topic)),
        streams=_integer(pick("num_streams", 1), "num_streams", 1, 256),
        commit_interval_s=_integer(pick("offset_commit_interval_ms", 5000), "offset_commit_interval_ms", 100,
                                   3_600_000) / 1000,
        abort_on_send_failure=_boolean(pick("abort_on_send_failure", True), "abort_on_send_failure"),
        refresh_interval_s=_integer(pick("topic_refresh_interval_ms", 30000), "topic_refresh_interval_ms", 1000,
                                    86_400_000) / 1000,
        create_topics=_boolean(pick("create_topics", True), "create_topics"),
        # Active-active: both directions syncing would undo each other's config changes (the first to refresh
        # writes its side's old value back); on by default elsewhere, off with provenance unless set on one side.
        sync_topic_configs=_boolean(pick("sync_topic_configs", not provenance), "sync_topic_configs"),
        provenance=provenance,
        replication_factor=_integer(pick("replication_factor", -1), "replication_factor", -1, 32767),
        partitioning=partitioning,
        metrics_port=metrics_port or None,
        metrics_host=_choice_text(pick("metrics_host", "127.0.0.1"), "metrics_host"),
        log_format=_choice_text(pick("log_format", "plain"), "log_format", ("plain", "json")),
        instance_id=_choice_text(instance_id, "instance_id") if instance_id not in (None, "") else None,
        warnings=tuple(w1 + w2),
        offset_map=offset_map,
        offset_map_topic=offset_map_topic,
        source_alias=_choice_text(pick("source_alias", consumer["group.id"]), "source_alias"),
        sync_groups=sync_groups,
        sync_group_offsets=sync_group_offsets,
        exactly_once=exactly_once,
        positions_topic=positions_topic,
    )


def _check_exactly_once(instance_id: Any, producer: dict, consumer: dict) -> None:
    if instance_id in (None, ""):
        raise ConfigError("exactly_once needs instance_id (--instance.id), unique per worker and the same across its "
                          "restarts: the transactional ids are made from it, so that a worker restarted after a crash "
                          "aborts what its predecessor left open; the mirror_worker role sets it to the host's name")
    if "transactional.id" in producer:
        raise ConfigError("producer configuration sets transactional.id, which every stream would share; with "
                          "exactly_once each stream gets kafka-mirror.<group.id>.<instance_id>.<stream>.<source "
                          "cluster id>")
    txn_ms = _integer(producer.get("transaction.timeout.ms", 60000), "transaction.timeout.ms", 1000, 900_000)
    for name in ("delivery.timeout.ms", "message.timeout.ms"):
        if name in producer and _integer(producer[name], name, 0, 2**31 - 1) > txn_ms:
            raise ConfigError(f"producer {name}={producer[name]} is above transaction.timeout.ms={txn_ms}, which "
                              "librdkafka refuses with exactly_once: lower it, or raise transaction.timeout.ms (at "
                              "most the brokers' transaction.max.timeout.ms, 900000 by default)")
    if "socket.timeout.ms" in producer and \
            _integer(producer["socket.timeout.ms"], "socket.timeout.ms", 10, 300_000) > txn_ms + 100:
        # librdkafka refuses to make the producer (rdkafka_conf.c: "must be set <= transaction.timeout.ms + 100")
        raise ConfigError(f"producer socket.timeout.ms={producer['socket.timeout.ms']} is above transaction.timeout.ms"
                          f"={txn_ms} (+100 ms), which librdkafka refuses with exactly_once: lower it, or raise "
                          "transaction.timeout.ms")
    # An assignment reads the positions, then the group's commits, inside the rebalance callback. A callback run by
    # a consume() that does not block counts against max.poll.interval.ms (librdkafka src/rdkafka_int.h,
    # rd_kafka_app_poll_start): past it the group drops the member in the middle of its assignment.
    margin_ms = int((POSITIONS_GRACE_S + TIMEOUT_S) * 1000)
    wait_ms = txn_ms + margin_ms
    poll_ms = _integer(consumer.get("max.poll.interval.ms", 300000), "max.poll.interval.ms", 1, 86_400_000)
    if wait_ms >= poll_ms:
        lower = f", or lower transaction.timeout.ms below {poll_ms - margin_ms}" if poll_ms - margin_ms > 1000 else ""
        raise ConfigError(f"producer transaction.timeout.ms={txn_ms} lets a new assignment wait about "
                          f"{wait_ms // 1000} s for the stored positions and the group's commits (a dead worker's open "
                          "transaction holds the positions back until the coordinator aborts it), not less than the "
                          f"consumer's max.poll.interval.ms={poll_ms}, after which the group drops the member "
                          f"mid-assignment: raise max.poll.interval.ms in consumer.properties above {wait_ms}{lower}")


def _groups(value: Any) -> tuple[str, ...]:
    if not isinstance(value, list) or not all(isinstance(g, str) and g for g in value):
        raise ConfigError(f"sync_groups must be a list of consumer group names, not {value!r}")
    return tuple(value)


# worker.yaml's settings: the long options' names with '_' (num_streams), plus the inline property maps.
YAML_KEYS = ("consumer", "producer", "consumer_config", "producer_config", "include", "exclude",
             "num_streams", "offset_commit_interval_ms", "abort_on_send_failure", "topic_refresh_interval_ms",
             "create_topics", "sync_topic_configs", "provenance", "replication_factor", "metrics_port", "metrics_host",
             "log_format", "instance_id", "whitelist", "blacklist", "offset_map", "offset_map_topic", "source_alias",
             "sync_groups", "sync_group_offsets", "exactly_once", "positions_topic", "partitioning")


def _check_keys(yml: dict, path: str) -> None:
    for key in yml:
        if key not in YAML_KEYS:
            close = difflib.get_close_matches(str(key), YAML_KEYS, n=1)
            hint = f"; did you mean '{close[0]}'?" if close else f"; known settings: {', '.join(YAML_KEYS)}"
            raise ConfigError(f"--config {path}: unknown setting '{key}'{hint}")
    for alias, name in (("whitelist", "include"), ("blacklist", "exclude")):
        if alias in yml:
            yml.setdefault(name, yml.pop(alias))


def _integer(value: Any, name: str, low: int, high: int) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, str)) or not re.fullmatch(r"-?[0-9]+", str(value).strip()):
        raise ConfigError(f"{name} must be a whole number from {low} to {high}, not {value!r}")
    number = int(value)
    if not low <= number <= high:
        raise ConfigError(f"{name} must be from {low} to {high}, not {number}")
    return number


def _boolean(value: Any, name: str) -> bool:
    text = str(value).lower() if isinstance(value, (bool, str)) else None
    if text not in ("true", "false", "yes", "no"):
        raise ConfigError(f"{name} must be true or false, not {value!r}")
    return text in ("true", "yes")


def _choice_text(value: Any, name: str, choices: tuple[str, ...] | None = None) -> str:
    if not isinstance(value, (str, int)) or isinstance(value, bool) or (choices and value not in choices):
        allowed = f"one of {', '.join(choices)}" if choices else "a string"
        raise ConfigError(f"{name} must be {allowed}, not {value!r}")
    return str(value)
