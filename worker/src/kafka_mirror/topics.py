"""Target topics: created with the source's partitions and configs, grown when the source grows."""
from __future__ import annotations

import logging
import time
from concurrent.futures import TimeoutError as FutureTimeout
from dataclasses import dataclass

from confluent_kafka import KafkaError, KafkaException
from confluent_kafka.admin import AdminClient, ConfigResource, ConfigSource, NewPartitions, NewTopic

from kafka_mirror.selection import TopicSelection

log = logging.getLogger("kafka_mirror.topics")
TIMEOUT_S = 30.0
METADATA_WAIT_S = 30.0
# Broker- or cluster-specific topic configs MirrorMaker 2 does not copy (DefaultConfigPropertyFilter).
NOT_COPIED = frozenset({
    "follower.replication.throttled.replicas", "leader.replication.throttled.replicas",
    "message.timestamp.difference.max.ms", "message.timestamp.type", "unclean.leader.election.enable",
    "min.insync.replicas"})
DENIED = (KafkaError.TOPIC_AUTHORIZATION_FAILED, KafkaError.CLUSTER_AUTHORIZATION_FAILED,
          KafkaError.POLICY_VIOLATION)


@dataclass(frozen=True)
class TopicPlan:
    """Pure: what the target needs for the selected source topics."""

    create: dict[str, int]  # topic -> partitions
    grow: dict[str, int]  # topic -> new partition count


def plan(source: dict[str, int], target: dict[str, int], create: bool) -> TopicPlan:
    missing = {t: n for t, n in source.items() if t not in target}
    return TopicPlan(create=missing if create else {},
                     grow={t: n for t, n in source.items() if t in target and target[t] < n})


def partition_counts(client, selection: TopicSelection | None = None) -> dict[str, int]:
    """Partitions per topic as `client` (an AdminClient, Producer or Consumer) sees the cluster."""
    topics = client.list_topics(timeout=TIMEOUT_S).topics
    return {name: len(md.partitions) for name, md in topics.items()
            if md.error is None and (selection is None or selection.matches(name))}


def copied_configs(source: AdminClient, topic: str) -> dict[str, str]:
    """The source topic's non-default configs, minus broker-specific ones."""
    resource = ConfigResource(ConfigResource.Type.TOPIC, topic)
    entries = source.describe_configs([resource], request_timeout=TIMEOUT_S)[resource].result(timeout=TIMEOUT_S)
    return {name: e.value for name, e in entries.items()
            if e.source == ConfigSource.DYNAMIC_TOPIC_CONFIG.value and name not in NOT_COPIED and e.value is not None}


def max_message_bytes(admin: AdminClient, topics: list[str]) -> dict[str, int | None]:
    """Each topic's max.message.bytes as its brokers apply it (its own, else the broker's default); None for a topic
    whose configs are denied to the client (no DESCRIBE_CONFIGS). Topics that did not answer, or answered no number
    (one just created, a broker timing out), are left out: the caller keeps what it read before."""
    if not topics:
        return {}
    resources = [ConfigResource(ConfigResource.Type.TOPIC, t) for t in topics]
    read: dict[str, int | None] = {}
    for resource, future in admin.describe_configs(resources, request_timeout=TIMEOUT_S).items():
        try:
            entry = future.result(timeout=TIMEOUT_S).get("max.message.bytes")
            read[resource.name] = int(str(entry.value))
        except KafkaException as exc:
            if exc.args[0].code() in DENIED:
                read[resource.name] = None
            else:
                log.debug("max.message.bytes of target topic %s not read: %s", resource.name, exc.args[0].str())
        except (FutureTimeout, AttributeError, ValueError):  # no answer, no such entry, not a number
            log.debug("max.message.bytes of target topic %s not read", resource.name)
    return read


def default_replication_factor(admin: AdminClient) -> int:
    """The target's default.replication.factor, or -1 when no broker reports it (creation then fails, reported)."""
    brokers = sorted(admin.list_topics(timeout=TIMEOUT_S).brokers)
    if not brokers:
        return -1
    resource = ConfigResource(ConfigResource.Type.BROKER, str(brokers[0]))
    entries = admin.describe_configs([resource], request_timeout=TIMEOUT_S)[resource].result(timeout=TIMEOUT_S)
    entry = entries.get("default.replication.factor")
    return int(entry.value) if entry is not None and str(entry.value).isdigit() else -1


class TopicSync:
    """Keeps the target's topics in step with the source's, as far as the mirror is allowed to."""

    def __init__(self, source: AdminClient, target: AdminClient, producer, create: bool,
                 replication_factor: int) -> None:
        self.source = source
        self.target = target
        self.producer = producer  # the target as the producer sees it: what produce() accepts
        self.create = create
        self.replication_factor = replication_factor

    def sync(self, source_counts: dict[str, int]) -> dict[str, int]:
        """Create and grow target topics; return the target's partition counts for the source topics."""
        target_counts = partition_counts(self.producer)
        todo = plan(source_counts, target_counts, self.create)
        done = {**self._create(todo.create), **self._grow(todo.grow)}
        if done:
            target_counts = self._await_metadata(done)
        return {t: target_counts[t] for t in source_counts if t in target_counts}

    def _await_metadata(self, expected: dict[str, int]) -> dict[str, int]:
        """Metadata lags behind creations (ours, or another stream's): wait, bounded, until it shows them."""
        deadline = time.monotonic() + METADATA_WAIT_S
        counts = partition_counts(self.producer)
        while any(counts.get(t, 0) < n for t, n in expected.items()) and time.monotonic() < deadline:
            time.sleep(0.2)
            counts = partition_counts(self.producer)
        late = sorted(t for t, n in expected.items() if counts.get(t, 0) < n)
        if late:
            log.warning("target metadata does not show %s yet after %.0fs; records go to the key-hash partition "
                        "until the next refresh", ", ".join(late), METADATA_WAIT_S)
        return counts

    def _create(self, topics: dict[str, int]) -> dict[str, int]:
        if not topics:
            return {}
        created = {}
        for topic, n in sorted(topics.items()):
            try:
                self._create_one(topic, n)
                log.info("created target topic %s with %d partitions", topic, n)
            except KafkaException as exc:
                if exc.args[0].code() != KafkaError.TOPIC_ALREADY_EXISTS:  # e.g. another stream was first
                    self._report(exc, topic, "create", f"CREATE on TOPIC {topic} (or on the CLUSTER)")
                    continue
            created[topic] = n
        return created

    def _create_one(self, topic: str, partitions: int) -> None:
        new = NewTopic(topic, num_partitions=partitions, replication_factor=self.replication_factor,
                       config=self._configs(topic))
        try:
            self.target.create_topics([new], request_timeout=TIMEOUT_S)[topic].result(timeout=TIMEOUT_S)
        except KafkaException as exc:
            # -1 (the broker's default) needs CreateTopics v4 (KIP-464, Kafka 2.4): older targets get the value
            # read from their configuration, once.
            if exc.args[0].code() != KafkaError._UNSUPPORTED_FEATURE or self.replication_factor != -1:
                raise
            self.replication_factor = default_replication_factor(self.target)
            if self.replication_factor == -1:
                raise
            log.info("target brokers are older than Kafka 2.4: creating topics with their "
                     "default.replication.factor, %d", self.replication_factor)
            self._create_one(topic, partitions)

    def _grow(self, topics: dict[str, int]) -> dict[str, int]:
        if not topics:
            return {}
        grow = [NewPartitions(t, n) for t, n in sorted(topics.items())]
        grown = {}
        for topic, future in self.target.create_partitions(grow, request_timeout=TIMEOUT_S).items():
            try:
                future.result(timeout=TIMEOUT_S)
                grown[topic] = topics[topic]
                log.info("added partitions to target topic %s: now %d, as on the source", topic, topics[topic])
            except KafkaException as exc:
                self._report(exc, topic, "add partitions to", f"ALTER on TOPIC {topic}")
        return grown

    def _configs(self, topic: str) -> dict[str, str]:
        try:
            return copied_configs(self.source, topic)
        except KafkaException as exc:
            log.warning("cannot read the configs of source topic %s (%s); creating the target topic with the "
                        "target broker's defaults", topic, exc.args[0].str())
            return {}

    @staticmethod
    def _report(exc: KafkaException, topic: str, verb: str, acl: str) -> None:
        error = exc.args[0]
        if error.code() in DENIED:
            log.error("cannot %s target topic %s: %s; grant the mirror's principal %s, or create the topic "
                      "yourself", verb, topic, error.str(), acl)
        else:
            log.error("cannot %s target topic %s: %s", verb, topic, error.str())
