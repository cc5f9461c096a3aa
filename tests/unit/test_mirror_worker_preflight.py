"""roles/mirror_worker/tasks/preflight.yml stops, before anything is installed, on settings the worker would refuse
at start, saying what to give. Only its first checks run here, on the controller (nothing is reached)."""
from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent
PLAY = """
- hosts: localhost
  gather_facts: false
  connection: local
  vars:
    _mirror_worker_pairs: [{name: orders}]
  tasks:
    - ansible.builtin.include_tasks: %s
""" % (ROOT / "roles" / "mirror_worker" / "tasks" / "preflight.yml")


def preflight(tmp_path: Path, **extra) -> subprocess.CompletedProcess:
    play = tmp_path / "play.yml"
    play.write_text(PLAY)
    return subprocess.run([str(BIN / "ansible-playbook"), "-i", "localhost,", str(play), "-e", json.dumps(extra)],
                          capture_output=True, text=True, cwd=ROOT, timeout=120)


@pytest.mark.parametrize("groups", ["orders-service", {"orders-service": 1}])
def test_sync_groups_not_a_list_stop_naming_the_variable_and_a_list(tmp_path, groups):
    proc = preflight(tmp_path, mirror_worker_offset_map=True, mirror_worker_sync_groups=groups)
    assert proc.returncode != 0
    assert "mirror_worker_sync_groups is %s: it is a list of consumer group names, for example " \
           "mirror_worker_sync_groups: [orders-service, billing]" % json.dumps(groups) \
        in proc.stdout.replace('\\"', '"')  # ansible-core 2.16 escapes quotes in a failed assert's msg


def test_a_list_of_sync_groups_passes_that_check(tmp_path):
    proc = preflight(tmp_path, mirror_worker_offset_map=True, mirror_worker_sync_groups=["orders-service"])
    assert "it is a list of consumer group names" not in proc.stdout
    assert "Check that synced groups have an offset map to go to" in proc.stdout
