"""Fleet scenario: setup-mirroring.yml over N pairs of simulated clusters served by the lab.

Usage (root, the lab's venv): python bench/fleet_playbook.py --pairs 10 --forks 20
Simulated clusters have Ambari but no Kafka, so the pairs carry no topics or workers: the run exercises the
Ambari part of the play (network settings, rolling restarts of stale brokers) across the fleet. Reports wall time
and changed counts of a first (converging) and a second (no-change) run, and of --check --diff after it.
"""
from __future__ import annotations

import argparse
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from kafka_lab.layout import DEFAULT_HOME, load_config

ROOT = Path(__file__).resolve().parent.parent


def run(inventory: Path, forks: int, *extra: str) -> tuple[float, int, int]:
    env = {**os.environ, "ANSIBLE_CONFIG": str(ROOT / "ansible.cfg"), "ANSIBLE_NOCOLOR": "1"}
    start = time.monotonic()
    proc = subprocess.run([str(Path(sys.executable).parent / "ansible-playbook"), "-i", str(inventory), "-f",
                           str(forks), str(ROOT / "setup-mirroring.yml"), *extra],
                          capture_output=True, text=True, env=env, cwd=ROOT)
    wall = time.monotonic() - start
    if proc.returncode != 0:
        raise SystemExit(proc.stdout[-4000:] + proc.stderr[-2000:])
    recap = re.findall(r"^\S+\s+: ok=(\d+)\s+changed=(\d+)", proc.stdout, re.M)
    return wall, len(recap), sum(int(c) for _, c in recap)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--pairs", type=int, default=10)
    parser.add_argument("--forks", type=int, default=20)
    args = parser.parse_args()
    home = Path(os.environ.get("KAFKA_LAB_HOME", DEFAULT_HOME))
    # Fresh simulated clusters, so that the first run really converges them.
    subprocess.run([sys.executable, "-m", "kafka_lab.cli", "up", "--sim-clusters", "0"], check=True,
                   stdout=subprocess.DEVNULL)
    for state in (home / "clusters").glob("sim-*"):
        shutil.rmtree(state)
    subprocess.run([sys.executable, "-m", "kafka_lab.cli", "up", "--sim-clusters", str(2 * args.pairs)], check=True,
                   stdout=subprocess.DEVNULL)
    sims = [c for c in load_config(home).clusters() if c.simulated][: 2 * args.pairs]
    work = Path(tempfile.mkdtemp(prefix="fleet-play-"))
    inventory = work / "fleet.yml"
    hosts = "".join(f"        {c.name}: {{ambari_url: 'http://127.0.0.1:{c.port}', ambari_cluster: {c.name}}}\n"
                    for c in sims)
    pairs = "".join(f"    - {{name: pair-{i}, primary: {sims[2 * i].name}, secondary: {sims[2 * i + 1].name}, "
                    f"topics: []}}\n" for i in range(args.pairs))
    inventory.write_text(
        "all:\n  children:\n    ambari_clusters:\n      hosts:\n" + hosts +
        "      vars:\n        ansible_connection: local\n"
        f"        ansible_python_interpreter: {sys.executable}\n"
        f"        ambari_password: \"{{{{ lookup('ansible.builtin.file', '{home}/ambari-password') }}}}\"\n"
        "        kafka_network_wait_ready: false\n        kafka_network_batch_separation: 0\n"
        "        kafka_network_wait_sleep: 1\n"
        "    mirror_workers:\n      hosts: {}\n"
        "  vars:\n    mirroring_pairs:\n" + pairs)
    print(f"{args.pairs} pairs ({2 * args.pairs} simulated clusters), forks {args.forks}, {os.cpu_count()} cores")
    print("| run | wall time (s) | clusters | changed tasks |")
    print("|---|---|---|---|")
    for label, extra in (("first (converges)", ()), ("second", ()), ("--check --diff", ("--check", "--diff"))):
        wall, clusters, changed = run(inventory, args.forks, *extra)
        print(f"| {label} | {wall:.1f} | {clusters} | {changed} |", flush=True)


if __name__ == "__main__":
    main()
