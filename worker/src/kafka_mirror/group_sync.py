"""sync_group_offsets: the sync_groups' offsets, translated, committed on the secondary while nobody consumes there,
so that a failover needs no step at all.

As MirrorMaker 2's `sync.group.offsets.enabled` (apache/kafka trunk,
connect/mirror/src/main/java/org/apache/kafka/connect/mirror/MirrorCheckpointTask.java: refreshIdleConsumerGroupOffset
and syncGroupOffset): only groups without members on the target, and only forward (a partition whose offset on the
target is already at or past the translated one is left alone: its consumers there moved it on). Unlike MM2's, the
offsets are exact where the map is (translate.py), and inexact ones are safe: nothing is skipped.

The commit is made from outside the group (AlterConsumerGroupOffsets, generation -1), which the coordinator accepts
for an empty group only (UNKNOWN_MEMBER_ID otherwise): a consumer that joins on the target between the check and the
commit keeps its own positions.
"""
from __future__ import annotations

import logging
import time
from concurrent.futures import TimeoutError as FutureTimeout
from typing import Optional

from confluent_kafka import ConsumerGroupTopicPartitions, IsolationLevel, KafkaException, TopicPartition
from confluent_kafka.admin import AdminClient, OffsetSpec

from kafka_mirror.group_offsets import GroupOffsets
from kafka_mirror.translate import MapReader, Translation, translate_group

log = logging.getLogger("kafka_mirror.group_sync")
TIMEOUT_S = 10.0
BUDGET_S = 20.0  # one round, every group: past it the rest wait for the next round (stream 0's loop waits meanwhile)
IDLE_STATES = {"EMPTY", "DEAD"}  # DEAD: the group never existed on the target


def ahead(rows: list[Translation], current: dict[tuple[str, int], int],
          log_start: dict[tuple[str, int], int]) -> dict[tuple[str, int], int]:
    """The offsets to commit (pure): every translated partition with a safe offset that is ahead of the group's own
    on the target (or that the group has not committed there). An offset the target already deleted (retention)
    becomes its log start, as kafka_group_failover does: committed as it is, a consumer would find it out of range
    and start where auto.offset.reset says (latest: skipping all that is left)."""
    out = {}
    for r in rows:
        tp = (r.topic, r.partition)
        if r.target_offset is not None:
            offset = max(r.target_offset, log_start.get(tp, 0))
            if offset > current.get(tp, -1):
                out[tp] = offset
    return out


class GroupSync:
    """Stream 0's: reads the map on the target (on from where it last stopped) and commits there."""

    def __init__(self, target_conf: dict, map_topic: str, alias: str, logger: Optional[logging.Logger]) -> None:
        conf = {**target_conf, "logger": logger} if logger is not None else target_conf
        self.map = MapReader(conf, map_topic, alias)
        self.admin = AdminClient(conf)
        self.target = GroupOffsets(target_conf, logger)  # the groups' offsets there, read through their consumers
        self.active: set[str] = set()  # groups found with members on the target (said once)

    def sync(self, source: dict[tuple[str, str, int], int]) -> dict[str, dict[tuple[str, int], int]]:
        """(group, topic, partition) -> the group's offset on the source; returns what was committed per group.
        Raises KafkaException, LookupError or TimeoutError when the map cannot be read; a group that cannot be
        synced is logged and skipped; the round stops at BUDGET_S."""
        started = time.monotonic()
        segments = self.map.read(TIMEOUT_S).segments
        by_group: dict[str, dict[tuple[str, int], int]] = {}
        for (group, topic, partition), offset in source.items():
            by_group.setdefault(group, {})[(topic, partition)] = offset
        described = self.admin.describe_consumer_groups(sorted(by_group), request_timeout=TIMEOUT_S)
        done: dict[str, dict[tuple[str, int], int]] = {}
        for group, offsets in sorted(by_group.items()):
            if time.monotonic() - started > BUDGET_S:
                log.warning("syncing the groups' offsets took over %.0fs: %s wait for the next round", BUDGET_S,
                            ", ".join(g for g in sorted(by_group) if g >= group))
                break
            try:
                state = described[group].result(timeout=TIMEOUT_S)
                if state.state.name not in IDLE_STATES or state.members:
                    if group not in self.active:
                        log.info("group %s is %s on the target (%d member(s)): its offsets there are its own, not "
                                 "synced until it is empty", group, state.state.name, len(state.members or []))
                        self.active.add(group)
                    continue
                self.active.discard(group)
                rows = translate_group(segments, offsets)
                due = ahead(rows, self.target.read(group, offsets, TIMEOUT_S),
                            self._log_starts([(r.topic, r.partition) for r in rows if r.target_offset is not None]))
                if due:
                    self._commit(group, due)
                    done[group] = due
            except KafkaException as exc:
                log.warning("group %s: offsets not synced to the target this time (%s)", group, exc.args[0].str())
            except FutureTimeout:  # concurrent.futures' own before Python 3.11
                log.warning("group %s: offsets not synced to the target this time (no answer within %.0fs)", group,
                            TIMEOUT_S)
        return done

    def _log_starts(self, tps: list[tuple[str, int]]) -> dict[tuple[str, int], int]:
        """The target's first offset of each partition (its log start after retention), in one request."""
        if not tps:
            return {}
        asked = {TopicPartition(t, p): OffsetSpec.earliest() for t, p in tps}
        answers = self.admin.list_offsets(asked, isolation_level=IsolationLevel.READ_UNCOMMITTED,
                                          request_timeout=TIMEOUT_S)
        return {(tp.topic, tp.partition): future.result(timeout=TIMEOUT_S).offset for tp, future in answers.items()}

    def _commit(self, group: str, due: dict[tuple[str, int], int]) -> None:
        request = [ConsumerGroupTopicPartitions(group, [TopicPartition(t, p, o) for (t, p), o in sorted(due.items())])]
        answer = self.admin.alter_consumer_group_offsets(request, request_timeout=TIMEOUT_S)[group] \
            .result(timeout=TIMEOUT_S + 1)
        failed = [tp for tp in answer.topic_partitions if tp.error is not None]
        if failed:  # UNKNOWN_MEMBER_ID: a consumer joined on the target since the check
            raise KafkaException(failed[0].error)

    def close(self) -> None:
        self.map.close()
        self.target.close()
