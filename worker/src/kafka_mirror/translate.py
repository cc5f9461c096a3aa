"""`kafka-mirror offsets translate`: where a consumer group of the primary resumes on the secondary.

Works from the secondary alone: the offset map (segments) and the group's committed offsets mirrored by the worker
(sync_groups) are both in the map topic on the target. `--group-offsets primary` reads the group's offsets from the
primary instead, while it is up.

Why any verified copy of a source position is a safe place to resume (nothing skipped): the copy was written by one
producer session, which writes a partition's records in source order and of which what reaches the target is a
prefix (idempotent producer); the partition's next writer (a restart, another member) starts at the group's commit,
which never passes what the target acknowledged. So every source record after the position is on the target after
the copy, once the mirror has copied it; except that a writer may store its map and fail to commit, so the next
one restarts from an older commit and may stop before the first copy's end. So among the copies reaching furthest,
the one written last is chosen: the consumer reads no duplicate it need not, and skips nothing.
"""
from __future__ import annotations

import argparse
import json
import sys
import time
import uuid
from dataclasses import asdict, dataclass
from typing import Optional

from kafka_mirror.offset_map import MapView, Segment

EXACT, INEXACT, UNMAPPED = "exact", "inexact", "unmapped"
TIMEOUT_S = 30.0
READ_DEADLINE_S = 120.0
EXIT_INCOMPLETE = 4  # some partition could not be translated exactly


@dataclass(frozen=True)
class Translation:
    topic: str
    partition: int
    source_offset: int
    target_offset: Optional[int]  # None: no safe position known
    status: str  # exact | inexact (safe, may re-read) | unmapped
    reread_at_most: int = 0  # inexact: source records the consumer may read again
    reason: str = ""


def translate(segments: list[Segment], position: int) -> tuple[Optional[int], str, int, str]:
    """(target offset, status, re-reads at most, reason) for a consumer at source `position` (pure)."""
    if not segments:
        return None, UNMAPPED, 0, "no offset map for this partition (not mirrored yet, offset_map off, or the " \
                                   "target chose partitions by key)"
    covering = [s for s in segments if s.covers(position)]
    if covering:
        # Among the copies reaching furthest, the one written last. A later copy that stops short of an earlier one
        # (its writer restarted from an older commit, then stopped) would skip what only the earlier copy holds.
        furthest = max(s.source_end for s in covering)
        seg = max((s for s in covering if s.source_end == furthest), key=lambda s: s.target_start)
        return seg.target_of(position), EXACT, 0, ""
    below = [s for s in segments if s.source_from <= position]
    if not below:
        first = min(s.source_from for s in segments)
        return None, UNMAPPED, 0, f"the map starts at source offset {first}: earlier records were not mapped (the " \
                                  "mirror or its map started later)"
    # A safe position: the highest mapped one below; reading from it skips nothing and re-reads what lies between.
    best = max(below, key=lambda s: (min(s.source_end, position), s.target_start))
    reached = min(best.source_end, position)
    last = max(s.source_end for s in segments)
    why = "beyond what the map has verified (mirror or map behind the group, or the worker stopped before storing " \
          f"it); mapped up to source offset {last}" if position > last else \
          "in a stretch the map could not verify (another writer between the mirror's records, or a map write lost)"
    return best.target_of(reached), INEXACT, position - reached, why


def translate_group(segments: dict, offsets: dict[tuple[str, int], int]) -> list[Translation]:
    out = []
    for (topic, partition), position in sorted(offsets.items()):
        target, status, reread, reason = translate(segments.get((topic, partition), []), position)
        out.append(Translation(topic, partition, position, target, status, reread, reason))
    return out


def table(group: str, rows: list[Translation], note: str) -> str:
    head = ("TOPIC", "PARTITION", "PRIMARY", "SECONDARY", "STATUS", "NOTE")
    body = [(r.topic, str(r.partition), str(r.source_offset), "-" if r.target_offset is None else str(r.target_offset),
             r.status, (f"may re-read {r.reread_at_most}; " if r.reread_at_most else "") + r.reason) for r in rows]
    widths = [max(len(x) for x in col) for col in zip(head, *body)] if body else [len(h) for h in head]
    lines = [f"group {group}: {note}"]
    lines += ["  ".join(c.ljust(w) for c, w in zip(row, widths)).rstrip() for row in [head, *body]]
    return "\n".join(lines)


# --- I/O ----------------------------------------------------------------------------------------------------------

class MapReader:
    """The map topic read to its end as committed transactions left it (with exactly_once the map is written inside
    the mirror's transactions): read_committed, until the fetch position, which passes aborted records and
    transaction markers, reaches the high watermark as it was when the read began. A transaction still open holds it
    back until it ends (at most transaction.timeout.ms after its worker died). Each read goes on from where the last
    one stopped, and parses only what it reads (the worker reads it again and again, sync_group_offsets)."""

    def __init__(self, conf: dict, topic: str, alias: str) -> None:
        from confluent_kafka import Consumer

        self.topic, self.alias = topic, alias
        self.consumer = Consumer({**conf, "group.id": f"kafka-mirror-translate-{uuid.uuid4().hex[:8]}",
                                  "enable.auto.commit": False, "enable.partition.eof": False,
                                  "auto.offset.reset": "earliest", "isolation.level": "read_committed"})
        self.assigned: set[int] = set()
        self.map = MapView(alias)

    def read(self, deadline_s: float = READ_DEADLINE_S) -> MapView:
        """The map up to the end, within `deadline_s` (every request included); raises LookupError, TimeoutError or
        KafkaException."""
        from confluent_kafka import KafkaException, TopicPartition

        topic, consumer = self.topic, self.consumer
        deadline = time.monotonic() + deadline_s

        def left() -> float:
            return max(0.5, min(TIMEOUT_S, deadline - time.monotonic()))

        md = consumer.list_topics(topic, timeout=left()).topics.get(topic)
        if md is None or md.error is not None:
            raise LookupError(f"the offset map topic {topic} does not exist on the secondary "
                              f"({md.error.str() if md is not None and md.error else 'not found'}): is the worker "
                              "running with offset_map on, and is offset_map_topic the same?")
        new = [TopicPartition(topic, p, -2) for p in md.partitions if p not in self.assigned]  # -2: the beginning
        if new:
            consumer.incremental_assign(new)
            self.assigned.update(tp.partition for tp in new)
        marks = {p: watermarks(consumer, TopicPartition(topic, p), left()) for p in self.assigned}
        at = {tp.partition: tp.offset for tp in consumer.position([TopicPartition(topic, p) for p in marks])}
        if any(at[p] >= 0 and not lo <= at[p] <= hi for p, (lo, hi) in marks.items()):
            # the topic was deleted and made again, or truncated: what was read is not in it any more
            self.map = MapView(self.alias)
            for p in marks:
                consumer.seek(TopicPartition(topic, p, -2))
        ends = {p: hi for p, (lo, hi) in marks.items() if hi > lo}  # an empty partition: nothing to wait for
        while True:
            # before its first fetch a partition's position is OFFSET_INVALID (-1001): below any end
            remaining = {tp.partition for tp in consumer.position([TopicPartition(topic, p) for p in ends])
                         if tp.offset < ends[tp.partition]}
            if not remaining:
                return self.map
            if time.monotonic() > deadline:
                raise TimeoutError(f"the offset map topic {topic} was not read to its end within {deadline_s:.0f}s"
                                   " (a transaction of the mirror still open holds it)")
            for m in consumer.consume(10000, min(1.0, left())):
                if m.error() is not None:
                    raise KafkaException(m.error())
                self.map.apply(m.key(), m.value())

    def close(self) -> None:
        self.consumer.close()


def read_map(conf: dict, topic: str, alias: str, deadline_s: float = READ_DEADLINE_S) -> MapView:
    """The map of `alias` up to the end of the topic at the start of the read (MapReader, once)."""
    reader = MapReader(conf, topic, alias)
    try:
        return reader.read(deadline_s)
    finally:
        reader.close()


def watermarks(consumer, tp, timeout_s: float = TIMEOUT_S) -> tuple[int, int]:
    """A partition's low and high watermarks, asked again while its leadership moves (leaders.py), within
    `timeout_s`."""
    from kafka_mirror.leaders import asked_again

    return asked_again(lambda left: consumer.get_watermark_offsets(tp, timeout=left), timeout_s,
                       f"the watermarks of {tp.topic} [{tp.partition}]")


def primary_offsets(conf: dict, group: str) -> dict[tuple[str, int], int]:
    """The group's committed offsets on every topic of the primary, read now (group_offsets.py: why not through an
    admin client). Topics the mirror does not copy are kept: they come out unmapped, positions a failover loses.
    Retried while the group's coordinator moves, within TIMEOUT_S."""
    from confluent_kafka import KafkaError, KafkaException

    from kafka_mirror.group_offsets import GroupOffsets
    from kafka_mirror.topics import partition_counts

    moving = {KafkaError.NOT_COORDINATOR, KafkaError.COORDINATOR_NOT_AVAILABLE,
              KafkaError.COORDINATOR_LOAD_IN_PROGRESS}

    reader = GroupOffsets(conf)
    deadline = time.monotonic() + TIMEOUT_S
    try:
        while True:
            try:
                topics = partition_counts(reader.consumer(group))
                wanted = [(t, p) for t, n in sorted(topics.items()) if not t.startswith("__") for p in range(n)]
                offsets = reader.read(group, wanted, max(1.0, deadline - time.monotonic()))
                break
            except KafkaException as exc:
                if exc.args[0].code() not in moving or time.monotonic() >= deadline:
                    raise LookupError(f"the primary did not give the committed offsets of group {group} "
                                      f"({exc.args[0].str()}): try again, or translate from the copy in the offset "
                                      "map (--group-offsets map)") from None
                time.sleep(1)
    finally:
        reader.close()
    if not offsets:
        raise LookupError(f"group {group} has no committed offsets on the primary (is the name right?)")
    return offsets


def main(argv: list[str]) -> int:
    from confluent_kafka import KafkaException

    from kafka_mirror import config as config_mod
    from kafka_mirror.errors import ConfigError

    p = argparse.ArgumentParser(prog="kafka-mirror offsets translate",
                                description="Offsets on the secondary at which a consumer group of the primary "
                                            "resumes: nothing skipped, nothing re-read beyond the secondary's own "
                                            "duplicates.")
    p.add_argument("--config", required=True, help="the worker's worker.yaml (the secondary's connection, the map)")
    p.add_argument("--group", required=True, help="the consumer group of the primary")
    p.add_argument("--group-offsets", choices=["map", "primary"], default="map",
                   help="the group's offsets as the worker mirrored them (default; the primary may be gone), or "
                        "read from the primary now")
    p.add_argument("--json", action="store_true", help="one JSON document instead of a table")
    args = p.parse_args(argv)
    try:
        cfg = config_mod.load(["--config", args.config])
        target = cfg.admin("target")
        # a worker killed inside a transaction holds the map's end until the transaction times out
        mv = read_map(target, cfg.offset_map_topic, cfg.source_alias,
                      max(READ_DEADLINE_S, cfg.transaction_timeout_s + 15))
        if args.group_offsets == "primary":
            offsets = primary_offsets(cfg.admin("source"), args.group)
            note = "offsets read from the primary now"
        else:
            stored = mv.groups.get(args.group, {})
            if not stored:
                raise LookupError(f"no offsets of group {args.group} in the offset map {cfg.offset_map_topic}: add "
                                  "it to sync_groups in worker.yaml (the worker then mirrors them), or give "
                                  "--group-offsets primary while the primary is up")
            offsets = {tp: o for tp, (o, _) in stored.items()}
            newest = max(at for _, at in stored.values())
            note = f"offsets as mirrored by the worker, newest {time.time() - newest / 1000:.0f}s ago"
    except ConfigError as exc:
        print(f"kafka-mirror offsets translate: {exc}", file=sys.stderr)
        return exc.exit_code
    except (LookupError, TimeoutError) as exc:
        print(f"kafka-mirror offsets translate: {exc}", file=sys.stderr)
        return 1
    except KafkaException as exc:
        print(f"kafka-mirror offsets translate: {exc.args[0].str()}", file=sys.stderr)
        return 1
    rows = translate_group(mv.segments, offsets)
    if args.json:
        print(json.dumps({"group": args.group, "source_alias": cfg.source_alias, "note": note,
                          "map_records_skipped": mv.skipped, "partitions": [asdict(r) for r in rows]}, indent=1))
    else:
        print(table(args.group, rows, note))
    return 0 if all(r.status == EXACT for r in rows) else EXIT_INCOMPLETE
