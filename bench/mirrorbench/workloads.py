"""The workloads: what each record looks like, so that every mirrored record can be traced to its source.

Each value starts with its source partition and its sequence within that partition; a target record therefore
tells which source record it is, whatever partition a tool wrote it to (MirrorMaker 1 repartitions).
"""
from __future__ import annotations

import random
import struct
from dataclasses import dataclass

ID = struct.Struct(">IQ")  # source partition, sequence within that partition
SEQ = struct.Struct(">Q")
PART = struct.Struct(">I")
FILL = random.Random(20261121).randbytes(4096)  # incompressible, the same for every run
TRACE = bytes(range(16))


@dataclass(frozen=True)
class Workload:
    name: str
    topic: str
    records: int
    value_size: int
    keys_headers: bool = False
    partitions: int = 8
    replication_factor: int = 2

    def __post_init__(self) -> None:
        if self.value_size < ID.size:
            raise ValueError(f"value_size must be at least {ID.size} bytes to carry the record's identity")

    def per_partition(self) -> list[int]:
        """Records per source partition (the preload writes record i to partition i % partitions)."""
        base, extra = divmod(self.records, self.partitions)
        return [base + (1 if p < extra else 0) for p in range(self.partitions)]

    @property
    def record_bytes(self) -> int:
        """Bytes a tool moves per record: key, value and headers (names and values); the unit of MB/s and CPU/GB."""
        if not self.keys_headers:
            return self.value_size
        key, value, headers = record(self, 0, 0)
        return len(key) + len(value) + sum(len(k) + len(v) for k, v in headers)


def record(w: Workload, partition: int, seq: int) -> tuple[bytes | None, bytes, list[tuple[str, bytes]] | None]:
    value = ID.pack(partition, seq) + FILL[: w.value_size - ID.size]
    if not w.keys_headers:
        return None, value, None
    return key_of(partition, seq), value, headers_of(partition, seq)


def key_of(partition: int, seq: int) -> bytes:
    return b"k%02d-%012d" % (partition, seq)


def headers_of(partition: int, seq: int) -> list[tuple[str, bytes]]:
    return [("bench-seq", SEQ.pack(seq)), ("bench-partition", PART.pack(partition)), ("trace-id", TRACE)]


def identity(value: bytes) -> tuple[int, int]:
    return ID.unpack_from(value)


FULL = (
    Workload("100 B", "bench-100b", 2_000_000, 100),
    Workload("1 KiB", "bench-1kib", 500_000, 1024),
    Workload("keys+headers", "bench-keyed", 1_000_000, 100, keys_headers=True),
)
# `--quick`: the 100-byte workload at half the size, so that the whole quick run stays under 5 minutes.
QUICK = Workload("100 B", "bench-100b-quick", 1_000_000, 100)
