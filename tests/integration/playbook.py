"""Running the collection's playbooks against the lab, as a user would."""
from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def playbook(*args: str) -> tuple[str, dict[str, dict[str, int]]]:
    """ansible-playbook with the repository's ansible.cfg and the lab inventory; returns output and the recap."""
    env = {**os.environ, "ANSIBLE_CONFIG": str(ROOT / "ansible.cfg"), "ANSIBLE_NOCOLOR": "1"}
    proc = subprocess.run([str(Path(sys.executable).parent / "ansible-playbook"), "-i", str(ROOT / "inventory/lab"),
                           *args], capture_output=True, text=True, env=env, cwd=ROOT, timeout=1800)
    assert proc.returncode == 0, proc.stdout[-6000:] + proc.stderr[-3000:]
    recap = {m.group(1): {k: int(v) for k, v in re.findall(r"(\w+)=(\d+)", m.group(2))}
             for m in re.finditer(r"^(\S+)\s+: (ok=.*)$", proc.stdout, re.M)}
    return proc.stdout, recap


def module_run(module: str, args: dict, env: dict[str, str], check: bool = False, diff: bool = False) -> dict:
    """One module of the collection with `ansible` ad hoc on localhost; returns its result.

    `failed` says whether it failed, `diff_text` holds the --diff output. Secrets go in `env`, never in argv.
    """
    argv = [str(Path(sys.executable).parent / "ansible"), "localhost", "-i", "localhost,", "-c", "local",
            "-e", f"ansible_python_interpreter={sys.executable}", "-m", f"ambari_kafka.mirroring.{module}"]
    argv += ["-a", json.dumps(args)] if args else []
    argv += ["--check"] if check else []
    argv += ["--diff"] if diff else []
    full_env = {**os.environ, "ANSIBLE_CONFIG": str(ROOT / "ansible.cfg"), "ANSIBLE_CALLBACK_RESULT_FORMAT": "json",
                "ANSIBLE_NOCOLOR": "1", **env}
    proc = subprocess.run(argv, capture_output=True, text=True, env=full_env, cwd=ROOT, timeout=600)
    start = proc.stdout.find("localhost | ")
    assert start >= 0, proc.stdout + proc.stderr
    result = json.loads(proc.stdout[proc.stdout.index("=>", start) + 2:])
    result["diff_text"] = proc.stdout[:start]  # --diff output is printed before the result
    result["failed"] = proc.stdout.startswith("localhost | FAILED", start)
    return result
