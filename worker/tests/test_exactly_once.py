"""Exactly-once mode's decisions: what a transaction holds, when it is committed or aborted, where partitions resume.

Stand-in clients as in test_commits.py (the transactional producer keeps what each committed transaction made
visible); what Kafka does with the transactions is shown on the lab (tests/integration/test_mirror.py, kill -9 in a
loop read back read_committed).
"""
from __future__ import annotations

import json

import pytest
from confluent_kafka import KafkaError, KafkaException, Message, TopicPartition

from kafka_mirror import mirror as mirror_module
from kafka_mirror.config import MirrorConfig, load
from kafka_mirror.errors import ConfigError, MirrorError, SendFailure
from kafka_mirror.mirror import Stream
from kafka_mirror.selection import TopicSelection
from kafka_mirror.offset_map import MapWriter, OffsetMap, view
from kafka_mirror.transactions import parse_position, position_record, transactional_id
from kafka_mirror.translate import EXACT, translate

from test_commits import Consumer, Metrics, Producer, records

POSITIONS = "kafka-mirror.positions"


class TxnProducer(Producer):
    """What a read_committed reader of the target sees: the records of committed transactions only."""

    def __init__(self, on_delivery) -> None:
        super().__init__(on_delivery)
        self.visible: list[tuple[str, int, bytes]] = []
        self.begun_at: int | None = None
        self.commit_error: KafkaError | None = None
        self.commit_errors: list[KafkaError] = []  # raised by the next commits, one each, before commit_error
        self.aborts = 0
        self.abort_calls = 0
        self.abort_error: KafkaError | None = None

    def begin_transaction(self) -> None:
        assert self.begun_at is None, "a transaction is already open"
        self.begun_at = len(self.sent)

    def commit_transaction(self, timeout: float = -1) -> None:
        assert self.begun_at is not None, "no transaction to commit"
        self.flush()
        if self.commit_errors:
            raise KafkaException(self.commit_errors.pop(0))
        if self.commit_error is not None:
            raise KafkaException(self.commit_error)
        self.visible += self.sent[self.begun_at:]
        self.begun_at = None

    def abort_transaction(self, timeout: float = -1) -> None:
        self.abort_calls += 1
        if self.abort_error is not None:
            raise KafkaException(self.abort_error)
        assert self.begun_at is not None, "no transaction to abort"
        self.purge()
        self.aborts += 1
        self.begun_at = None

    def data(self) -> list[tuple[str, int, bytes]]:
        return [r for r in self.visible if r[0] != POSITIONS]

    def positions(self) -> dict[tuple[str, int], int]:
        out = {}
        for topic, _, value in self.visible:
            if topic == POSITIONS:
                out.update(stored(value))
        return out


def stored(value: bytes) -> dict[tuple[str, int], int]:
    """A position as the stand-in keeps it: its key and value together in the value (see keep_position_keys)."""
    both = json.loads(value)
    found = parse_position(both["key"].encode(), both["value"].encode(), "src", "g")
    return {found[0]: found[1]}


class AssigningConsumer(Consumer):
    def __init__(self) -> None:
        super().__init__()
        self.assignments: list[list[tuple[str, int, int]]] = []
        self.source_commits: dict[tuple[str, int], int] = {}  # the group's offsets on the source
        self.resumed: list[tuple[str, int]] = []

    def resume(self, partitions) -> None:
        self.resumed += [(tp.topic, tp.partition) for tp in partitions]

    def committed(self, partitions, timeout: float = -1):
        return [TopicPartition(tp.topic, tp.partition, self.source_commits.get((tp.topic, tp.partition), -1001))
                for tp in partitions]

    def incremental_assign(self, partitions) -> None:
        self.assignments.append([(tp.topic, tp.partition, tp.offset) for tp in partitions])

    assign = incremental_assign


def stream(tmp_path, monkeypatch, abort: bool = True, stored_positions: dict | None = None) -> Stream:
    config = MirrorConfig(consumer={"group.id": "g", "partition.assignment.strategy": "cooperative-sticky"},
                          producer={"transactional.id": "kafka-mirror.g.w1.0"},
                          topics=TopicSelection("a|b", None), abort_on_send_failure=abort, exactly_once=True,
                          instance_id="w1")
    monkeypatch.setattr(mirror_module, "read_positions",
                        lambda conf, topic, source_id, group, timeout: dict(stored_positions or {}))
    s = Stream(config, 0, tmp_path)
    s.source_id = "src"
    s.metrics = Metrics()
    s.producer = TxnProducer(s._delivered)
    s.consumer = AssigningConsumer()
    s.consumer.on_revoke = s._revoked
    s.limits = {"a": 8, "b": 8}
    return s


def hand_over(s: Stream, batch) -> None:
    s.consumer.batches.append(batch)
    s.consumer.assigned = sorted({TopicPartition(m.topic(), m.partition()) for m in batch} | set(s.consumer.assigned),
                                 key=lambda tp: (tp.topic, tp.partition))
    s._pass()


@pytest.fixture(autouse=True)
def keep_position_keys(monkeypatch):
    """The stand-in producer keeps (topic, partition, value) only: a position's key goes into its value."""
    monkeypatch.setattr(mirror_module, "FLUSH_TIMEOUT_S", 0.3)

    def record(source_id, group, topic, partition, offset):
        key, value = position_record(source_id, group, topic, partition, offset)
        return key, json.dumps({"key": key.decode(), "value": value.decode()}).encode()

    monkeypatch.setattr(mirror_module, "position_record", record)


def test_records_and_their_positions_become_visible_in_one_transaction(tmp_path, monkeypatch):
    s = stream(tmp_path, monkeypatch)
    hand_over(s, records("a", 0, range(0, 100)))
    assert s.producer.visible == []  # acknowledged, but not yet committed: a read_committed reader sees nothing
    s.checkpoint()
    assert len(s.producer.data()) == 100 and s.producer.positions() == {("a", 0): 100}
    assert s.consumer.commits == [{("a", 0): 100}]  # the source group's commit follows, for monitoring


def test_a_failed_record_aborts_the_whole_transaction_and_every_partition_resumes_at_its_stored_position(
        tmp_path, monkeypatch):
    s = stream(tmp_path, monkeypatch, abort=False)
    hand_over(s, records("a", 0, range(0, 10)) + records("b", 0, range(0, 10)))
    s.checkpoint()
    s.producer.fail["a"] = KafkaError(KafkaError._MSG_TIMED_OUT)
    hand_over(s, records("a", 0, range(10, 20)) + records("b", 0, range(10, 20)))
    s.checkpoint()
    assert s.producer.aborts == 1 and len(s.producer.data()) == 20  # b's records went with a's: none visible
    assert s.consumer.seeks == {("a", 0): 10, ("b", 0): 10}  # b too: its records of the aborted transaction
    del s.producer.fail["a"]
    s.paused.clear()
    hand_over(s, records("a", 0, range(10, 20)) + records("b", 0, range(10, 20)))
    s.checkpoint()
    assert len(s.producer.data()) == 40 and s.producer.positions() == {("a", 0): 20, ("b", 0): 20}


def test_abort_on_send_failure_stops_and_nothing_of_the_transaction_is_ever_committed(tmp_path, monkeypatch):
    s = stream(tmp_path, monkeypatch)
    hand_over(s, records("a", 0, range(0, 10)) + records("b", 0, range(0, 10)))
    s.checkpoint()
    s.producer.fail["a"] = KafkaError(KafkaError._MSG_TIMED_OUT)
    hand_over(s, records("a", 0, range(10, 20)) + records("b", 0, range(10, 20)))
    with pytest.raises(SendFailure):
        s.checkpoint()
    s._close()
    assert len(s.producer.data()) == 20 and s.producer.positions() == {("a", 0): 10, ("b", 0): 10}


def test_a_transaction_the_target_refuses_to_commit_is_aborted_and_mirrored_again(tmp_path, monkeypatch):
    s = stream(tmp_path, monkeypatch)
    hand_over(s, records("a", 0, range(0, 10)))
    s.checkpoint()
    hand_over(s, records("a", 0, range(10, 30)))
    s.producer.commit_error = KafkaError(KafkaError.INVALID_PRODUCER_EPOCH, txn_requires_abort=True)
    s.checkpoint()
    assert s.producer.aborts == 1 and s.consumer.seeks == {("a", 0): 10}
    assert s.consumer.commits == [{("a", 0): 10}] and s.producer.positions() == {("a", 0): 10}


def test_a_fatal_commit_error_stops_the_stream_committing_nothing(tmp_path, monkeypatch):
    s = stream(tmp_path, monkeypatch)
    hand_over(s, records("a", 0, range(0, 10)))
    s.producer.commit_error = KafkaError(KafkaError._FENCED, fatal=True)
    s.checkpoint()
    assert s.stop and s.broken is not None and s.producer.visible == [] and s.consumer.commits == []


def test_assigned_partitions_resume_at_their_stored_positions(tmp_path, monkeypatch):
    s = stream(tmp_path, monkeypatch, stored_positions={("a", 0): 40, ("b", 3): 7})
    s._assigned(s.consumer, [TopicPartition("a", 0), TopicPartition("a", 1)])
    assert s.consumer.assignments == [[("a", 0, 40), ("a", 1, -1001)]]  # a[1]: the source group's commit
    assert s.tracker.committed == {("a", 0): 40}  # a rewind goes back there; an unchanged position is not stored


def test_a_revoke_stores_every_partitions_position_with_the_transaction(tmp_path, monkeypatch):
    s = stream(tmp_path, monkeypatch)
    hand_over(s, records("a", 0, range(0, 10)) + records("a", 1, range(0, 5)))
    s._revoked(s.consumer, [TopicPartition("a", 0)])
    assert s.producer.positions() == {("a", 0): 10, ("a", 1): 5}  # a[1] kept: its records were in it too
    assert not s.in_txn


def test_lost_partitions_abort_the_transaction_so_their_new_owner_is_the_only_writer(tmp_path, monkeypatch):
    s = stream(tmp_path, monkeypatch)
    hand_over(s, records("a", 0, range(0, 10)) + records("b", 0, range(0, 10)))
    s.checkpoint()
    hand_over(s, records("a", 0, range(10, 20)) + records("b", 0, range(10, 20)))
    s._lost(s.consumer, [TopicPartition("a", 0)])
    assert s.producer.aborts == 1 and len(s.producer.data()) == 20 and s.consumer.seeks == {("b", 0): 10}


class TargetLog(TxnProducer):
    """The target's log as Kafka keeps it: every record sent takes an offset, aborted or not, and each transaction's
    end takes one more in every partition it wrote (its marker). `log`: (topic, partition, offset, key, value,
    committed) per record."""

    MAP = "kafka-mirror.offset-map"

    def __init__(self, on_delivery) -> None:
        super().__init__(on_delivery)
        self.next: dict[tuple[str, int], int] = {}
        self.log: list[list] = []
        self.begun_log = 0
        self.refused: KafkaError | None = None  # a record of the open transaction the target refused

    def begin_transaction(self) -> None:
        super().begin_transaction()
        self.begun_log = len(self.log)
        self.refused = None

    def _deliver(self, error_of) -> None:
        queue, self.queue = self.queue, []
        for msg, callback in queue:
            error = error_of(msg)
            if error is None:
                tp = (msg.topic(), msg.partition())
                offset = self.next.get(tp, 0)
                self.next[tp] = offset + 1
                msg = Message(topic=msg.topic(), partition=msg.partition(), offset=offset, key=msg.key(),
                              value=msg.value())
                self.sent.append((msg.topic(), msg.partition(), msg.value()))
                self.log.append([msg.topic(), msg.partition(), offset, msg.key(), msg.value(), False])
            elif error.code() != KafkaError._PURGE_QUEUE:
                self.refused = error
            callback(error, msg)

    def _end(self, committed: bool) -> None:
        for tp in {(r[0], r[1]) for r in self.log[self.begun_log:]}:
            self.next[tp] += 1  # the marker
        for r in self.log[self.begun_log:]:
            r[5] = committed

    def commit_transaction(self, timeout: float = -1) -> None:
        self.flush()
        if self.refused is not None:  # as Kafka: a transaction with a failed record can only be aborted
            raise KafkaException(KafkaError(self.refused.code(), txn_requires_abort=True))
        super().commit_transaction(timeout)
        self._end(True)

    def abort_transaction(self, timeout: float = -1) -> None:
        self.flush()  # what was sent already is in the log, with offsets
        super().abort_transaction(timeout)
        self._end(False)

    def read_committed(self, topic: str) -> list:
        return [r for r in self.log if r[0] == topic and r[5]]


def source_records(topic: str, partition: int, offsets) -> list[Message]:
    return [Message(topic=topic, partition=partition, offset=o, key=b"k", value=b"%d" % o, timestamp=(1, 1))
            for o in offsets]


def with_map(s: Stream) -> Stream:
    s.producer = TargetLog(s._delivered_mapped)
    s.offset_map = OffsetMap()
    s.map_writer = MapWriter(None, TargetLog.MAP, "g")  # its own producer is for group offsets only
    return s


@pytest.mark.parametrize("error, stays", [(KafkaError(KafkaError.TOPIC_AUTHORIZATION_FAILED), False),
                                          # as a delivery report carries it: never marked retriable
                                          (KafkaError(KafkaError._MSG_TIMED_OUT), True)])
def test_a_map_the_target_refuses_never_stops_the_mirror(tmp_path, monkeypatch, caplog, error, stays):
    """Refused for good (no WRITE on its topic): the transaction is aborted once, then the map is off for the stream
    and the records go on without it. A passing failure (the target down past message.timeout.ms) aborts the
    transaction like any record; the map stays."""
    s = with_map(stream(tmp_path, monkeypatch, abort=False))
    s.producer.fail[TargetLog.MAP] = error
    hand_over(s, source_records("a", 0, range(0, 100)))
    s.checkpoint()
    assert s.producer.aborts == 1 and s.producer.read_committed("a") == []
    assert (s.offset_map is not None) == stays
    assert ("the offset map could not be written in the transaction" in caplog.text) != stays
    if stays:
        del s.producer.fail[TargetLog.MAP]
    hand_over(s, source_records("a", 0, range(0, 100)))  # mirrored again from the stored position
    s.checkpoint()
    assert [int(r[4]) for r in s.producer.read_committed("a")] == list(range(0, 100))
    assert bool(s.producer.read_committed(TargetLog.MAP)) == stays


def test_the_offset_map_is_stored_in_the_transaction_of_the_records_it_maps(tmp_path, monkeypatch):
    s = with_map(stream(tmp_path, monkeypatch, abort=False))
    hand_over(s, source_records("a", 0, range(0, 100)))
    assert s.producer.read_committed(TargetLog.MAP) == []
    s.checkpoint()
    hand_over(s, source_records("a", 0, range(100, 150)))
    s.checkpoint()
    s.producer.fail["a"] = KafkaError(KafkaError._MSG_TIMED_OUT)
    hand_over(s, source_records("a", 0, range(150, 170)) + source_records("b", 0, range(0, 10)))
    s.checkpoint()  # aborted: a's failure takes b's records with it, and their map entries
    assert s.producer.aborts == 1 and not s.offset_map.dirty
    del s.producer.fail["a"]
    s.paused.clear()
    hand_over(s, source_records("a", 0, range(150, 200)) + source_records("b", 0, range(0, 10)))
    s.checkpoint()

    mapped = view([(r[3], r[4]) for r in s.producer.read_committed(TargetLog.MAP)], "g")
    for tp, end in ((("a", 0), 200), (("b", 0), 10)):
        data = {r[2]: int(r[4]) for r in s.producer.read_committed(tp[0]) if r[1] == tp[1]}  # offset -> source
        for seg in mapped.segments[tp]:  # facts only: no segment names an aborted record
            assert [data.get(seg.target_start + i) for i in range(seg.count)] == \
                list(range(seg.source_start, seg.source_end)), seg
        for position in range(end):
            target, status = translate(mapped.segments[tp], position)[:2]
            assert status == EXACT and data[min(o for o in data if o >= target)] == position, (tp, position)


def write(tmp_path, text: str) -> str:
    path = tmp_path / "worker.yaml"
    path.write_text("consumer: {bootstrap.servers: s:9092, group.id: g}\nproducer: {bootstrap.servers: t:9092}\n"
                    "include: a\n" + text)
    return str(path)


def test_transactional_ids_are_stable_per_stream_and_scoped_to_the_source_cluster(tmp_path):
    assert transactional_id("g", "w1", 1, "clusterA") == "kafka-mirror.g.w1.1.clusterA"
    cfg = load(["--config", write(tmp_path, "exactly_once: true\ninstance_id: w1\n")])
    assert cfg.exactly_once and "transactional.id" not in cfg.for_stream(0).producer  # set at start, with the id


@pytest.mark.parametrize("text, says", [
    ("exactly_once: true\n", "needs instance_id"),
    ("exactly_once: true\ninstance_id: w1\nproducer: {bootstrap.servers: t:9092, transactional.id: x}\n",
     "sets transactional.id"),
    ("exactly_once: maybe\ninstance_id: w1\n", "exactly_once must be true or false"),
    ("exactly_once: true\ninstance_id: w1\nproducer: {bootstrap.servers: t:9092, socket.timeout.ms: 70000}\n",
     "socket.timeout.ms=70000 is above transaction.timeout.ms=60000"),
])
def test_exactly_once_refuses_what_cannot_work(tmp_path, text, says):
    path = tmp_path / "w.yaml"
    base = "consumer: {bootstrap.servers: s:9092, group.id: g}\ninclude: a\n"
    path.write_text(base + ("" if "producer:" in text else "producer: {bootstrap.servers: t:9092}\n") + text)
    with pytest.raises(ConfigError) as err:
        load(["--config", str(path)])
    assert says in str(err.value)


def test_a_transaction_timeout_an_assignment_could_wait_out_past_max_poll_interval_is_refused_at_load(tmp_path):
    """An assignment waits up to transaction.timeout.ms + 15 s for the positions and 30 s for the group's commits,
    inside a rebalance callback that counts against max.poll.interval.ms (librdkafka's default 300000): a consume()
    that does not block leaves rk_ts_last_poll as it was (confluentinc/librdkafka master, src/rdkafka_int.h,
    rd_kafka_app_poll_start and rd_kafka_max_poll_exceeded)."""
    def loaded(consumer: str, producer: str):
        path = tmp_path / "w.yaml"
        path.write_text(f"consumer: {{bootstrap.servers: s:9092, group.id: g{consumer}}}\ninclude: a\n"
                        f"exactly_once: true\ninstance_id: w1\nproducer: {{bootstrap.servers: t:9092{producer}}}\n")
        return load(["--config", str(path)])

    assert loaded("", ", transaction.timeout.ms: 254000").positions_wait_s == 269.0
    with pytest.raises(ConfigError) as err:
        loaded("", ", transaction.timeout.ms: 255000")
    assert str(err.value) == (
        "producer transaction.timeout.ms=255000 lets a new assignment wait about 300 s for the stored positions and "
        "the group's commits (a dead worker's open transaction holds the positions back until the coordinator aborts "
        "it), not less than the consumer's max.poll.interval.ms=300000, after which the group drops the member "
        "mid-assignment: raise max.poll.interval.ms in consumer.properties above 300000, or lower "
        "transaction.timeout.ms below 255000")
    with pytest.raises(ConfigError, match="max.poll.interval.ms=46002"):  # whole milliseconds: equal is refused
        loaded(", max.poll.interval.ms: 46002", ", transaction.timeout.ms: 1002")
    with pytest.raises(ConfigError) as err:  # no transaction.timeout.ms is low enough: only the raise is offered
        loaded(", max.poll.interval.ms: 30000", ", transaction.timeout.ms: 1000")
    assert str(err.value).endswith("above 46000")
    assert loaded(", max.poll.interval.ms: 600000", ", transaction.timeout.ms: 500000").positions_wait_s == 515.0
    with pytest.raises(ConfigError, match="max.poll.interval.ms=100000"):
        loaded(", max.poll.interval.ms: 100000", "")  # the default 60 s needs 105 s
    with pytest.raises(ConfigError, match="max.poll.interval.ms must be a whole number"):
        loaded(", max.poll.interval.ms: soon", "")


def test_a_position_record_is_read_back_for_its_source_and_group_only():
    key, value = position_record("srcA", "g", "orders", 3, 1234)
    assert parse_position(key, value, "srcA", "g") == (("orders", 3), 1234)
    assert parse_position(key, value, "srcA", "other") is None
    assert parse_position(key, value, "srcB", "g") is None  # another source with the same group name
    assert parse_position(b"not json", value, "srcA", "g") is None


def test_after_a_fatal_error_the_open_transaction_is_never_committed(tmp_path, monkeypatch):
    s = stream(tmp_path, monkeypatch)
    hand_over(s, records("a", 0, range(0, 10)))
    s._fatal(KafkaError(KafkaError._FENCED, fatal=True))
    s._close()
    assert s.producer.visible == [] and s.consumer.commits == []


@pytest.mark.parametrize("abort", [False, True])
def test_a_revoke_taking_the_failed_partition_leaves_no_kept_partition_past_aborted_records(tmp_path, monkeypatch,
                                                                                            abort):
    """Found by review: the abort left the rewind to the next checkpoint, and the revoke took the failure with it."""
    s = stream(tmp_path, monkeypatch, abort=abort)
    hand_over(s, records("a", 0, range(0, 10)) + records("b", 0, range(0, 10)))
    s.checkpoint()
    s.producer.fail["a"] = KafkaError(KafkaError._MSG_TIMED_OUT)
    hand_over(s, records("a", 0, range(10, 20)) + records("b", 0, range(10, 20)))  # b acknowledged, a failed
    s._revoked(s.consumer, [TopicPartition("a", 0)])  # a rebalance before the next checkpoint
    assert s.consumer.seeks[("b", 0)] == 10  # b's records of the aborted transaction are mirrored again
    s.consumer.assigned = [TopicPartition("b", 0)]
    if abort:
        committed = len(s.producer.visible)
        hand_over(s, records("b", 0, range(10, 20)))  # nothing is handed over once it must stop
        with pytest.raises(SendFailure):  # the failure is not forgotten with its partition
            s.checkpoint()
        assert len(s.producer.visible) == committed and s.producer.queue == []
        return
    assert s.consumer.resumed == [("a", 0)]  # paused for the retry, then revoked: librdkafka would keep it paused
    s.checkpoint()
    s.paused.clear()
    hand_over(s, records("b", 0, range(10, 30)))
    s.checkpoint()
    assert len([r for r in s.producer.data() if r[0] == "b"]) == 30 and s.producer.positions()[("b", 0)] == 30


def test_a_partition_resumes_at_the_source_groups_commit_where_it_is_ahead_of_the_stored_position(tmp_path,
                                                                                                  monkeypatch):
    s = stream(tmp_path, monkeypatch, stored_positions={("a", 0): 40, ("a", 1): 40})
    s.consumer.source_commits = {("a", 0): 55, ("a", 1): 30}  # a[0] moved on by a run without exactly-once
    s._assigned(s.consumer, [TopicPartition("a", 0), TopicPartition("a", 1)])
    assert s.consumer.assignments == [[("a", 0, 55), ("a", 1, 40)]]


def test_an_assignment_of_nothing_reads_nothing(tmp_path, monkeypatch):
    s = stream(tmp_path, monkeypatch)
    monkeypatch.setattr(mirror_module, "read_positions", lambda *a: pytest.fail("read for an empty assignment"))
    s._assigned(s.consumer, [])
    assert s.consumer.assignments == []


def test_a_retriable_commit_error_is_the_same_call_again_and_an_unexpected_one_stops(tmp_path, monkeypatch):
    s = stream(tmp_path, monkeypatch)
    hand_over(s, records("a", 0, range(0, 10)))
    s.producer.commit_errors = [KafkaError(KafkaError._TIMED_OUT, retriable=True)]
    s.checkpoint()
    assert s.producer.positions() == {("a", 0): 10} and s.producer.aborts == 0
    hand_over(s, records("a", 0, range(10, 20)))
    s.producer.commit_errors = [KafkaError(KafkaError._STATE)]  # neither retriable nor abortable: librdkafka says stop
    s.checkpoint()
    assert s.stop and s.producer.positions() == {("a", 0): 10}


def test_the_mirrors_own_topics_are_never_mirrored(tmp_path):
    cfg = load(["--config", write(tmp_path, "include: '.*'\n")])
    assert cfg.topics.matches("orders")
    assert not cfg.topics.matches("kafka-mirror.positions") and not cfg.topics.matches("kafka-mirror.offset-map")


def test_a_delivery_timeout_above_the_transaction_timeout_is_refused_at_load(tmp_path):
    path = tmp_path / "w.yaml"
    path.write_text("consumer: {bootstrap.servers: s:9092, group.id: g}\ninclude: a\nexactly_once: true\n"
                    "instance_id: w1\nproducer: {bootstrap.servers: t:9092, delivery.timeout.ms: 120000}\n")
    with pytest.raises(ConfigError, match="above transaction.timeout.ms=60000"):
        load(["--config", str(path)])


def test_a_source_commit_behind_the_stored_position_is_moved_up_even_with_nothing_more_to_mirror(tmp_path,
                                                                                                 monkeypatch):
    """kill -9 between the transaction's commit and the source group's: the lag must not stay open forever."""
    s = stream(tmp_path, monkeypatch, stored_positions={("a", 0): 40})
    s.consumer.source_commits = {("a", 0): 25}
    s._assigned(s.consumer, [TopicPartition("a", 0)])
    s.checkpoint()  # nothing handed over since
    assert s.consumer.commits == [{("a", 0): 40}] and s.producer.visible == []


def test_after_a_commit_that_timed_out_for_good_nothing_spins_on_abort(tmp_path, monkeypatch):
    """librdkafka answers an abort while the timed-out commit is pending with _CONFLICT at once, marked retriable
    (librdkafka master src/rdkafka_txnmgr.c, rd_kafka_txn_curr_api_begin)."""
    monkeypatch.setattr(mirror_module, "TXN_RETRY_S", 0.2)
    monkeypatch.setattr(mirror_module, "TXN_RETRY_PAUSE_S", 0.05)
    s = stream(tmp_path, monkeypatch)
    hand_over(s, records("a", 0, range(0, 10)))
    s.producer.commit_error = KafkaError(KafkaError._TIMED_OUT, retriable=True)
    s.producer.abort_error = KafkaError(KafkaError._CONFLICT, retriable=True)
    s.checkpoint()
    assert s.stop and s.broken is not None and s.producer.visible == []
    hand_over(s, [])
    s._purge()  # e.g. a revoke with records left, or the close
    assert s.producer.abort_calls == 0


def test_a_source_commit_to_move_up_is_forgotten_with_its_partition(tmp_path, monkeypatch):
    """Else, given back after another member moved it far on, the partition's source commit would go back."""
    s = stream(tmp_path, monkeypatch, stored_positions={("a", 0): 40})
    s.consumer.source_commits = {("a", 0): 25}
    s._assigned(s.consumer, [TopicPartition("a", 0)])
    s.consumer.commit_errors = [KafkaError.REBALANCE_IN_PROGRESS]
    s.consumer.assigned = [TopicPartition("a", 0)]
    s.checkpoint()  # the move-up is refused for now
    s._revoked(s.consumer, [TopicPartition("a", 0)])
    assert s.source_behind == {}


def test_init_transactions_is_called_again_while_librdkafka_says_retriable(tmp_path, monkeypatch):
    """A broker restarted moments ago answers COORDINATOR_LOAD_IN_PROGRESS while it loads the transaction log; the
    stream waits for it (bounded) instead of ending. A refusal that is not retriable ends it, naming the id."""
    s = stream(tmp_path, monkeypatch)
    monkeypatch.setattr(mirror_module, "ensure_topic", lambda *args: None)
    monkeypatch.setattr(mirror_module, "TXN_RETRY_PAUSE_S", 0)
    answers = [KafkaError(KafkaError.COORDINATOR_LOAD_IN_PROGRESS, retriable=True),
               KafkaError(KafkaError._TIMED_OUT, retriable=True), None]
    calls = []

    def init_transactions(timeout):
        calls.append(timeout)
        err = answers.pop(0)
        if err is not None:
            raise KafkaException(err)

    s.sync = type("Sync", (), {"target": None})()
    s.producer.init_transactions = init_transactions
    s._start_transactions()
    assert calls == [mirror_module.TXN_INIT_EACH_S] * 3
    answers[:] = [KafkaError(KafkaError.TRANSACTIONAL_ID_AUTHORIZATION_FAILED)]
    with pytest.raises(MirrorError) as err:
        s._start_transactions()
    assert "cannot start transactions" in str(err.value) and "kafka-mirror.g.w1.0" in str(err.value)


def test_a_source_commit_refused_after_its_transaction_is_made_again_until_the_group_takes_it(tmp_path,
                                                                                               monkeypatch):
    """The source group's commit that follows a transaction, refused in a rebalance (ILLEGAL_GENERATION, under a
    rolling restart of the target on the lab): with nothing more to mirror, the group's lag stayed open for good.
    The positions in the transaction are what the stream resumes from; the source commit is for monitoring."""
    s = stream(tmp_path, monkeypatch)
    s._assigned(s.consumer, [TopicPartition("a", 0)])
    hand_over(s, records("a", 0, range(0, 10)))
    s.consumer.commit_errors = [KafkaError.ILLEGAL_GENERATION]  # the commit after the transaction
    s.checkpoint()
    assert s.producer.positions() == {("a", 0): 10} and s.consumer.commits == []
    assert s.source_behind == {("a", 0): 10} and s.consumer.commit_errors == []  # not made again at once
    s.checkpoint()  # nothing handed over since
    assert s.consumer.commits == [{("a", 0): 10}] and s.source_behind == {}
    assert len(s.producer.data()) == 10  # no transaction for it: the records once, the position once


def test_an_assignment_delivered_while_the_consumer_closes_reads_nothing(tmp_path, monkeypatch):
    """librdkafka does not send an OffsetFetch for a closing group: committed() would wait out its timeout and the
    stop exit 1 (on the lab, a worker stopped mid-rebalance). The close revokes what it assigns, unfetched."""
    s = stream(tmp_path, monkeypatch, stored_positions={("a", 0): 40})

    def unanswered(partitions, timeout=-1):
        raise KafkaException(KafkaError(KafkaError._TIMED_OUT))

    s.consumer.committed = unanswered
    s.closing = True
    s._assigned(s.consumer, [TopicPartition("a", 0)])
    assert s.consumer.assignments == [] and ("a", 0) in s.assigned
    s.closing = False  # running: the same failure is the stream's to report
    with pytest.raises(MirrorError, match="cannot read the group's committed offsets"):
        s._assigned(s.consumer, [TopicPartition("a", 1)])
