"""Calls asked again while the group's coordinator moves (NOT_COORDINATOR and kin, seen in CI after the brokers'
leaders move), a partition's leader moves (LEADER_MOVING: UNKNOWN_LEADER_EPOCH on a ListOffsets, seen in a
clean-clone run; the lab rebalances leaders to their preferred brokers every 300 s, so they move mid-test after a
broker restart), or a topic just created is not yet known to every broker (UNKNOWN_TOPIC_OR_PART on a commit, seen in
a clean-clone run), as a group's client would: bounded."""
from __future__ import annotations

import time
from typing import Callable, TypeVar

from confluent_kafka import KafkaError, KafkaException, TopicPartition

T = TypeVar("T")
# A partition's leadership in motion, as ListOffsets answers it (apache/kafka 3.9 clients/.../common/errors/: each a
# RetriableException, FencedLeaderEpochException through InvalidMetadataException). librdkafka's admin ListOffsets
# hands each back (src/rdkafka_admin.c), its watermark query NOT_LEADER and OFFSET_NOT_AVAILABLE (src/rdkafka_request.c,
# rd_kafka_handle_ListOffsets: refreshed, not sent again), with retriable() false.
LEADER_MOVING = (KafkaError.NOT_LEADER_FOR_PARTITION, KafkaError.LEADER_NOT_AVAILABLE, KafkaError.UNKNOWN_TOPIC_OR_PART,
                 KafkaError.UNKNOWN_LEADER_EPOCH, KafkaError.FENCED_LEADER_EPOCH, KafkaError.OFFSET_NOT_AVAILABLE)
TRANSIENT = (KafkaError.NOT_COORDINATOR, KafkaError.COORDINATOR_NOT_AVAILABLE, KafkaError.COORDINATOR_LOAD_IN_PROGRESS,
             KafkaError._TIMED_OUT, *LEADER_MOVING)


def asked_again(call: Callable[[], T], attempts: int = 10, pause: float = 1.0) -> T:
    """call(), again after `pause` while it fails with a retriable or transient error."""
    for attempt in range(attempts):
        try:
            return call()
        except KafkaException as exc:
            error = exc.args[0]
            if attempt == attempts - 1 or not (error.retriable() or error.code() in TRANSIENT):
                raise
            time.sleep(pause)
    raise AssertionError("unreachable: attempts must be 1 or more")


def watermarks(consumer, topic: str, partition: int) -> tuple[int, int]:
    """A partition's low and high watermarks, asked again while its leader moves."""
    return asked_again(lambda: consumer.get_watermark_offsets(TopicPartition(topic, partition), timeout=10))
