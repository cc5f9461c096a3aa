"""Target partition of a mirrored record: the source partition when the target has at least as many partitions,
otherwise librdkafka's murmur2 on the key (Java's default partitioner, as MirrorMaker 1)."""
from __future__ import annotations

UNASSIGNED = -1  # RD_KAFKA_PARTITION_UA: let the producer's partitioner (murmur2_random) choose


def keeps_partition(source_partitions: int, target_partitions: int) -> bool:
    return target_partitions >= source_partitions


def target_partition(source_partition: int, keep: bool) -> int:
    return source_partition if keep else UNASSIGNED
