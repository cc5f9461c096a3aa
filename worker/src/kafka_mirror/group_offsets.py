"""A consumer group's committed offsets, read through a consumer of that group.

Never through AdminClient.list_consumer_group_offsets: when the group's coordinator has moved (a broker restart, a
leader election), the old coordinator answers NOT_COORDINATOR, and librdkafka's OffsetFetch handler asks the
client's own consumer group to look the coordinator up again: `rd_kafka_cgrp_op(rkb->rkb_rk->rk_cgrp, ...)` in
rd_kafka_handle_OffsetFetch (src/rdkafka_request.c, confluentinc/librdkafka master). An admin client has no
consumer group, and the process dies of SIGSEGV (confluentinc/librdkafka#5040, open; seen here as a stream's exit
-11). A consumer with the group's id has that handle: it looks the coordinator up again and the call returns an
error. It never subscribes, so it never joins the group nor changes its members.
"""
from __future__ import annotations

import logging
from collections.abc import Iterable

from confluent_kafka import Consumer, TopicPartition


class GroupOffsets:
    """Committed offsets of named groups; one idle consumer per group, kept between reads."""

    def __init__(self, conf: dict, logger: logging.Logger | None = None) -> None:
        # read_uncommitted: it never fetches; the flag only keeps the broker from holding back offsets committed in
        # an open transaction (UNSTABLE_OFFSET_COMMIT, retried by librdkafka until the timeout), as the admin did not
        self.conf = {**conf, "enable.auto.commit": False, "enable.auto.offset.store": False,
                     "isolation.level": "read_uncommitted"}
        if logger is not None:
            self.conf["logger"] = logger
        self.consumers: dict[str, Consumer] = {}

    def consumer(self, group: str) -> Consumer:
        """The group's idle consumer (also a client for metadata)."""
        if group not in self.consumers:
            self.consumers[group] = Consumer({**self.conf, "group.id": group})
        return self.consumers[group]

    def read(self, group: str, partitions: Iterable[tuple[str, int]], timeout: float) -> dict[tuple[str, int], int]:
        """(topic, partition) -> committed offset, for those of `partitions` the group has committed.
        Raises KafkaException (e.g. NOT_COORDINATOR while the coordinator moves, _TIMED_OUT): the caller retries."""
        wanted = [TopicPartition(t, p) for t, p in partitions]
        if not wanted:
            return {}
        consumer = self.consumer(group)
        try:
            return {(tp.topic, tp.partition): tp.offset for tp in consumer.committed(wanted, timeout=timeout)
                    if tp.error is None and tp.offset >= 0}
        finally:
            consumer.poll(0)  # serves its log and error callbacks: nothing else polls an idle consumer

    def close(self) -> None:
        for consumer in self.consumers.values():
            consumer.close()  # never subscribed: nothing to revoke, no member to leave
        self.consumers.clear()
