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
from typing import Optional

from confluent_kafka import ConsumerGroupTopicPartitions, KafkaException, TopicPartition
from confluent_kafka.admin import AdminClient

from kafka_mirror.group_offsets import GroupOffsets
from kafka_mirror.offset_map import view
from kafka_mirror.translate import MapReader, Translation, translate_group

log = logging.getLogger("kafka_mirror.group_sync")
TIMEOUT_S = 10.0
IDLE_STATES = {"EMPTY", "DEAD"}  # DEAD: the group never existed on the target


def ahead(rows: list[Translation], current: dict[tuple[str, int], int]) -> dict[tuple[str, int], int]:
    """The offsets to commit (pure): every translated partition with a safe offset that is ahead of the group's own
    on the target (or that the group has not committed there)."""
    return {(r.topic, r.partition): r.target_offset for r in rows
            if r.target_offset is not None and r.target_offset > current.get((r.topic, r.partition), -1)}


class GroupSync:
    """Stream 0's: reads the map on the target (on from where it last stopped) and commits there."""

    def __init__(self, target_conf: dict, map_topic: str, alias: str, logger: Optional[logging.Logger]) -> None:
        conf = {**target_conf, "logger": logger} if logger is not None else target_conf
        self.map = MapReader(conf, map_topic)
        self.admin = AdminClient(conf)
        self.target = GroupOffsets(target_conf, logger)  # the groups' offsets there, read through their consumers
        self.alias = alias
        self.active: set[str] = set()  # groups found with members on the target (said once)

    def sync(self, source: dict[tuple[str, str, int], int]) -> dict[str, dict[tuple[str, int], int]]:
        """(group, topic, partition) -> the group's offset on the source; returns what was committed per group.
        Raises KafkaException, LookupError or TimeoutError when the map cannot be read; a group that cannot be
        synced is logged and skipped."""
        segments = view(self.map.read(TIMEOUT_S), self.alias).segments
        by_group: dict[str, dict[tuple[str, int], int]] = {}
        for (group, topic, partition), offset in source.items():
            by_group.setdefault(group, {})[(topic, partition)] = offset
        described = self.admin.describe_consumer_groups(sorted(by_group), request_timeout=TIMEOUT_S)
        done: dict[str, dict[tuple[str, int], int]] = {}
        for group, offsets in sorted(by_group.items()):
            try:
                state = described[group].result(timeout=TIMEOUT_S)
                if state.state.name not in IDLE_STATES or state.members:
                    if group not in self.active:
                        log.info("group %s has %d member(s) on the target: its offsets there are its own, not synced "
                                 "while it has members", group, len(state.members or []))
                        self.active.add(group)
                    continue
                self.active.discard(group)
                due = ahead(translate_group(segments, offsets), self.target.read(group, offsets, TIMEOUT_S))
                if due:
                    self._commit(group, due)
                    done[group] = due
            except KafkaException as exc:
                log.warning("group %s: offsets not synced to the target this time (%s)", group, exc.args[0].str())
        return done

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
