"""inventory/example-fleet as a user copies it: a vault file beside the group_vars keeps every variable, and a
missing password stops the run with what to do (review of issue 14)."""
from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent


def hostvars(inventory: Path) -> dict:
    proc = subprocess.run([str(BIN / "ansible-inventory"), "-i", str(inventory), "--list"], capture_output=True,
                          text=True, check=True)
    return json.loads(proc.stdout)["_meta"]["hostvars"]


def test_a_vault_file_beside_the_group_vars_adds_to_them(tmp_path):
    fleet = tmp_path / "fleet"
    shutil.copytree(ROOT / "inventory" / "example-fleet", fleet)
    (fleet / "group_vars" / "all" / "vault.yml").write_text("vault_ambari_password: from-the-vault\n")
    hv = hostvars(fleet)
    assert [p["name"] for p in hv["orders-weu"]["mirroring_pairs"]] == ["orders", "payments", "clicks"]
    assert hv["orders-weu"]["vault_ambari_password"] == "from-the-vault"
    assert hv["orders-neu-mirror0"]["ansible_become"] is True


def test_no_password_anywhere_stops_with_what_to_do(tmp_path):
    env = {k: v for k, v in os.environ.items() if k != "AMBARI_PASSWORD"}
    proc = subprocess.run([str(BIN / "ansible"), "-i", str(ROOT / "inventory" / "example-fleet"), "orders-weu",
                           "-m", "ansible.builtin.debug", "-a", "msg={{ ambari_password }}"],
                          capture_output=True, text=True, env=env, cwd=tmp_path)
    assert proc.returncode != 0
    assert "No Ambari password: set vault_ambari_password" in proc.stdout + proc.stderr
