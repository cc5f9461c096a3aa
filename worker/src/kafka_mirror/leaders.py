"""Answers that mean a partition's leadership is moving (a broker restarting, an election, a client's metadata ahead
of a broker's): asked again, bounded. Each is a RetriableException in apache/kafka 3.9
(clients/src/main/java/org/apache/kafka/common/errors/; FencedLeaderEpochException through InvalidMetadataException).
librdkafka's admin ListOffsets hands every one back (src/rdkafka_admin.c, rd_kafka_ListOffsets_handle_result), and
its watermark query NOT_LEADER_FOR_PARTITION and OFFSET_NOT_AVAILABLE (src/rdkafka_request.c,
rd_kafka_handle_ListOffsets: metadata refreshed, the request not sent again): UNKNOWN_LEADER_EPOCH reached the tests'
admin client in a clean-clone CI run, NOT_LEADER_FOR_PARTITION a translate on the lab."""
from __future__ import annotations

import time
from collections.abc import Callable
from typing import TypeVar

from confluent_kafka import KafkaError, KafkaException

T = TypeVar("T")
MOVING = frozenset({KafkaError.NOT_LEADER_FOR_PARTITION, KafkaError.LEADER_NOT_AVAILABLE, KafkaError._TIMED_OUT,
                    KafkaError.UNKNOWN_TOPIC_OR_PART, KafkaError.UNKNOWN_LEADER_EPOCH,
                    KafkaError.FENCED_LEADER_EPOCH, KafkaError.OFFSET_NOT_AVAILABLE})
PAUSE_S = 0.5


def asked_again(call: Callable[[float], T], timeout_s: float) -> T:
    """call(seconds left)'s answer, asked again while it fails with a MOVING error, until `timeout_s` has passed;
    then, or on any other error, its KafkaException. `call` is to wait no longer than it is given."""
    deadline = time.monotonic() + timeout_s
    while True:
        try:
            return call(max(0.1, deadline - time.monotonic()))
        except KafkaException as exc:
            if exc.args[0].code() not in MOVING or time.monotonic() + PAUSE_S >= deadline:
                raise
            time.sleep(PAUSE_S)
