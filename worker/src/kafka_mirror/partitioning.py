"""Which target partition a mirrored record goes to: the one place that decides it (pure).

`source` (the default) keeps a record's source partition when the target topic has at least as many partitions;
otherwise, and always with `producer`, the producer's partitioner places it: `murmur2_random` (PRODUCER_DEFAULTS,
unless producer.properties sets `partitioner`), Java's default for keyed records, so a key lands where a Java
producer would put it. Records without a key stay on one partition for `sticky.partitioning.linger.ms`: librdkafka
src/rdkafka_topic.c makes every partitioner but `consistent`, `murmur2` and `fnv1a` sticky while that setting is
above 0, and src/rdkafka_msg.c (rd_kafka_msg_partitioner) applies it to NULL keys (and to empty ones under
`consistent_random`); Kafka 3.9's Java producer keeps a partition for batch.size bytes (apache/kafka
clients/.../producer/internals/BuiltInPartitioner.java). That is MirrorMaker 1's placement: fewer and fuller produce
requests (librdkafka sends one partition per ProduceRequest, confluentinc/librdkafka#1700). It gives up order per
source partition (order per key remains while a key stays in one source partition and the target's partition count
does not change), and target offsets that follow the source's, which the offset map needs.
"""
from __future__ import annotations

from collections.abc import Collection

UNASSIGNED = -1  # RD_KAFKA_PARTITION_UA: let the producer's partitioner (murmur2_random) choose
HOLD_ALL = -1  # a limit no partition is below, and not 0: every record of the topic waits (a target topic not made yet)
MODES = ("source", "producer")


def partition_limits(source: dict[str, int], target: dict[str, int], mode: str,
                     growing: Collection[str] = ()) -> dict[str, int]:
    """Per source topic, the source partitions below which a record keeps its partition (0: the producer places
    every record of the topic). A record at or above a limit that is not 0 waits for the next read
    (mirror.Stream._hold_ahead): its partition is one the source gained after these counts were read, or one of a
    target topic `growing` (asked to be made or grown, not yet seen so), whose limit is the target's count meanwhile
    (HOLD_ALL while it has none). A target that stays short (the growth refused, or no creation asked) has the
    producer place the topic's records. `mode` is one of MODES (config.load checks it)."""
    if mode == "producer":
        return dict.fromkeys(source, 0)
    limits = {}
    for t, n in source.items():
        have = target.get(t, 0)
        limits[t] = have if have >= n else (have or HOLD_ALL) if t in growing else 0
    return limits
