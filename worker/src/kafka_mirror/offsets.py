"""Which source offsets may be committed: the one place that decides it, for every path (pure, no I/O).

The loop hands records to the producer and notes, per source partition, the offset after the last one handed over.
Every path that commits (the periodic checkpoint, a revoke, the final stop) first flushes the producer and asks
`plan()`. A partition is committed past a record only when that record was acknowledged by the target:
- records still unacknowledged after the flush (`in_flight`): nothing is committed at all;
- a failed record blocks its partition (its whole topic when the target partition was chosen by key, since the
  failed record's source partition is then unknown) until the partition is rewound or given up. A blocked
  partition is committed at most up to the failed record when its offset is known, else not at all. The block is
  sticky: stop, revoke and close all plan through here, so none of them can commit past it.
"""
from __future__ import annotations

from dataclasses import dataclass, field

TopicPartition = tuple[str, int]


@dataclass(frozen=True)
class Failure:
    """A record the target did not accept."""

    topic: str
    partition: int | None  # source partition; None: chosen by key on the target, so any partition of the topic
    offset: int | None  # source offset when known (rejected before sending, or tracked because it is large)
    size: int
    error: str  # librdkafka's error name, e.g. MSG_SIZE_TOO_LARGE
    reason: str  # librdkafka's text
    count: int = 1  # records of this partition that failed with this error in one report


@dataclass
class OffsetTracker:
    pending: dict[TopicPartition, int] = field(default_factory=dict)  # next offset after what was handed over
    committed: dict[TopicPartition, int] = field(default_factory=dict)  # what this member committed
    start: dict[TopicPartition, int] = field(default_factory=dict)  # first offset handed over since assignment
    failures: list[Failure] = field(default_factory=list)  # since the last rewind, oldest first

    def handed_over(self, latest: dict[TopicPartition, int], first: dict[TopicPartition, int]) -> None:
        """`latest`/`first`: the offsets of the last/first record of a batch per partition."""
        for tp, offset in latest.items():
            self.pending[tp] = offset + 1
            if tp not in self.start:
                self.start[tp] = first[tp]

    def needs_start(self, tps) -> bool:
        return any(tp not in self.start for tp in tps)

    def failed(self, failure: Failure) -> None:
        self.failures.append(failure)

    def blocked(self) -> dict[TopicPartition, int | None]:
        """Partitions with a failed record: the earliest failed offset when known, else None."""
        out: dict[TopicPartition, int | None] = {}
        for f in self.failures:
            tps = [(f.topic, f.partition)] if f.partition is not None else \
                [tp for tp in self.pending if tp[0] == f.topic]
            for tp in tps:
                if tp not in out:
                    out[tp] = f.offset
                elif out[tp] is not None:
                    out[tp] = None if f.offset is None else min(out[tp], f.offset)
        return out

    def plan(self, in_flight: int = 0, only: list[TopicPartition] | None = None) -> dict[TopicPartition, int]:
        """Offsets that may be committed now (after a flush that left `in_flight` records unacknowledged)."""
        if in_flight:
            return {}
        blocked = self.blocked()
        out = {}
        for tp, offset in self.pending.items():
            if only is not None and tp not in only:
                continue
            if tp in blocked:
                if blocked[tp] is None:
                    continue
                # Resume at the failed record (what came before it is not mirrored twice), never past what was
                # handed over since the partition was last rewound.
                offset = min(offset, blocked[tp])
            if self.committed.get(tp) != offset:
                out[tp] = offset
        return out

    def committed_ok(self, offsets: dict[TopicPartition, int]) -> None:
        """Stored by the group. Never moves a partition back: a commit sent without waiting can be answered after a
        later one."""
        for tp, offset in offsets.items():
            if offset > self.committed.get(tp, -1):
                self.committed[tp] = offset

    def rewind(self, tps: list[TopicPartition] | None = None) -> dict[TopicPartition, int]:
        """Where to seek partitions that must be mirrored again (the blocked ones by default): their last commit,
        else the first offset handed over since assignment. Their failures are cleared."""
        targets = list(self.blocked()) if tps is None else tps
        out = {}
        for tp in targets:
            if tp in self.pending:
                out[tp] = self.committed.get(tp, self.start[tp])
                del self.pending[tp]
        gone = {tp[0] for tp in targets}
        self.failures = [f for f in self.failures
                         if not ((f.topic, f.partition) in targets or (f.partition is None and f.topic in gone))]
        self._drop_orphans()
        return out

    def forget(self, partitions: list[TopicPartition]) -> None:
        """Partitions no longer ours (revoked or lost): their new owner continues from what was committed."""
        for tp in partitions:
            self.pending.pop(tp, None)
            self.committed.pop(tp, None)
            self.start.pop(tp, None)
        self.failures = [f for f in self.failures if f.partition is None or (f.topic, f.partition) not in partitions]
        self._drop_orphans()

    def _drop_orphans(self) -> None:
        """A failure of a record placed by the producer blocks every pending partition of its topic: with none left
        here it blocks nothing, and kept it would hold the stream failing with nothing to rewind."""
        topics = {tp[0] for tp in self.pending}
        self.failures = [f for f in self.failures if f.partition is not None or f.topic in topics]
