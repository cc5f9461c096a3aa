"""Which source offsets may be committed: only past records the target acknowledged (pure, no I/O).

The loop hands records to the producer and notes, per source partition, the offset after the last one. At a
checkpoint the producer is flushed: every record handed over is then acknowledged or failed. Partitions of a topic
with a failed record are not committed; they are rewound to their last commit instead, so nothing is skipped.
"""
from __future__ import annotations

from dataclasses import dataclass, field

TopicPartition = tuple[str, int]


@dataclass
class OffsetTracker:
    pending: dict[TopicPartition, int] = field(default_factory=dict)  # next offset after what was handed over
    committed: dict[TopicPartition, int] = field(default_factory=dict)

    def handed_over(self, latest: dict[TopicPartition, int]) -> None:
        """`latest`: the offset of the last record of a batch per partition."""
        for tp, offset in latest.items():
            self.pending[tp] = offset + 1

    def commit_plan(self, failed_topics: set[str]) -> dict[TopicPartition, int]:
        """Offsets to commit after a flush, leaving out topics with a failed record and what is already committed."""
        return {tp: off for tp, off in self.pending.items()
                if tp[0] not in failed_topics and self.committed.get(tp) != off}

    def committed_ok(self, offsets: dict[TopicPartition, int]) -> None:
        self.committed.update(offsets)

    def rewind(self, failed_topics: set[str]) -> dict[TopicPartition, int | None]:
        """Where to seek the failed topics' partitions: their last commit (None = the group's committed offset)."""
        out = {tp: self.committed.get(tp) for tp in self.pending if tp[0] in failed_topics}
        for tp in out:
            del self.pending[tp]
        return out

    def forget(self, partitions: list[TopicPartition]) -> None:
        """Revoked partitions: another member continues from what was committed."""
        for tp in partitions:
            self.pending.pop(tp, None)
            self.committed.pop(tp, None)
