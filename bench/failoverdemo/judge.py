"""What a failed-over group read on the secondary, judged against what it had read on the primary: pure."""
from __future__ import annotations

from collections import Counter
from dataclasses import asdict, dataclass

Record = tuple[int, int]  # (source partition, sequence within it): the stream's identity of a record


@dataclass(frozen=True)
class Verdict:
    read_on_primary: int  # records the group had processed on the primary before the failover
    read_on_secondary: int  # records it read on the secondary after it, repeats included
    skipped: int  # records after its position that the secondary holds and the group never read
    reread: int  # records it had processed on the primary, read again on the secondary
    read_twice: int  # records after its position read more than once on the secondary (the target's duplicates)
    target_duplicates: int  # extra copies the secondary holds of records after the position: read_twice's bound
    target_duplicates_before: int  # extra copies of records before the position (a failover lands past them, or not)
    not_mirrored: int  # records after the position the secondary does not hold by the end (the mirror's loss)
    exact_starts: int  # partitions whose first record read is the one after the group's position on the primary
    partitions: int

    def to_json(self) -> dict:
        return asdict(self)


def judge(source: set[Record], processed: set[Record], reads: list[Record], target: list[Record]) -> Verdict:
    """`source`: every record of the primary's topic at the end; `processed`: those the group read there;
    `reads`: what the group read on the secondary, in order; `target`: every record the secondary holds."""
    seen: set[Record] = set()
    reread = twice = 0
    first: dict[int, int] = {}
    for r in reads:
        first.setdefault(r[0], r[1])
        if r in processed:
            reread += 1
        elif r in seen:
            twice += 1
        else:
            seen.add(r)
    held = Counter(target)
    after = source - processed
    next_of: dict[int, int] = {}
    for p, seq in after:
        next_of[p] = min(seq, next_of.get(p, seq))
    partitions = {p for p, _ in source}
    return Verdict(
        read_on_primary=len(processed), read_on_secondary=len(reads),
        skipped=sum(1 for r in after - seen if held[r]), reread=reread, read_twice=twice,
        target_duplicates=sum(n - 1 for r, n in held.items() if r in after and n > 1),
        target_duplicates_before=sum(n - 1 for r, n in held.items() if r in processed and n > 1),
        not_mirrored=sum(1 for r in after if not held[r]),
        exact_starts=sum(1 for p in partitions if p in first and first[p] == next_of.get(p)),
        partitions=len(partitions))
