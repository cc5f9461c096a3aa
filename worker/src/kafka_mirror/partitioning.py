"""Which target partition a mirrored record goes to: the one place that decides it (pure).

`source` (the default) keeps a record's source partition when the target topic has at least as many partitions;
otherwise, and always with `producer`, librdkafka's partitioner places it: `murmur2_random` (PRODUCER_DEFAULTS),
Java's default for keyed records, so a key lands where a Java producer would put it; records without a key stay on
one partition for `sticky.partitioning.linger.ms` (confluentinc/librdkafka src/rdkafka_msg.c,
rd_kafka_msg_partitioner: every partitioner but `random` goes sticky for a NULL key), as Kafka 3.9's Java producer
does for batch.size bytes (apache/kafka clients/.../producer/internals/BuiltInPartitioner.java). That is MirrorMaker 1's
placement: fewer and fuller produce requests (librdkafka sends one partition per ProduceRequest,
confluentinc/librdkafka#1700), and no order across a keyless source partition's records, nor offsets the offset map
could follow (bench/README.md, issue 13).
"""
from __future__ import annotations

UNASSIGNED = -1  # RD_KAFKA_PARTITION_UA: let the producer's partitioner (murmur2_random) choose
MODES = ("source", "producer")


def partition_limits(source: dict[str, int], target: dict[str, int], mode: str) -> dict[str, int]:
    """Per source topic, the source partitions below which a record keeps its partition (0: the producer places
    every record of the topic)."""
    if mode not in MODES:
        raise ValueError(f"partitioning must be one of {', '.join(MODES)}, not {mode!r}")
    if mode == "producer":
        return dict.fromkeys(source, 0)
    return {t: (target[t] if target.get(t, 0) >= n else 0) for t, n in source.items()}
