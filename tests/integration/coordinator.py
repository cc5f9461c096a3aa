"""Group calls asked again while the group's coordinator moves (NOT_COORDINATOR and kin, seen in CI after the
brokers' leaders move), as a group's client would: bounded."""
from __future__ import annotations

import time
from typing import Callable, TypeVar

from confluent_kafka import KafkaError, KafkaException

T = TypeVar("T")
COORDINATOR_MOVING = (KafkaError.NOT_COORDINATOR, KafkaError.COORDINATOR_NOT_AVAILABLE,
                      KafkaError.COORDINATOR_LOAD_IN_PROGRESS)


def asked_again(call: Callable[[], T], attempts: int = 10, pause: float = 1.0) -> T:
    """call(), again after `pause` while it fails with a retriable error or a moving coordinator."""
    for attempt in range(attempts):
        try:
            return call()
        except KafkaException as exc:
            error = exc.args[0]
            if attempt == attempts - 1 or not (error.retriable() or error.code() in COORDINATOR_MOVING):
                raise
            time.sleep(pause)
    raise AssertionError("unreachable: attempts must be 1 or more")
