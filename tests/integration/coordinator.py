"""Group calls asked again while the group's coordinator moves (NOT_COORDINATOR and kin, seen in CI after the
brokers' leaders move) or a topic just created is not yet known to every broker (UNKNOWN_TOPIC_OR_PART on a commit,
seen in a clean-clone run), as a group's client would: bounded."""
from __future__ import annotations

import time
from typing import Callable, TypeVar

from confluent_kafka import KafkaError, KafkaException

T = TypeVar("T")
TRANSIENT = (KafkaError.NOT_COORDINATOR, KafkaError.COORDINATOR_NOT_AVAILABLE, KafkaError.COORDINATOR_LOAD_IN_PROGRESS,
             KafkaError.UNKNOWN_TOPIC_OR_PART, KafkaError._TIMED_OUT)


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
