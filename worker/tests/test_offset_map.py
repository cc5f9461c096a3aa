"""The offset map (what is recorded where the target-minus-source delta changes) and translation (where a group of
the primary resumes on the secondary), as pure functions; then the stream's hooks with stand-in clients.

Translation follows what MirrorMaker 2 does with its offset syncs (apache/kafka trunk,
connect/mirror/src/main/java/org/apache/kafka/connect/mirror/OffsetSyncStore.java: a sync every offset.lag.max
records, translation lands at or behind the true position), made exact: every delta change is recorded.
"""
from __future__ import annotations

from pathlib import Path

import pytest
from confluent_kafka import KafkaError, KafkaException, Message

from kafka_mirror.config import MirrorConfig
from kafka_mirror.mirror import LARGE_RECORD, Stream
from kafka_mirror.offset_map import Batch, OffsetMap, PartitionMap, Segment, group_record, segment_record, view
from kafka_mirror.selection import TopicSelection
from kafka_mirror.translate import EXACT, INEXACT, UNMAPPED, translate, translate_group

TP = ("t", 0)


def batch(offsets) -> Batch:
    """What the loop hands the map for these source offsets of one partition (the loop's own accounting:
    test_the_loop_records_source_gaps_and_another_writer_between_commits)."""
    offsets = list(offsets)
    gaps = [(before, after) for before, after in zip(offsets, offsets[1:]) if after != before + 1]
    return Batch(offsets[0], offsets[-1], len(offsets), gaps or None)


def settle(pm: PartitionMap, batches: list[Batch], targets) -> list[Segment]:
    """One window: the batches handed over, then `targets`, each record's target offset in report order (what the
    delivery callback sees: OffsetMap.delivered)."""
    reports = OffsetMap()
    for offset in targets:
        reports.delivered(TP, offset)
    for b in batches:
        pm.add(b)
    return pm.settle(reports.starts.get(TP), reports.tails.get(TP))


def segs(pm_segments: list[Segment]) -> list[tuple[int, int, int, int]]:
    return [(s.source_from, s.source_start, s.target_start, s.count) for s in pm_segments]


# --- delta recording ------------------------------------------------------------------------------------------

def test_a_plain_topic_is_one_segment_however_many_batches_and_commits():
    pm = PartitionMap()
    first = settle(pm, [batch(range(0, 100)), batch(range(100, 250))], range(500, 750))
    assert segs(first) == [(0, 0, 500, 250)]
    grown = settle(pm, [batch(range(250, 300))], range(750, 800))
    assert grown == first and segs(grown) == [(0, 0, 500, 300)]  # the same segment (same key), longer


def test_a_restart_from_the_last_commit_starts_a_new_segment_with_the_new_delta():
    pm = PartitionMap()
    settle(pm, [batch(range(0, 100))], range(0, 100))
    pm.reset()  # kill -9: a new process; the records 80..99 were on the target but not committed
    restarted = settle(pm, [batch(range(80, 150))], range(100, 170))
    assert segs(restarted) == [(80, 80, 100, 70)]  # delta 20: the duplicates shifted it


def test_source_gaps_split_segments_and_positions_in_a_gap_resume_at_the_next_record():
    pm = PartitionMap()
    # a transactional source: commit markers at 10 and 21, an aborted transaction 30..34
    offsets = [*range(0, 10), *range(11, 21), *range(22, 30), *range(35, 40)]
    out = settle(pm, [batch(offsets)], range(1000, 1000 + len(offsets)))
    assert segs(out) == [(0, 0, 1000, 10), (10, 11, 1010, 10), (21, 22, 1020, 8), (30, 35, 1028, 5)]
    # a gap between two windows is found the same way
    more = settle(pm, [batch(range(41, 45))], range(1033, 1037))
    assert segs(more) == [(40, 41, 1033, 4)]


def test_another_writers_records_between_ours_are_placed_exactly():
    pm = PartitionMap()
    # source 0..9 in one batch: 0..4 at 0..4, two records of a local producer at 5 and 6, then 5..9 at 7..11;
    # the next batch 10..19 at 12..21
    out = settle(pm, [batch(range(0, 10)), batch(range(10, 20))], [*range(0, 5), *range(7, 22)])
    assert segs(out) == [(0, 0, 0, 5), (5, 5, 7, 15)]
    # a window starting after foreign records, and more of them inside it
    out = settle(pm, [batch(range(20, 30))], [*range(25, 28), *range(40, 47)])
    assert segs(out) == [(20, 20, 25, 3), (23, 23, 40, 7)]
    target = {}  # source offset -> target offset, record by record
    for seg in [Segment(0, 0, 0, 5), Segment(5, 5, 7, 15), *out]:
        target.update({seg.source_start + i: seg.target_start + i for i in range(seg.count)})
    mapped = [Segment(0, 0, 0, 5), Segment(5, 5, 7, 15), *out]
    for position in range(0, 30):  # each position resumes at its record: no foreign record is claimed as ours
        assert translate(mapped, position)[:2] == (target[position], EXACT)


def test_nothing_is_recorded_for_a_window_with_a_missing_report():
    pm = PartitionMap()
    assert settle(pm, [batch(range(0, 10)), batch(range(10, 20))], range(0, 19)) == []
    assert pm.open is None  # the next window starts a new segment
    assert segs(settle(pm, [batch(range(20, 30))], range(20, 30))) == [(20, 20, 20, 10)]
    assert settle(pm, [batch(range(30, 40))], []) == []  # no report at all


def test_a_report_without_an_offset_records_nothing_of_its_window():
    # librdkafka reports an old broker's DUPLICATE_SEQUENCE_NUMBER as delivered, with no offset known (-1)
    pm = PartitionMap()
    assert settle(pm, [batch(range(0, 3))], [-1, 0, 1]) == [] and pm.open is None


def test_blocked_partitions_are_forgotten_and_others_recorded():
    m = OffsetMap()
    m.handed({("a", 0): batch(range(0, 5)), ("b", 0): batch(range(0, 5))})
    for i in range(5):
        m.delivered(("a", 0), 100 + i)
        m.delivered(("b", 0), 200 + i)
    m.settle(blocked=[("a", 0)])
    assert list(m.dirty) == [("b", 0, 200)] and ("a", 0) not in m.partitions
    assert not m.tails and not m.starts  # the next window's first report starts a run


# --- translation ----------------------------------------------------------------------------------------------

# One partition's map after: a first run 0..999 at 0..999 (commit at 900 when killed), a restart from 900 at 1000
# that ran to 1500, a transaction marker at 1500, records 1501.. at 1600..
MAP = [Segment(0, 0, 0, 1000), Segment(900, 900, 1000, 600), Segment(1500, 1501, 1600, 400)]


@pytest.mark.parametrize("position, target, status", [
    (0, 0, EXACT),  # the very first record
    (450, 450, EXACT),  # in the middle of a delta run: arithmetic
    (899, 899, EXACT),  # before the restart's commit: only the first copy has it
    (900, 1000, EXACT),  # held twice: the copy written last, so the duplicates are not read again
    (999, 1099, EXACT),
    (1500, 1600, EXACT),  # the marker's position resumes at the next record
    (1501, 1600, EXACT),
    (1900, 1999, EXACT),
    (1901, 2000, EXACT),  # right after the last record: the end of the mapped target
])
def test_translation_inside_the_map_is_exact(position, target, status):
    assert translate(MAP, position)[:2] == (target, status)


def test_translation_reading_from_the_answer_gives_every_later_record_and_nothing_earlier():
    """Lay the map's target out record by record and read from each answer: the sequence check the lab test makes."""
    target: list[int] = []  # source offset of each target record
    target += list(range(0, 1000))
    target += list(range(900, 1500))
    target += list(range(1501, 1901))
    for position in (0, 1, 450, 899, 900, 950, 1499, 1500, 1501, 1800, 1900):
        t, status, _, _ = translate(MAP, position)
        read = target[t:]
        assert status == EXACT
        assert min(read) >= position, position  # nothing before the group's position
        assert set(read) >= {o for o in target if o >= position}  # nothing after it skipped
        if position >= 900:  # held twice on the target: the copy written last, so nothing is read twice
            assert len(read) == len(set(read))


def test_before_the_first_entry_translation_says_so():
    assert translate([Segment(500, 500, 0, 10)], 100)[:2] == (None, UNMAPPED)
    assert translate([], 5)[:2] == (None, UNMAPPED)


def test_after_the_last_entry_translation_is_safe_and_says_how_much_it_may_reread():
    t, status, reread, reason = translate(MAP, 2500)
    assert (t, status, reread) == (2000, INEXACT, 599) and "beyond" in reason


def test_in_an_unverified_stretch_translation_falls_back_to_the_last_verified_position():
    holes = [Segment(0, 0, 0, 1), Segment(10, 10, 12, 10)]  # 1..9 not verified (a window with a report missing)
    assert translate(holes, 5)[:3] == (1, INEXACT, 4)
    assert translate(holes, 1)[:2] == (1, EXACT)
    assert translate(holes, 15)[:2] == (17, EXACT)


# --- the topic's records --------------------------------------------------------------------------------------

def test_the_map_read_back_keeps_the_newest_value_per_key_and_one_alias():
    records = [segment_record("A", "t", 0, Segment(0, 0, 0, 10)),
               segment_record("A", "t", 0, Segment(0, 0, 0, 50)),  # the segment grew: same key
               segment_record("A", "t", 0, Segment(40, 40, 50, 5)),
               segment_record("B", "t", 0, Segment(0, 0, 99, 5)),  # another source
               group_record("A", "g", "t", 0, 10), group_record("A", "g", "t", 0, 42),
               group_record("A", "gone", "t", 0, 7), (group_record("A", "gone", "t", 0, 7)[0], None),  # tombstone
               (b"garbage", b"{")]
    mv = view(records, "A")
    assert segs(mv.segments[("t", 0)]) == [(0, 0, 0, 50), (40, 40, 50, 5)]
    assert {g: {tp: o for tp, (o, _) in v.items()} for g, v in mv.groups.items()} == {"g": {("t", 0): 42}}
    rows = translate_group(mv.segments, {("t", 0): 42, ("t", 1): 3})
    assert [(r.partition, r.target_offset, r.status) for r in rows] == [(0, 42, EXACT), (1, None, UNMAPPED)]  # the first copy reaches further


# --- the stream's hooks, with stand-in clients ----------------------------------------------------------------

class Producer:
    """Assigns target offsets per partition as a broker would; `foreign` writes someone else's records first."""

    def __init__(self, on_delivery) -> None:
        self.on_delivery = on_delivery
        self.queue: list = []
        self.next: dict[tuple[str, int], int] = {}
        self.fail: dict[str, KafkaError] = {}
        self.hang = False
        self.others: dict = {}  # (topic, partition) -> f(n): records another producer writes after our n-th
        self.acked: dict = {}  # (topic, partition) -> our records acknowledged

    def produce(self, topic, value=None, key=None, partition=-1, callback=None, on_delivery=None, timestamp=0,
                headers=None):  # confluent-kafka's parameters, in their order (the stream passes them so)
        self.queue.append((topic, partition, value, key, callback or on_delivery or self.on_delivery))

    def __len__(self) -> int:  # rd_kafka_outq_len: records not yet acknowledged or failed
        return len(self.queue)

    def poll(self, timeout: float = 0) -> int:
        return 0

    def flush(self, timeout: float = 0) -> int:
        if self.hang:
            return len(self.queue)
        queue, self.queue = self.queue, []
        for topic, partition, value, key, callback in queue:
            err = self.fail.get(topic)
            offset = -1001
            if err is None:
                tp = (topic, max(partition, 0))
                offset = self.next.get(tp, 0)
                n = self.acked[tp] = self.acked.get(tp, 0) + 1
                self.next[tp] = offset + 1 + (self.others[tp](n) if tp in self.others else 0)
            callback(err, Message(topic=topic, partition=max(partition, 0), offset=offset, value=value, key=key))
        return 0

    def purge(self, in_queue=True, in_flight=True, blocking=True) -> None:
        self.queue.clear()


class Consumer:
    def __init__(self) -> None:
        self.batches: list = []
        self.commits: list = []
        self.log: list = []  # what happened, in order: ("map", n) and ("commit", offsets)

    def consume(self, num_messages=1, timeout=-1):
        return self.batches.pop(0) if self.batches and num_messages > 1 else []

    def commit(self, offsets, asynchronous=True):
        done = {(tp.topic, tp.partition): tp.offset for tp in offsets}
        self.commits.append(done)
        self.log.append(("commit", done))

    def seek(self, tp) -> None:
        pass

    pause = resume = seek


class Metrics:
    def labels(self, *args):
        return self

    def inc(self, n: float = 1) -> None:
        pass

    dec = set = observe = inc
    records = bytes = latency = lag = send_errors = commits = assigned = property(lambda self: self)
    fetched_age = after_fetch = handover = checkpoint = property(lambda self: self)


class MapProducer(Producer):
    def __init__(self, consumer: Consumer) -> None:
        super().__init__(None)
        self.consumer = consumer
        self.stored: list = []
        self.down = False

    def flush(self, timeout: float = 0) -> int:
        if self.down:
            return len(self.queue)
        self.consumer.log.append(("map", len(self.queue)))
        self.stored += [(key, value) for _, _, value, key, _ in self.queue]
        return super().flush(timeout)


def mapped_stream(tmp_path: Path) -> Stream:
    from kafka_mirror.offset_map import MapWriter

    s = Stream(MirrorConfig(consumer={"group.id": "g"}, producer={}, topics=TopicSelection("a|b", None)), 0, tmp_path)
    s.metrics = Metrics()
    s.consumer = Consumer()
    s.producer = Producer(s._delivered_mapped)
    s.limits = {"a": 4, "b": 4}
    s.offset_map = OffsetMap()
    s.map_writer = MapWriter(MapProducer(s.consumer), "kafka-mirror.offset-map", "g")
    return s


def records(topic: str, partition: int, offsets) -> list[Message]:
    return [Message(topic=topic, partition=partition, offset=o, key=b"k", value=b"v", timestamp=(1, 1))
            for o in offsets]


def run(s: Stream, *batches) -> None:
    for b in batches:
        s.consumer.batches.append(b)
        s._pass()


def stored_map(s: Stream):
    return view(s.map_writer.producer.stored, "g")


def test_the_stream_stores_the_map_before_it_commits(tmp_path):
    s = mapped_stream(tmp_path)
    s.producer.next[("a", 0)] = 7  # the target partition held 7 records already
    run(s, records("a", 0, range(0, 50)) + records("b", 1, range(100, 110)), records("a", 0, range(50, 60)))
    s.checkpoint()
    assert [e[0] for e in s.consumer.log] == ["map", "commit"]
    assert s.consumer.commits == [{("a", 0): 60, ("b", 1): 110}]
    mv = stored_map(s)
    assert segs(mv.segments[("a", 0)]) == [(0, 0, 7, 60)] and segs(mv.segments[("b", 1)]) == [(100, 100, 0, 10)]


def test_a_map_that_cannot_be_stored_never_holds_a_commit_back(tmp_path):
    s = mapped_stream(tmp_path)
    s.map_writer.producer.down = True
    run(s, records("a", 0, range(0, 10)))
    s.checkpoint()
    assert s.consumer.commits == [{("a", 0): 10}]  # committed anyway
    s.map_writer.producer.down = False
    s.map_writer.producer.queue.clear()  # what the dead flush left behind was lost
    run(s, records("a", 0, range(10, 20)))
    s.checkpoint()
    assert s.consumer.commits[-1] == {("a", 0): 20} and s.map_writer.producer.stored == []  # not waited for again
    s.map_retry_at = 0  # 30 s later
    run(s, records("a", 0, range(20, 30)))
    s.checkpoint()
    assert segs(stored_map(s).segments[("a", 0)]) == [(0, 0, 0, 30)]  # the next store repairs it: whole state


def test_a_failed_record_leaves_its_partition_out_of_the_map(tmp_path):
    s = mapped_stream(tmp_path)
    s.config = MirrorConfig(consumer={"group.id": "g"}, producer={}, topics=TopicSelection("a|b", None),
                            abort_on_send_failure=False)
    s.producer.fail["a"] = KafkaError(KafkaError._MSG_TIMED_OUT)
    run(s, records("a", 0, range(0, 10)) + records("b", 0, range(0, 10)))
    s.checkpoint()
    assert ("a", 0) not in stored_map(s).segments and ("b", 0) in stored_map(s).segments


def test_the_loop_records_source_gaps_and_another_writer_between_commits(tmp_path):
    s = mapped_stream(tmp_path)
    # two gaps in one pass: 3, 4 and 7, 8 (transaction markers and aborted records)
    run(s, records("a", 0, [0, 1, 2, 5, 6, 9, 10]))
    s.checkpoint()
    s.producer.next[("a", 0)] += 3  # someone else writes three records to the target partition
    run(s, records("a", 0, range(11, 13)))
    s.checkpoint()
    assert segs(stored_map(s).segments[("a", 0)]) == [(0, 0, 0, 3), (3, 5, 3, 2), (7, 9, 5, 2), (11, 11, 10, 2)]
    assert translate(stored_map(s).segments[("a", 0)], 4)[:2] == (3, EXACT)  # a position in the first gap
    assert translate(stored_map(s).segments[("a", 0)], 8)[:2] == (5, EXACT)  # in the second
    assert translate(stored_map(s).segments[("a", 0)], 11)[:2] == (10, EXACT)  # past the foreign records


def exact_everywhere(s: Stream, tp, sources: range) -> None:
    """Every source position of `sources` translates, exactly, to the target offset its record was acknowledged at."""
    segments = stored_map(s).segments[tp]
    at = {}
    for seg in segments:
        at.update({seg.source_start + i: seg.target_start + i for i in range(seg.count)})
    for position in sources:
        assert translate(segments, position)[:2] == (at[position], EXACT), position


def test_a_local_producer_writing_between_our_records_leaves_every_position_exact(tmp_path):
    s = mapped_stream(tmp_path)
    # after every 7th of our records of a[0], a local producer of the secondary writes 3 (active-active)
    s.producer.others[("a", 0)] = lambda n: 3 if n % 7 == 0 else 0
    run(s, records("a", 0, range(0, 50)), records("a", 0, range(50, 100)))
    s.checkpoint()
    run(s, records("a", 0, range(100, 130)))
    s.checkpoint()
    segments = stored_map(s).segments[("a", 0)]
    assert len(segments) == 130 // 7 + 1 and segments[-1].target_end == 130 + 3 * (130 // 7)
    exact_everywhere(s, ("a", 0), range(0, 130))


def test_records_placed_by_key_are_foreign_records_of_the_partition_they_land_in(tmp_path):
    """A topic whose target shows fewer partitions than the source now (partitioning.partition_limits: 0) has every
    record placed by the producer: the map's segment of a partition it kept ends where the placed records begin, and
    says nothing of them."""
    s = mapped_stream(tmp_path)
    run(s, records("a", 0, range(0, 20)))
    s.checkpoint()
    s.limits = {"a": 0, "b": 4}  # the stand-in places by key into a[0]
    large = [Message(topic="a", partition=1, offset=5, key=b"k", value=b"v" * LARGE_RECORD, timestamp=(1, 1))]
    run(s, records("a", 1, range(0, 4)) + large + records("a", 0, range(20, 30)))
    s.checkpoint()
    assert ("a", 1) not in stored_map(s).segments
    assert segs(stored_map(s).segments[("a", 0)]) == [(0, 0, 0, 20)]
    exact_everywhere(s, ("a", 0), range(0, 20))
    assert translate(stored_map(s).segments[("a", 0)], 25)[1] != EXACT  # placed by the producer: not claimed


@pytest.mark.parametrize("abort", [True, False])
def test_the_map_changes_no_commit_decision(tmp_path, abort):
    """The same records and failures, map on and off: the same commits, seeks and stop."""
    from kafka_mirror.errors import SendFailure

    def scenario(mapped: bool):
        s = mapped_stream(tmp_path)
        s.config = MirrorConfig(consumer={"group.id": "g"}, producer={}, topics=TopicSelection("a|b", None),
                                abort_on_send_failure=abort)
        if not mapped:
            s.offset_map = s.map_writer = None
            s.producer.on_delivery = s._delivered
        seeks = []
        s.consumer.seek = lambda tp: seeks.append((tp.topic, tp.partition, tp.offset))
        run(s, records("a", 0, range(0, 50)) + records("b", 1, range(0, 50)))
        s.checkpoint()
        s.producer.fail["a"] = KafkaError(KafkaError.MSG_SIZE_TOO_LARGE)
        run(s, records("a", 0, range(50, 80)), records("a", 0, range(80, 90)) + records("b", 1, range(50, 60)))
        stopped = None
        try:
            s.checkpoint()
        except SendFailure as exc:
            stopped = str(exc)
        return s.consumer.commits, seeks, stopped

    assert scenario(True) == scenario(False)


def test_a_later_copy_that_stops_short_of_an_earlier_one_is_not_chosen():
    """A worker stored its map for 0..199 and its commit failed; the next restarted from 100 and stopped at 120
    (review of issue 11): resuming in the later copy would skip 120..199, which only the first copy holds."""
    segments = [Segment(0, 0, 0, 200), Segment(100, 100, 200, 20)]
    assert translate(segments, 110)[:2] == (110, EXACT)
    segments.append(Segment(120, 120, 220, 100))  # a third writer went on from 120 past the first copy's end
    assert translate(segments, 110)[:2] == (110, EXACT)  # the first copy still reaches furthest among those covering
    assert translate(segments, 150)[:2] == (250, EXACT)  # both cover it: the last written reaching furthest


class ExistingTopicAdmin:
    """A target where the state topic already exists with `policy` (None: the describe is refused)."""

    def __init__(self, policy: str | None) -> None:
        self.policy = policy

    def create_topics(self, topics, request_timeout=None):
        from concurrent.futures import Future

        done: Future = Future()
        done.set_exception(KafkaException(KafkaError(KafkaError.TOPIC_ALREADY_EXISTS)))
        return {t.topic: done for t in topics}

    def describe_configs(self, resources, request_timeout=None):
        from concurrent.futures import Future

        described: Future = Future()
        if self.policy is None:
            described.set_exception(KafkaException(KafkaError(KafkaError.TOPIC_AUTHORIZATION_FAILED)))
        else:
            described.set_result({"cleanup.policy": type("Entry", (), {"value": self.policy})()})
        return {r: described for r in resources}


@pytest.mark.parametrize("policy, says", [
    ("delete", "exists with cleanup.policy=delete: retention will delete"),
    ("compact,delete", None),
    ("compact", None),
    (None, "its cleanup.policy is not checked"),
])
def test_a_state_topic_made_without_compaction_is_named_not_changed(caplog, policy, says):
    from kafka_mirror.offset_map import ensure_topic

    ensure_topic(ExistingTopicAdmin(policy), "kafka-mirror.offset-map", -1)
    warned = [r.getMessage() for r in caplog.records if r.levelname == "WARNING"]
    if says is None:
        assert warned == []
    else:
        assert len(warned) == 1 and says in warned[0] and "kafka-mirror.offset-map" in warned[0]


class RestartingBrokerAdmin:
    """A target whose brokers restart: create_topics fails with `errors` in turn (librdkafka's local errors for a
    connection lost and a broker dropped from the metadata), then creates the topic."""

    def __init__(self, *errors: int) -> None:
        self.errors, self.timeouts = list(errors), []

    def create_topics(self, topics, request_timeout=None):
        from concurrent.futures import Future

        self.timeouts.append(request_timeout)
        answer: Future = Future()
        if self.errors:
            answer.set_exception(KafkaException(KafkaError(self.errors.pop(0))))
        else:
            answer.set_result(None)
        return {t.topic: answer for t in topics}


def test_a_state_topic_is_created_across_a_broker_restart_and_a_refusal_is_raised_at_once(monkeypatch, caplog):
    """The positions topic of a worker started during a rolling restart of the target: _DESTROY_BROKER ("Broker
    handle destroyed without termination") ended the stream on the lab. Asked again within the one timeout."""
    from kafka_mirror import leaders
    from kafka_mirror.offset_map import TIMEOUT_S, ensure_topic

    monkeypatch.setattr(leaders.time, "sleep", lambda s: None)
    # ZooKeeper mode: the controller moved (librdkafka's admin client hands NOT_CONTROLLER back)
    admin = RestartingBrokerAdmin(KafkaError._DESTROY_BROKER, KafkaError._TRANSPORT, KafkaError.NOT_CONTROLLER)
    with caplog.at_level("INFO"):
        ensure_topic(admin, "kafka-mirror.positions", -1)
    assert len(admin.timeouts) == 4 and all(0 < t <= TIMEOUT_S for t in admin.timeouts)
    said = [r.getMessage() for r in caplog.records]
    assert any(m.startswith("creating the topic kafka-mirror.positions: ") for m in said)
    assert "created the topic kafka-mirror.positions (compacted)" in said
    denied = RestartingBrokerAdmin(KafkaError.TOPIC_AUTHORIZATION_FAILED, KafkaError._DESTROY_BROKER)
    with pytest.raises(KafkaException) as raised:
        ensure_topic(denied, "kafka-mirror.positions", -1)
    assert raised.value.args[0].code() == KafkaError.TOPIC_AUTHORIZATION_FAILED and len(denied.timeouts) == 1
