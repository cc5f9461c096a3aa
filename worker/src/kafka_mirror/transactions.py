"""Exactly-once mode: where each source partition resumes, stored on the target inside the data's own transaction.

The consumer group lives on the source and the transaction on the target, so Kafka's own exactly-once handover
(sendOffsetsToTransaction) cannot be used: the group's offsets are not on the cluster the transaction writes to.
Instead, as MirrorMaker 2's exactly-once source tasks store their offsets in the target's offsets topic (KIP-618),
each transaction also writes, into a compacted topic of the target, the source position after the records it holds.
A read_committed reader of the target sees the records and the position together, or neither. On assignment a
stream resumes each partition at its stored position (the source group's own commits, made after each transaction,
are for monitoring and only used where nothing was stored).

Transactional ids are `kafka-mirror.<group.id>.<instance_id>.<stream>.<source cluster id>`: stable across restarts,
so a worker that comes back after kill -9 aborts (fences) what its predecessor left open before it reads the
positions. Positions are keyed by source cluster id and group: two sources may use the same group name.
"""
from __future__ import annotations

import json
import time

from confluent_kafka import Consumer, IsolationLevel, KafkaError, KafkaException, TopicPartition
from confluent_kafka.admin import AdminClient, OffsetSpec

from kafka_mirror.errors import MirrorError
from kafka_mirror.leaders import asked_again

END_TIMEOUT_S = 30.0  # the positions topic's end, asked again while its leader moves (an assignment waits on it)


def transactional_id(group: str, instance_id: str, stream: int, source_id: str) -> str:
    return f"kafka-mirror.{group}.{instance_id}.{stream}.{source_id}"


def position_record(source_id: str, group: str, topic: str, partition: int, offset: int) -> tuple[bytes, bytes]:
    """Key and value of a stored position: one key per source, group and partition (compaction keeps the newest)."""
    key = json.dumps(["pos", source_id, group, topic, partition], separators=(",", ":")).encode()
    value = json.dumps({"v": 1, "offset": offset, "at": int(time.time() * 1000)}, separators=(",", ":")).encode()
    return key, value


def parse_position(key: bytes | None, value: bytes | None, source_id: str,
                   group: str) -> tuple[tuple[str, int], int] | None:
    """(topic, partition), offset of a record of the positions topic, if it is one of this source's and group's."""
    try:
        k = json.loads(key or b"")
        if not (isinstance(k, list) and len(k) == 5 and k[:3] == ["pos", source_id, group]):
            return None
        v = json.loads(value or b"")
        return (str(k[3]), int(k[4])), int(v["offset"])
    except (ValueError, TypeError, KeyError):  # another writer's record: not ours to read
        return None


def read_positions(conf: dict, topic: str, source_id: str, group: str,
                   timeout: float) -> dict[tuple[str, int], int]:
    """Every position this source's `group` stored, as committed transactions left them: read read_committed up to
    the partition's high watermark as it was when the read began. A read_committed reader's end (and the watermark
    its client is told) is the last stable offset, which an open transaction holds back: positions committed after
    it would be missed. `timeout`: beyond transaction.timeout.ms, after which the coordinator aborts a transaction
    whose producer died. Raises MirrorError when the end is not reached in time: an older position copies twice."""
    tp = TopicPartition(topic, 0)

    def end(left: float) -> int:
        latest = admin.list_offsets({tp: OffsetSpec.latest()}, isolation_level=IsolationLevel.READ_UNCOMMITTED,
                                    request_timeout=left)
        return latest[tp].result(timeout=left).offset

    try:  # asked again while the partition's leader moves: a rolling restart of the target must not stop the stream
        admin = AdminClient(conf)
        # All topics' metadata, not the topic's: a producer handle's (the admin client's) named-topic request asks
        # the broker to create it (allow.auto.create.topics, librdkafka src/rdkafka_conf.c), with broker defaults.
        high = asked_again(end, min(timeout, END_TIMEOUT_S), f"the end of the positions topic {topic}",
                           lambda left: admin.list_topics(timeout=left))
    except KafkaException as exc:
        err = exc.args[0]
        if err.code() == KafkaError.UNKNOWN_TOPIC_OR_PART:
            raise MirrorError(f"the positions topic {topic} does not exist on the target") from None
        raise MirrorError(f"reading the end of the positions topic {topic}: {err.str()}") from None
    out: dict[tuple[str, int], int] = {}
    if high <= 0:
        return out
    consumer = Consumer({**conf, "group.id": "kafka-mirror.positions-reader", "enable.auto.commit": False,
                         "isolation.level": "read_committed", "enable.partition.eof": True})
    deadline = time.monotonic() + timeout  # moved on while records arrive: it bounds each wait, not a long scan
    try:
        consumer.assign([TopicPartition(topic, 0, -2)])  # OFFSET_BEGINNING: the whole (compacted) log
        while True:
            reached = -1
            for m in consumer.consume(1000, 0.5):
                err = m.error()
                if err is None:
                    found = parse_position(m.key(), m.value(), source_id, group)
                    if found is not None:
                        out[found[0]] = found[1]
                    deadline = time.monotonic() + timeout
                elif err.code() == KafkaError._PARTITION_EOF:
                    reached = m.offset()  # the fetch position: past aborted records and markers
                elif m.topic() == topic:
                    raise MirrorError(f"reading the positions topic {topic}: {err.str()}")
                # else the client's own (its group's coordinator: it reads by assignment and commits nothing)
            if max(reached, consumer.position([tp])[0].offset) >= high:
                return out
            if time.monotonic() > deadline:
                raise MirrorError(f"the positions topic {topic} could not be read to offset {high} within "
                                  f"{timeout:.0f}s (a transaction still open holds it): not resuming from an older "
                                  "position; check the target's brokers")
    except KafkaException as exc:
        raise MirrorError(f"reading the positions topic {topic}: {exc.args[0].str()}") from None
    finally:
        consumer.close()
