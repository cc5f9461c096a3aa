"""Calls asked again while the group's coordinator moves (NOT_COORDINATOR and kin, seen in CI after the brokers'
leaders move), a partition's leader moves (kafka_mirror.leaders.MOVING, the worker's own set: UNKNOWN_LEADER_EPOCH
on a ListOffsets, seen in a clean-clone run; the lab rebalances leaders to their preferred brokers every 300 s, so
they move mid-test after a broker restart), or a topic just created is not yet known to every broker
(UNKNOWN_TOPIC_OR_PART on a commit, seen in a clean-clone run), as a group's client would: bounded."""
from __future__ import annotations

import time
from typing import Callable, TypeVar

from confluent_kafka import KafkaError, KafkaException, TopicPartition
from kafka_mirror.leaders import MOVING

T = TypeVar("T")
# The group's coordinator moving, and a partition's leadership in motion as the worker knows it (leaders.py: each a
# RetriableException in apache/kafka 3.9, with retriable() false in librdkafka's answers).
TRANSIENT = (KafkaError.NOT_COORDINATOR, KafkaError.COORDINATOR_NOT_AVAILABLE, KafkaError.COORDINATOR_LOAD_IN_PROGRESS,
             *MOVING)


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
