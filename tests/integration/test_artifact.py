"""The release artifact as a user gets it: built by `make dist`, installed into an empty collections path, and run on
the lab from a directory that holds only an inventory, by name and through its setup-mirroring.yml."""
from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import tarfile
from pathlib import Path

import pytest

pytestmark = pytest.mark.integration
ROOT = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent


def recap(stdout: str) -> dict[str, int]:
    """changed= per host, from PLAY RECAP."""
    return {m.group(1): int(m.group(2)) for m in re.finditer(r"^(\S+)\s+: ok=\d+\s+changed=(\d+)", stdout, re.M)}


def test_installed_artifact_mirrors_by_name_and_through_setup_mirroring_yml(lab, tmp_path):
    stray = [ROOT / ".vault_pass", ROOT / "inventory" / f"prod-{tmp_path.name}" / "hosts.yml"]  # a user's leftovers
    for path in stray:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text("secret\n")
    try:
        subprocess.run(["make", "-s", "-C", str(ROOT), "dist", f"DIST={tmp_path / 'dist'}"], check=True,
                       capture_output=True)
    finally:
        for path in stray:
            path.unlink()
        stray[1].parent.rmdir()
    artifact = next((tmp_path / "dist").glob("ambari_kafka-mirroring-*.tar.gz"))
    with tarfile.open(artifact) as tar:
        shipped = tar.getnames()
    assert not [n for n in shipped if n.endswith(".vault_pass") or "/prod-" in n or n.startswith("inventory/prod-")]
    user = tmp_path / "user"  # what a user has: an inventory, and nothing of this repository
    shutil.copytree(ROOT / "inventory/lab", user / "inventory")
    installed = tmp_path / "collections"
    env = {**{k: v for k, v in os.environ.items() if not k.startswith("ANSIBLE_")},
           "ANSIBLE_COLLECTIONS_PATH": str(installed), "ANSIBLE_NOCOLOR": "1"}
    subprocess.run([str(BIN / "ansible-galaxy"), "collection", "install", str(artifact), "-p", str(installed)],
                   check=True, capture_output=True, env=env, cwd=user)
    root = installed / "ansible_collections/ambari_kafka/mirroring"
    assert (root / "roles/mirror_worker/files/kafka_mirror-0.1.0-py3-none-any.whl").is_file()  # the worker ships
    assert not any((root / p).exists() for p in ("worker", "lab", "inventory/lab", "tests/unit", "bench"))
    assert sorted(p.name for p in user.iterdir()) == ["inventory"]

    def run(playbook: str) -> tuple[str, dict[str, int]]:
        proc = subprocess.run([str(BIN / "ansible-playbook"), "-i", "inventory", playbook], capture_output=True,
                              text=True, env=env, cwd=user, timeout=1800)
        assert proc.returncode == 0, proc.stdout[-6000:] + proc.stderr[-3000:]
        return proc.stdout, recap(proc.stdout)

    output, _ = run("ambari_kafka.mirroring.setup_mirroring")  # converges (deploys the shipped worker)
    assert "ambari_kafka.mirroring.mirror_worker" in output and "lab: canary mirrored in" in output
    output, changed = run(str(root / "setup-mirroring.yml"))  # the same playbook through its root file: no change
    assert "ambari_kafka.mirroring.mirror_worker" in output and "lab: canary mirrored in" in output
    assert changed == {"lab-primary": 0, "lab-secondary": 0, "lab-node": 0}, output[-4000:]
    listed = subprocess.run([str(BIN / "ansible-galaxy"), "collection", "list", "ambari_kafka.mirroring"],
                            capture_output=True, text=True, env=env, cwd=user).stdout
    assert str(installed) in listed and str(ROOT) not in listed  # the installed copy ran, not this checkout
