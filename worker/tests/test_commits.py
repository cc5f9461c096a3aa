"""The stream's commit decisions on every path (checkpoint, abort, close, revoke, lost, commit errors), its metrics
and its topic refresh when a cluster does not answer.

The two clients are stand-ins that only record what the stream asks of them and deliver or fail records as a test
says: these tests pin the mirror's own decisions. What Kafka does under the same faults is shown on the lab's real
brokers by the fault suite (tests/integration/test_faults.py, make faults).
"""
from __future__ import annotations

import threading
import time
from concurrent.futures import Future
from concurrent.futures import TimeoutError as FutureTimeout
from dataclasses import replace
from pathlib import Path
from types import SimpleNamespace

import pytest
from confluent_kafka import KafkaError, KafkaException, Message, TopicPartition
from confluent_kafka.admin import ConfigSource

from kafka_mirror.config import MirrorConfig
from kafka_mirror.errors import MirrorError, SendFailure
from kafka_mirror import mirror as mirror_module
from kafka_mirror.beside import Beside
from kafka_mirror.mirror import Report, Stream, static_member_id
from kafka_mirror.selection import TopicSelection


class Producer:
    def __init__(self, on_delivery) -> None:
        self.on_delivery = on_delivery
        self.queue: list[tuple[Message, object]] = []
        self.fail: dict = {}  # topic, or (topic, target partition) -> error every record there gets
        self.too_large = 1_000_000  # produce() refuses larger records, as librdkafka does with message.max.bytes
        self.hang = False  # the target does not answer: flush() times out with everything in flight
        self.fail_first = False  # flush() and poll() fail the oldest queued record, the rest stay queued
        self.sent: list[tuple[str, int, bytes]] = []  # acknowledged, in order: what the target holds
        self.purged = 0
        self.fatal = False  # the producer hit a fatal error: produce() raises _FATAL (whose fatal() is False)

    def produce(self, topic, value=None, key=None, partition=-1, callback=None, on_delivery=None, timestamp=0,
                headers=None) -> None:  # confluent-kafka's parameters, in their order (the stream passes them so)
        if self.fatal:
            raise KafkaException(KafkaError(KafkaError._FATAL))
        if len(value or b"") > self.too_large:
            raise KafkaException(KafkaError(KafkaError.MSG_SIZE_TOO_LARGE))
        if partition == -1:  # the partitioner's choice, by key
            partition = sum(key or b"") % 2
        msg = Message(topic=topic, partition=partition, offset=-1001, key=key, value=value, headers=headers)
        self.queue.append((msg, callback or on_delivery or self.on_delivery))

    def __len__(self) -> int:  # rd_kafka_outq_len: records not yet acknowledged or failed
        return len(self.queue)

    def poll(self, timeout: float = 0) -> int:
        if self.fail_first and self.queue:
            self.fail_first = False
            msg, callback = self.queue.pop(0)
            callback(KafkaError(KafkaError._MSG_TIMED_OUT), msg)
        return 0

    def flush(self, timeout: float = 0) -> int:
        self.poll()
        if self.hang:
            time.sleep(min(timeout, 0.01))
            return len(self.queue)
        self._deliver(lambda msg: self.fail.get(msg.topic()) or self.fail.get((msg.topic(), msg.partition())))
        return 0

    def purge(self, in_queue: bool = True, in_flight: bool = True, blocking: bool = True) -> None:
        self.purged += len(self.queue)
        self.hang = False
        self._deliver(lambda msg: KafkaError(KafkaError._PURGE_QUEUE))

    def _deliver(self, error_of) -> None:
        queue, self.queue = self.queue, []
        for msg, callback in queue:
            error = error_of(msg)
            if error is None:
                self.sent.append((msg.topic(), msg.partition(), msg.value()))
            callback(error, msg)


class Consumer:
    def __init__(self) -> None:
        self.batches: list[list[Message]] = []
        self.commits: list[dict[tuple[str, int], int]] = []
        self.commit_errors: list[int] = []  # codes the next commits fail with, in order
        # librdkafka's offset_commit_cb: a commit sent without waiting is answered inside a later consume()
        self.on_commit = None
        self.answers: list[tuple[KafkaError | None, list[SimpleNamespace]]] = []
        self.hold_answers = False  # the group answers late: consume() serves none until this is cleared
        self.seeks: dict[tuple[str, int], int] = {}
        self.assigned: list[TopicPartition] = []
        self.on_revoke = None
        self.inside_consume = None  # a rebalance callback librdkafka runs inside the next consume()
        self.batch_errors: list[KafkaError] = []

    def consume(self, num_messages: int = 1, timeout: float = -1) -> list[Message]:
        answers, self.answers = ([], self.answers) if self.hold_answers else (self.answers, [])
        for err, partitions in answers:
            self.on_commit(err, partitions)
        if self.inside_consume is not None:
            callback, self.inside_consume = self.inside_consume, None
            callback()
        batch = self.batches.pop(0) if self.batches and num_messages > 1 else []
        return batch + [Message(topic="a", partition=0, offset=-1001, error=e) for e in self.batch_errors]

    def commit(self, offsets, asynchronous: bool = True):
        err = KafkaError(self.commit_errors.pop(0)) if self.commit_errors else None
        if err is None:
            self.commits.append({(tp.topic, tp.partition): tp.offset for tp in offsets})
        if asynchronous:  # the group's answer, each partition with its error
            self.answers.append((err, [SimpleNamespace(topic=tp.topic, partition=tp.partition, offset=tp.offset,
                                                       error=err) for tp in offsets]))
            return None
        if err is not None:
            raise KafkaException(err)
        return [TopicPartition(tp.topic, tp.partition, tp.offset) for tp in offsets]

    def pause(self, partitions) -> None:
        pass

    def resume(self, partitions) -> None:
        pass

    def seek(self, tp: TopicPartition) -> None:
        self.seeks[(tp.topic, tp.partition)] = tp.offset

    def close(self) -> None:  # librdkafka serves the commits' answers it waits for, and revokes what is still assigned
        answers, self.answers = self.answers, []
        for err, partitions in answers:
            self.on_commit(err, partitions)
        if self.assigned:
            self.on_revoke(self, self.assigned)

    def committed_offset(self, tp: tuple[str, int]) -> int | None:
        done = [c[tp] for c in self.commits if tp in c]
        return done[-1] if done else None


class Counter:
    def labels(self, *args):
        return self

    def inc(self, n: float = 1) -> None:
        pass

    dec = set = observe = inc


class Metrics:
    records = bytes = latency = lag = send_errors = commits = assigned = looped = Counter()
    fetched_age = after_fetch = handover = checkpoint = refresh = Counter()


@pytest.fixture(autouse=True)
def short_flush(monkeypatch):
    """A target that does not answer holds a flush for its whole timeout."""
    monkeypatch.setattr(mirror_module, "FLUSH_TIMEOUT_S", 0.3)


def stream(tmp_path: Path, abort: bool = True) -> Stream:
    config = MirrorConfig(consumer={"group.id": "g"}, producer={}, topics=TopicSelection("a|b|c", None),
                          abort_on_send_failure=abort)
    s = Stream(config, 0, tmp_path)
    s.metrics = Metrics()
    s.producer = Producer(s._delivered)
    s.consumer = Consumer()
    s.consumer.on_revoke = s._revoked
    s.consumer.on_commit = s._commit_done
    s.limits = {"a": 8, "b": 8, "c": 8}  # the target keeps source partitions
    return s


def records(topic: str, partition: int, offsets: range, size: int = 10) -> list[Message]:
    return [Message(topic=topic, partition=partition, offset=o, key=b"k", value=b"v" * size, timestamp=(1, 1))
            for o in offsets]


def mirror(s: Stream, *batches: list[Message]) -> None:
    for batch in batches:
        s.consumer.batches.append(batch)
        new = sorted({TopicPartition(m.topic(), m.partition()) for m in batch} - set(s.consumer.assigned),
                     key=lambda tp: (tp.topic, tp.partition))
        s.consumer.assigned = sorted([*s.consumer.assigned, *new], key=lambda tp: (tp.topic, tp.partition))
        s._assigned(s.consumer, new)
        s._pass()


def test_acknowledged_records_are_committed_at_the_offset_after_them(tmp_path):
    s = stream(tmp_path)
    mirror(s, records("a", 0, range(0, 100)))
    s.checkpoint()
    assert s.consumer.commits == [{("a", 0): 100}]


def test_a_batch_that_comes_back_to_a_partition_commits_its_newest_offset_and_counts_every_record(tmp_path):
    """The loop writes a partition's offset and a topic's counts when the run of records changes: a batch that
    leaves a partition and comes back to it, and ends on another, loses none of them."""
    counted: dict[tuple[str, str], float] = {}

    class Counting:
        def __init__(self, name: str) -> None:
            self.name = name

        def labels(self, topic: str):
            return SimpleNamespace(inc=lambda n=1: counted.update({(self.name, topic):
                                                                    counted.get((self.name, topic), 0) + n}))

    s = stream(tmp_path)
    s.metrics = Metrics()
    s.metrics.records, s.metrics.bytes = Counting("records"), Counting("bytes")
    mirror(s, records("a", 0, range(0, 10)) + records("b", 0, range(0, 5), size=20) + records("a", 0, range(10, 20))
           + records("a", 1, range(0, 3)))
    mirror(s, records("b", 0, range(5, 7), size=20))
    s.checkpoint()
    assert s.consumer.commits == [{("a", 0): 20, ("a", 1): 3, ("b", 0): 7}]
    assert counted == {("records", "a"): 23, ("bytes", "a"): 230, ("records", "b"): 7, ("bytes", "b"): 140}


def test_records_handed_over_before_an_error_leaves_the_loop_are_still_counted(tmp_path):
    """The counts live in locals during a pass: an exception out of the producer (here a non-fatal one, raised by the
    poll that serves a full queue) must not lose the records already handed over (review of 1735e48)."""
    s = stream(tmp_path)
    real, calls = s.producer.produce, []

    def produce(*args):
        calls.append(args)
        if len(calls) == 6:
            raise BufferError()
        return real(*args)

    def poll(timeout: float = 0) -> int:
        raise KafkaException(KafkaError(KafkaError._TRANSPORT))

    s.producer.produce, s.producer.poll = produce, poll
    s.consumer.batches.append(records("a", 0, range(10)))
    with pytest.raises(KafkaException):
        s._pass()
    assert s.handed == {"a": [5, 50]} and len(s.producer.queue) == 5


def test_abort_then_close_never_commits_past_the_failed_records(tmp_path):
    """The reported loss: abort.on.send.failure=true raised, then close() -> revoke committed them anyway."""
    s = stream(tmp_path)
    mirror(s, records("a", 0, range(0, 50)) + records("b", 0, range(0, 50)))
    s.checkpoint()
    s.producer.fail["a"] = KafkaError(KafkaError._MSG_TIMED_OUT)
    mirror(s, records("a", 0, range(50, 150)) + records("b", 0, range(50, 150)))
    with pytest.raises(SendFailure) as stop:
        s.checkpoint()
    assert "a (partition 0" in str(stop.value) and "abort.on.send.failure=true" in str(stop.value)
    s._close()  # the run loop's finally: final settle, then consumer.close() revokes everything
    assert s.consumer.committed_offset(("a", 0)) == 50  # never past the first failed record
    assert s.consumer.committed_offset(("b", 0)) == 150


def test_two_topics_failing_with_the_same_error_are_both_retried_not_committed(tmp_path):
    s = stream(tmp_path, abort=False)
    mirror(s, records("a", 0, range(0, 10)) + records("b", 0, range(0, 10)) + records("c", 0, range(0, 10)))
    s.checkpoint()
    for topic in ("a", "b"):
        s.producer.fail[topic] = KafkaError(KafkaError._MSG_TIMED_OUT)
    mirror(s, records("a", 0, range(10, 20)) + records("b", 0, range(10, 20)) + records("c", 0, range(10, 20)))
    s.checkpoint()
    assert s.consumer.commits[-1] == {("c", 0): 20}
    assert s.consumer.seeks == {("a", 0): 10, ("b", 0): 10}  # both go back to their last commit and retry
    s._close()
    assert s.consumer.committed_offset(("a", 0)) == 10 and s.consumer.committed_offset(("b", 0)) == 10


def test_a_rewind_with_nothing_committed_goes_to_where_the_member_started_not_the_beginning(tmp_path):
    s = stream(tmp_path, abort=False)
    s.producer.fail["a"] = KafkaError(KafkaError._MSG_TIMED_OUT)
    mirror(s, records("a", 3, range(700, 800)))  # e.g. auto.offset.reset=latest started it at 700
    s.checkpoint()
    assert s.consumer.seeks == {("a", 3): 700} and s.consumer.commits == []


@pytest.mark.parametrize("code", [KafkaError.REBALANCE_IN_PROGRESS, KafkaError.ILLEGAL_GENERATION,
                                  KafkaError.UNKNOWN_MEMBER_ID, KafkaError.NOT_COORDINATOR])
def test_a_commit_refused_during_a_rebalance_is_retried_later_not_fatal(tmp_path, code):
    s = stream(tmp_path)
    mirror(s, records("a", 0, range(0, 10)))
    s.consumer.commit_errors = [code]
    s.checkpoint()  # no exception: the stream keeps running
    assert s.consumer.commits == []
    mirror(s, records("a", 0, range(10, 20)))
    s.checkpoint()
    assert s.consumer.commits == [{("a", 0): 20}]


def test_a_revoke_whose_flush_times_out_commits_nothing_and_drops_what_the_producer_holds(tmp_path):
    s = stream(tmp_path)
    mirror(s, records("a", 0, range(0, 10)) + records("a", 1, range(0, 10)))
    s.checkpoint()
    mirror(s, records("a", 0, range(10, 30)) + records("a", 1, range(10, 30)))
    s.producer.hang = True  # the target stopped answering
    s._revoked(s.consumer, [TopicPartition("a", 0)])
    assert s.consumer.commits == [{("a", 0): 10, ("a", 1): 10}]  # only the first checkpoint
    assert s.producer.purged == 40 and s.producer.queue == []  # nothing of a[0] is written after its new owner starts
    assert s.consumer.seeks == {("a", 1): 10}  # what we keep is mirrored again from its last commit
    s.checkpoint()
    assert s.consumer.commits[-1] == {("a", 0): 10, ("a", 1): 10}  # purged records were not acknowledged


def test_lost_partitions_drop_what_the_producer_holds(tmp_path):
    s = stream(tmp_path)
    mirror(s, records("a", 0, range(0, 10)) + records("b", 0, range(0, 10)))
    s.checkpoint()
    mirror(s, records("a", 0, range(10, 20)) + records("b", 0, range(10, 20)))
    s._lost(s.consumer, [TopicPartition("a", 0)])
    assert s.producer.purged == 20 and s.consumer.seeks == {("b", 0): 10}
    assert ("a", 0) not in s.tracker.pending
    s.checkpoint()
    assert all(("a", 0) not in c for c in s.consumer.commits[1:])


def test_a_record_larger_than_the_producer_accepts_stops_naming_topic_partition_offset_size_and_setting(tmp_path):
    s = stream(tmp_path)
    mirror(s, records("a", 2, range(0, 5)) + records("a", 2, range(5, 6), size=1_200_000) +
           records("a", 2, range(6, 9)))
    with pytest.raises(SendFailure) as stop:
        s.checkpoint()
    text = str(stop.value)
    assert "a (partition 2 at offset 5, 1200000 bytes)" in text and "max.message.bytes" in text
    s._close()
    assert s.consumer.committed_offset(("a", 2)) == 5  # everything before it; a restart resumes at it


def test_a_large_record_rejected_by_the_target_is_named_by_its_source_offset(tmp_path):
    s = stream(tmp_path)
    s.producer.fail["a"] = KafkaError(KafkaError.MSG_SIZE_TOO_LARGE)
    mirror(s, records("a", 1, range(40, 41), size=200_000))
    with pytest.raises(SendFailure) as stop:
        s.checkpoint()
    assert "partition 1 at offset 40, 200000 bytes" in str(stop.value)


def weighed(s: Stream, monkeypatch, limits: dict[str, int | None]) -> None:
    """The target topics' max.message.bytes, as the refresh reads them (None: denied)."""
    monkeypatch.setattr(mirror_module, "max_message_bytes", lambda admin, topics: limits)
    s.sync = SimpleNamespace(target=None)
    read = s._read_max_bytes(sorted(limits))  # None: not read (a compressed producer), as _apply_topics skips it
    if read is not None:
        s._weigh_limits(sorted(limits), read)


def test_a_record_the_target_topic_can_never_take_is_not_handed_over_and_nothing_after_it(tmp_path, monkeypatch):
    """Handed over, the broker refuses it while later records of its partition are in flight; librdkafka's
    idempotent producer sends those on (epoch bump), and they land before it: 12,205 out of order in make faults."""
    s = stream(tmp_path)
    weighed(s, monkeypatch, {"a": 100_000})
    before, big = records("a", 3, range(0, 10)), records("a", 3, range(10, 11), size=100_000)
    after = records("a", 3, range(11, 20)) + records("a", 4, range(0, 5))
    mirror(s, before + big + after)
    with pytest.raises(SendFailure) as stop:
        s.checkpoint()
    text = str(stop.value)
    assert "a (partition 3 at offset 10, 100000 bytes)" in text
    assert "a batch of it alone is 100073 bytes, above the target topic's max.message.bytes (100000)" in text
    assert [(p, v) for _, p, v in s.producer.sent] == [(3, b"v" * 10)] * 10  # up to it, nothing after it
    s._close()
    assert s.consumer.committed_offset(("a", 3)) == 10 and s.consumer.committed_offset(("a", 4)) in (None, 0)


def test_a_record_at_the_limit_goes_and_topics_without_a_limit_are_left_to_the_broker(tmp_path, monkeypatch):
    s = stream(tmp_path)
    weighed(s, monkeypatch, {"a": 100_073, "b": None})  # exactly its batch
    mirror(s, records("a", 3, range(0, 1), size=100_000) + records("b", 0, range(0, 1), size=900_000))
    s.checkpoint()
    assert s.consumer.commits == [{("a", 3): 1, ("b", 0): 1}]
    assert s.unweighed == {"b"}


def test_a_large_key_counts_towards_the_limit(tmp_path, monkeypatch):
    """A value far under the limit with a key that takes the record over it (review: len(message) is the value's)."""
    s = stream(tmp_path)
    weighed(s, monkeypatch, {"a": 100_000})
    big_key = Message(topic="a", partition=0, offset=0, key=b"k" * 30_000, value=b"v" * 80_000, timestamp=(1, 1))
    mirror(s, [big_key])
    with pytest.raises(SendFailure) as stop:
        s.checkpoint()
    assert "a batch of it alone is 110074 bytes" in str(stop.value) and s.producer.sent == []


def test_a_compressed_producer_is_left_to_the_broker(tmp_path, monkeypatch):
    """The batch the broker weighs is the compressed one, unknown before the producer writes it."""
    s = stream(tmp_path)
    s.config = MirrorConfig(consumer={"group.id": "g"}, producer={"compression.type": "lz4"},
                            topics=TopicSelection("a|b|c", None))
    weighed(s, monkeypatch, {"a": 100_000})
    mirror(s, records("a", 3, range(0, 1), size=200_000))
    s.checkpoint()
    assert s.consumer.commits == [{("a", 3): 1}]


def test_records_counted_are_those_the_target_acknowledged(tmp_path):
    counted: dict[str, float] = {}

    class Records(Counter):
        def labels(self, topic):
            self.topic = topic
            return self

        def inc(self, n: float = 1) -> None:
            counted[self.topic] = counted.get(self.topic, 0) + n

    bytes_counted: dict[str, float] = {}

    class Bytes(Records):
        def inc(self, n: float = 1) -> None:
            bytes_counted[self.topic] = bytes_counted.get(self.topic, 0) + n

    s = stream(tmp_path, abort=False)
    s.metrics.records = Records()
    s.metrics.bytes = Bytes()
    s.producer.fail["a"] = KafkaError(KafkaError._MSG_TIMED_OUT)
    mirror(s, records("a", 0, range(0, 10)) + records("b", 0, range(0, 10)))
    assert counted == {}  # handed over is not acknowledged
    s.checkpoint()
    assert counted == {"b": 10}
    # A topic's failure leaves its other partitions' acknowledged records counted (they are committed, never
    # mirrored again); the failed partition's records, sent or held back, are not.
    s.producer.fail.clear()
    mirror(s, records("a", 1, range(0, 10), size=3))
    s.producer.flush()  # acknowledged
    s.producer.fail["a"] = KafkaError(KafkaError._MSG_TIMED_OUT)
    mirror(s, records("a", 2, range(0, 5)))
    s.checkpoint()
    assert counted == {"b": 10, "a": 10} and s.consumer.committed_offset(("a", 1)) == 10
    assert bytes_counted == {"b": 100, "a": 30}
    # Partitions lost: the producer's records are purged; those acknowledged before it are still counted.
    s.producer.fail.clear()
    mirror(s, records("b", 0, range(10, 20)))
    s.producer.flush()
    mirror(s, records("b", 1, range(0, 7)))
    s._lost(s.consumer, [TopicPartition("b", 1)])
    assert s.producer.purged == 7 and counted == {"b": 20, "a": 10}


def test_a_fatal_producer_error_commits_nothing_even_what_librdkafka_purged_itself(tmp_path):
    """librdkafka purges its queue on a fatal producer error: those reports are not ours to ignore."""
    s = stream(tmp_path)
    mirror(s, records("a", 0, range(0, 10)))
    s.checkpoint()
    mirror(s, records("a", 0, range(10, 20)))
    s.producer.purge()  # librdkafka's own purge, not the stream's
    s._client_error(KafkaError(KafkaError._FATAL, fatal=True))
    s.producer.fatal = True
    mirror(s, records("a", 0, range(20, 30)))
    with pytest.raises(MirrorError, match="fatal client error"):
        s.checkpoint()
    s._close()
    assert s.consumer.commits == [{("a", 0): 10}]


def test_a_fatal_error_raised_by_produce_stops_the_stream(tmp_path):
    s = stream(tmp_path)
    s.producer.fatal = True
    mirror(s, records("a", 0, range(0, 10)))
    assert s.stop and s.broken is not None and s.reports == []
    s._close()
    assert s.consumer.commits == []


def test_a_failure_of_a_record_the_producer_placed_blocks_its_whole_topic(tmp_path):
    """The target has fewer partitions than the source: the report's partition is the producer's choice, so it says
    nothing about the source partition."""
    s = stream(tmp_path)
    s.limits = {"a": 0, "b": 8}  # partitioning.partition_limits: a target with fewer partitions keeps none
    mirror(s, records("a", 1, range(0, 10)) + records("a", 5, range(0, 10)) + records("b", 0, range(0, 10)))
    s.checkpoint()
    s.producer.fail["a"] = KafkaError(KafkaError._MSG_TIMED_OUT)
    mirror(s, records("a", 1, range(10, 20)) + records("a", 5, range(10, 20)) + records("b", 0, range(10, 20)))
    with pytest.raises(SendFailure):
        s.checkpoint()
    s._close()
    assert s.consumer.committed_offset(("a", 5)) == 10 and s.consumer.committed_offset(("a", 1)) == 10
    assert s.consumer.committed_offset(("b", 0)) == 20


@pytest.mark.parametrize("partitioning", ["source", "producer"])
def test_with_producer_partitioning_every_record_is_placed_by_the_producer_and_a_failure_blocks_its_topic(
        tmp_path, partitioning):
    """--partitioning producer, through the topic refresh's apply as the stream runs it: the target has as many
    partitions, and still no record names its partition (the stand-in producer places by key, b"k" -> 1)."""
    s = stream(tmp_path)
    s.config = replace(s.config, partitioning=partitioning)
    s.consumer.subscribe = lambda topics, **callbacks: None
    s._apply_topics(mirror_module.TopicsRead({"a": 8, "b": 8}, {"a": 8, "b": 8}, None))
    mirror(s, records("a", 1, range(0, 10)) + records("a", 5, range(0, 10)) + records("b", 0, range(0, 10)))
    s.checkpoint()
    placed = {(topic, partition) for topic, partition, _ in s.producer.sent}
    assert placed == ({("a", 1), ("a", 5), ("b", 0)} if partitioning == "source" else {("a", 1), ("b", 1)})
    s.producer.fail[("a", 1)] = KafkaError(KafkaError._MSG_TIMED_OUT)  # the target's partition 1 of a
    mirror(s, records("a", 1, range(10, 20)) + records("a", 5, range(10, 20)) + records("b", 0, range(10, 20)))
    with pytest.raises(SendFailure):
        s.checkpoint()
    s._close()
    assert s.consumer.committed_offset(("a", 1)) == 10 and s.consumer.committed_offset(("b", 0)) == 20
    # a failure names its source partition only when the record kept it: else partition 5 is held back too
    assert s.consumer.committed_offset(("a", 5)) == (20 if partitioning == "source" else 10)


def test_a_partition_the_source_gained_after_the_last_refresh_waits_for_one_and_then_keeps_its_partition(tmp_path):
    """The consumer's metadata may see a source topic grow before the stream's refresh does (a CI run's flake: the
    record of a new partition 3 landed on the producer's choice of 0 and 1). Its records are held, not placed
    elsewhere: not handed over, fetched again from the first, a refresh started at once; the partitions around it in
    the batch go on and commit as ever."""
    s = stream(tmp_path)
    s.consumer.subscribe = lambda topics, **callbacks: None
    s._apply_topics(mirror_module.TopicsRead({"a": 2}, {"a": 2}, None))
    paused = []
    s.consumer.pause = lambda tps: paused.extend((tp.topic, tp.partition) for tp in tps)
    mirror(s, records("a", 0, range(0, 10)) + records("a", 3, range(0, 5)) + records("a", 1, range(0, 3))
           + records("a", 3, range(5, 7)))
    assert [(m.partition(), m.value()) for m, _ in s.producer.queue] == [(0, b"v" * 10)] * 10 + [(1, b"v" * 10)] * 3
    assert s.consumer.seeks == {("a", 3): 0} and paused == [("a", 3)] and s.refresh_soon
    s.checkpoint()
    assert s.consumer.commits == [{("a", 0): 10, ("a", 1): 3}]
    assert {(t, p) for t, p, _ in s.producer.sent} == {("a", 0), ("a", 1)}
    s.refresh_soon = False
    mirror(s, records("a", 3, range(0, 7)))  # fetched before the refresh: held again, no second refresh asked
    assert not s.refresh_soon and s.producer.queue == []
    s._apply_topics(mirror_module.TopicsRead({"a": 4}, {"a": 4}, None))  # the refresh grew the target
    assert s.paused[("a", 3)] == 0.0  # fetched again at the pass's end, not after HOLD_AHEAD_S
    mirror(s, records("a", 3, range(0, 7)))
    s.checkpoint()
    assert s.consumer.commits[-1] == {("a", 3): 7}
    assert [(t, p) for t, p, _ in s.producer.sent].count(("a", 3)) == 7  # each once, in its own partition


def test_while_the_target_is_growing_its_partitions_are_kept_and_the_new_ones_wait_for_a_later_refresh(tmp_path):
    """A growth asked but not seen yet (no answer in time, metadata behind): the records of the partitions the
    target has keep them, the others wait; the refresh that found the target short asks no other at once (the next
    comes at the interval). Were the growth refused, the topic goes back to the producer's placement."""
    s = stream(tmp_path)
    s.consumer.subscribe = lambda topics, **callbacks: None
    s._apply_topics(mirror_module.TopicsRead({"a": 2}, {"a": 2}, None))
    mirror(s, records("a", 3, range(0, 5)) + records("a", 2, range(0, 2)))
    assert s.refresh_soon
    s.refresh_soon = False
    s._apply_topics(mirror_module.TopicsRead({"a": 4}, {"a": 2}, None, frozenset({"a"})))
    assert s.limits == {"a": 2} and s.ahead == {("a", 2), ("a", 3)} and s.paused[("a", 3)] > 0  # still waiting
    mirror(s, records("a", 0, range(0, 3)) + records("a", 3, range(0, 5)) + records("a", 2, range(0, 2)))
    s.checkpoint()
    assert not s.refresh_soon and s.consumer.commits[-1] == {("a", 0): 3}
    assert {(t, p) for t, p, _ in s.producer.sent} == {("a", 0)}
    # seen again: fetched again once a refresh applies or the interval passes, not every HOLD_AHEAD_S
    assert s.paused[("a", 3)] > time.monotonic() + s.config.refresh_interval_s - 1 > time.monotonic() + 1
    s._apply_topics(mirror_module.TopicsRead({"a": 4}, {"a": 2}, None))  # refused: the producer places them
    assert s.limits == {"a": 0} and s.ahead == set() and s.paused[("a", 3)] == s.paused[("a", 2)] == 0.0


def test_a_new_topic_the_target_does_not_show_yet_waits_whole(tmp_path):
    """Its creation not answered, or not yet in the target's metadata: every record waits (HOLD_ALL), none is
    placed by the producer on a topic the target may not have; the refresh that shows it lets them go."""
    s = stream(tmp_path)
    s.consumer.subscribe = lambda topics, **callbacks: None
    s._apply_topics(mirror_module.TopicsRead({"a": 2}, {}, None, frozenset({"a"})))
    mirror(s, records("a", 0, range(0, 3)) + records("a", 1, range(0, 2)))
    assert s.producer.queue == [] and s.consumer.seeks == {("a", 0): 0, ("a", 1): 0} and s.refresh_soon
    s._apply_topics(mirror_module.TopicsRead({"a": 2}, {"a": 2}, None))
    mirror(s, records("a", 0, range(0, 3)) + records("a", 1, range(0, 2)))
    s.checkpoint()
    assert s.consumer.commits == [{("a", 0): 3, ("a", 1): 2}]
    assert sorted((t, p) for t, p, _ in s.producer.sent) == [("a", 0)] * 3 + [("a", 1)] * 2


def test_a_partition_the_source_gained_is_placed_by_the_producer_when_the_target_keeps_none(tmp_path):
    """A target with fewer partitions (limit 0), or --partitioning producer: every record is the producer's to place,
    so a new partition has nothing to wait for."""
    s = stream(tmp_path)
    s.limits = {"a": 0}
    mirror(s, records("a", 5, range(0, 4)))
    s.checkpoint()
    assert s.consumer.commits == [{("a", 5): 4}] and not s.refresh_soon and s.consumer.seeks == {}


def values(offsets: range) -> list[tuple[str, int, bytes]]:
    return [("a", 0, b"v" * 10) for _ in offsets]


@pytest.mark.parametrize("abort", [True, False])
def test_a_failed_delivery_during_a_flush_cuts_the_producer_so_no_later_record_lands_before_it(tmp_path, abort):
    """CI (secondary-down-long): records timed out while later ones of their partitions were still queued; the
    secondary came back, the later ones landed, and mirroring the failed ones again put 8,961 records out of order."""
    s = stream(tmp_path, abort=abort)
    mirror(s, records("a", 0, range(0, 10)))
    s.checkpoint()
    mirror(s, records("a", 0, range(10, 20)))
    s.producer.hang, s.producer.fail_first = True, True  # record 10 times out while 11..19 wait for the target
    if abort:
        with pytest.raises(SendFailure) as stop:
            s.checkpoint()
        assert "a (partition 0, 10 bytes) not accepted by the target: " in str(stop.value)
    else:
        s.checkpoint()
        assert s.consumer.seeks == {("a", 0): 10}  # mirrored again from the last commit, after a pause
    assert s.producer.purged == 9 and s.producer.queue == []
    s.producer.hang = False
    s._close()
    assert s.producer.sent == values(range(0, 10))  # nothing after the failed record reached the target
    assert s.consumer.commits == [{("a", 0): 10}]


def test_a_failed_delivery_seen_while_handing_over_holds_the_rest_back_and_stops_at_once(tmp_path):
    s = stream(tmp_path)
    s.producer.fail_first = True  # the first record's report fails, served by the poll after the batch
    mirror(s, records("a", 0, range(0, 10)))
    assert s.failing and s.producer.queue == [] and s.producer.purged == 9
    mirror(s, records("a", 0, range(10, 20)))  # the run loop checkpoints first; nothing more is handed over
    assert s.producer.purged == 9 and s.producer.queue == [] and s.consumer.batches  # the batch was not consumed
    with pytest.raises(SendFailure):
        s.checkpoint()
    s._close()
    assert s.producer.sent == [] and s.consumer.commits == []


def test_records_cut_after_a_failure_give_the_latency_histogram_no_sample(tmp_path):
    """The latency histogram counts what left the producer's queue as acknowledged (AckClock): records the stream
    cut out of it after a failure left it too, and must not be sampled."""
    s = stream(tmp_path)
    ages = []
    s.metrics.latency = SimpleNamespace(observe=ages.append)
    s.producer.fail_first = True  # the first record's report fails, served by the poll after the batch
    mirror(s, records("a", 0, range(0, 10)))
    assert s.producer.purged == 9 and s.producer.queue == []
    assert ages == [] and s.acks.handed == 0 and not s.acks.marks
    s.producer.fail_first = False
    assert s.acks.acknowledged(len(s.producer), time.time()) is None


def test_a_cut_made_by_a_revoke_inside_consume_holds_back_the_batch_consume_returns(tmp_path):
    """Cooperative rebalances while the target is down: the revoke's flush sees b[0]'s failure and cuts; the batch
    consume() then returns must wait too, or b[0] 20..29 land before 10..19 are mirrored again."""
    s = stream(tmp_path, abort=False)
    mirror(s, records("a", 0, range(0, 10)) + records("b", 0, range(0, 10)))
    s.checkpoint()
    mirror(s, records("b", 0, range(10, 20)))
    s.producer.hang, s.producer.fail_first = True, True  # b[0] 10 times out, 11..19 wait for the target
    s.consumer.inside_consume = lambda: s._revoked(s.consumer, [TopicPartition("a", 0)])
    mirror(s, records("b", 0, range(20, 30)))
    assert s.producer.queue == [] and s.failing
    s.producer.hang = False
    s.checkpoint()
    assert s.consumer.seeks == {("b", 0): 10}
    assert [m for m in s.producer.sent if m[0] == "b"] == [("b", 0, b"v" * 10)] * 10  # b[0] 0..9, nothing after


def test_a_failure_reported_by_a_flush_that_finished_leaves_nothing_to_cut_later(tmp_path):
    s = stream(tmp_path, abort=False)
    mirror(s, records("a", 0, range(0, 10)))
    s.producer.fail_first = True  # a[0] 0 fails; the flush then delivers the rest and finishes
    s.checkpoint()
    assert s.consumer.seeks == {("a", 0): 0} and s.producer.purged == 0
    mirror(s, records("b", 0, range(0, 10)))  # a healthy partition's next batch is not purged as if after a failure
    s.checkpoint()
    assert s.producer.purged == 0 and s.consumer.commits[-1] == {("b", 0): 10}


def test_a_record_refused_by_produce_holds_back_the_rest_of_its_batch(tmp_path):
    """A record produce() refuses (larger than message.max.bytes) never entered the queue: what came before it may
    land, nothing after it is handed over."""
    s = stream(tmp_path, abort=False)
    mirror(s, records("a", 2, range(0, 5)) + records("a", 2, range(5, 6), size=1_200_000) +
           records("a", 2, range(6, 9)) + records("b", 0, range(0, 3)))
    assert len(s.producer.queue) == 5
    s.checkpoint()
    assert s.consumer.commits == [{("a", 2): 5, ("b", 0): 0}] and s.consumer.seeks == {("a", 2): 5, ("b", 0): 0}


def test_records_fetched_before_a_rewind_inside_consume_are_dropped_and_sought_again(tmp_path):
    """A rebalance callback runs inside consume(): the batch can still hold records of a partition it rewound."""
    s = stream(tmp_path)
    mirror(s, records("a", 0, range(0, 10)) + records("b", 0, range(0, 10)))
    s.checkpoint()
    mirror(s, records("b", 0, range(10, 20)))  # handed over, not yet acknowledged
    s.producer.hang = True
    s.consumer.inside_consume = lambda: s._revoked(s.consumer, [TopicPartition("a", 0)])
    mirror(s, records("b", 0, range(20, 30)))  # fetched before the callback rewound b[0] to 10
    assert s.consumer.seeks == {("b", 0): 10}
    assert ("b", 0) not in s.tracker.pending  # nothing of the stale batch was handed over
    s.producer.hang = False
    s.checkpoint()
    assert all(c.get(("b", 0), 10) == 10 for c in s.consumer.commits)


def test_a_fenced_consumer_stops_the_stream_and_commits_nothing_more(tmp_path):
    s = stream(tmp_path)
    mirror(s, records("a", 0, range(0, 10)))
    s.checkpoint()
    s.consumer.batch_errors = [KafkaError(KafkaError._FATAL)]  # how librdkafka hands a fenced consumer's error over
    mirror(s, records("a", 0, range(10, 20)))
    assert s.stop
    with pytest.raises(MirrorError, match="fatal client error"):
        s.checkpoint()
    s._close()
    assert s.consumer.commits == [{("a", 0): 10}]


def test_the_checkpoint_sends_its_commit_and_takes_the_answer_inside_the_next_consume(tmp_path):
    """The loop does not stand still for the group's answer (issue 13, item 2): until it comes, the commit counts for
    nothing, neither for a rewind nor for /health."""
    s = stream(tmp_path)
    mirror(s, records("a", 0, range(0, 100)))
    s.checkpoint()
    assert s.consumer.commits == [{("a", 0): 100}]  # sent
    assert s.tracker.committed == {} and s.beat.last_commit == 0.0
    s._pass()
    assert s.tracker.committed == {("a", 0): 100} and s.beat.last_commit > 0


def test_an_answer_for_a_partition_given_up_since_its_commit_is_not_taken(tmp_path):
    s = stream(tmp_path)
    mirror(s, records("a", 0, range(0, 10)) + records("b", 0, range(0, 10)))
    s.checkpoint()
    s._lost(s.consumer, [TopicPartition("a", 0)])
    s._pass()
    assert s.tracker.committed == {("b", 0): 10}


def committed_acknowledged_then_failed(s: Stream) -> None:
    """a[0]: 0-9 committed (a checkpoint sent), 10-14 acknowledged since, 15-19 failing with their offsets known."""
    mirror(s, records("a", 0, range(0, 10)))
    s.checkpoint()
    mirror(s, records("a", 0, range(10, 15)))
    s.producer.flush()  # acknowledged, not committed yet
    s.producer.fail["a"] = KafkaError(KafkaError._MSG_TIMED_OUT)
    mirror(s, records("a", 0, range(15, 20), size=70_000))  # large: their reports name their offsets


def test_a_checkpoint_with_a_failed_record_waits_for_its_commit_so_the_rewind_starts_there(tmp_path):
    s = stream(tmp_path, abort=False)
    committed_acknowledged_then_failed(s)  # the first checkpoint's answer served by the next pass: committed at 10
    s.checkpoint()  # commits up to the first failed record, 15, and waits: the rewind starts there
    assert s.consumer.answers == [] and s.consumer.commits[-1] == {("a", 0): 15}
    assert s.consumer.seeks == {("a", 0): 15}  # not 10: what was acknowledged is not mirrored twice


def test_the_stop_waits_for_its_commit_once(tmp_path):
    s = stream(tmp_path)
    mirror(s, records("a", 0, range(0, 10)))
    s.stop = True  # SIGTERM
    s.checkpoint()
    s._close()
    assert s.consumer.commits == [{("a", 0): 10}]  # the final checkpoint's, waited for; close had nothing left


def test_answers_served_while_closing_come_after_the_final_commit_and_change_nothing(tmp_path):
    s = stream(tmp_path)
    mirror(s, records("a", 0, range(0, 10)))
    s.consumer.commit_errors = [KafkaError.FENCED_INSTANCE_ID]
    s.checkpoint()  # its answer is still due when the stream closes
    s._close()  # commits, waiting; then the consumer's close serves the earlier answer
    assert s.consumer.commits == [{("a", 0): 10}] and s.consumer.answers == []
    assert s.broken is None and s.commit_refused is None


@pytest.mark.parametrize("waited", [False, True])
def test_a_commit_answered_fenced_marks_the_stream_broken(tmp_path, waited):
    s = stream(tmp_path)
    mirror(s, records("a", 0, range(0, 10)))
    s.consumer.commit_errors = [KafkaError.FENCED_INSTANCE_ID]
    if waited:  # a revoke's commit
        s._revoked(s.consumer, [TopicPartition("a", 0)])
    else:
        s.checkpoint()
        s._pass()
    assert s.stop and s.beat.last_commit == 0.0  # /health does not call a stream that cannot commit ready
    with pytest.raises(MirrorError, match="fatal client error"):
        s.checkpoint()


@pytest.mark.parametrize("at_stop", [False, True])
def test_a_checkpoint_commit_the_group_denies_stops_the_stream_naming_the_grant(tmp_path, at_stop):
    """Sent without waiting, at the next checkpoint; at the stop, waited for, so that it is not a clean stop."""
    s = stream(tmp_path)
    mirror(s, records("a", 0, range(0, 10)))
    s.consumer.commit_errors = [KafkaError.GROUP_AUTHORIZATION_FAILED]
    s.stop = at_stop
    if not at_stop:
        s.checkpoint()
        s._pass()
        assert s.stop and s.tracker.committed == {}
    with pytest.raises(MirrorError, match="grant its principal READ on group g and its topics"):
        s.checkpoint()


def test_close_survives_a_denied_commit_and_still_leaves_the_group(tmp_path):
    s = stream(tmp_path)
    mirror(s, records("a", 0, range(0, 10)))
    s.consumer.commit_errors = [KafkaError.GROUP_AUTHORIZATION_FAILED]
    closed = []
    s.consumer.close = lambda: closed.append(True)
    s._close()
    assert closed == [True]


class Recorded(Counter):
    """A labelled metric that keeps its value per label set: inc() adds, set() replaces."""

    def __init__(self) -> None:
        self.values: dict[tuple[str, ...], float] = {}
        self.current: tuple[str, ...] = ()

    def labels(self, *args):
        self.current = args
        return self

    def inc(self, n: float = 1) -> None:
        self.values[self.current] = self.values.get(self.current, 0) + n

    def set(self, value: float) -> None:
        self.values[self.current] = value


def test_send_errors_count_every_failed_record_of_each_topic_failing_with_the_same_error(tmp_path):
    """KafkaError hashes by code: reports keyed by it counted one topic of two (issue 15, item 2)."""
    s = stream(tmp_path, abort=False)
    s.metrics.send_errors = errors = Recorded()
    for topic in ("a", "b"):
        s.producer.fail[topic] = KafkaError(KafkaError._MSG_TIMED_OUT)
    mirror(s, records("a", 0, range(0, 10)) + records("b", 0, range(0, 7)) + records("c", 0, range(0, 5)))
    s.checkpoint()
    assert errors.values == {("a", "_MSG_TIMED_OUT"): 10, ("b", "_MSG_TIMED_OUT"): 7}


def test_lag_of_revoked_partitions_is_zeroed_and_stays_so(tmp_path):
    """The gauge is summed across processes: a revoked partition's last lag would count twice once its new owner
    reports it (issue 15, item 9)."""
    s = stream(tmp_path)
    s.metrics.lag = lag = Recorded()
    s._assigned(s.consumer, [TopicPartition("a", 0), TopicPartition("a", 1)])
    stats = '{"topics": {"a": {"partitions": {"0": {"consumer_lag": 500}, "1": {"consumer_lag": 70}}}}}'
    s._stats(stats)
    assert lag.values == {("a", "0"): 500, ("a", "1"): 70}
    s._revoked(s.consumer, [TopicPartition("a", 0)])
    assert lag.values == {("a", "0"): 0, ("a", "1"): 70}
    s._stats(stats)  # librdkafka's next statistics may still list the partition it no longer fetches
    assert lag.values == {("a", "0"): 0, ("a", "1"): 70}


@pytest.mark.parametrize("instance_id, says", [("node7", True), (None, False)])
def test_a_static_member_says_on_stop_that_its_partitions_wait_for_its_session_timeout(tmp_path, caplog,
                                                                                      instance_id, says):
    config = MirrorConfig(consumer={"group.id": "g"}, producer={}, topics=TopicSelection("a", None),
                          instance_id=instance_id)
    s = Stream(config.for_stream(1), 1, tmp_path)
    s.metrics, s.producer, s.consumer = Metrics(), Producer(None), Consumer()
    with caplog.at_level("INFO", logger="kafka_mirror.mirror"):
        s._close()
    said = [r.getMessage() for r in caplog.records if "session.timeout.ms" in r.getMessage()]
    assert said == (["stream 1: static member node7-1: its partitions stay with it for session.timeout.ms before "
                     "the group moves them"] if says else [])


class Cluster:
    """A cluster's metadata, as list_topics() of an admin client or the producer answers: one answer per call (the
    last one repeats), None for a call that fails as it does while the network between the clusters is cut."""

    def __init__(self, *answers: dict[str, int] | None) -> None:
        self.answers = list(answers)
        self.max_message_bytes = "1048588"

    def list_topics(self, topic=None, timeout: float = -1):
        answer = self.answers.pop(0) if len(self.answers) > 1 else self.answers[0]
        if answer is None:
            raise KafkaException(KafkaError(KafkaError._TRANSPORT, "Connection refused"))
        return SimpleNamespace(topics={t: SimpleNamespace(partitions=dict.fromkeys(range(n)), error=None)
                                       for t, n in answer.items()})

    def describe_configs(self, resources, request_timeout: float = -1) -> dict:
        """Topic configs as the last metadata answer stands: unreadable while the cluster is cut."""
        futures = {}
        for resource in resources:
            futures[resource] = future = Future()
            if self.answers[0] is None:
                future.set_exception(KafkaException(KafkaError(KafkaError._TRANSPORT, "Connection refused")))
            else:
                future.set_result({"max.message.bytes": SimpleNamespace(value=self.max_message_bytes,
                                                                        source=ConfigSource.DEFAULT_CONFIG.value)})
        return futures


class GroupConsumer(Consumer):
    """Consumer with a subscription; the stream is asked to stop after `passes` passes of its loop."""

    def __init__(self, passes: int) -> None:
        super().__init__()
        self.passes = passes
        self.stream: Stream | None = None
        self.subscriptions: list[list[str]] = []

    def configured(self, conf: dict) -> GroupConsumer:
        """As Consumer(conf) takes it: the commits' answers go to the on_commit it names, or nowhere."""
        self.on_commit = conf.get("on_commit", lambda err, partitions: None)
        return self

    def subscribe(self, topics, on_assign=None, on_revoke=None, on_lost=None) -> None:
        self.subscriptions.append(list(topics))
        self.on_revoke = on_revoke
        self.on_assign = on_assign

    def consume(self, num_messages: int = 1, timeout: float = -1) -> list[Message]:
        if num_messages > 1:  # fetch()'s first call: one pass of the loop
            self.passes -= 1
            if self.passes <= 0:
                self.stream.stop = True
        return super().consume(num_messages, timeout)


class Inline(Beside):
    """The refresh's reads made in the loop's own thread: the stream's behaviour without the thread's timing."""

    def start(self, call) -> None:
        super().start(call)
        assert self.wait(5)  # the call is done, whatever its outcome


def running(tmp_path: Path, monkeypatch, source: Cluster, target: Cluster, passes: int = 4) -> Stream:
    """A stream that runs its own loop (run()) on stand-in clients, refreshing its topics at every pass."""
    config = MirrorConfig(consumer={"group.id": "g", "bootstrap.servers": "src:9092"},
                          producer={"bootstrap.servers": "dst:9092"}, topics=TopicSelection("a|b", None),
                          refresh_interval_s=0.0, commit_interval_s=0.0)
    s = Stream(config, 0, tmp_path)
    s.refresher = Inline("refresh")  # each periodic refresh applied in the pass that starts it (see test below)
    s.producer_confs = []
    consumer = GroupConsumer(passes)
    consumer.stream = s

    def producer(conf):
        s.producer_confs.append(conf)
        p = Producer(conf["on_delivery"])
        p.list_topics = target.list_topics  # the target as the producer sees it (TopicSync reads it so)
        return p

    monkeypatch.setattr(mirror_module, "Producer", producer)
    monkeypatch.setattr(mirror_module, "Consumer", consumer.configured)
    monkeypatch.setattr(mirror_module, "AdminClient", lambda conf: {"src:9092": source, "dst:9092": target}[
        conf["bootstrap.servers"]])
    monkeypatch.setattr(mirror_module, "StreamMetrics", Metrics)
    monkeypatch.setattr(mirror_module.signal, "signal", lambda *args: None)
    return s


def test_a_running_stream_counts_its_periodic_commits_once_the_group_answers(tmp_path, monkeypatch):
    """The answer reaches the stream through the on_commit it gives its consumer: without it no commit would count,
    and /health would never call the stream ready."""
    commits = Samples()
    monkeypatch.setattr(Metrics, "commits", SimpleNamespace(inc=lambda n=1: commits.observe(n)), raising=False)
    s = running(tmp_path, monkeypatch, Cluster({"a": 2}), Cluster({"a": 2}), passes=3)
    consumer = mirror_module.Consumer.__self__  # what the stream will be given
    consumer.batches = [records("a", 0, range(0, 10)), records("a", 0, range(10, 20))]
    original = s._pass

    def assigned_then_pass() -> None:
        if ("a", 0) not in s.assigned:  # the group's assignment, before the first fetch
            consumer.assigned = [TopicPartition("a", 0)]
            s._assigned(consumer, [TopicPartition("a", 0)])
        original()
        seen.append((dict(s.tracker.committed), len(commits.values), s.beat.last_commit))

    seen: list[tuple[dict, int, float]] = []
    s._pass = assigned_then_pass
    assert s.run() == 0
    assert consumer.commits[:2] == [{("a", 0): 10}, {("a", 0): 20}]
    # the second pass served the first checkpoint's answer (the stop's own commit, waited for, comes after)
    assert seen[1][0] == {("a", 0): 10} and seen[1][1] == 1 and seen[1][2] > 0


@pytest.mark.parametrize("side, bootstrap", [("source", "src:9092"), ("target", "dst:9092")])
def test_a_periodic_refresh_that_cannot_reach_a_cluster_is_logged_and_the_stream_mirrors_on(
        tmp_path, monkeypatch, caplog, side, bootstrap):
    """The peering cut: the stream exited 1 at its next topic refresh and recovered a restart later (30 s against
    MirrorMaker's 2-3 s); the clients reconnect by themselves."""
    both = {"a": 2, "b": 2}  # topic b appears on the source while a cluster cannot be reached
    if side == "source":
        s = running(tmp_path, monkeypatch, Cluster({"a": 2}, None, both), Cluster(both))
    else:
        s = running(tmp_path, monkeypatch, Cluster({"a": 2}, both), Cluster(both, None, both))
    with caplog.at_level("WARNING", logger="kafka_mirror.mirror"):
        assert s.run() == 0
    assert s.consumer.subscriptions == [["a"], ["a", "b"]]  # kept through the failure, b picked up by the next one
    warned = [r.getMessage() for r in caplog.records if "refresh failed" in r.getMessage()]
    assert len(warned) == 1
    assert f"cannot read the {side} cluster's metadata from bootstrap.servers={bootstrap}" in warned[0]
    assert "Connection refused" in warned[0] and "mirroring on with the 1 topic(s) subscribed" in warned[0]


def test_a_cluster_that_does_not_answer_at_start_still_stops_the_stream_naming_it(tmp_path, monkeypatch):
    s = running(tmp_path, monkeypatch, Cluster(None), Cluster({"a": 2}))
    with pytest.raises(MirrorError) as stop:
        s.run()
    assert stop.value.exit_code == 1
    assert "cannot read the source cluster's metadata from bootstrap.servers=src:9092" in str(stop.value)
    assert s.consumer.subscriptions == []


def test_reports_that_come_after_a_purge_gave_up_waiting_are_counted_with_their_records(tmp_path, monkeypatch):
    """A purge whose drain times out leaves reports to come: they belong to the counts carried over, never to the next
    records (which the target acknowledged), and a count never goes negative."""
    from prometheus_client import CollectorRegistry
    from prometheus_client import Counter as Metric

    class Stuck(Producer):  # the purge cannot drain: its records report at the next flush
        stuck = True

        def purge(self, in_queue: bool = True, in_flight: bool = True, blocking: bool = True) -> None:
            if not self.stuck:
                super().purge(in_queue, in_flight, blocking)

        def flush(self, timeout: float = 0) -> int:
            if self.stuck:
                return len(self.queue)
            self._deliver(lambda msg: KafkaError(KafkaError._PURGE_INFLIGHT) if msg.partition() == 0 else None)
            return 0

    monkeypatch.setattr(mirror_module, "PURGE_DRAIN_S", 0.05)
    s = stream(tmp_path, abort=False)
    registry = CollectorRegistry()
    s.metrics.records = Metric("r", "r", ["topic"], registry=registry)
    s.metrics.bytes = Metric("b", "b", ["topic"], registry=registry)
    s.producer = Stuck(s._delivered)
    mirror(s, records("a", 0, range(0, 10), size=10))
    s._lost(s.consumer, [TopicPartition("a", 0)])  # nothing reported within the drain
    s.producer.stuck = False
    mirror(s, records("a", 1, range(0, 20), size=1))
    s.checkpoint()
    assert registry.get_sample_value("r_total", {"topic": "a"}) == 20
    assert registry.get_sample_value("b_total", {"topic": "a"}) == 20
    assert s.consumer.committed_offset(("a", 1)) == 20


@pytest.mark.parametrize("raised", ["KafkaException", "SystemError"])
def test_a_fatal_producer_error_raised_by_a_flush_stops_the_stream_and_commits_nothing_after_it(tmp_path, raised):
    """confluent-kafka raises a fatal producer error from the poll or flush that serves it, never through error_cb
    (confluent_kafka.c error_cb: cfl_PyErr_Fatal); from a chunked call, the next callback fails with a SystemError
    whose cause is that exception. Either way the stream stops (exit 1) and commits nothing after it."""
    s = stream(tmp_path)
    mirror(s, records("a", 1, range(0, 10)))
    s.checkpoint()
    mirror(s, records("a", 1, range(10, 20)))

    class Fatal(Producer):
        raised = False

        def flush(self, timeout: float = 0) -> int:
            if not self.raised:
                self.raised = True
                fatal = KafkaException(KafkaError(KafkaError.OUT_OF_ORDER_SEQUENCE_NUMBER, "sequence", fatal=True))
                if raised == "KafkaException":
                    raise fatal
                raise SystemError("returned a result with an exception set") from fatal
            return super().flush(timeout)

    fatal = Fatal(s._delivered)
    fatal.queue, fatal.sent, s.producer = s.producer.queue, s.producer.sent, fatal
    with pytest.raises(MirrorError) as stop:
        s.checkpoint()
    assert "fatal client error" in str(stop.value) and stop.value.exit_code == 1
    s._close()
    assert s.consumer.commits == [{("a", 1): 10}]  # the records acknowledged after it are not committed


def test_a_batch_of_small_records_the_target_refuses_is_named_as_a_batch(tmp_path):
    """librdkafka does not split a batch the broker refuses as too large (Java's producer does): the message says to
    raise the topic's max.message.bytes or lower batch.size, not that a 100-byte record is too large."""
    s = stream(tmp_path)
    s.producer.fail["a"] = KafkaError(KafkaError.MSG_SIZE_TOO_LARGE)
    mirror(s, records("a", 2, range(0, 1039), size=100))
    with pytest.raises(SendFailure) as stop:
        s.checkpoint()
    assert "1039 records of a (partition 2" in str(stop.value) and "set batch.size in producer.properties" in \
        str(stop.value) and "the record is larger" not in str(stop.value)


def test_batches_are_made_to_fit_the_smallest_target_topic_at_start(tmp_path, monkeypatch):
    """librdkafka does not split a batch the broker refuses as too large, as Java's producer does: at start, before
    anything is handed over, the producer is made again with batch.size within the target topics' limit."""
    target = Cluster({"a": 2})
    target.max_message_bytes = "100000"
    s = running(tmp_path, monkeypatch, Cluster({"a": 2}), target, passes=1)
    assert s.run() == 0
    assert [c.get("batch.size") for c in s.producer_confs] == [None, 100000]
    assert s.producer is s.sync.producer and s.batch_bytes == 100000


def test_with_provenance_records_are_stamped_once_and_never_sent_back_to_the_cluster_they_came_from(tmp_path):
    """Active-active (issue 11, item 5): A->B and B->A on the same topic names. The record first written to the
    target is not mirrored back, and is committed past with its neighbours; a stamp from a third cluster is kept."""
    from kafka_mirror.mirror import ORIGIN_HEADER

    s = stream(tmp_path)
    s.origin = (b"source-id", b"target-id")
    batch = [Message(topic="a", partition=0, offset=0, key=b"k", value=b"local", timestamp=(1, 1)),
             Message(topic="a", partition=0, offset=1, key=b"k", value=b"back", timestamp=(1, 1),
                     headers=[("h", b"1"), (ORIGIN_HEADER, b"target-id")]),
             Message(topic="a", partition=0, offset=2, key=b"k", value=b"third", timestamp=(1, 1),
                     headers=[(ORIGIN_HEADER, b"third-id")]),
             Message(topic="a", partition=0, offset=3, key=b"k", value=b"back", timestamp=(1, 1),
                     headers=[(ORIGIN_HEADER, b"target-id")]),
             Message(topic="a", partition=0, offset=4, key=b"k", value=b"empty", timestamp=(1, 1),
                     headers=[(ORIGIN_HEADER, None)])]  # names no cluster: stamped, so it cannot loop
    mirror(s, batch)
    queued = [(m.value(), m.headers()) for m, _ in s.producer.queue]
    assert queued == [(b"local", [(ORIGIN_HEADER, b"source-id")]), (b"third", [(ORIGIN_HEADER, b"third-id")]),
                      (b"empty", [(ORIGIN_HEADER, None), (ORIGIN_HEADER, b"source-id")])]
    s.checkpoint()
    assert s.consumer.commits == [{("a", 0): 5}]  # past the record at 3, which was not sent


def test_without_provenance_records_go_as_they_are(tmp_path):
    s = stream(tmp_path)
    mirror(s, [Message(topic="a", partition=0, offset=0, key=b"k", value=b"v", timestamp=(1, 1),
                       headers=[("kafka-mirror.origin", b"target-id")])])
    assert [(m.value(), m.headers()) for m, _ in s.producer.queue] == [(b"v", [("kafka-mirror.origin", b"target-id")])]


def test_a_record_not_sent_back_after_a_refused_one_never_moves_the_commit_past_the_refused_one(tmp_path):
    from kafka_mirror.mirror import ORIGIN_HEADER

    s = stream(tmp_path, abort=False)
    s.origin = (b"source-id", b"target-id")
    back = [Message(topic="a", partition=2, offset=6, key=b"k", value=b"v", timestamp=(1, 1),
                    headers=[(ORIGIN_HEADER, b"target-id")])]
    mirror(s, records("a", 2, range(0, 5)) + records("a", 2, range(5, 6), size=1_200_000) + back)
    assert len(s.producer.queue) == 5
    s.checkpoint()
    assert s.consumer.commits == [{("a", 2): 5}] and s.consumer.seeks == {("a", 2): 5}


def test_provenance_refuses_two_clusters_with_one_id(tmp_path):
    s = stream(tmp_path)
    s.source_admin = SimpleNamespace(list_topics=lambda timeout: SimpleNamespace(cluster_id="c1"))
    s.producer = SimpleNamespace(list_topics=lambda timeout: SimpleNamespace(cluster_id="c2"))
    assert s._origins() == (b"c1", b"c2")
    s.producer = SimpleNamespace(list_topics=lambda timeout: SimpleNamespace(cluster_id="c1"))
    with pytest.raises(MirrorError, match="report the same cluster id \\(c1\\)"):
        s._origins()


def test_a_static_member_id_changes_with_the_topics_or_partitions_it_starts_with_and_only_then():
    """A returning static member keeps its old assignment with no rebalance (apache/kafka 3.9
    GroupCoordinator.scala): restarted with other topics, it must come back as another member."""
    ids = {static_member_id("node7-1", topics) for topics in ({"a": 8}, {"a": 8}, {"a": 8, "b": 8}, {"a": 12})}
    assert len(ids) == 3 and all(i.startswith("node7-1-") for i in ids)
    assert static_member_id("node7-1", {"b": 8, "a": 8}) == static_member_id("node7-1", {"a": 8, "b": 8})


class Samples:
    """A histogram that keeps what it was given."""

    def __init__(self) -> None:
        self.values: list[float] = []

    def observe(self, value: float) -> None:
        self.values.append(value)


def test_a_latency_sample_is_split_where_its_fetch_returned_and_each_hand_over_is_timed(tmp_path):
    """The latency breakdown (issue 13): the sampled record's age when its fetch returned (the source's part) and
    from there to its acknowledgement add up to its latency; each pass that handed records over is timed."""
    s = stream(tmp_path)
    m = s.metrics
    m.latency, m.fetched_age, m.after_fetch, m.handover = Samples(), Samples(), Samples(), Samples()
    written_ms = int(time.time() * 1000) - 2000
    batch = [Message(topic="a", partition=0, offset=o, key=b"k", value=b"v", timestamp=(1, written_ms - 10 + o))
             for o in range(10)]
    mirror(s, batch)
    assert len(m.handover.values) == 1 and 0 <= m.handover.values[0] < 1.0
    assert m.latency.values == [] and m.fetched_age.values == []  # the stand-in producer acknowledges at a flush
    s.checkpoint()
    mirror(s, [])  # the next pass counts the acknowledgement; it handed nothing over: no hand-over sample
    assert len(m.latency.values) == len(m.fetched_age.values) == len(m.after_fetch.values) == 1
    assert 2.0 <= m.fetched_age.values[0] < 3.0 and 0 <= m.after_fetch.values[0] < 1.0
    assert m.latency.values[0] == pytest.approx(m.fetched_age.values[0] + m.after_fetch.values[0])
    assert len(m.handover.values) == 1


def test_the_loop_stands_still_for_each_periodic_checkpoint_and_it_is_timed(tmp_path, monkeypatch):
    """The time the loop stands still for a checkpoint (flush, commit): what arrives meanwhile waits, so each is a
    suspect of the p99 (issue 13)."""
    samples = Samples()
    monkeypatch.setattr(Metrics, "checkpoint", samples, raising=False)
    s = running(tmp_path, monkeypatch, Cluster({"a": 2}), Cluster({"a": 2}), passes=3)
    pauses = []
    call = s.checkpoint

    def slow() -> None:
        started = time.monotonic()
        time.sleep(0.05)
        call()
        pauses.append(time.monotonic() - started)

    s.checkpoint = slow
    assert s.run() == 0
    # every periodic one; not the final checkpoint (after the loop)
    assert len(samples.values) == len(pauses) - 1 >= 2
    assert all(0.05 <= v < 5 for v in samples.values)


def test_a_periodic_refresh_reads_both_clusters_beside_the_loop_which_stands_still_only_to_apply_them(
        tmp_path, monkeypatch):
    """Its reads (source metadata, the target's topics made to follow, their max.message.bytes) took the loop
    55-97 ms every 30 s on the lab (bench/README.md, issue 13): passes now go on while they run."""
    samples = Samples()
    monkeypatch.setattr(Metrics, "refresh", samples, raising=False)
    s = running(tmp_path, monkeypatch, Cluster({"a": 2}), Cluster({"a": 2, "b": 2}), passes=1000)
    s.refresher = Beside("refresh")  # the stream's own: a thread
    read = s._read_topics
    reading = threading.Event()
    may_finish = threading.Event()
    threads = []

    def slow_read():
        if s.subscribed:  # periodic: the one at start runs in the loop's thread, before any pass
            threads.append(threading.current_thread())
            reading.set()
            may_finish.wait(5)
            s.source_admin.answers = [{"a": 2, "b": 2}]  # topic b appeared on the source meanwhile
        return read()

    s._read_topics = slow_read
    original = s._pass
    passes_while_reading = []

    def counted() -> None:
        original()
        if reading.is_set() and not may_finish.is_set():
            passes_while_reading.append(time.monotonic())
            if len(passes_while_reading) == 20:
                may_finish.set()
        if s.subscribed == ["a", "b"]:
            s.stop = True

    s._pass = counted
    consumer = mirror_module.Consumer.__self__  # what the stream will be given
    subscribe, applied_in = consumer.subscribe, []

    def subscribing(*args, **kwargs):
        applied_in.append(threading.current_thread())
        return subscribe(*args, **kwargs)

    consumer.subscribe = subscribing
    assert s.run() == 0
    assert threads and threading.main_thread() not in threads
    assert applied_in == [threading.main_thread()] * 2  # at start, and the periodic one: on the loop's thread
    assert len(passes_while_reading) >= 20  # the loop went on while the read waited
    assert s.consumer.subscriptions == [["a"], ["a", "b"]]  # and applied it once it was done
    assert len(samples.values) >= 1 and all(v < 0.5 for v in samples.values)  # applying only


def test_a_periodic_refresh_without_an_answer_in_time_is_logged_as_such_and_the_stream_mirrors_on(
        tmp_path, monkeypatch, caplog):
    """A future's result(timeout) raises TimeoutError, not a KafkaException: it stopped the stream with a traceback
    (review, session 16)."""
    s = running(tmp_path, monkeypatch, Cluster({"a": 2}), Cluster({"a": 2}))
    real, calls = mirror_module.partition_counts, []

    def counts(client, selection=None):
        calls.append(client)
        if len(calls) == 2:  # the first periodic read of the source
            raise FutureTimeout()
        return real(client, selection)

    monkeypatch.setattr(mirror_module, "partition_counts", counts)
    with caplog.at_level("WARNING", logger="kafka_mirror.mirror"):
        assert s.run() == 0
    warned = [r.getMessage() for r in caplog.records if "refresh failed" in r.getMessage()]
    assert len(warned) == 1 and "cannot read the source cluster's metadata from bootstrap.servers=src:9092: no " \
        "answer within 30s" in warned[0]


def test_a_stop_waits_for_a_hanging_refresh_read_only_its_bound_and_applies_nothing_after_it(
        tmp_path, monkeypatch, caplog):
    monkeypatch.setattr(mirror_module, "REFRESH_STOP_WAIT_S", 0.2)
    s = running(tmp_path, monkeypatch, Cluster({"a": 2}), Cluster({"a": 2}), passes=1000)
    s.refresher = Beside("refresh")
    read, hang = s._read_topics, threading.Event()

    def hanging():
        if s.subscribed:
            hang.wait(30)  # a cluster that does not answer
        return read()

    s._read_topics = hanging
    original = s._pass

    def stop_while_reading() -> None:
        original()
        if s.refresher.running:
            s.stop = True

    s._pass = stop_while_reading
    started = time.monotonic()
    with caplog.at_level("WARNING", logger="kafka_mirror.mirror"):
        assert s.run() == 0
    assert time.monotonic() - started < 5
    assert "stopping with a topic refresh still waiting for a cluster's answer" in caplog.text
    hang.set()


def test_a_refresh_read_that_ends_after_a_stop_was_asked_is_not_applied(tmp_path, monkeypatch):
    """Its new topic would be subscribed on the way out, a rebalance for nothing."""
    s = running(tmp_path, monkeypatch, Cluster({"a": 2}), Cluster({"a": 2, "b": 2}), passes=1000)
    s.refresher = Beside("refresh")
    read, may_finish = s._read_topics, threading.Event()

    def late_read():
        if s.subscribed:
            may_finish.wait(5)
            s.source_admin.answers = [{"a": 2, "b": 2}]  # topic b, found by the read still running
        return read()

    s._read_topics = late_read
    original = s._pass

    def stop_then_let_it_finish() -> None:
        original()
        if s.refresher.running:
            s.stop = True  # asked first, then the read ends, before the loop looks at it
            may_finish.set()
            assert s.refresher.wait(5)

    s._pass = stop_then_let_it_finish
    assert s.run() == 0
    assert s.consumer.subscriptions == [["a"]]  # b was read, never subscribed


def test_an_answer_arriving_after_a_later_waited_commit_does_not_move_the_rewind_back(tmp_path):
    s = stream(tmp_path, abort=False)
    s.consumer.hold_answers = True  # the first checkpoint's answer (10) comes late
    committed_acknowledged_then_failed(s)
    s.checkpoint()  # 15, waited for
    assert s.tracker.committed == {("a", 0): 15} and len(s.consumer.answers) == 1
    s.consumer.hold_answers = False
    s._pass()
    assert s.tracker.committed == {("a", 0): 15}  # where the next rewind of a[0] would start


def test_a_health_file_that_cannot_be_written_is_said_once_and_the_stream_mirrors_on(tmp_path, caplog):
    """The directory removed or the disk full: /health then says not ready (no fresh heartbeat), and the records
    still go and are committed. Before, the OSError ended the stream with a traceback."""
    s = stream(tmp_path / "health")  # not made: every write fails
    with caplog.at_level("INFO", logger="kafka_mirror.mirror"):
        for start in (0, 10, 20):
            mirror(s, records("a", 0, range(start, start + 10)))
            s.beat.updated = 0.0  # as if a second had passed
            s.checkpoint()
        assert s.consumer.commits[-1] == {("a", 0): 30}
        said = [r.getMessage() for r in caplog.records if "health file" in r.getMessage()]
        assert len(said) == 1 and "cannot write its health file" in said[0] and "not ready" in said[0]
        (tmp_path / "health").mkdir()
        s._heartbeat(force=True)
        assert (tmp_path / "health" / "health-0.json").exists()
        assert [r.getMessage() for r in caplog.records if "health file" in r.getMessage()][-1].endswith(
            "health file written again")
