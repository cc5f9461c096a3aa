"""One stream: consume a batch from the source, hand it to the target producer, commit what the target acknowledged.

No loss: every commit (checkpoint, revoke, stop) goes through _settle(): flush, take the delivery reports, and let
the OffsetTracker decide; it never commits past an unacknowledged or failed record. The periodic checkpoint sends its
commit without waiting for it (what it commits is acknowledged already, so its fate only decides how much a crash
mirrors again); revoke and stop wait, as the next owner starts from what they commit. A failed record is never
skipped: the stream stops (abort.on.send.failure=true) or its partitions are rewound to their last commit and
retried after a pause. No reordering: the moment a failure is reported, nothing more is handed over and the producer
is cut (_cut: what it holds is purged), because a later record of the partition landing while the failed one waits
to be mirrored again would put that partition out of order on the target. Partitions given up without a clean commit
(lost, or revoked while the target does not answer) have their records purged from the producer, so no two members
write a partition at once. kill -9 at any moment re-delivers at most what was in flight since the last commit.
"""
from __future__ import annotations

import ctypes
import hashlib
import json
import logging
import os
import signal
import time
from collections.abc import Callable
from concurrent.futures import Future
from concurrent.futures import TimeoutError as FutureTimeout
from dataclasses import replace
from functools import partial
from pathlib import Path
from typing import NamedTuple

from confluent_kafka import Consumer, KafkaError, KafkaException, Message, Producer, TopicPartition
from confluent_kafka.admin import AdminClient

from kafka_mirror.ack_clock import AckClock
from kafka_mirror.beside import Beside
from kafka_mirror.config import MirrorConfig
from kafka_mirror.errors import ConfigError, MirrorError, SendFailure
from kafka_mirror.group_offsets import GroupOffsets
from kafka_mirror.metrics import Heartbeat, StreamMetrics, write_heartbeat
from kafka_mirror.group_sync import GroupSync
from kafka_mirror.offset_map import Batch, MapWriter, OffsetMap, ensure_topic
from kafka_mirror.offsets import Failure, OffsetTracker
from kafka_mirror.partitioning import UNASSIGNED, partition_limits
from kafka_mirror.record_size import one_record_batch
from kafka_mirror.topics import TIMEOUT_S, TopicSync, max_message_bytes, partition_counts, unanswered
from kafka_mirror.transactions import position_record, read_positions, transactional_id

log = logging.getLogger("kafka_mirror.mirror")
FLUSH_TIMEOUT_S = 60.0
FLUSH_SLICE_S = 0.1  # a flush looks at the delivery reports this often, to cut the producer at the first failure
PURGE_DRAIN_S = 5.0
RETRY_PAUSE_S = 5.0
LARGE_RECORD = 64 * 1024  # records this large carry their source position into the delivery report
# Keys and values within this of the target topic's max.message.bytes are weighed as a batch of their own
# (record_size.py); headers larger than this in all leave a record to the broker's judgement.
NEAR_LIMIT = 16 * 1024
LIBRDKAFKA_BATCH_SIZE = 1_000_000  # batch.size's default
STATS_INTERVAL_MS = 5000
# --provenance: names the cluster a record was first written to (its id), set by the first mirror, kept by the next.
ORIGIN_HEADER = "kafka-mirror.origin"
TXN_TIMEOUT_S = 60.0  # init_transactions (exactly-once), retried within it while librdkafka says retriable
TXN_INIT_EACH_S = 15.0
# A map record refused for good (exactly-once): the map is turned off rather than abort every transaction.
MAP_REFUSED = {KafkaError.TOPIC_AUTHORIZATION_FAILED, KafkaError.CLUSTER_AUTHORIZATION_FAILED,
               KafkaError.MSG_SIZE_TOO_LARGE, KafkaError.RECORD_LIST_TOO_LARGE, KafkaError.INVALID_RECORD,
               KafkaError.POLICY_VIOLATION, KafkaError.INVALID_MSG_SIZE}
TXN_RETRY_S = 180.0  # commit or abort of a transaction, retried while librdkafka says retriable
TXN_RETRY_PAUSE_S = 0.5
# The positions topic: small segments, so that compaction keeps what a stream reads at each assignment small.
POSITIONS_TOPIC_CONFIGS = {"cleanup.policy": "compact", "segment.ms": "600000", "min.cleanable.dirty.ratio": "0.1"}
GROUP_SYNC_S = 10.0  # how often stream 0 copies the sync_groups' committed offsets into the offset map
MAP_RETRY_S = 30.0  # after a failed offset map write: the commits in between do not wait for the map again
HOLD_AHEAD_S = 1.0  # a partition newer than the last topic refresh is fetched again after this, or when one applies
REFRESH_STOP_WAIT_S = 5.0  # a stop waits this long for a periodic refresh's reads (each request: up to TIMEOUT_S)
PR_SET_PDEATHSIG = 1
HINTS = {  # by librdkafka error name
    "MSG_SIZE_TOO_LARGE": "the record is larger than the target accepts: raise max.message.bytes of the target "
                          "topic (and message.max.bytes, max.request.size in Java terms, in producer.properties)",
    # librdkafka does not split a refused batch as Java's producer does: a batch of small records can be refused too
    "MSG_SIZE_TOO_LARGE batch": "they went in one batch larger than the target topic accepts: raise its "
                                "max.message.bytes, or set batch.size in producer.properties below it",
    "TOPIC_AUTHORIZATION_FAILED": "the producer's principal needs WRITE on the target topic",
    "UNKNOWN_TOPIC_OR_PART": "the target topic does not exist: let the mirror create it (it does at its next "
                             "topic refresh), or enable auto.create.topics.enable on the target",
    "_MSG_TIMED_OUT": "the target did not acknowledge within delivery.timeout.ms: check that its brokers are "
                      "up and reachable",
}
PURGED = ("_PURGE_QUEUE", "_PURGE_INFLIGHT")
HELD = "_HELD_BACK"  # a record not handed to the producer because an earlier one of the stream had failed
NOT_SENT = (*PURGED, HELD)  # after a failure: records dropped so that none lands after it
# Commit errors that are not "try again later": the group or topics deny the mirror's principal.
COMMIT_DENIED = (KafkaError.GROUP_AUTHORIZATION_FAILED, KafkaError.TOPIC_AUTHORIZATION_FAILED)


def fetch(consumer, batch_size: int, wait_s: float = 0.2) -> list:
    """What the consumer has fetched, up to batch_size; when it has nothing, wait up to wait_s for one record.

    consume(n, timeout) waits out its whole timeout unless n records come: under a light load a plain
    consume(batch_size, 0.2) held each record up to 0.2 s (p50 165 ms at 25,000 records/s in bench/).
    """
    return consumer.consume(batch_size, 0) or consumer.consume(1, wait_s)


class TopicsRead(NamedTuple):
    """What a topic refresh read from both clusters, for the loop to apply."""

    source: dict[str, int]  # mirrored source topic -> partitions
    target: dict[str, int]  # the same topics on the target (created or grown as far as allowed)
    max_bytes: dict[str, int | None] | None  # target topics' max.message.bytes; None: not read this time
    growing: frozenset[str] = frozenset()  # target topics asked to be made or grown, not seen so (TopicSync.growing)


class Report(NamedTuple):
    """A failed delivery, as little of it as the decision needs (a dead target fails every queued record)."""

    error: str  # librdkafka's error name
    reason: str
    topic: str
    partition: int  # the target partition; the source partition when `offset` is known
    offset: int | None  # the source offset, known for records that carry it (large ones)
    size: int


class Stream:
    def __init__(self, config: MirrorConfig, index: int, health_dir: Path) -> None:
        self.config = config
        self.index = index
        self.health_dir = health_dir
        self.stop = False
        self.broken: KafkaError | None = None  # a fatal client error: nothing is committed after it
        self.tracker = OffsetTracker()
        self.reports: list[Report] = []  # failed deliveries, until _take_reports
        self.hashed: set[str] = set()  # topics with records whose target partition the producer chose, in flight
        self.purging = False  # _purge's own reports are expected, not failures
        self.undelivered = False  # a delivery report failed: records queued after it must not be sent (_cut)
        self.fetching = False  # a seek made by a rebalance callback inside consume() must be made again after it
        self.reseek: dict[tuple[str, int], int] = {}
        self.acks = AckClock()  # the latency histogram's samples, from the producer's queue length
        self.handed: dict[str, list[int]] = {}  # topic -> [records, bytes] handed over since the last flush
        self.unacked: dict[str, list[int]] = {}  # topic -> [records, bytes] of those reported failed, held or purged
        self.unsettled = 0  # records the last flush left unacknowledged
        self.limits: dict[str, int] = {}  # topic -> target partitions a record may keep its partition below
        self.max_bytes: dict[str, int] = {}  # topic -> the target topic's max.message.bytes (uncompressed producer)
        self.near_max: dict[str, int] = {}  # topic -> value sizes above which a record is weighed before sending
        self.unweighed: set[str] = set()  # topics whose max.message.bytes could not be read (said once)
        self.batch_bytes = LIBRDKAFKA_BATCH_SIZE  # the producer's batch.size
        self.small_batches: set[str] = set()  # topics found taking smaller batches than the producer makes (said once)
        self.subscribed: list[str] = []
        self.paused: dict[tuple[str, int], float] = {}
        self.assigned: set[tuple[str, int]] = set()
        self.beat = Heartbeat(stream=index, pid=0, state="starting")
        self.beat_failed = False  # the last heartbeat could not be written (said once)
        self.consumer: Consumer | None = None
        self.producer: Producer | None = None
        self.sync: TopicSync | None = None
        self.source_admin: AdminClient | None = None
        self.metrics: StreamMetrics | None = None
        self.offset_map: OffsetMap | None = None  # None: off (--no-offset-map, or its topic could not be made)
        self.group_offsets: GroupOffsets | None = None  # stream 0 with sync_groups and the map on
        self.group_sync: GroupSync | None = None  # stream 0 with sync_group_offsets
        self.source_partitions: dict[str, int] = {}  # mirrored source topic -> partitions, as of the last refresh
        self.ahead: set[tuple[str, int]] = set()  # partitions held until a refresh sees them (_hold_ahead)
        self.refresh_soon = False  # a refresh is wanted before the next interval ends
        self.refresher: Beside[TopicsRead] = Beside(f"kafka-mirror stream {index} topic refresh")
        self.map_writer: MapWriter | None = None
        self.next_group_sync = 0.0
        self.map_retry_at = 0.0
        self.origin: tuple[bytes, bytes] | None = None  # --provenance: (source cluster id, target cluster id)
        self.in_txn = False  # exactly-once: a transaction is open (records handed over since the last commit)
        self.send_failure: str | None = None  # exactly-once: an aborted transaction's failure, for checkpoint() to stop
        self.source_id = ""  # exactly-once: the source cluster's id, in the positions' keys and transactional ids
        self.source_behind: dict[tuple[str, int], int] = {}  # exactly-once: source commits behind stored positions
        self.map_refused: str | None = None  # exactly-once: why the target refused a map record of the transaction
        self.commit_refused: str | None = None  # the source group denies the mirror's commits: checkpoint() stops
        self.closing = False  # the consumer is closing: an assignment it still delivers is revoked in the same close

    # --- lifecycle ------------------------------------------------------------------------------------------

    def run(self) -> int:
        signal.signal(signal.SIGTERM, self._request_stop)
        signal.signal(signal.SIGINT, self._request_stop)
        self._start()
        try:
            next_commit = time.monotonic() + self.config.commit_interval_s
            next_refresh = time.monotonic() + self.config.refresh_interval_s
            while not self.stop:
                self._pass()
                now = time.monotonic()
                if now >= next_commit or self.failing:
                    self.checkpoint()
                    self.metrics.checkpoint.observe(time.monotonic() - now)
                    next_commit = now + self.config.commit_interval_s
                if (now >= next_refresh or self.refresh_soon) and not self.stop and not self.refresher.running:
                    self.refresher.start(self._read_topics)  # the reads run beside the loop
                    next_refresh = now + self.config.refresh_interval_s
                    self.refresh_soon = False
                if (read := self.refresher.done()) is not None and not self.stop:  # stopping: nothing to apply
                    started = time.monotonic()
                    self._refreshed(read)
                    self.metrics.refresh.observe(time.monotonic() - started)
            self.checkpoint()
            return 0
        finally:
            self._close()

    def _request_stop(self, *_: object) -> None:
        self.stop = True

    @property
    def failing(self) -> bool:
        """A delivery failed: nothing is handed over until checkpoint() has acted on it (stop, or rewind)."""
        return bool(self.reports or self.tracker.failures or self.send_failure)

    def _start(self) -> None:
        self.beat.pid = os.getpid()
        self.metrics = StreamMetrics()
        rdkafka_log = logging.getLogger("kafka_mirror.librdkafka")
        mapped = self.config.offset_map
        self.source_admin = AdminClient({**self.config.admin("source"), "logger": rdkafka_log})
        if self.config.exactly_once:  # two sources may share a group name: their positions must not mix
            self.source_id = self._cluster_id("source", self.source_admin, "exactly_once scopes its positions")
            txn_id = transactional_id(self.config.consumer["group.id"], self.config.instance_id or "", self.index,
                                      self.source_id)
            self.config = replace(self.config, producer={**self.config.producer, "transactional.id": txn_id})
        self.producer = self._new_producer(rdkafka_log)
        if "group.instance.id" in self.config.consumer:
            topics = self._cluster("source", lambda: partition_counts(self.source_admin, self.config.topics))
            member = static_member_id(self.config.consumer["group.instance.id"], topics)
            self.config = replace(self.config, consumer={**self.config.consumer, "group.instance.id": member})
            log.info("stream %d: static member %s", self.index, member)
        self.consumer = Consumer({**self.config.consumer, "error_cb": self._client_error, "logger": rdkafka_log,
                                  "on_commit": self._commit_done,
                                  "stats_cb": self._stats, "statistics.interval.ms": STATS_INTERVAL_MS,
                                  "topic.metadata.refresh.interval.ms": int(self.config.refresh_interval_s * 1000)})
        self.sync = TopicSync(self.source_admin, AdminClient({**self.config.admin("target"), "logger": rdkafka_log}),
                              self.producer, self.config.create_topics, self.config.replication_factor,
                              configs=self.config.sync_topic_configs and self.index == 0)  # one stream is enough
        self.refresh()  # both clusters answer: the map's topic is made after this, so errors name the cluster
        if self.max_bytes and min(self.max_bytes.values()) < self.batch_bytes:  # nothing handed over yet
            self.producer = self.sync.producer = self._new_producer(rdkafka_log, max(1, min(self.max_bytes.values())))
            self._cluster("target", lambda: partition_counts(self.producer))  # its metadata, as the first one's
        if self.config.provenance:
            self.origin = self._origins()
        if mapped:
            self._start_map(rdkafka_log)
        if self.config.exactly_once:
            self._start_transactions()
        self.beat.state = "running"
        self._heartbeat(force=True)

    def _new_producer(self, rdkafka_log: logging.Logger, batch_bytes: int | None = None) -> Producer:
        """The target producer. librdkafka returns a batch the broker refuses as too large as failed records (Java's
        producer splits it): `batch_bytes` keeps every batch within the smallest max.message.bytes of the target
        topics (librdkafka's batch.size counts the batch's framing)."""
        conf = {**self.config.producer, "on_delivery": self._delivered_mapped if self.config.offset_map else
                self._delivered, "error_cb": self._client_error, "logger": rdkafka_log,
                # Success reports cost ~0.5 us of this thread per record; only the offset map needs them (AckClock).
                "delivery.report.only.error": not self.config.offset_map}
        if batch_bytes is not None:
            log.warning("stream %d: batch.size lowered from %d to %d for every topic of this stream: a target topic "
                        "takes batches up to that size (max.message.bytes)", self.index, self.batch_bytes, batch_bytes)
            conf["batch.size"] = batch_bytes
        try:  # as librdkafka reads it (strtol); a value it refuses is reported when the producer is made
            self.batch_bytes = int(str(conf.get("batch.size", LIBRDKAFKA_BATCH_SIZE)).strip(), 0)
        except ValueError:
            self.batch_bytes = LIBRDKAFKA_BATCH_SIZE
        return Producer(conf)

    def _start_map(self, rdkafka_log: logging.Logger) -> None:
        """The offset map's topic and producer. Without them the mirror runs on, without the map (logged)."""
        topic = self.config.offset_map_topic
        try:
            ensure_topic(self.sync.target, topic, self.config.replication_factor)
        except (KafkaException, FutureTimeout) as exc:
            log.error("stream %d: cannot create the offset map topic %s on the target (%s): mirroring WITHOUT the "
                      "offset map, so offsets cannot be translated for failover; grant the mirror's principal CREATE "
                      "and WRITE on it, create it (cleanup.policy=compact), or set offset_map: false",
                      self.index, topic, exc.args[0].str() if isinstance(exc, KafkaException) else "no answer")
            return
        producer = Producer({**self.config.admin("target"), "enable.idempotence": True, "acks": "all",
                             "linger.ms": 5, "error_cb": self._client_error_map, "logger": rdkafka_log})
        self.map_writer = MapWriter(producer, topic, self.config.source_alias or self.config.consumer["group.id"])
        self.offset_map = OffsetMap()
        if self.index == 0 and self.config.sync_groups:
            self.group_offsets = GroupOffsets(self.config.admin("source"), rdkafka_log)
            if self.config.sync_group_offsets:
                self.group_sync = GroupSync(self.config.admin("target"), topic, self.map_writer.alias, rdkafka_log)

    def _start_transactions(self) -> None:
        """The positions topic, then init_transactions: with the stream's stable transactional id, it aborts what a
        killed predecessor left open (its records never become visible) and fences it, before any position is read."""
        topic = self.config.positions_topic
        try:
            ensure_topic(self.sync.target, topic, self.config.replication_factor, POSITIONS_TOPIC_CONFIGS)
        except (KafkaException, FutureTimeout) as exc:
            raise MirrorError(f"cannot create the positions topic {topic} on the target "
                              f"({exc.args[0].str() if isinstance(exc, KafkaException) else 'no answer'}): "
                              "exactly_once stores where each partition resumes there; grant the mirror's principal "
                              "CREATE, WRITE, READ and DESCRIBE on it, or create it with 1 partition and "
                              f"{', '.join(f'{k}={v}' for k, v in POSITIONS_TOPIC_CONFIGS.items())}") from None
        # e.g. COORDINATOR_LOAD_IN_PROGRESS while a restarted broker loads the transaction log: retriable
        err = self._transact(self.producer.init_transactions, each=TXN_INIT_EACH_S, total=TXN_TIMEOUT_S)
        if err is not None:
            raise MirrorError(f"cannot start transactions on the target ({err.str()}): exactly_once needs "
                              "transactions on the target's brokers and, with an authorizer, WRITE and DESCRIBE on "
                              f"the transactional id {self.config.producer.get('transactional.id')}") from None

    def _close(self) -> None:
        """Commit what may be committed, give up what the target did not acknowledge, leave the group.
        Never raises: the reason the stream stops is already on its way out."""
        self.beat.state = "stopping"
        self._heartbeat(force=True)
        if not self.refresher.wait(REFRESH_STOP_WAIT_S):  # its requests answered before the clients go
            log.warning("stream %d: stopping with a topic refresh still waiting for a cluster's answer", self.index)
        try:
            if self.producer is not None and self.consumer is not None:
                offsets, left = self._settle(timeout=0 if self.unsettled else FLUSH_TIMEOUT_S)
                self._commit(offsets)
                if left:
                    log.error("stream %d: %d records were not acknowledged by the target before shutdown; their "
                              "source offsets were not committed and they will be mirrored again", self.index, left)
                    self._purge()
        except (KafkaException, MirrorError) as exc:
            log.error("stream %d: while stopping: %s", self.index, exc)
        if self.group_sync is not None:
            try:
                self.group_sync.close()
            except KafkaException as exc:
                log.error("stream %d: closing the group offset sync: %s", self.index, exc.args[0].str())
        if self.group_offsets is not None:
            try:
                self.group_offsets.close()
            except KafkaException as exc:
                log.error("stream %d: closing the group offset readers: %s", self.index, exc.args[0].str())
        if self.consumer is not None:
            self.closing = True
            try:
                self.consumer.close()  # revokes what is left (through _revoked); a dynamic member leaves the group
            except KafkaException as exc:
                log.error("stream %d: leaving the group: %s", self.index, exc.args[0].str())
            if self.config.instance_id:
                log.info("stream %d: static member %s: its partitions stay with it for session.timeout.ms before "
                         "the group moves them", self.index, self.config.consumer.get("group.instance.id"))

    # --- the loop -----------------------------------------------------------------------------------------

    def _pass(self) -> None:
        """Consume a batch and hand every record to the producer: the only per-record Python work."""
        if self.failing:
            return
        self.fetching = True
        try:
            messages = fetch(self.consumer, self.config.batch_size)
        finally:
            self.fetching = False
        fetched_at = time.time()
        if self.reseek:  # a callback inside consume() rewound these: what the batch holds of them predates that
            stale, self.reseek = self.reseek, {}
            messages = [m for m in messages if (m.topic(), m.partition()) not in stale]
            self._seek(stale)
        if messages and self.config.exactly_once and not self.in_txn and not self._begin():
            return
        produce, poll, limits, handed = self.producer.produce, self.producer.poll, self.limits, self.handed
        near_max = self.near_max
        reports = self.reports  # failed deliveries land here (the callbacks run inside poll)
        holding = self.failing  # a revoke inside consume() cut the producer: this batch waits too
        latest: dict[tuple[str, int], int] = {}
        mapped = self.offset_map is not None
        batches: dict[tuple[str, int], Batch] = {}  # offset map: per kept partition, what this batch hands over
        unmapped = self._delivered  # offset map: a record placed by key reports outside it
        origin, looped = self.origin, {}
        # What is looked up or counted per topic or per partition is done when the record's topic or partition
        # differs from the one before: a batch holds long runs of one partition (a fetch response each). Per record,
        # only locals are written (bench/loop_profile.py: a dict store keyed by a tuple costs a hash each time).
        run_topic, run_partition, limit, near, counts, run = None, -1, 0, None, [0, 0], ("", -1)
        target, last, n, nbytes = -1, -1, 0, 0  # the run's target partition, newest offset; the topic's counts
        b: Batch | None = None  # offset map: the run's partition's Batch
        large = LARGE_RECORD
        sent = 0
        held = False  # the run's partition is newer than the last refresh: its records wait for the next one
        ahead: dict[tuple[str, int], int] = {}  # such partitions -> the first offset to fetch again
        try:
            for m in messages:
                if m.error() is not None:
                    self._consumer_error(m.error())
                    continue
                topic = m.topic()
                partition = m.partition()
                if partition != run_partition or topic != run_topic:
                    if run_partition >= 0 and not held:
                        latest[run] = last
                    if topic != run_topic:
                        counts[0] += n
                        counts[1] += nbytes
                        n = nbytes = 0
                        limit, near = limits.get(topic, 0), near_max.get(topic)
                        counts = handed.get(topic)
                        if counts is None:
                            counts = handed[topic] = [0, 0]
                    run_topic, run_partition, run = topic, partition, (topic, partition)
                    b = batches.get(run) if mapped else None
                    held = False
                    if partition < limit:
                        target = partition
                    elif limit:  # the source grew since the last refresh: the target may not have the partition yet
                        held = True
                        if run not in ahead:
                            ahead[run] = m.offset()
                    else:  # the producer chooses: a failure report then cannot name the source partition
                        target = UNASSIGNED
                        self.hashed.add(topic)
                if held:
                    continue
                offset = m.offset()
                size = len(m)
                ts_type, ts = m.timestamp()
                key, value, headers = m.key(), m.value(), m.headers()
                if origin is not None:
                    first = _origin_of(headers)
                    if first == origin[1]:  # first written to the target: sent back, it would loop (active-active)
                        last = offset  # nothing to acknowledge: committed with its neighbours
                        looped[topic] = looped.get(topic, 0) + 1
                        continue
                    if first is None:
                        headers = [*(headers or ()), (ORIGIN_HEADER, origin[0])]
                report = None if size < large else \
                    partial(self._delivered_at, partition, offset, target == partition)
                if mapped and target == partition:  # the map: count the records and note the source's gaps
                    if b is None:
                        b = batches[run] = Batch(offset, offset, 1)
                    else:
                        if offset != b.last + 1:
                            if b.gaps is None:
                                b.gaps = []
                            b.gaps.append((b.last, offset))
                        b.last = offset
                        b.count += 1
                elif mapped:  # placed by key: on the target it is another writer's record, between the kept ones
                    report = report or unmapped
                    if run in self.offset_map.partitions:
                        # The target shows fewer partitions now: the map must not claim these offsets held no record,
                        # so the partition's next kept record starts over.
                        batches.pop(run, None)
                        self.offset_map.reset([run])
                while True:
                    if holding or reports:  # a record failed: none after it may land before it is mirrored again
                        reports.append(Report(HELD, "held back after an earlier failure", topic, partition, offset,
                                              size))
                        break
                    if near is not None and size + len(key or b"") > near and \
                            (weight := one_record_batch(key, value, headers)) > self.max_bytes[topic]:
                        # Never handed over: no later record of the partition is in flight to land before it.
                        reports.append(Report("MSG_SIZE_TOO_LARGE", f"a batch of it alone is {weight} bytes, above the "
                                              f"target topic's max.message.bytes ({self.max_bytes[topic]}); not sent",
                                              topic, partition, offset, size))
                        break
                    try:
                        # Positional: keyword parsing costs about 500 ns per record (bench/loop_profile.py). The order
                        # is Producer_produce's kws (confluent-kafka-python src/confluent_kafka/src/Producer.c): topic,
                        # value, key, partition, callback (None: the producer's on_delivery), on_delivery, timestamp,
                        # headers.
                        produce(topic, value, key, target, report, None, ts if ts_type else 0, headers)
                        sent += 1
                        break
                    except BufferError:  # the producer queue is full: serve deliveries, then retry this record
                        self._serve(poll, 0.05)
                    except KafkaException as exc:  # refused before sending, e.g. larger than message.max.bytes
                        err = exc.args[0]
                        if err.fatal() or err.code() == KafkaError._FATAL:
                            self._fatal(err)
                            return
                        reports.append(Report(err.name(), err.str(), topic, partition, offset, size))
                        break
                last = offset
                n += 1
                nbytes += size
        finally:  # counted even when the loop is left early: what was handed over is acknowledged or reported
            counts[0] += n
            counts[1] += nbytes
        if run_partition >= 0 and not held:
            latest[run] = last
        if ahead:
            self._hold_ahead(ahead)
        for topic, k in looped.items():
            self.metrics.looped.labels(topic).inc(k)
        if batches:
            self.offset_map.handed(batches)
        if sent:  # before a cut below, which forgets these with the rest of the queue
            ts_type, ts = messages[-1].timestamp()
            self.acks.pass_end(sent, ts if ts_type else None, fetched_at)
            self.metrics.handover.observe(time.time() - fetched_at)
        self._serve(poll, 0)
        if self.undelivered:
            self._cut()
        if latest:
            first = _first_offsets(messages) if self.tracker.needs_start(latest) else {}
            self.tracker.handed_over(latest, first)
        ack = self.acks.acknowledged(len(self.producer), time.time())
        if ack is not None:
            self.metrics.latency.observe(ack.age)
            self.metrics.fetched_age.observe(ack.fetched_age)
            self.metrics.after_fetch.observe(ack.after)
        self._resume_paused()
        self._heartbeat()

    def _delivered(self, err: KafkaError | None, msg: Message) -> None:
        """A failure (the producer reports only those, delivery.report.only.error, unless the offset map is on)."""
        if err is not None:
            self.reports.append(Report(err.name(), err.str(), msg.topic(), msg.partition(), None, len(msg)))
            self.undelivered = True

    def _delivered_mapped(self, err: KafkaError | None, msg: Message) -> None:
        """_delivered, noting for the offset map where the partition's target offsets break their run."""
        if err is None:
            if self.offset_map is not None:  # else turned off by an error: the producer keeps this callback
                self.offset_map.delivered((msg.topic(), msg.partition()), msg.offset())
        else:
            self.reports.append(Report(err.name(), err.str(), msg.topic(), msg.partition(), None, len(msg)))
            self.undelivered = True

    def _delivered_at(self, partition: int, offset: int, kept: bool, err: KafkaError | None, msg: Message) -> None:
        """Large records carry their source position: a rejection names it and commits can stop right at it."""
        if err is None:
            if self.offset_map is not None and kept:  # else placed by key: another writer's record for the map
                self.offset_map.delivered((msg.topic(), partition), msg.offset())
        else:
            self.reports.append(Report(err.name(), err.str(), msg.topic(), partition, offset, len(msg)))
            self.undelivered = True

    # --- what may be committed ----------------------------------------------------------------------------

    def checkpoint(self) -> None:
        """Flush, commit what the target acknowledged, then act on failed records (stop, or retry them)."""
        if self.commit_refused is not None:  # an earlier checkpoint's commit, refused
            raise MirrorError(self.commit_refused)
        offsets, left = self._settle() if self.broken is None else ({}, 0)
        if self.broken is not None:  # before, or served by this flush
            raise MirrorError(f"fatal client error: {self.broken.str()}; nothing was committed after it")
        # Not waited for: the loop goes on while the group stores it, and _commit_done takes the outcome. With a
        # failed record it is, as the rewind below starts from the commit; at the stop too, where its answer decides
        # the exit (a denied commit is not a clean stop) and the final commit in _close finds nothing left to do.
        committed = self._commit(offsets, wait=bool(self.tracker.failures) or self.stop)
        if self.send_failure is not None:  # exactly-once: a transaction with a failed record was aborted
            raise SendFailure(self.send_failure)
        if left:
            # Any record in flight may still fail: failures are acted on once every report is in.
            log.warning("stream %d: %d records still unacknowledged after the flush; not committing this time",
                        self.index, left)
        elif self.tracker.failures:
            if self.config.abort_on_send_failure:
                raise SendFailure(_stop_text(self.tracker.failures))
            self._retry_later(self.tracker.rewind())
        elif committed:  # nothing to commit, or waited for (a commit sent is marked when it is stored)
            self.beat.last_commit = time.time()
        if self.group_offsets is not None and self.map_writer is not None and \
                time.monotonic() >= self.next_group_sync:
            self._sync_groups()
            self.next_group_sync = time.monotonic() + GROUP_SYNC_S
        self._heartbeat(force=True)

    def _sync_groups(self) -> None:
        """Copy the named groups' committed offsets of mirrored topics from the source into the offset map, so
        that translation works from the secondary alone. Failures are logged; the mirror goes on."""
        offsets: dict[tuple[str, str, int], int] = {}
        partitions = [(t, p) for t, n in sorted(self.source_partitions.items()) for p in range(n)]
        for group in self.config.sync_groups:
            try:
                for (topic, partition), offset in self.group_offsets.read(group, partitions, 10.0).items():
                    offsets[(group, topic, partition)] = offset
            except KafkaException as exc:  # never the stream's end: the map is a side product
                log.warning("stream %d: cannot read the committed offsets of group %s on the source (%s); the "
                            "offset map keeps its last copy", self.index, group, exc.args[0].str())
        if offsets and not self.map_writer.store_groups(offsets):
            log.warning("stream %d: group offsets not stored in the offset map (%s); retried in %.0fs", self.index,
                        self.map_writer.last_error, GROUP_SYNC_S)
        if self.group_sync is not None and offsets:
            try:
                for group, done in self.group_sync.sync(offsets).items():
                    log.info("stream %d: group %s: %d partition(s) moved on the target to their translated offsets",
                             self.index, group, len(done))
            except (KafkaException, LookupError, TimeoutError, FutureTimeout) as exc:  # tried again next time
                log.warning("stream %d: groups' offsets not synced to the target (%s); tried again in %.0fs",
                            self.index, exc.args[0].str() if isinstance(exc, KafkaException) else exc or "no answer",
                            GROUP_SYNC_S)

    def _settle(self, only: list[tuple[str, int]] | None = None,
                timeout: float | None = None) -> tuple[dict[tuple[str, int], int], int]:
        """The one way to offsets worth committing: flush, take the delivery reports, ask the tracker."""
        timeout = FLUSH_TIMEOUT_S if timeout is None else timeout
        deadline = time.monotonic() + timeout
        left = self._serve(self.producer.flush, min(timeout, FLUSH_SLICE_S))
        while left and not self.undelivered and time.monotonic() < deadline:
            left = self._serve(self.producer.flush, min(FLUSH_SLICE_S, max(0.0, deadline - time.monotonic())))
        if self.undelivered:
            left = self._cut()
        self.unsettled = left
        self._take_reports()
        if self.broken is not None:
            return {}, left
        if not left:  # every report is in
            self._count_acknowledged()
            self.hashed.clear()
            if self.offset_map is not None:
                self._store_map()
        return self.tracker.plan(in_flight=left, only=only), left

    def _store_map(self) -> None:
        """Every record handed over is acknowledged (or failed): verify the windows and store the map, before the
        commit, bounded. A failure here is logged and retried at the next commit; it never holds a commit back."""
        try:
            self.offset_map.settle(self.tracker.blocked())
            if self.config.exactly_once:  # stored inside the transaction of the records it maps
                return
            if time.monotonic() < self.map_retry_at:
                return
            if not self.map_writer.store_segments(self.offset_map.dirty):
                self.map_retry_at = time.monotonic() + MAP_RETRY_S
                log.warning("stream %d: offset map not stored (%s); retried in %.0fs: until then, translation of "
                            "the newest offsets says 'inexact'", self.index, self.map_writer.last_error, MAP_RETRY_S)
        except Exception as exc:  # noqa: BLE001 -- the map must never stop the mirror or a commit
            log.error("stream %d: offset map: %s; the map stops here for this stream", self.index, exc, exc_info=True)
            self.offset_map = None

    def _commit(self, offsets: dict[tuple[str, int], int], wait: bool = True) -> bool:
        """Commit; True when done, or nothing to do. `wait` False: sent, its outcome taken by _commit_done (False).
        With exactly-once, the transaction (the positions in it), always waited for."""
        if self.config.exactly_once:
            return self._commit_transaction(offsets)
        if not offsets:
            return True
        if not self._commit_source(offsets, wait):
            return False
        self.tracker.committed_ok(offsets)
        self.metrics.commits.inc()
        return True

    def _commit_source(self, offsets: dict[tuple[str, int], int], wait: bool = True) -> bool:
        """The source group's commit: True when stored; `wait` False: sent, and _commit_done takes its outcome."""
        try:
            self.consumer.commit(offsets=[TopicPartition(t, p, o) for (t, p), o in offsets.items()],
                                 asynchronous=not wait)
        except KafkaException as exc:
            self._commit_failed(exc.args[0])
            if self.commit_refused is not None:
                raise MirrorError(self.commit_refused) from None
            return False
        return wait

    def _commit_done(self, err: KafkaError | None, partitions: list[TopicPartition]) -> None:
        """A commit sent without waiting, as the group answered it (librdkafka's offset_commit_cb, inside consume()).
        The partitions it stored are committed for the tracker; a later rewind goes back no further than them.
        Answers served while the consumer closes (it waits for them) come after the final commit: nothing is left to
        act on, so they are only logged."""
        if self.beat.state == "stopping":
            if err is not None:
                log.info("stream %d: an earlier commit answered while closing: %s", self.index, err.str())
            return
        stored = {(tp.topic, tp.partition): tp.offset for tp in partitions
                  if tp.error is None and (tp.topic, tp.partition) in self.assigned}  # else given up since
        self.tracker.committed_ok(stored)
        if err is not None:
            self._commit_failed(err)
            return
        self.metrics.commits.inc()
        if not self.tracker.failures:  # as the checkpoint that sent it would have marked it
            self.beat.last_commit = time.time()

    def _commit_failed(self, err: KafkaError) -> None:
        """A commit the source group refused. For now (a rebalance, the coordinator moving): the next checkpoint
        commits again. A fenced or fatally failed consumer stops the stream, and so does a denied one."""
        if err.fatal() or err.code() in (KafkaError._FATAL, KafkaError.FENCED_INSTANCE_ID):
            self._fatal(err)
        elif err.code() in COMMIT_DENIED:
            self.commit_refused = (f"the source cluster refuses the mirror's commits ({err.str()}): grant its "
                                   f"principal READ on group {self.config.consumer.get('group.id')} and its topics")
            self.stop = True
        else:  # also when only some partitions failed: librdkafka names the last partition error
            log.warning("stream %d: commit deferred (%s); acknowledged progress is committed at the next checkpoint, "
                        "at worst mirrored again", self.index, err.str())

    # --- exactly-once: transactions ---------------------------------------------------------------------------

    def _begin(self) -> bool:
        try:
            self.producer.begin_transaction()
        except KafkaException as exc:
            self._fatal(exc.args[0])  # only a fenced or broken producer refuses to begin
            return False
        self.in_txn = True
        return True

    def _commit_transaction(self, offsets: dict[tuple[str, int], int]) -> bool:
        """The positions `offsets` (what plan() allows) into the open transaction, then commit it: the target's
        records and where their partitions resume become visible together. A transaction with records still
        unacknowledged stays open for the next checkpoint. The source group's commit follows, for monitoring."""
        if self.broken is not None or self.send_failure is not None:  # stopping: nothing is committed after it
            return False
        if self.tracker.failures:
            # Aborting drops every record of the transaction, not only the failed ones: every partition goes back to
            # its stored position now. (Left to the next checkpoint, a revoke in between would take the failure
            # with it and leave the kept partitions past records that were never committed.)
            failures = list(self.tracker.failures)
            self._purge(pause_s=0.0 if self.config.abort_on_send_failure else RETRY_PAUSE_S)
            if self.config.abort_on_send_failure:
                self.send_failure = _stop_text(failures)
            return False
        if self.unsettled:  # records may still be acknowledged: the transaction stays open
            return False
        segments = self.offset_map.dirty if self.offset_map is not None else {}
        if not offsets and not self.in_txn and not segments:
            self._align_source()
            return True
        if not self.in_txn and not self._begin():
            return False
        group = self.config.consumer["group.id"]
        try:
            for (topic, partition), offset in offsets.items():
                key, value = position_record(self.source_id, group, topic, partition, offset)
                self.producer.produce(self.config.positions_topic, value, key, 0, on_delivery=_ignore_report)
        except (KafkaException, BufferError) as exc:
            log.warning("stream %d: positions not handed to the producer (%s): the transaction is aborted and "
                        "mirrored again", self.index, exc)
            self._purge()
            return False
        try:
            for key, value in self.map_writer.segment_records(segments) if segments else ():
                # the map's facts become visible with the records they describe, or never (an abort drops both)
                self.producer.produce(self.map_writer.topic, value, key, on_delivery=self._map_report)
        except BufferError:  # the queue is full: the same transaction again, later
            self._purge()
            return False
        except KafkaException as exc:  # refused before sending (the topic, the record's size)
            self.map_refused = exc.args[0].str()
            self._purge()
            return False
        err = self._transact(self.producer.commit_transaction)
        if err is not None:
            if err.txn_requires_abort():
                log.warning("stream %d: transaction not committed (%s): aborted; its partitions are mirrored again "
                            "from their stored positions", self.index, err.str())
                self._purge()  # aborts, and rewinds every partition of the transaction
            else:  # fatal, or neither retriable nor abortable: librdkafka's contract says stop
                self._fatal(err)
            return False
        self.in_txn = False
        segments.clear()
        self.tracker.committed_ok(offsets)
        self.metrics.commits.inc()
        if offsets and not self._commit_source(offsets):
            # Refused for now (a rebalance: ILLEGAL_GENERATION under a rolling restart of the target, on the lab):
            # made again from the next checkpoint on, else a partition with nothing more to mirror keeps its lag for
            # good. Not now: a synchronous commit to an unavailable coordinator waits up to session.timeout.ms.
            for tp, offset in offsets.items():
                self.source_behind[tp] = max(offset, self.source_behind.get(tp, -1))
            return True
        for tp in offsets:
            self.source_behind.pop(tp, None)
        self._align_source()
        return True

    def _align_source(self) -> None:
        """Source commits found behind the stored positions at assignment (a worker killed between its transaction's
        commit and the source group's) are moved up to them, so that the group's lag shows what is left to mirror
        even when nothing more arrives."""
        due = {tp: o for tp, o in self.source_behind.items() if tp in self.assigned}
        self.source_behind = {}
        if due and not self._commit_source(due):
            self.source_behind.update(due)

    def _transact(self, call: Callable[[float], None], each: float = -1,
                  total: float | None = None) -> KafkaError | None:
        """A call of librdkafka's transactional API, made again while it says retriable (the API's contract): each
        bounded by `each` (-1: transaction.timeout.ms), the whole by `total` (TXN_RETRY_S)."""
        deadline = time.monotonic() + (TXN_RETRY_S if total is None else total)
        while True:
            try:
                call(each)
                return None
            except KafkaException as exc:
                err = exc.args[0]
                # _CONFLICT, _PREV_IN_PROGRESS: another transactional call is pending (one that timed out); retrying
                # at once only spins (librdkafka answers without waiting)
                if err.fatal() or err.txn_requires_abort() or not err.retriable() or \
                        err.code() in (KafkaError._CONFLICT, KafkaError._PREV_IN_PROGRESS) or \
                        time.monotonic() >= deadline:
                    return err
                time.sleep(TXN_RETRY_PAUSE_S)

    def _abort_transaction(self) -> None:
        """Nothing of the open transaction is ever read by a read_committed consumer. The caller rewinds."""
        if not self.in_txn or self.broken is not None:  # after a fatal error: nothing of it is committed either
            return
        err = self._transact(self.producer.abort_transaction)
        if err is not None:  # the producer's state is unknown: commit nothing more
            self._fatal(err)
            return
        self.in_txn = False

    def _resume_stored(self, consumer: Consumer, partitions: list[TopicPartition]) -> None:
        """Exactly-once: assigned partitions start at their stored positions, or at the source group's commit where
        it is further (the group was moved on by a run without exactly-once, or by an operator)."""
        if not partitions:  # cooperative rebalances call on_assign with nothing new too
            return
        stored = read_positions(self.config.admin("target"), self.config.positions_topic, self.source_id,
                                self.config.consumer["group.id"], self.config.positions_wait_s)
        try:
            committed = {(tp.topic, tp.partition): tp.offset
                         for tp in consumer.committed([TopicPartition(tp.topic, tp.partition) for tp in partitions],
                                                      timeout=TIMEOUT_S)}
        except KafkaException as exc:
            raise MirrorError(f"cannot read the group's committed offsets on the source: {exc.args[0].str()}") from None
        resumed = {}
        for tp in partitions:
            key = (tp.topic, tp.partition)
            self.source_behind.pop(key, None)
            offset = max(stored.get(key, -1), committed.get(key, -1))
            if key in stored:  # else where librdkafka resumes anyway: the commit, or auto.offset.reset
                tp.offset = offset
                resumed[key] = offset
                if committed.get(key, -1) < offset:
                    self.source_behind[key] = offset
        self.tracker.committed_ok(resumed)
        strategy = str(self.config.consumer.get("partition.assignment.strategy", ""))
        if "cooperative" in strategy.lower():
            consumer.incremental_assign(partitions)
        else:
            consumer.assign(partitions)

    def _take_reports(self) -> None:
        """Failed deliveries into the tracker: one failure per partition and error, each logged and counted."""
        reports, self.reports = self.reports, []
        grouped: dict[tuple[str, int | None, str], Failure] = {}
        for r in reports:
            c = self.unacked.setdefault(r.topic, [0, 0])
            c[0] += 1
            c[1] += r.size
            if r.error in PURGED and self.purging:
                continue  # our own doing: _purge mirrors every partition it kept again
            # A report names the target partition: the source's only when the producer did not choose it.
            source = r.partition if r.offset is not None or r.topic not in self.hashed else None
            key = (r.topic, source, r.error)
            seen = grouped.get(key)
            if seen is None:
                grouped[key] = Failure(r.topic, source, r.offset, r.size, r.error, r.reason)
            else:
                offset = None if seen.offset is None or r.offset is None else min(seen.offset, r.offset)
                grouped[key] = replace(seen, offset=offset, count=seen.count + 1)
        for failure in grouped.values():
            self._failed(failure)

    def _failed(self, failure: Failure) -> None:
        self.tracker.failed(failure)
        if failure.error in NOT_SENT:  # dropped by _cut: the failure that caused it is logged and counted
            log.warning("stream %d: %s", self.index, _describe(failure))
        else:
            self.metrics.send_errors.labels(failure.topic, failure.error).inc(failure.count)
            log.error("stream %d: %s", self.index, _describe(failure))

    def _count_acknowledged(self) -> None:
        """Every report is in: what was handed over and not reported failed, held or purged, the target
        acknowledged (the rest is counted when it is mirrored again; so is what a rewind mirrors again)."""
        handed, unacked = dict(self.handed), dict(self.unacked)
        self.handed.clear()  # in place: the consume loop holds the dict
        self.unacked.clear()
        for topic, (n, size) in handed.items():
            failed_n, failed_size = unacked.get(topic, (0, 0))
            if n > failed_n:
                self.metrics.records.labels(topic).inc(n - failed_n)
                self.metrics.bytes.labels(topic).inc(max(0, size - failed_size))

    def _cut(self) -> int:
        """A delivery failed: drop everything the producer holds, at once, so that no later record reaches the
        target before the failed one is mirrored again. The dropped records are failures of their partitions (never
        committed past, unless _purge ignores them); checkpoint() then acts on them all. Queued records are never
        sent; requests in flight are not retried. Returns the records still unreported."""
        self.producer.purge(in_queue=True, in_flight=True, blocking=True)
        self.acks.forget()
        deadline = time.monotonic() + PURGE_DRAIN_S
        left = self._serve(self.producer.flush, FLUSH_SLICE_S)
        while left and time.monotonic() < deadline:
            left = self._serve(self.producer.flush, FLUSH_SLICE_S)
        self.undelivered = False  # the purged records' reports set it: nothing is left to cut
        return left

    def _serve(self, call: Callable[[float], int], timeout: float) -> int:
        """producer.poll or producer.flush, under 0.2 s: confluent-kafka serves a longer call in 0.2 s chunks and,
        after a fatal error in one chunk, runs the next one's delivery callbacks with the exception still set (their
        reports would be lost). It raises a fatal producer error (an idempotence failure after the target lost its
        state) from the call that serves it, never through error_cb: the stream stops here, commits nothing more, and
        the call is made again for the reports it did not serve."""
        try:
            return call(timeout)
        except (KafkaException, SystemError) as exc:
            cause = exc if isinstance(exc, KafkaException) else exc.__cause__ or exc.__context__
            err = cause.args[0] if isinstance(cause, KafkaException) and cause.args else None
            if not (isinstance(err, KafkaError) and err.fatal()):
                raise
            self._fatal(err)
            return call(timeout)

    def _fatal(self, err: KafkaError) -> None:
        """A client that cannot go on (fenced, a fatal idempotence error): stop, and commit nothing more."""
        if self.broken is None:
            log.error("stream %d: fatal client error, stopping without committing anything more: %s",
                      self.index, err.str())
        self.broken = err
        self.stop = True

    def _retry_later(self, positions: dict[tuple[str, int], int]) -> None:
        """abort.on.send.failure=false: partitions with a failed record go back to their last commit, pause, retry."""
        if not positions:
            return
        self._seek(positions, pause_s=RETRY_PAUSE_S)
        log.warning("stream %d: retrying %s from their last committed offsets in %.0fs", self.index,
                    ", ".join(f"{t}[{p}]" for t, p in sorted(positions)), RETRY_PAUSE_S)

    def _seek(self, positions: dict[tuple[str, int], int], pause_s: float = 0.0) -> None:
        parts = [TopicPartition(t, p, o) for (t, p), o in positions.items()]
        if not parts:
            return
        if self.fetching:
            self.reseek.update(positions)
        if pause_s:
            self.consumer.pause(parts)
        for tp in parts:
            self.consumer.seek(tp)
            if pause_s:
                self.paused[(tp.topic, tp.partition)] = time.monotonic() + pause_s

    def _map_report(self, err: KafkaError | None, msg: Message) -> None:
        """A map record of the transaction refused for good (an ACL, the topic, its size): _purge turns the map off.
        Any other failure (the target down, a leader moving) aborts the transaction like any of its records. By code:
        a delivery report's error never says whether it is retriable."""
        if err is not None and err.code() in MAP_REFUSED:
            self.map_refused = err.str()

    def _purge(self, pause_s: float = 0.0) -> None:
        """Drop every record the producer still holds, and mirror the partitions we keep again from their last
        commit: queued records are never sent, and requests in flight are not retried (one the broker already
        received may still be written, so a partition given up can see a late duplicate, never a gap)."""
        self.purging = True
        try:
            left = self._cut()
            self._abort_transaction()
            self._take_reports()
        finally:
            self.purging = False
        self.unsettled = 0
        if not left:  # else the counts carry over: the late reports belong to them
            self._count_acknowledged()
        if self.offset_map is not None:  # what the producer held is gone: the next records start new segments
            self.offset_map.reset_all()
            if self.config.exactly_once:  # the aborted transaction held these records: not facts any more
                self.offset_map.dirty.clear()
            if self.map_refused is not None:
                # The map must never stop the mirror: the next transactions go without it.
                log.error("stream %d: the offset map could not be written in the transaction (%s): the map stops here "
                          "for this stream, so translation of later offsets says inexact; grant the mirror's principal "
                          "WRITE on the topic %s (cleanup.policy=compact), then restart the worker", self.index,
                          self.map_refused, self.config.offset_map_topic)
                self.offset_map = None
        self.map_refused = None
        positions = self.tracker.rewind(list(self.tracker.pending))
        self._seek(positions, pause_s)
        if positions:
            log.warning("stream %d: mirroring %d partition(s) again from their last commit", self.index,
                        len(positions))

    def _hold_ahead(self, ahead: dict[tuple[str, int], int]) -> None:
        """The consumer was given partitions the stream's last refresh did not see on the source (the source topic
        grew, and the consumer's metadata saw it first), or that the target, still growing, does not have yet. A
        record kept in its partition must not be placed elsewhere meanwhile: each is fetched again from its first
        record after HOLD_AHEAD_S the first time (a refresh is started then), after that once a refresh has applied
        or the refresh interval has passed, and mirrored once a refresh shows the target grown, or refused to grow
        (partitioning.partition_limits)."""
        new = sorted(set(ahead) - self.ahead)
        if new:
            log.info("stream %d: held until a topic refresh shows the target with them: %s",
                     self.index, ", ".join(f"{t} partition {p}" for t, p in new))
            self.refresh_soon = True  # once per sighting: a refresh that fails waits for the interval, as ever
        # Seen again, a partition waits for the refresh that releases it (_apply_topics), not fetched every second.
        self._seek({tp: o for tp, o in ahead.items() if tp in self.ahead}, self.config.refresh_interval_s)
        self._seek({tp: ahead[tp] for tp in new}, HOLD_AHEAD_S)
        self.ahead.update(ahead)

    def _resume_paused(self) -> None:
        if not self.paused:
            return
        now = time.monotonic()
        due = [tp for tp, at in self.paused.items() if at <= now]
        if due:
            self.consumer.resume([TopicPartition(t, p) for t, p in due])
            for tp in due:
                del self.paused[tp]

    # --- topics and the group -----------------------------------------------------------------------------

    def refresh(self) -> None:
        """At start: pick up the source topics and partitions, create or grow their targets, subscribe to the set. A
        cluster that does not answer stops the stream, naming it."""
        self._apply_topics(self._read_topics())

    def _refreshed(self, read: Future[TopicsRead]) -> None:
        """A periodic refresh's reads are done (beside the loop). A cluster that did not answer is logged and the
        stream mirrors on with what it is subscribed to, as the clients reconnect by themselves; the next refresh
        tries again. (Exiting turned a 30 s network cut between the clusters into a restart after it.)"""
        try:
            topics = read.result()
        except MirrorError as exc:
            log.warning("stream %d: topic refresh failed, %s; mirroring on with the %d topic(s) subscribed, next try "
                        "in %.0fs", self.index, exc, len(self.subscribed), self.config.refresh_interval_s)
            return
        self._apply_topics(topics)

    def _read_topics(self) -> TopicsRead:
        """Both clusters' topics, the target's made to follow the source's: network only, no state of the loop's,
        so that a periodic refresh can run beside it (the target-side bookkeeping is TopicSync's, one refresh at a
        time)."""
        source = self._cluster("source", lambda: partition_counts(self.source_admin, self.config.topics))
        target = self._cluster("target", lambda: self.sync.sync(source))
        return TopicsRead(source, target, self._read_max_bytes(sorted(t for t in source if t in target)),
                          frozenset(self.sync.growing))

    def _read_max_bytes(self, topics: list[str]) -> dict[str, int | None] | None:
        """The target topics' max.message.bytes, to stop at a record the target can never accept before handing it
        over. Uncompressed producers only: a compressed batch's size is not known before the producer writes it."""
        producer = self.config.producer
        if any(str(producer.get(k, "none")).lower() != "none" for k in ("compression.type", "compression.codec")):
            return None
        try:
            return max_message_bytes(self.sync.target, topics)
        except KafkaException as exc:  # not asked at all: the limits read before stand
            log.debug("stream %d: target topic configs not read: %s", self.index, exc.args[0].str())
            return None

    def _apply_topics(self, read: TopicsRead) -> None:
        source, target = read.source, read.target
        self.limits = partition_limits(source, target, self.config.partitioning, read.growing)
        self.source_partitions = source
        for tp in list(self.ahead):  # fetched again now if kept or placed by the producer; else the next refresh
            limit = self.limits.get(tp[0], 0)
            if tp[1] < limit or not limit:
                self.ahead.discard(tp)
                if tp in self.paused:
                    self.paused[tp] = 0.0
        if read.max_bytes is not None:
            self._weigh_limits(sorted(t for t in source if t in target), read.max_bytes)
        topics = sorted(source)
        if topics != self.subscribed:
            if topics:
                self.consumer.subscribe(topics, on_assign=self._assigned, on_revoke=self._revoked,
                                        on_lost=self._lost)
            else:
                self.consumer.unsubscribe()
                log.warning("stream %d: no source topic matches --include '%s' yet", self.index,
                            self.config.topics.include)
            log.info("stream %d: mirroring %d topic(s): %s", self.index, len(topics), ", ".join(topics))
            self.subscribed = topics

    def _weigh_limits(self, topics: list[str], read: dict[str, int | None]) -> None:
        """The limits of _read_max_bytes, kept: a topic that did not answer keeps its last one."""
        denied = sorted(t for t, n in read.items() if n is None and t not in self.unweighed)
        if denied:
            log.warning("stream %d: cannot read max.message.bytes of target topic(s) %s (the mirror's principal needs "
                        "DESCRIBE_CONFIGS on them): a record they cannot take is refused by the broker instead, and "
                        "records after it already in flight may land before it is mirrored again", self.index,
                        ", ".join(denied))
            self.unweighed.update(denied)
        known = {**self.max_bytes, **read}
        self.max_bytes = {t: known[t] for t in topics if known.get(t) is not None}
        self.near_max = {t: n - NEAR_LIMIT for t, n in self.max_bytes.items()}
        small = sorted(t for t, n in self.max_bytes.items() if n < self.batch_bytes and t not in self.small_batches)
        if small and self.beat.state == "running":  # at start, the producer is made to fit instead
            log.warning("stream %d: target topic(s) %s take batches up to %d bytes, below this producer's batch.size "
                        "(%d): a batch of small records may be refused, stopping the stream; its restart fits them "
                        "(or set batch.size in producer.properties)", self.index, ", ".join(small),
                        min(self.max_bytes[t] for t in small), self.batch_bytes)
        self.small_batches.update(small)

    def _origins(self) -> tuple[bytes, bytes]:
        """--provenance: the source's and the target's cluster ids, which must differ."""
        origin = (self._cluster_id("source", self.source_admin).encode(),
                  self._cluster_id("target", self.producer).encode())
        if origin[0] == origin[1]:  # every record would look like the target's own: none would be mirrored
            raise MirrorError(f"--provenance: the source and target clusters report the same cluster id "
                              f"({origin[0].decode()}); clusters made from one copy must get their own ids before "
                              f"they can mirror both ways")
        return origin

    def _cluster_id(self, side: str, client, why: str = "--provenance needs it") -> str:
        cluster_id = self._cluster(side, lambda: client.list_topics(timeout=TIMEOUT_S).cluster_id)
        if not cluster_id:
            raise MirrorError(f"the {side} cluster's brokers report no cluster id (Kafka before 0.10.1), and {why}; "
                              "turn that option off for this pair")
        return str(cluster_id)

    def _cluster(self, side: str, read):
        """A metadata read that names the cluster it could not reach (an error, or no answer within TIMEOUT_S: a
        future's result(timeout) raises TimeoutError, not a KafkaException)."""
        try:
            return read()
        except (KafkaException, FutureTimeout) as exc:
            conf = self.config.consumer if side == "source" else self.config.producer
            why = exc.args[0].str() if isinstance(exc, KafkaException) else unanswered(exc)
            raise MirrorError(f"cannot read the {side} cluster's metadata from bootstrap.servers="
                              f"{conf.get('bootstrap.servers')}: {why}; check that its brokers are up "
                              "and reachable from this host, and its security settings") from None

    def _assigned(self, consumer: Consumer, partitions: list[TopicPartition]) -> None:
        # An assignment close() still delivers is revoked in the same close, and nothing of it reaches the stream
        # (the close destroys what its fetchers bring): its positions are not read. Nor could the group's commits
        # be: librdkafka does not send the OffsetFetch of a terminating group (src/rdkafka_cgrp.c,
        # rd_kafka_cgrp_op_serve: _WAIT_COORD), so committed() waits out its timeout (a worker stopped mid-rebalance
        # under a rolling restart of the target exited 1 after 30 s). confluent-kafka assigns the partitions when
        # the callback did not (src/confluent_kafka/src/Consumer.c).
        if self.config.exactly_once and not self.closing:
            self._resume_stored(consumer, partitions)
        self.assigned.update((tp.topic, tp.partition) for tp in partitions)
        self.beat.assigned += len(partitions)
        self.metrics.assigned.inc(len(partitions))
        self._heartbeat(force=True)

    def _revoked(self, consumer: Consumer, partitions: list[TopicPartition]) -> None:
        """Commit what the target acknowledged for the partitions leaving us, before another member takes them.
        Never raises: a failed record keeps its partition uncommitted, and checkpoint() acts on it."""
        tps = [(tp.topic, tp.partition) for tp in partitions]
        try:
            # exactly-once: the transaction holds records of every partition, so all their positions go with it
            offsets, left = self._settle(only=None if self.config.exactly_once else tps,
                                         timeout=0 if self.unsettled else FLUSH_TIMEOUT_S)
            self._commit(offsets)
        except MirrorError as exc:
            log.error("stream %d: %s", self.index, exc)
            left = self.unsettled
        self._release(tps)
        if left:
            log.warning("stream %d: %d records unacknowledged while %d partition(s) were revoked; not committing "
                        "them, and dropping what the producer holds", self.index, left, len(tps))
            self._purge()

    def _lost(self, consumer: Consumer, partitions: list[TopicPartition]) -> None:
        tps = [(tp.topic, tp.partition) for tp in partitions]
        log.warning("stream %d: lost %d partition(s) without a clean handover; their uncommitted records will be "
                    "mirrored again by their new owner", self.index, len(tps))
        self._release(tps)
        self._purge()

    def _release(self, tps: list[tuple[str, int]]) -> None:
        # librdkafka keeps a partition's pause across its unassignment: given back later, it would never be fetched
        paused = [TopicPartition(t, p) for t, p in tps if (t, p) in self.paused]
        if paused:
            try:
                self.consumer.resume(paused)
            except KafkaException as exc:
                log.warning("stream %d: resuming released partitions: %s", self.index, exc.args[0].str())
        self.tracker.forget(tps)
        if self.offset_map is not None:
            self.offset_map.reset(tps)
        self.assigned.difference_update(tps)
        self.ahead.difference_update(tps)
        for tp in tps:
            self.paused.pop(tp, None)
            self.reseek.pop(tp, None)
            self.source_behind.pop(tp, None)
            # prometheus_client's multiprocess mode cannot remove a series: a zero adds nothing to the livesum.
            self.metrics.lag.labels(tp[0], str(tp[1])).set(0)
        self.beat.assigned = max(0, self.beat.assigned - len(tps))
        self.metrics.assigned.dec(len(tps))

    # --- errors, stats, health ------------------------------------------------------------------------------

    def _consumer_error(self, err: KafkaError) -> None:
        # librdkafka hands a consumer's fatal error (e.g. fenced by a member with its group.instance.id) over as a
        # message error with code _FATAL, whose fatal() says False.
        if err.fatal() or err.code() in (KafkaError._FATAL, KafkaError.FENCED_INSTANCE_ID):
            self._fatal(err)
        else:
            log.warning("stream %d: source consumer: %s", self.index, err.str())

    def _client_error(self, err: KafkaError) -> None:
        if err.fatal():
            self._fatal(err)
        elif err.code() == KafkaError._ALL_BROKERS_DOWN:
            log.error("stream %d: no broker reachable (%s); check bootstrap.servers and the network path",
                      self.index, err.str())
        else:
            log.warning("stream %d: %s", self.index, err.str())

    def _client_error_map(self, err: KafkaError) -> None:
        """The map's producer: its errors are logged, never fatal to the stream."""
        log.warning("stream %d: offset map producer: %s", self.index, err.str())

    def _stats(self, stats_json: str) -> None:
        stats = json.loads(stats_json)
        for topic, t in stats.get("topics", {}).items():
            for partition, p in t.get("partitions", {}).items():
                if partition != "-1" and p.get("consumer_lag", -1) >= 0 and (topic, int(partition)) in self.assigned:
                    self.metrics.lag.labels(topic, partition).set(p["consumer_lag"])

    def _heartbeat(self, force: bool = False) -> None:
        """The stream's state for /health. A file that cannot be written (the directory removed, a full disk) does
        not stop the mirror: /health then reports the stream not ready, which is what an operator should see."""
        if force or time.time() - self.beat.updated >= 1.0:
            try:
                write_heartbeat(self.health_dir, self.beat)
            except OSError as exc:
                if not self.beat_failed:
                    log.warning("stream %d: cannot write its health file in %s (%s): mirroring on, and /health says "
                                "not ready until it can", self.index, self.health_dir, exc.strerror or exc)
                self.beat_failed = True
                return
            if self.beat_failed:
                log.info("stream %d: health file written again", self.index)
                self.beat_failed = False


def static_member_id(base: str, topics: dict[str, int]) -> str:
    """`base` (<instance_id>-<stream>) and a digest of the source topics and partition counts it starts with.

    A static member that comes back under its old id gets its old assignment and no rebalance while the group is
    Stable, whatever it now subscribes to (apache/kafka 3.9 GroupCoordinator.scala, updateStaticMemberAndRebalance:
    "Static member which joins during Stable stage and doesn't affect selectProtocol will not trigger rebalance").
    A restart with other topics or partitions (the role changed a pair's topics, or topics appeared while it was
    down) would then mirror none of the new ones. With the digest it joins as a new member and the group rebalances
    (after session.timeout.ms, when the old ids expire); a restart with the same topics keeps its partitions."""
    digest = hashlib.sha256(json.dumps(sorted(topics.items())).encode()).hexdigest()[:8]
    return f"{base}-{digest}"


def _ignore_report(err: KafkaError | None, msg: Message) -> None:
    """Positions' delivery reports: a failed one fails commit_transaction, which is where it is handled."""


def _origin_of(headers) -> bytes | None:
    """The value of a record's provenance header (the id of the cluster it was first written to), if it has one."""
    if headers:
        for name, value in headers:
            if name == ORIGIN_HEADER and value:  # an empty one names no cluster: the record gets ours
                return value
    return None


def _first_offsets(messages: list) -> dict[tuple[str, int], int]:
    """The first offset per partition in a batch (needed once per partition after assignment)."""
    first: dict[tuple[str, int], int] = {}
    for m in messages:
        if m.error() is None:
            first.setdefault((m.topic(), m.partition()), m.offset())
    return first


def _describe(f: Failure) -> str:
    """A failure as logs and the stop message name it: topic, partition, offset when known, size, the setting."""
    records = f"{f.count} records" if f.count > 1 else "a record"
    where = f"partition {f.partition}" if f.partition is not None else "a partition"
    at = f" at offset {f.offset}" if f.offset is not None else ""
    if f.error in NOT_SENT:
        return (f"{records} of {f.topic} ({where}{at.replace(' at ', ' from ')}) held back or purged after a failed "
                "delivery, so that none lands before it; they are mirrored again (a purged request already sent may "
                "still be written: a duplicate)")
    batch = f.error == "MSG_SIZE_TOO_LARGE" and f.count > 1 and f.size < LARGE_RECORD
    hint = HINTS.get(f"{f.error} batch" if batch else f.error, "")
    return f"{records} of {f.topic} ({where}{at}, {f.size} bytes) not accepted by the target: {f.reason}" + \
        (f"; {hint}" if hint else "")


def _stop_text(failures: list[Failure]) -> str:
    cause = [f for f in failures if f.error not in NOT_SENT] or failures
    more = f" (and {len(cause) - 1} more failure(s))" if len(cause) > 1 else ""
    return (f"{_describe(cause[0])}{more}. Stopping without committing past it (abort.on.send.failure=true); "
            "it is mirrored again when the stream restarts")


def _stop_with_parent() -> None:
    """A stream whose supervisor died (kill -9 outside systemd) must not keep its member ids: SIGTERM it then."""
    try:
        ctypes.CDLL(None, use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGTERM)
    except (OSError, AttributeError):  # not Linux: systemd's KillMode covers the service
        pass


def run_stream(config: MirrorConfig, index: int, health_dir: str, log_format: str) -> int:
    """Entry point of a stream process."""
    from kafka_mirror.logs import setup

    setup(log_format, f"stream-{index}")
    _stop_with_parent()
    try:
        return Stream(config.for_stream(index), index, Path(health_dir)).run()
    except MirrorError as exc:  # SendFailure (3), ConfigError (2), an unreachable cluster (1)
        log.error("stream %d: %s", index, exc)
        return exc.exit_code
    except KafkaException as exc:
        error = exc.args[0]
        text = error.str() if isinstance(error, KafkaError) else str(exc)
        if "No such configuration property" in text or "Invalid value" in text:
            log.error("stream %d: configuration rejected by librdkafka: %s", index, text)
            return ConfigError.exit_code
        log.error("stream %d: %s", index, text)
        return 1
