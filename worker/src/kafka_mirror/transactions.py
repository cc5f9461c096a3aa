"""Exactly-once mode: where each source partition resumes, stored on the target inside the data's own transaction.

The consumer group lives on the source and the transaction on the target, so Kafka's own exactly-once handover
(sendOffsetsToTransaction) cannot be used: the group's offsets are not on the cluster the transaction writes to.
Instead, as MirrorMaker 2's exactly-once source tasks store their offsets in the target's offsets topic (KIP-618),
each transaction also writes, into a compacted topic of the target, the source position after the records it holds.
A read_committed reader of the target sees the records and the position together, or neither. On assignment a
stream resumes each partition at its stored position (the source group's own commits, made after each transaction,
are for monitoring and only used where nothing was stored).

Transactional ids are `kafka-mirror.<group.id>.<instance_id>.<stream>`: stable across restarts, so a worker that
comes back after kill -9 aborts (fences) what its predecessor left open before it reads the positions.
"""
from __future__ import annotations

import json
import time

from confluent_kafka import Consumer, KafkaError, KafkaException, TopicPartition

from kafka_mirror.errors import MirrorError

POSITIONS_TOPIC = "kafka-mirror.positions"
# A killed worker's open transaction holds the positions' last stable offset until its successor (same transactional
# id) aborts it, or until the coordinator does after transaction.timeout.ms (librdkafka's default: 60 s).
READ_TIMEOUT_S = 75.0


def transactional_id(group: str, instance_id: str, stream: int) -> str:
    return f"kafka-mirror.{group}.{instance_id}.{stream}"


def position_record(group: str, topic: str, partition: int, offset: int) -> tuple[bytes, bytes]:
    """Key and value of a stored position: one key per group and source partition (compaction keeps the newest)."""
    key = json.dumps(["pos", group, topic, partition], separators=(",", ":")).encode()
    value = json.dumps({"v": 1, "offset": offset, "at": int(time.time() * 1000)}, separators=(",", ":")).encode()
    return key, value


def parse_position(key: bytes | None, value: bytes | None, group: str) -> tuple[tuple[str, int], int] | None:
    """(topic, partition), offset of a record of the positions topic, if it is one of `group`'s."""
    try:
        k = json.loads(key or b"")
        if not (isinstance(k, list) and len(k) == 4 and k[0] == "pos" and k[1] == group):
            return None
        v = json.loads(value or b"")
        return (str(k[2]), int(k[3])), int(v["offset"])
    except (ValueError, TypeError, KeyError):  # another writer's record: not ours to read
        return None


def read_positions(conf: dict, topic: str, group: str, timeout: float = READ_TIMEOUT_S) -> dict[tuple[str, int], int]:
    """Every position `group` stored, as committed transactions left them: read_committed, to the partition's end and
    not only to its last stable offset (positions committed after a transaction still open lie beyond that). Raises
    MirrorError when the topic cannot be read to its end in time: resuming from an older position copies twice."""
    consumer = Consumer({**conf, "group.id": f"{group}.positions-reader", "enable.auto.commit": False,
                         "enable.partition.eof": True, "isolation.level": "read_committed",
                         "auto.offset.reset": "earliest"})
    out: dict[tuple[str, int], int] = {}
    deadline = time.monotonic() + timeout
    try:
        consumer.assign([TopicPartition(topic, 0, -2)])  # OFFSET_BEGINNING: the whole (compacted) log
        while True:
            if time.monotonic() > deadline:
                raise MirrorError(f"the positions topic {topic} could not be read to its end within {timeout:.0f}s: "
                                  "not resuming from a guess; check the target's brokers")
            m = consumer.poll(0.5)
            if m is None:
                continue
            err = m.error()
            if err is not None:
                if err.code() == KafkaError._PARTITION_EOF:
                    high = consumer.get_watermark_offsets(TopicPartition(topic, 0), timeout=10, cached=False)[1]
                    if m.offset() >= high:  # the event's offset: where the read stopped
                        return out
                    continue  # stopped at an open transaction: wait for its end
                if err.code() == KafkaError.UNKNOWN_TOPIC_OR_PART:
                    raise MirrorError(f"the positions topic {topic} does not exist on the target")
                raise MirrorError(f"reading the positions topic {topic}: {err.str()}")
            found = parse_position(m.key(), m.value(), group)
            if found is not None:
                out[found[0]] = found[1]
    except KafkaException as exc:
        raise MirrorError(f"reading the positions topic {topic}: {exc.args[0].str()}") from None
    finally:
        consumer.close()
