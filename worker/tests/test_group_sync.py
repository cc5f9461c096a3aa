"""sync_group_offsets' decisions (pure): what is committed on the target. MirrorMaker 2's rule, which this follows
(apache/kafka trunk, connect/mirror/src/main/java/org/apache/kafka/connect/mirror/MirrorCheckpointTask.java,
syncGroupOffset): only forward. Against real clusters: tests/integration/test_group_failover.py."""
from __future__ import annotations

import pytest

from kafka_mirror.config import load
from kafka_mirror.errors import ConfigError
from kafka_mirror.group_sync import ahead
from kafka_mirror.translate import EXACT, INEXACT, UNMAPPED, Translation


def row(partition: int, target: int | None, status: str = EXACT) -> Translation:
    return Translation("t", partition, 100, target, status)


def test_only_safe_offsets_ahead_of_the_groups_own_are_committed():
    rows = [row(0, 50), row(1, 50), row(2, 50, INEXACT), row(3, None, UNMAPPED), row(4, 50)]
    current = {("t", 0): 40, ("t", 1): 50, ("t", 4): 60}  # t:2 and t:3 never committed on the target
    assert ahead(rows, current, {}) == {("t", 0): 50, ("t", 2): 50}  # t:1 there already, t:4 moved on


def test_an_offset_the_target_deleted_becomes_its_log_start():
    """As kafka_group_failover clamps: an offset below the log start is out of range for a consumer, which then
    starts at auto.offset.reset (latest: everything left skipped)."""
    rows = [row(0, 50), row(1, 50)]
    assert ahead(rows, {("t", 1): 70}, {("t", 0): 60, ("t", 1): 80}) == {("t", 0): 60, ("t", 1): 80}


@pytest.mark.parametrize("text", ["sync_group_offsets: true\n", "sync_group_offsets: true\noffset_map: true\n",
                                  "sync_group_offsets: true\nsync_groups: [app]\n"])
def test_sync_group_offsets_needs_the_map_and_the_groups(tmp_path, text):
    path = tmp_path / "w.yaml"
    path.write_text("consumer: {bootstrap.servers: s:9092, group.id: g}\nproducer: {bootstrap.servers: t:9092}\n"
                    "include: a\n" + text)
    with pytest.raises(ConfigError) as err:
        load(["--config", str(path)])
    assert "needs offset_map: true and the groups in sync_groups" in str(err.value)
    path.write_text(path.read_text() + ("" if "offset_map" in text else "offset_map: true\n") +
                    ("" if "sync_groups" in text else "sync_groups: [app]\n"))
    assert load(["--config", str(path)]).sync_group_offsets
