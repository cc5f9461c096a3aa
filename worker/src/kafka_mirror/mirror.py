"""One stream: consume a batch from the source, hand it to the target producer, commit what the target acknowledged.

No loss: source offsets are committed only after a flush left nothing in flight and no record of that topic failed.
A failed record is never skipped: the process stops (abort.on.send.failure=true) or the topic's partitions are
rewound to their last commit and retried after a pause. kill -9 at any moment re-delivers at most what was in
flight since the last commit.
"""
from __future__ import annotations

import json
import logging
import os
import signal
import time
from pathlib import Path

from confluent_kafka import Consumer, KafkaError, KafkaException, Producer, TopicPartition
from confluent_kafka.admin import AdminClient

from kafka_mirror.config import MirrorConfig
from kafka_mirror.errors import ConfigError, SendFailure
from kafka_mirror.metrics import Heartbeat, StreamMetrics, write_heartbeat
from kafka_mirror.offsets import OffsetTracker
from kafka_mirror.partitioning import UNASSIGNED
from kafka_mirror.topics import TopicSync, partition_counts

log = logging.getLogger("kafka_mirror.mirror")
FLUSH_TIMEOUT_S = 60.0
RETRY_PAUSE_S = 5.0
STATS_INTERVAL_MS = 5000
HINTS = {
    KafkaError.MSG_SIZE_TOO_LARGE: "a record is larger than the target accepts: raise max.message.bytes of the target "
                                   "topic, or message.max.bytes (max.request.size) in producer.properties",
    KafkaError.TOPIC_AUTHORIZATION_FAILED: "the producer's principal needs WRITE on the target topic",
    KafkaError.UNKNOWN_TOPIC_OR_PART: "the target topic does not exist: let the mirror create it, or enable "
                                      "auto.create.topics.enable on the target",
    KafkaError._MSG_TIMED_OUT: "the target did not acknowledge in time: check that its brokers are reachable",
}


def fetch(consumer, batch_size: int, wait_s: float = 0.2) -> list:
    """What the consumer has fetched, up to batch_size; when it has nothing, wait up to wait_s for one record.

    consume(n, timeout) waits out its whole timeout unless n records come: under a light load a plain
    consume(batch_size, 0.2) held each record up to 0.2 s (p50 165 ms at 25,000 records/s in bench/).
    """
    return consumer.consume(batch_size, 0) or consumer.consume(1, wait_s)


class Stream:
    def __init__(self, config: MirrorConfig, index: int, health_dir: Path) -> None:
        self.config = config
        self.index = index
        self.health_dir = health_dir
        self.stop = False
        self.tracker = OffsetTracker()
        self.reports: dict = {}  # delivery reports: None -> the latest acknowledged record, KafkaError -> record
        self.limits: dict[str, int] = {}  # topic -> target partitions a record may keep its partition below
        self.subscribed: list[str] = []
        self.paused: dict[tuple[str, int], float] = {}
        self.beat = Heartbeat(stream=index, pid=0, state="starting")
        self.consumer: Consumer | None = None
        self.producer: Producer | None = None
        self.sync: TopicSync | None = None
        self.source_admin: AdminClient | None = None
        self.metrics: StreamMetrics | None = None

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
                if now >= next_commit:
                    self.checkpoint()
                    next_commit = now + self.config.commit_interval_s
                if now >= next_refresh:
                    self.refresh()
                    next_refresh = now + self.config.refresh_interval_s
            self.checkpoint()
            return 0
        finally:
            self._close()

    def _request_stop(self, *_: object) -> None:
        self.stop = True

    def _start(self) -> None:
        self.beat.pid = os.getpid()
        self.metrics = StreamMetrics()
        self.producer = Producer({**self.config.producer, "on_delivery": self.reports.__setitem__,
                                  "error_cb": self._client_error})
        self.consumer = Consumer({**self.config.consumer, "error_cb": self._client_error,
                                  "stats_cb": self._stats, "statistics.interval.ms": STATS_INTERVAL_MS,
                                  "topic.metadata.refresh.interval.ms": int(self.config.refresh_interval_s * 1000)})
        self.source_admin = AdminClient(self.config.admin("source"))
        self.sync = TopicSync(self.source_admin, AdminClient(self.config.admin("target")), self.producer,
                              self.config.create_topics, self.config.replication_factor)
        self.refresh()
        self.beat.state = "running"
        self._heartbeat(force=True)

    def _close(self) -> None:
        self.beat.state = "stopping"
        self._heartbeat(force=True)
        if self.producer is not None:
            left = self.producer.flush(FLUSH_TIMEOUT_S)
            if left:
                log.error("stream %d: %d records were not acknowledged by the target before shutdown; their source "
                          "offsets were not committed and they will be mirrored again", self.index, left)
        if self.consumer is not None:
            self.consumer.close()  # static membership: the group waits session.timeout.ms before rebalancing

    # --- the loop -----------------------------------------------------------------------------------------

    def _pass(self) -> None:
        """Consume a batch and hand every record to the producer: the only per-record Python work."""
        messages = fetch(self.consumer, self.config.batch_size)
        produce, poll, limits = self.producer.produce, self.producer.poll, self.limits
        latest: dict[tuple[str, int], int] = {}
        counts: dict[str, list[int]] = {}
        for m in messages:
            if m.error() is not None:
                self._consumer_error(m.error())
                continue
            topic, partition = m.topic(), m.partition()
            target = partition if partition < limits.get(topic, 0) else UNASSIGNED
            ts_type, ts = m.timestamp()
            while True:
                try:
                    produce(topic, m.value(), m.key(), target, timestamp=ts if ts_type else 0, headers=m.headers())
                    break
                except BufferError:  # the producer queue is full: serve deliveries, then retry this record
                    poll(0.05)
            latest[(topic, partition)] = m.offset()
            c = counts.get(topic)
            if c is None:
                counts[topic] = [1, len(m)]
            else:
                c[0] += 1
                c[1] += len(m)
        poll(0)
        if latest:
            self.tracker.handed_over(latest)
        for topic, (n, size) in counts.items():
            self.metrics.records.labels(topic).inc(n)
            self.metrics.bytes.labels(topic).inc(size)
        acked = self.reports.pop(None, None)
        if acked is not None:
            ts_type, ts = acked.timestamp()
            if ts_type:
                self.metrics.latency.observe(max(0.0, time.time() - ts / 1000))
        self._resume_paused()
        self._heartbeat()

    def checkpoint(self, only: list[tuple[str, int]] | None = None) -> None:
        """Flush, then commit the source offsets of everything acknowledged; never past a failed record."""
        left = self.producer.flush(FLUSH_TIMEOUT_S)
        if left:
            log.warning("stream %d: %d records still unacknowledged after %.0fs; not committing this time",
                        self.index, left, FLUSH_TIMEOUT_S)
            return
        failed = self._delivery_failures()
        offsets = self.tracker.commit_plan(failed)
        if only is not None:
            offsets = {tp: o for tp, o in offsets.items() if tp in only}
        if failed and self.config.abort_on_send_failure:
            self._commit(offsets)
            raise SendFailure(f"records of {', '.join(sorted(failed))} could not be delivered to the target; "
                              "stopping without committing past them (abort.on.send.failure=true)")
        if failed:
            self._rewind(failed)
        self._commit(offsets)
        self.beat.last_commit = time.time()
        self._heartbeat(force=True)

    def _commit(self, offsets: dict[tuple[str, int], int]) -> None:
        if not offsets:
            return
        self.consumer.commit(offsets=[TopicPartition(t, p, o) for (t, p), o in offsets.items()], asynchronous=False)
        self.tracker.committed_ok(offsets)
        self.metrics.commits.inc()

    def _delivery_failures(self) -> set[str]:
        failed: set[str] = set()
        for err in [k for k in self.reports if k is not None]:
            msg = self.reports.pop(err)
            topic = msg.topic()
            failed.add(topic)
            self.metrics.send_errors.labels(topic, err.name()).inc()
            hint = HINTS.get(err.code(), "")
            log.error("stream %d: a record of %s (partition %s, %d bytes) was not accepted by the target: %s%s",
                      self.index, topic, msg.partition(), len(msg), err.str(), f"; {hint}" if hint else "")
        return failed

    def _rewind(self, failed: set[str]) -> None:
        """abort.on.send.failure=false: the topic's partitions go back to their last commit and pause a while."""
        positions = self.tracker.rewind(failed)
        unknown = [TopicPartition(t, p) for (t, p), o in positions.items() if o is None]
        if unknown:
            for tp in self.consumer.committed(unknown, timeout=30):
                positions[(tp.topic, tp.partition)] = tp.offset
        parts = [TopicPartition(t, p, o if o is not None and o >= 0 else -2) for (t, p), o in positions.items()]
        if not parts:
            return
        self.consumer.pause(parts)
        for tp in parts:
            self.consumer.seek(tp)
            self.paused[(tp.topic, tp.partition)] = time.monotonic() + RETRY_PAUSE_S
        log.warning("stream %d: retrying %s from their last committed offsets in %.0fs",
                    self.index, ", ".join(sorted(failed)), RETRY_PAUSE_S)

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
        """Pick up new source topics and partitions; create or grow their targets; subscribe to the set."""
        source = partition_counts(self.source_admin, self.config.topics)
        target = self.sync.sync(source)
        self.limits = {t: (target[t] if target.get(t, 0) >= n else 0) for t, n in source.items()}
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

    def _assigned(self, consumer: Consumer, partitions: list[TopicPartition]) -> None:
        self.beat.assigned += len(partitions)
        self.metrics.assigned.inc(len(partitions))
        self._heartbeat(force=True)

    def _revoked(self, consumer: Consumer, partitions: list[TopicPartition]) -> None:
        """Commit what was acknowledged for the partitions leaving us, before another member takes them."""
        tps = [(tp.topic, tp.partition) for tp in partitions]
        try:
            self.checkpoint(only=tps)
        finally:
            self.tracker.forget(tps)
            self.beat.assigned = max(0, self.beat.assigned - len(partitions))
            self.metrics.assigned.dec(len(partitions))

    def _lost(self, consumer: Consumer, partitions: list[TopicPartition]) -> None:
        tps = [(tp.topic, tp.partition) for tp in partitions]
        log.warning("stream %d: lost %d partition(s) without a clean handover; their uncommitted records will be "
                    "mirrored again by their new owner", self.index, len(tps))
        self.tracker.forget(tps)
        self.beat.assigned = max(0, self.beat.assigned - len(partitions))
        self.metrics.assigned.dec(len(partitions))

    # --- errors, stats, health ------------------------------------------------------------------------------

    def _consumer_error(self, err: KafkaError) -> None:
        if err.fatal():
            raise KafkaException(err)
        log.warning("stream %d: source consumer: %s", self.index, err.str())

    def _client_error(self, err: KafkaError) -> None:
        if err.code() == KafkaError._ALL_BROKERS_DOWN:
            log.error("stream %d: no broker reachable (%s); check bootstrap.servers and the network path",
                      self.index, err.str())
        elif err.fatal():
            log.error("stream %d: fatal client error: %s", self.index, err.str())
        else:
            log.warning("stream %d: %s", self.index, err.str())

    def _stats(self, stats_json: str) -> None:
        stats = json.loads(stats_json)
        for topic, t in stats.get("topics", {}).items():
            for partition, p in t.get("partitions", {}).items():
                if partition != "-1" and p.get("consumer_lag", -1) >= 0:
                    self.metrics.lag.labels(topic, partition).set(p["consumer_lag"])

    def _heartbeat(self, force: bool = False) -> None:
        if force or time.time() - self.beat.updated >= 1.0:
            write_heartbeat(self.health_dir, self.beat)


def run_stream(config: MirrorConfig, index: int, health_dir: str, log_format: str) -> int:
    """Entry point of a stream process."""
    from kafka_mirror.logs import setup

    setup(log_format, f"stream-{index}")
    try:
        return Stream(config.for_stream(index), index, Path(health_dir)).run()
    except SendFailure as exc:
        log.error("stream %d: %s", index, exc)
        return exc.exit_code
    except ConfigError as exc:
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
