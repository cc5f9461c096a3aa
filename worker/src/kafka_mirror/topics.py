"""Target topics: created with the source's partitions and configs, grown when the source grows, and their configs
kept in step with the source's."""
from __future__ import annotations

import logging
import time
from concurrent.futures import TimeoutError as FutureTimeout
from dataclasses import dataclass

from confluent_kafka import KafkaError, KafkaException
from confluent_kafka.admin import (AdminClient, AlterConfigOpType, ConfigEntry, ConfigResource, ConfigSource,
                                   NewPartitions, NewTopic)

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
# A creation or growth the next refresh may see done: the controller slow or moving (REQUEST_TIMED_OUT is a KRaft
# broker's answer when its forward to the controller times out, apache/kafka 3.9 ForwardingManager.onTimeout),
# throttled (KIP-599), or the connection lost. The stream holds the partitions the target lacks meanwhile.
NOT_YET = (KafkaError.REQUEST_TIMED_OUT, KafkaError.THROTTLING_QUOTA_EXCEEDED, KafkaError.NOT_CONTROLLER,
           KafkaError._TIMED_OUT, KafkaError._TRANSPORT)


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


def _copied(entries: dict) -> dict[str, str]:
    """Of a topic's config entries, its own (set on the topic, not a default), minus broker-specific ones."""
    return {name: e.value for name, e in entries.items()
            if e.source == ConfigSource.DYNAMIC_TOPIC_CONFIG.value and name not in NOT_COPIED and e.value is not None}


def copied_configs(source: AdminClient, topic: str) -> dict[str, str]:
    """The source topic's non-default configs, minus broker-specific ones."""
    resource = ConfigResource(ConfigResource.Type.TOPIC, topic)
    return _copied(source.describe_configs([resource], request_timeout=TIMEOUT_S)[resource].result(timeout=TIMEOUT_S))


def topic_configs(admin: AdminClient, topics: list[str], said: set[str]) -> dict[str, dict]:
    """Each topic's config entries, in one request per broker; topics that did not answer are left out (the next
    refresh asks again). A topic denied to the client is logged once (`said` keeps them)."""
    if not topics:
        return {}
    resources = [ConfigResource(ConfigResource.Type.TOPIC, t) for t in topics]
    read = {}
    for resource, future in admin.describe_configs(resources, request_timeout=TIMEOUT_S).items():
        try:
            read[resource.name] = future.result(timeout=TIMEOUT_S)
        except KafkaException as exc:
            denied = exc.args[0].code() in DENIED and resource.name not in said
            log.log(logging.WARNING if denied else logging.DEBUG, "configs of topic %s not read: %s%s", resource.name,
                    exc.args[0].str(), "; grant the mirror's principal DESCRIBE_CONFIGS on it, or turn the sync off "
                    "(--sync.topic.configs false)" if denied else "")
            if denied:
                said.add(resource.name)
        except Exception as exc:  # no answer, or the client's own (a RuntimeError from its future map): next refresh
            log.debug("configs of topic %s not read: %s", resource.name, exc or "no answer")
    return read


def config_changes(source: dict[str, dict[str, str]], target: dict[str, dict[str, str]]) -> dict[str, dict[str, str]]:
    """Pure: per topic on both sides, the source's own configs (as _copied gives them) whose value the target does not
    apply. Only names the target's brokers know (they describe every config they have): a newer Kafka's config would
    make an older target refuse the topic's whole change. Set, never removed: a config the target's operator set and
    the source does not have (a lower max.message.bytes) stays, where MirrorMaker 2's incremental sync would delete
    it."""
    changes = {}
    for topic, own in source.items():
        if topic in target:
            applied = target[topic]
            differ = {name: value for name, value in own.items() if name in applied and applied[name] != value}
            if differ:
                changes[topic] = differ
    return changes


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


def unanswered(exc: Exception) -> str:
    """A request that got no answer in time (a future's TimeoutError) or failed in the client (a RuntimeError from its
    future map, confluent-kafka admin/__init__.py), in words."""
    return f"no answer within {TIMEOUT_S:.0f}s" if isinstance(exc, FutureTimeout) else f"the client failed: {exc}"


def _outcomes(futures: dict, deadline: float) -> dict[str, KafkaError | None]:
    """resource name -> None (done) or the error, every future awaited within one deadline."""
    out: dict[str, KafkaError | None] = {}
    for resource, future in futures.items():
        try:
            future.result(timeout=max(0.0, deadline - time.monotonic()))
            out[resource.name] = None
        except KafkaException as exc:
            out[resource.name] = exc.args[0]
        except FutureTimeout:
            out[resource.name] = KafkaError(KafkaError._TIMED_OUT, "no answer")
        except Exception as exc:  # the client's own (a RuntimeError from its future map): never stops the stream
            out[resource.name] = KafkaError(KafkaError._FAIL, str(exc))
    return out


class TopicSync:
    """Keeps the target's topics in step with the source's, as far as the mirror is allowed to."""

    def __init__(self, source: AdminClient, target: AdminClient, producer, create: bool,
                 replication_factor: int, configs: bool = False) -> None:
        self.source = source
        self.target = target
        self.producer = producer  # the target as the producer sees it: what produce() accepts
        self.create = create
        self.replication_factor = replication_factor
        self.configs = configs  # keep existing target topics' configs in step with the source's
        self.incremental = True  # IncrementalAlterConfigs (KIP-339, Kafka 2.3); older targets: AlterConfigs
        self.refused: dict[str, dict[str, str]] = {}  # topic -> the change last refused: logged once, tried again
        # Topics the last sync asked to make or grow and did not see so: no answer in time, metadata behind, or
        # another stream grew it first (INVALID_PARTITIONS). Not refused: the next refresh should see them.
        self.growing: set[str] = set()
        self.unread: set[str] = set()  # topics whose configs were denied to the mirror (said once)

    def sync(self, source_counts: dict[str, int]) -> dict[str, int]:
        """Create and grow target topics, bring their configs in step; return the target's partition counts for the
        source topics."""
        target_counts = partition_counts(self.producer)
        todo = plan(source_counts, target_counts, self.create)
        self.growing = set()
        done = {**self._create(todo.create), **self._grow(todo.grow)}
        if self.configs:  # the topics created just now have the source's configs already
            self.sync_configs(sorted(t for t in source_counts if t in target_counts and t not in todo.create))
        if done:
            target_counts = self._await_metadata(done)
        return {t: target_counts[t] for t in source_counts if t in target_counts}

    def sync_configs(self, topics: list[str]) -> dict[str, dict[str, str]]:
        """Set on the target what the source's topics set and the target's do not apply; return what was set. One
        request per step (read the source, read the target, set), each bounded at TIMEOUT_S: the stream's loop waits
        for them."""
        source = {t: _copied(entries) for t, entries in topic_configs(self.source, topics, self.unread).items()}
        target = topic_configs(self.target, [t for t in topics if t in source], self.unread)
        changes = config_changes(source, {t: {n: e.value for n, e in entries.items()} for t, entries in target.items()})
        if not changes:
            return {}
        own = {t: {n: e.value for n, e in target[t].items()
                   if e.source == ConfigSource.DYNAMIC_TOPIC_CONFIG.value and e.value is not None} for t in changes}
        done = {}
        for topic, error in sorted(self._alter(changes, own).items()):
            configs = changes[topic]
            if error is None:
                log.info("target topic %s: set %s, as on the source", topic,
                         ", ".join(f"{k}={v}" for k, v in sorted(configs.items())))
                done[topic] = configs
                self.refused.pop(topic, None)
                continue
            if error.code() == KafkaError._TIMED_OUT:  # it may still land: the next refresh reads what it did
                log.warning("setting %s on target topic %s got no answer; the next refresh checks",
                            ", ".join(sorted(configs)), topic)
                continue
            if self.refused.get(topic) != configs:  # once per change, not at every refresh
                self._report(error, topic, f"set {', '.join(sorted(configs))} on", f"ALTER_CONFIGS on TOPIC {topic}",
                             "turn the sync off (--sync.topic.configs false)")
            self.refused[topic] = configs
        return done

    def _alter(self, changes: dict[str, dict[str, str]],
               own: dict[str, dict[str, str]]) -> dict[str, KafkaError | None]:
        """Each topic's outcome. `own`: every config a target topic sets itself, kept when AlterConfigs (brokers
        before Kafka 2.3, KIP-339) replaces the set."""
        deadline = time.monotonic() + TIMEOUT_S
        if self.incremental:
            resources = [ConfigResource(ConfigResource.Type.TOPIC, t, incremental_configs=[
                ConfigEntry(k, v, incremental_operation=AlterConfigOpType.SET) for k, v in c.items()])
                for t, c in changes.items()]
            outcome = _outcomes(self.target.incremental_alter_configs(resources, request_timeout=TIMEOUT_S), deadline)
            if not any(e is not None and e.code() == KafkaError._UNSUPPORTED_FEATURE for e in outcome.values()):
                return outcome
            self.incremental = False
            log.info("target brokers are older than Kafka 2.3 (no IncrementalAlterConfigs): topic configs are set "
                     "with AlterConfigs, the topic's whole own set at once")
        resources = [ConfigResource(ConfigResource.Type.TOPIC, t, set_config={**own[t], **c})
                     for t, c in changes.items()]
        return _outcomes(self.target.alter_configs(resources, request_timeout=TIMEOUT_S), deadline)

    def _await_metadata(self, expected: dict[str, int]) -> dict[str, int]:
        """Metadata lags behind creations (ours, or another stream's): wait, bounded, until it shows them."""
        deadline = time.monotonic() + METADATA_WAIT_S
        counts = partition_counts(self.producer)
        while any(counts.get(t, 0) < n for t, n in expected.items()) and time.monotonic() < deadline:
            time.sleep(0.2)
            counts = partition_counts(self.producer)
        late = sorted(t for t, n in expected.items() if counts.get(t, 0) < n)
        # Only a topic the metadata shows, short: one it does not show at all may exist but be hidden from the mirror
        # (CreateTopics answers TOPIC_ALREADY_EXISTS without DESCRIBE), which no refresh changes; its records go to
        # the producer, whose errors name it.
        self.growing.update(t for t in late if t in counts)
        if late:
            log.warning("target metadata does not show %s as made or grown yet after %.0fs; the next refresh reads "
                        "it again", ", ".join(late), METADATA_WAIT_S)
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
                if exc.args[0].code() in NOT_YET:
                    self._not_yet("creating", topic, exc.args[0].str())
                    continue
                if exc.args[0].code() != KafkaError.TOPIC_ALREADY_EXISTS:  # e.g. another stream was first
                    self._report(exc.args[0], topic, "create", f"CREATE on TOPIC {topic} (or on the CLUSTER)")
                    continue
            except (FutureTimeout, RuntimeError) as exc:  # no answer, or the client's own: the next refresh tries
                self._not_yet("creating", topic, unanswered(exc))
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
                if exc.args[0].code() == KafkaError.INVALID_PARTITIONS:  # grown already, by another stream
                    log.info("target topic %s: %s; the next refresh reads it", topic, exc.args[0].str())
                    self.growing.add(topic)
                    continue
                if exc.args[0].code() in NOT_YET:
                    self._not_yet("adding partitions to", topic, exc.args[0].str())
                    continue
                self._report(exc.args[0], topic, "add partitions to", f"ALTER on TOPIC {topic}")
            except (FutureTimeout, RuntimeError) as exc:  # as in _create
                self._not_yet("adding partitions to", topic, unanswered(exc))
        return grown

    def _not_yet(self, verb: str, topic: str, reason: str) -> None:
        """A creation or growth that may still land: the next refresh tries again, and the stream holds the
        partitions the target lacks meanwhile (growing)."""
        log.warning("%s target topic %s: %s; the next refresh tries again", verb, topic, reason)
        self.growing.add(topic)

    def _configs(self, topic: str) -> dict[str, str]:
        try:
            return copied_configs(self.source, topic)
        except KafkaException as exc:
            log.warning("cannot read the configs of source topic %s (%s); creating the target topic with the "
                        "target broker's defaults", topic, exc.args[0].str())
            return {}

    @staticmethod
    def _report(error: KafkaError, topic: str, verb: str, acl: str,
                otherwise: str = "create the topic yourself") -> None:
        if error.code() in DENIED:
            log.error("cannot %s target topic %s: %s; grant the mirror's principal %s, or %s",
                      verb, topic, error.str(), acl, otherwise)
        else:
            log.error("cannot %s target topic %s: %s", verb, topic, error.str())
