"""Fleet figure: a no-change run of ambari_config and ambari_service over N clusters served by the lab.

Usage (root, the lab's venv): python bench/fleet_noop.py --clusters 20 --forks 5 20
Brings the lab up with N simulated clusters, converges them once, then times no-change runs per forks value and
counts the HTTP requests each cluster's Ambari endpoint received, by method (from the lab's API log).
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from fleet_playbook import home, requests_during
from kafka_lab.layout import Paths, load_config

ROOT = Path(__file__).resolve().parent.parent


def playbook(inventory: Path, out: Path, forks: int) -> float:
    env = {**os.environ, "ANSIBLE_CONFIG": str(ROOT / "ansible.cfg"),
           "AMBARI_PASSWORD": Paths(home()).password_file.read_text().strip()}
    start = time.monotonic()
    proc = subprocess.run([str(Path(sys.executable).parent / "ansible-playbook"), "-i", str(inventory), "-f", str(forks),
                           "-e", f"fleet_out={out}", str(ROOT / "bench/fleet/fleet-noop.yml")],
                          capture_output=True, text=True, env=env, cwd=ROOT)
    elapsed = time.monotonic() - start
    if proc.returncode != 0:
        raise SystemExit(proc.stdout[-4000:] + proc.stderr[-2000:])
    return elapsed


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--clusters", type=int, default=20)
    parser.add_argument("--forks", type=int, nargs="+", default=[5, 20])
    args = parser.parse_args()
    subprocess.run([sys.executable, "-m", "kafka_lab.cli", "up", "--sim-clusters", str(args.clusters)], check=True,
                   stdout=subprocess.DEVNULL)
    sims = [c for c in load_config(home()).clusters() if c.simulated][: args.clusters]
    work = Path(tempfile.mkdtemp(prefix="fleet-"))
    inventory = work / "fleet.ini"
    inventory.write_text("[fleet]\n" + "".join(f"{c.name} ambari_port={c.port}\n" for c in sims) +
                         f"\n[fleet:vars]\nansible_connection=local\nansible_python_interpreter={sys.executable}\n")
    converge = playbook(inventory, work, forks=max(args.forks))
    print(f"clusters: {len(sims)}; converging run (changes, rolling restarts): {converge:.1f} s")
    print("| forks | wall time (s) | HTTP requests per cluster (min / median / max) | writes (PUT/POST) | "
          "changed tasks | requests per module (kafka-broker / kafka-env / restart) |")
    print("|---|---|---|---|---|---|")
    for forks in args.forks:
        wall, requests = requests_during([c.name for c in sims], lambda: playbook(inventory, work, forks))
        per_cluster = requests["per_cluster"]
        results = [json.loads((work / f"{c.name}.json").read_text()) for c in sims]
        changed = sum(r[k][0] for r in results for k in r)
        per_module = "/".join(str(max(r[k][1] for r in results)) for k in ("kafka-broker", "kafka-env", "restart"))
        print(f"| {forks} | {wall:.1f} | {per_cluster['min']} / {per_cluster['median']:.0f} / "
              f"{per_cluster['max']} | {requests['writes']} | {changed} | {per_module} |")

if __name__ == "__main__":
    main()
