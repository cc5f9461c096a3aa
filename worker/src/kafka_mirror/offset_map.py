"""The offset map: where each mirrored source record sits on the target, kept on the target in a compacted topic.

What is recorded: per source partition whose records keep their partition on the target, *segments*. A segment says
that source records `source_start .. source_start+count-1` are target records `target_start ..` in the same order,
with no other record between them; source positions from `source_from` up to `source_start` hold no record (a
transaction marker, an aborted or compacted-away record) and translate to `target_start`. A new segment starts
wherever (target offset - source offset) changes: when the mirror starts or rewinds (once per restart for a plain
topic), at a gap in the source, or where another writer's record lies between two of ours.

How it is known, cheaply: the loop counts, per partition and batch, the records and source gaps it hands over;
the delivery callback, which runs per record anyway, notes where the target offsets of a partition stop being
consecutive (the window's first report, and any record of another writer between two of ours). Delivery reports of
one partition come in the order its records were produced (idempotent producer), so once every record of the window
is acknowledged, the i-th record handed over is the i-th reported: the target runs, laid over the source runs, give
every record's target offset. A window whose reports do not add up (a missing report) records nothing, and nothing is
recorded for a partition blocked by a failure: the map states facts, never plans.

Key: (alias, topic, partition, target_start): unique per segment, stable while the segment grows, so each write
carries the segment's whole state (a lost write is repaired by the next, and compaction keeps the newest, longest
one). Two copies of the same source records (duplicates after a crash) are two segments; both stay.
Group offsets mirrored from the source (sync_groups): key (alias, group, topic, partition), the newest offset.

The map is written by its own producer after the data is acknowledged and before the source offsets are committed,
bounded in time; a map write that fails or times out is logged and retried at the next commit, and never holds a
commit back: it can make translation say "inexact", never lose or stop the mirror.
With exactly_once the segments go into the transaction of the records they map instead (Stream._commit_transaction):
they share its fate, and a map record the target refuses for good turns the map off for the stream.
"""
from __future__ import annotations

import json
import logging
import time
from concurrent.futures import TimeoutError as FutureTimeout
from dataclasses import dataclass, field
from typing import Any, Iterable, Optional

from kafka_mirror.topics import default_replication_factor

log = logging.getLogger("kafka_mirror.offset_map")
DEFAULT_TOPIC = "kafka-mirror.offset-map"
FORMAT = 1
MAP_FLUSH_S = 10.0
TIMEOUT_S = 30.0
TopicPartition = tuple[str, int]


@dataclass
class Segment:
    source_from: int  # first source position this segment answers for (<= source_start)
    source_start: int  # source offset of the first record
    target_start: int  # its offset on the target (same topic, same partition)
    count: int  # records, consecutive on both sides

    @property
    def source_end(self) -> int:
        """The position after the last record (a consumer's committed offset after reading it)."""
        return self.source_start + self.count

    @property
    def target_end(self) -> int:
        return self.target_start + self.count

    def covers(self, position: int) -> bool:
        return self.source_from <= position <= self.source_end

    def target_of(self, position: int) -> int:
        """Where a consumer at source `position` resumes on the target (position must be covered)."""
        return self.target_start + max(0, position - self.source_start)


@dataclass
class Batch:
    """What one consume() batch handed over for one partition: first/last offsets, count, gaps (written by the
    stream's loop, record by record, without a call: Stream._pass)."""

    first: int
    last: int
    count: int
    gaps: Optional[list] = None  # [(last record before a gap, first record after it)], in order

    def runs(self) -> list[tuple[int, int]]:
        """(start, length) of the source runs without gaps."""
        if not self.gaps:
            return [(self.first, self.count)]
        starts = [self.first] + [after for _, after in self.gaps]
        ends = [before for before, _ in self.gaps] + [self.last]
        return [(s, e - s + 1) for s, e in zip(starts, ends)]


def target_runs(starts: list[tuple[int, int]], tail: int) -> list[tuple[int, int]]:
    """(start, length) of the target runs of one partition's window. `starts`: (the offset reported before, the
    offset that broke the run) in report order, the first being the window's first report; `tail`: the last one."""
    ends = [before for before, _ in starts[1:]] + [tail]
    return [(start, end - start + 1) for (_, start), end in zip(starts, ends)]


@dataclass
class PartitionMap:
    """One source partition's window (batches since the last settle) and the segment its next records extend."""

    batches: list = field(default_factory=list)
    open: Optional[Segment] = None  # the segment holding the last record handed over, when verified

    def add(self, batch: Batch) -> None:
        self.batches.append(batch)

    def reset(self) -> None:
        """Records given up (purged, rewound, revoked): what follows starts a new segment."""
        self.batches, self.open = [], None

    def settle(self, starts: Optional[list[tuple[int, int]]], tail: Optional[int]) -> list[Segment]:
        """Every record of the window acknowledged; `starts` and `tail` from the delivery reports (target_runs).
        Returns the segments created or grown."""
        batches, self.batches = self.batches, []
        if not batches:
            return []
        sources = [run for b in batches for run in b.runs()]
        targets = target_runs(starts, tail) if starts and tail is not None else []
        if sum(n for _, n in targets) != sum(n for _, n in sources):
            self.open = None  # a report is missing: nothing of the window can be verified
            return []
        changed: list[Segment] = []
        runs = iter(targets)
        target, room = 0, 0
        for start, length in sources:
            while length:
                if not room:
                    target, room = next(runs)
                n = min(length, room)
                seg = self.open
                if seg is not None and start == seg.source_end and target == seg.target_end:
                    seg.count += n
                    if not changed or changed[-1] is not seg:
                        changed.append(seg)
                else:
                    # The previous record handed over is `seg`'s last: nothing lies between it and `start` in the
                    # source, so positions up to `start` resume at `target`.
                    after = seg is not None and start >= seg.source_end
                    seg = self.open = Segment(seg.source_end if after else start, start, target, n)
                    changed.append(seg)
                start, length, target, room = start + n, length - n, target + n, room - n
        return changed


class OffsetMap:
    """All partitions of one stream: fed by the loop and the delivery reports, settled before each commit."""

    def __init__(self) -> None:
        self.partitions: dict[TopicPartition, PartitionMap] = {}
        self.tails: dict[TopicPartition, int] = {}  # last target offset reported per (topic, partition)
        self.starts: dict[TopicPartition, list] = {}  # where the reported target offsets broke their run
        self.dirty: dict[tuple[str, int, int], Segment] = {}  # (topic, partition, target_start) -> not yet stored

    def handed(self, batches: dict[TopicPartition, Batch]) -> None:
        for tp, batch in batches.items():
            pm = self.partitions.get(tp)
            if pm is None:
                pm = self.partitions[tp] = PartitionMap()
            pm.add(batch)

    def delivered(self, tp: TopicPartition, offset: int) -> None:
        """One of our records of `tp` acknowledged at `offset` (the delivery callback, for every record)."""
        if offset < 0:  # no offset known (an old broker's DUPLICATE_SEQUENCE_NUMBER): the window's sum fails
            return
        before = self.tails.get(tp, -2)
        if before != offset - 1:
            self.starts.setdefault(tp, []).append((before, offset))
        self.tails[tp] = offset

    def reset(self, tps: Iterable[TopicPartition]) -> None:
        for tp in tps:
            pm = self.partitions.pop(tp, None)
            self.tails.pop(tp, None)
            self.starts.pop(tp, None)
            if pm is not None:
                pm.reset()

    def reset_all(self) -> None:
        """Everything the producer held is gone: every partition starts over, and reports already noted (of
        partitions released since) are forgotten."""
        self.reset(list(self.partitions))
        self.tails.clear()
        self.starts.clear()

    def settle(self, blocked: Iterable[TopicPartition]) -> None:
        """After a flush that left nothing unacknowledged: verify each window; blocked partitions start over."""
        self.reset([tp for tp in blocked if tp in self.partitions])
        for tp, pm in self.partitions.items():
            for seg in pm.settle(self.starts.get(tp), self.tails.get(tp)):
                self.dirty[(tp[0], tp[1], seg.target_start)] = seg
        self.tails.clear()
        self.starts.clear()


# --- on the wire: JSON keys and values, readable with kafka-console-consumer --------------------------------------

def segment_record(alias: str, topic: str, partition: int, seg: Segment) -> tuple[bytes, bytes]:
    key = ["seg", alias, topic, partition, seg.target_start]
    value = {"v": FORMAT, "from": seg.source_from, "start": seg.source_start, "target": seg.target_start,
             "count": seg.count, "at": int(time.time() * 1000)}
    return _dump(key), _dump(value)


def group_record(alias: str, group: str, topic: str, partition: int, offset: int) -> tuple[bytes, bytes]:
    return _dump(["group", alias, group, topic, partition]), \
        _dump({"v": FORMAT, "offset": offset, "at": int(time.time() * 1000)})


def _dump(obj: Any) -> bytes:
    return json.dumps(obj, separators=(",", ":")).encode()


@dataclass
class MapView:
    """The map as read back for one source alias: the newest value per key (as compaction keeps it), tombstones
    applied, each record parsed once as it is applied (the worker reads the map again and again)."""

    alias: str
    by_partition: dict = field(default_factory=dict)  # (topic, partition) -> {target_start: Segment}
    groups: dict = field(default_factory=dict)  # group -> {(topic, partition): (offset, at_ms)}
    bad: set = field(default_factory=set)  # keys whose newest value is not understood

    @property
    def skipped(self) -> int:
        """Records not understood (another format version of this alias, garbage)."""
        return len(self.bad)

    @property
    def segments(self) -> dict[TopicPartition, list[Segment]]:
        return {tp: sorted(segs.values(), key=lambda s: s.target_start) for tp, segs in self.by_partition.items()}

    def apply(self, key: Optional[bytes], value: Optional[bytes]) -> None:
        if key is None:
            return
        try:
            k = json.loads(key)
            if k[1] != self.alias:
                return
            if k[0] == "seg":  # alias, topic, partition, target_start
                owner, slots, name = (k[2], int(k[3])), self.by_partition, int(k[4])
            elif k[0] == "group":  # alias, group, topic, partition
                owner, slots, name = k[2], self.groups, (k[3], int(k[4]))
            else:
                raise ValueError(k[0])
        except (ValueError, KeyError, IndexError, TypeError):
            self.bad.add(key)
            return
        self.bad.discard(key)
        slot = slots.get(owner, {})
        slot.pop(name, None)
        if value is not None:  # else a tombstone
            try:
                v = json.loads(value)
                if v.get("v") != FORMAT:
                    raise ValueError("another format version")
                slot[name] = Segment(int(v["from"]), int(v["start"]), int(v["target"]), int(v["count"])) \
                    if k[0] == "seg" else (int(v["offset"]), int(v["at"]))
            except (ValueError, KeyError, TypeError, AttributeError):
                self.bad.add(key)
        if slot:
            slots[owner] = slot
        else:
            slots.pop(owner, None)


def view(records: Iterable[tuple[Optional[bytes], Optional[bytes]]], alias: str) -> MapView:
    """The map of `records`, in log order."""
    out = MapView(alias)
    for key, value in records:
        out.apply(key, value)
    return out


# --- I/O: the map topic and its writer --------------------------------------------------------------------------

def ensure_topic(admin, topic: str, replication_factor: int, configs: dict[str, str] | None = None) -> None:
    """Create a compacted state topic of the mirror's (the map, the positions): one partition, its volume is tiny and
    one log keeps updates in order. `configs`: the topic's configs, compaction only by default."""
    from confluent_kafka import KafkaError, KafkaException
    from confluent_kafka.admin import NewTopic

    from kafka_mirror.leaders import asked_again

    new = NewTopic(topic, num_partitions=1, replication_factor=replication_factor,
                   config=configs or {"cleanup.policy": "compact"})

    try:  # asked again while a broker restarts: a worker started during a rolling restart of the target goes on
        asked_again(lambda left: admin.create_topics([new], request_timeout=left)[topic].result(timeout=left),
                    TIMEOUT_S, f"creating the topic {topic}")
        log.info("created the topic %s (compacted)", topic)
    except KafkaException as exc:
        code = exc.args[0].code()
        if code == KafkaError._UNSUPPORTED_FEATURE and replication_factor == -1:  # before Kafka 2.4 (KIP-464)
            rf = default_replication_factor(admin)
            if rf != -1:
                ensure_topic(admin, topic, rf, configs)
                return
        if code != KafkaError.TOPIC_ALREADY_EXISTS:
            raise
        check_compacted(admin, topic)


def check_compacted(admin, topic: str) -> None:
    """A state topic made by someone else: without compaction, retention deletes what it holds (the map's old
    segments: translation says unmapped; stored positions: a restart resumes at the source group's commit). Said,
    not changed: the topic is the operator's."""
    from confluent_kafka import KafkaException
    from confluent_kafka.admin import ConfigResource, ResourceType

    resource = ConfigResource(ResourceType.TOPIC, topic)
    try:
        configs = admin.describe_configs([resource], request_timeout=TIMEOUT_S)[resource].result(timeout=TIMEOUT_S)
    except (KafkaException, FutureTimeout) as exc:
        log.warning("cannot read the configs of the topic %s (%s): its cleanup.policy is not checked", topic,
                    exc.args[0].str() if isinstance(exc, KafkaException) else "no answer")
        return
    entry = configs.get("cleanup.policy")
    policy = entry.value if entry is not None else "delete"
    if "compact" not in (policy or ""):
        log.warning("the topic %s exists with cleanup.policy=%s: retention will delete what the mirror keeps there; "
                    "set cleanup.policy=compact on it (kafka-configs.sh --alter --entity-type topics --entity-name "
                    "%s --add-config cleanup.policy=compact)", topic, policy, topic)


class MapWriter:
    """Writes the map with a producer of its own, so that the data path's flush never waits for it."""

    def __init__(self, producer, topic: str, alias: str) -> None:
        self.producer = producer
        self.topic = topic
        self.alias = alias
        self.failed = 0
        self.last_error = ""
        self.groups: dict[tuple[str, str, int], int] = {}  # what was last stored per group partition

    def _done(self, err, msg) -> None:
        if err is not None:
            self.failed += 1
            self.last_error = err.str()

    def store(self, records: list[tuple[bytes, bytes]], timeout: float = MAP_FLUSH_S) -> bool:
        """Produce and flush, bounded; True when the target acknowledged every record."""
        from confluent_kafka import KafkaException

        self.failed = 0
        try:
            for key, value in records:
                while True:
                    try:
                        self.producer.produce(self.topic, value, key, on_delivery=self._done)
                        break
                    except BufferError:
                        if self.producer.flush(timeout):
                            return False
            left = self.producer.flush(timeout)
        except KafkaException as exc:
            self.last_error = exc.args[0].str()
            return False
        if left:
            self.last_error = f"{left} record(s) not acknowledged within {timeout:.0f}s"
        return not left and not self.failed

    def segment_records(self, dirty: dict) -> list[tuple[bytes, bytes]]:
        return [segment_record(self.alias, t, p, seg) for (t, p, _), seg in dirty.items()]

    def store_segments(self, dirty: dict) -> bool:
        if not dirty:
            return True
        if self.store(self.segment_records(dirty)):
            dirty.clear()
            return True
        return False

    def store_groups(self, offsets: dict[tuple[str, str, int], int]) -> bool:
        """(group, topic, partition) -> offset; only what changed since the last successful write."""
        changed = {k: o for k, o in offsets.items() if self.groups.get(k) != o}
        if not changed:
            return True
        if self.store([group_record(self.alias, g, t, p, o) for (g, t, p), o in changed.items()]):
            self.groups.update(changed)
            return True
        return False
