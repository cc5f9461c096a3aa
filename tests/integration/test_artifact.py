"""`ansible-galaxy collection build` makes an artifact that installs and runs setup-mirroring.yml by FQCN roles."""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.integration
ROOT = Path(__file__).resolve().parents[2]


def test_built_collection_installs_and_runs_the_playbook(lab, tmp_path):
    galaxy = str(Path(sys.executable).parent / "ansible-galaxy")
    subprocess.run([galaxy, "collection", "build", str(ROOT), "--output-path", str(tmp_path)], check=True,
                   capture_output=True)
    artifact = next(tmp_path.glob("ambari_kafka-mirroring-*.tar.gz"))
    installed = tmp_path / "collections"
    subprocess.run([galaxy, "collection", "install", "--force", str(artifact), "-p", str(installed)], check=True,
                   capture_output=True)
    root = installed / "ansible_collections/ambari_kafka/mirroring"
    assert not (root / "lab").exists() and not (root / "tests").exists()  # only the collection ships
    config = tmp_path / "ansible.cfg"  # nothing from the repository: the installed copy only
    config.write_text(f"[defaults]\ncollections_path = {installed}\ninterpreter_python = auto_silent\n")
    env = {**os.environ, "ANSIBLE_CONFIG": str(config), "ANSIBLE_NOCOLOR": "1"}
    proc = subprocess.run([str(Path(sys.executable).parent / "ansible-playbook"), "-i", str(ROOT / "inventory/lab"),
                           str(root / "playbooks/setup-mirroring.yml")], capture_output=True, text=True, env=env,
                          cwd=tmp_path, timeout=1800)
    assert proc.returncode == 0, proc.stdout[-5000:] + proc.stderr[-2000:]
    assert "ambari_kafka.mirroring.kafka_network" in proc.stdout and "canary mirrored in" in proc.stdout
    assert str(installed) in subprocess.run([str(Path(sys.executable).parent / "ansible-galaxy"), "collection", "list",
                                             "ambari_kafka.mirroring"], capture_output=True, text=True,
                                            env=env).stdout
