"""The worker node: a systemd-nspawn container on the secondary network (written next)."""
from __future__ import annotations

from kafka_lab.errors import LabError
from kafka_lab.layout import ClusterSpec, Paths


def up(paths: Paths, cluster: ClusterSpec) -> None:
    raise LabError("the worker node is not implemented yet")


def down(paths: Paths) -> None:
    return None
