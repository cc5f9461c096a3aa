"""MirrorMaker 2 as its users fail a group over with it: checkpoints and sync.group.offsets (dedicated mode)."""
from __future__ import annotations

from mirrorbench.tools import MirrorMaker2

SOURCE_ALIAS = "primary"  # mirrorbench.tools.MirrorMaker2's name for the source cluster
INTERVAL_S = 10  # kafka-mirror copies sync_groups every 10 s; MM2's defaults are 60 s (checkpoints, sync) and 600 s


def remote_topic(topic: str) -> str:
    """DefaultReplicationPolicy: what MM2's users get unless they choose another policy."""
    return f"{SOURCE_ALIAS}.{topic}"


# Each setting besides the connection and the run's names, and why (apache/kafka 3.9, MirrorCheckpointConfig):
SETTINGS = {
    "emit.checkpoints.enabled": "true",  # the default
    "emit.checkpoints.interval.seconds": str(INTERVAL_S),  # default 60
    "sync.group.offsets.enabled": "true",  # default false: MM2's equivalent of failover.yml's commit
    "sync.group.offsets.interval.seconds": str(INTERVAL_S),  # default 60
    "refresh.groups.interval.seconds": str(INTERVAL_S),  # default 600: a group that appears later is found late
}


def tool(groups: str) -> MirrorMaker2:
    """`groups`: a regular expression of MM2's `groups`; the job's topic one of its `topics`."""
    return MirrorMaker2(identity=False, flow={"groups": groups, **SETTINGS})
