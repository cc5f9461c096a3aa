"""The mirror_worker role on a second node image: Debian bullseye, Python 3.9 (the oldest the worker supports) and
systemd 247, besides the lab's default bookworm node (Python 3.11, systemd 252)."""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from kafka_lab import node
from kafka_lab.layout import Paths

from .test_playbook import PLAYBOOK, assert_sandboxed_with_loopback_metrics, on_node
from .playbook import playbook

pytestmark = [pytest.mark.integration, pytest.mark.images]  # make test-images, not make test


def boot_node(lab, suite: str) -> None:
    """Power the node off and boot the given Debian release in its place (each keeps its own rootfs)."""
    node.down(Paths(lab.config.home))
    subprocess.run([str(Path(sys.executable).parent / "kafka-lab"), "--home", str(lab.config.home), "up", "--node"],
                   env={**os.environ, "KAFKA_LAB_NODE_SUITE": suite}, check=True, capture_output=True, timeout=1800)


@pytest.fixture
def bullseye(lab):
    boot_node(lab, "bullseye")
    try:
        yield lab
    finally:
        boot_node(lab, node.DEFAULT_SUITE)


def test_role_converges_and_mirrors_on_bullseye_with_python_3_9(bullseye):
    lab = bullseye
    assert on_node(lab, "python3 -c 'import sys; print(sys.version_info[:2])'") == "(3, 9)"
    output, _ = playbook(PLAYBOOK)
    assert "lab: canary mirrored in" in output
    _, recap = playbook(PLAYBOOK)
    assert recap["lab-node"]["changed"] == 0
    assert on_node(lab, "/opt/kafka-mirror/venv/bin/python -c 'import sys, confluent_kafka; "
                        "print(sys.version_info[:2], confluent_kafka.__file__)'").startswith("(3, 9) /opt/kafka-mirror")
    assert_sandboxed_with_loopback_metrics(lab)
