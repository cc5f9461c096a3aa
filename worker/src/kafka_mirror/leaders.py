"""Answers that mean a partition's leadership, the controller or a broker is moving (a broker restarting, an
election, a client's metadata ahead of a broker's): asked again, bounded. Each is a RetriableException in apache/kafka
3.9 (clients/src/main/java/org/apache/kafka/common/errors/; FencedLeaderEpochException through
InvalidMetadataException, NotControllerException, and DisconnectException and NetworkException for the two local
ones: the connection lost, and the broker handle librdkafka drops when a restarting broker leaves the metadata,
src/rdkafka_broker.c, rd_kafka_broker_decommission). librdkafka's admin ListOffsets hands every one back
(src/rdkafka_admin.c, rd_kafka_ListOffsets_handle_result), its CreateTopics NOT_CONTROLLER (a ZooKeeper-mode cluster
whose controller moved), and its watermark query NOT_LEADER_FOR_PARTITION and OFFSET_NOT_AVAILABLE
(src/rdkafka_request.c, rd_kafka_handle_ListOffsets: metadata refreshed, the request not sent again):
UNKNOWN_LEADER_EPOCH reached the tests' admin client in a clean-clone CI run, NOT_LEADER_FOR_PARTITION a translate
on the lab, and _DESTROY_BROKER the creation of the positions topic by a worker started during a rolling restart of
the target (tests/integration/test_mirror.py)."""
from __future__ import annotations

import logging
import time
from collections.abc import Callable
from concurrent.futures import TimeoutError as FutureTimeout
from typing import TypeVar

from confluent_kafka import KafkaError, KafkaException

T = TypeVar("T")
log = logging.getLogger(__name__)
MOVING = frozenset({KafkaError.NOT_LEADER_FOR_PARTITION, KafkaError.LEADER_NOT_AVAILABLE, KafkaError._TIMED_OUT,
                    KafkaError.UNKNOWN_TOPIC_OR_PART, KafkaError.UNKNOWN_LEADER_EPOCH,
                    KafkaError.FENCED_LEADER_EPOCH, KafkaError.OFFSET_NOT_AVAILABLE, KafkaError._TRANSPORT,
                    KafkaError._DESTROY_BROKER, KafkaError.NOT_CONTROLLER})
PAUSE_S = 0.5
REFRESH_S = 5.0  # a metadata read before asking again: never the whole bound


def asked_again(call: Callable[[float], T], timeout_s: float, what: str,
                refresh: Callable[[float], object] | None = None) -> T:
    """call(seconds left)'s answer, asked again while it fails with a MOVING error, until `timeout_s` has passed;
    then, or on any other error, its KafkaException. `call` is to wait no longer than it is given. The first time
    it is asked again is logged, naming `what` was asked: a rolling restart shows in the log, and a slow one too.
    A future `call` waits on and does not see answered (concurrent.futures' TimeoutError) is librdkafka's own
    _TIMED_OUT: asked again, and in the end raised as it. `refresh`(seconds), before each new ask: the client's
    metadata read again, for at most REFRESH_S, its own failure ignored (the ask after it says what is wrong).
    librdkafka's admin ListOffsets drops a topic's cached metadata on NOT_LEADER_OR_FOLLOWER and LEADER_NOT_AVAILABLE
    only (src/rdkafka_admin.c, rd_kafka_admin_result_err_refresh, rd_kafka_ListOffsets_handle_result): asked again
    with the same stale leader epoch, a worker on the lab was answered FENCED_LEADER_EPOCH for 30 s (the cache is
    refreshed every topic.metadata.refresh.interval.ms, 5 minutes by default)."""
    deadline = time.monotonic() + timeout_s
    said = False
    while True:
        if said and refresh is not None:
            try:
                refresh(max(0.1, min(REFRESH_S, deadline - time.monotonic() - PAUSE_S)))
            except KafkaException:
                pass
        try:
            try:
                return call(max(0.1, deadline - time.monotonic()))
            except FutureTimeout:
                raise KafkaException(KafkaError(KafkaError._TIMED_OUT)) from None
        except KafkaException as exc:
            if exc.args[0].code() not in MOVING or time.monotonic() + PAUSE_S >= deadline:
                raise
            if not said:
                log.info("%s: %s; asked again for up to %.0f s", what, exc.args[0].str(), timeout_s)
                said = True
            time.sleep(PAUSE_S)
