"""Fleet scale: setup-mirroring.yml over N pairs of simulated clusters served by the lab (issue 13, item 4).

Usage (root, the lab's venv): python bench/fleet_playbook.py --pairs 10 50 100 --forks 20
Simulated clusters have Ambari but no Kafka, so the pairs carry no topics or workers: the run exercises the
Ambari part of the play (network settings, rolling restarts of stale brokers) across the fleet. For each fleet size:
a first run that converges fresh clusters, a second that must change nothing (timed, and every HTTP request each
cluster's Ambari endpoint received counted from the lab's API log, by method and by what was read), and --check
--diff after it. Writes bench/results/fleet.json and its chart; `python -m mirrorbench --report-only` puts them in
bench/RESULTS.md.
"""
from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

from kafka_lab.layout import DEFAULT_HOME, Paths, load_config

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "bench" / "results" / "fleet.json"
# The lab's API log: `<time> INFO kafka_lab.ambari <cluster> <client> "<METHOD> <path> HTTP/1.1" <status> -`
REQUEST = re.compile(r" (sim-\d+) \S+ \"(GET|PUT|POST|DELETE) (\S+) ")


def home() -> Path:
    return Path(os.environ.get("KAFKA_LAB_HOME", DEFAULT_HOME))


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


def kind(method: str, path: str) -> str:
    """What a request read or wrote, without the cluster's name, tags and ids: one config type per kind."""
    config = re.search(r"[?&]type=([^&]+)", path)
    if method == "GET" and config:
        return f"GET config {config.group(1)}"
    shape = re.sub(r"/clusters/[^/?]+", "/clusters/C", path.split("?")[0])
    shape = re.sub(r"/\d+", "/N", shape)
    fields = re.search(r"fields=([^&]+)", path)
    return f"{method} {shape}" + (f"?fields={fields.group(1)}" if fields else "")


def count(lines: list[str], clusters: list[str]) -> dict:
    """Requests per cluster of one run: totals, writes, and the most any cluster got of each kind."""
    per: dict[str, Counter] = {c: Counter() for c in clusters}
    for line in lines:
        m = REQUEST.search(line)
        if m and m.group(1) in per:
            per[m.group(1)][kind(m.group(2), m.group(3))] += 1
    totals = [sum(c.values()) for c in per.values()]
    kinds = sorted({k for c in per.values() for k in c})
    return {"per_cluster": {"min": min(totals), "median": statistics.median(totals), "max": max(totals)},
            "writes": sum(n for c in per.values() for k, n in c.items() if not k.startswith("GET")),
            "max_per_kind": {k: max(c[k] for c in per.values()) for k in kinds}}


def fleet(pairs: int, work: Path) -> tuple[Path, list[str]]:
    """Fresh simulated clusters (so that the first run really converges them) and an inventory of pairs."""
    subprocess.run([sys.executable, "-m", "kafka_lab.cli", "up", "--sim-clusters", "0"], check=True,
                   stdout=subprocess.DEVNULL)
    for state in (home() / "clusters").glob("sim-*"):
        shutil.rmtree(state)
    subprocess.run([sys.executable, "-m", "kafka_lab.cli", "up", "--sim-clusters", str(2 * pairs)], check=True,
                   stdout=subprocess.DEVNULL)
    sims = [c for c in load_config(home()).clusters() if c.simulated][: 2 * pairs]
    inventory = work / f"fleet-{pairs}.yml"
    hosts = "".join(f"        {c.name}: {{ambari_url: 'http://127.0.0.1:{c.port}', ambari_cluster: {c.name}}}\n"
                    for c in sims)
    listed = "".join(f"    - {{name: pair-{i}, primary: {sims[2 * i].name}, secondary: {sims[2 * i + 1].name}, "
                     f"topics: []}}\n" for i in range(pairs))
    inventory.write_text(
        "all:\n  children:\n    ambari_clusters:\n      hosts:\n" + hosts +
        "      vars:\n        ansible_connection: local\n"
        f"        ansible_python_interpreter: {sys.executable}\n"
        f"        ambari_password: \"{{{{ lookup('ansible.builtin.file', '{home()}/ambari-password') }}}}\"\n"
        "        kafka_network_wait_ready: false\n        kafka_network_batch_separation: 0\n"
        "        kafka_network_wait_sleep: 1\n"
        "    mirror_workers:\n      hosts: {}\n"
        "  vars:\n    mirroring_pairs:\n" + listed)
    return inventory, [c.name for c in sims]


def requests_during(clusters: list[str], action):
    """`action()`'s result, and the requests `clusters`' Ambari endpoints received meanwhile (count())."""
    log = Paths(home()).daemon_log
    offset = log.stat().st_size
    result = action()
    with open(log, "rb") as f:
        f.seek(offset)
        return result, count(f.read().decode(errors="replace").splitlines(), clusters)


def measure(pairs: int, forks: int, work: Path) -> dict:
    inventory, clusters = fleet(pairs, work)
    converge, hosts, _ = run(inventory, forks)
    (noop, _, noop_changed), requests = requests_during(clusters, lambda: run(inventory, forks))
    check, _, check_changed = run(inventory, forks, "--check", "--diff")
    row = {"pairs": pairs, "clusters": len(clusters), "hosts": hosts, "forks": forks, "converge_s": round(converge, 1),
           "noop_s": round(noop, 1), "noop_changed": noop_changed, "check_s": round(check, 1),
           "check_changed": check_changed, "requests": requests}
    print(json.dumps(row), flush=True)
    return row


def chart(rows: list[dict], path: Path) -> None:
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6, 4))
    xs = [r["pairs"] for r in rows]
    for key, label in (("converge_s", "first run (converges)"), ("noop_s", "no-change run"),
                       ("check_s", "--check --diff")):
        ax.plot(xs, [r[key] for r in rows], marker="o", label=label)
    ax.set_xlabel("pairs (2 Ambari clusters each)")
    ax.set_ylabel("wall time, s")
    ax.set_title(f"setup-mirroring.yml over a fleet, forks {rows[0]['forks']}")
    ax.set_xticks(xs)
    ax.grid(alpha=0.3)
    ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--pairs", type=int, nargs="+", default=[10, 50, 100])
    parser.add_argument("--forks", type=int, default=20)
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="fleet-play-"))
    head = subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True, cwd=ROOT)
    rows = [measure(pairs, args.forks, work) for pairs in args.pairs]
    subprocess.run([sys.executable, "-m", "kafka_lab.cli", "up", "--sim-clusters", "0"], check=True,
                   stdout=subprocess.DEVNULL)
    doc = {"command": "python bench/fleet_playbook.py " + " ".join(sys.argv[1:]), "date": time.strftime("%Y-%m-%d"),
           "commit": head.stdout.strip(), "cores": os.cpu_count(), "rows": rows}
    RESULTS.write_text(json.dumps(doc, indent=1) + "\n")
    chart(rows, RESULTS.with_name("fleet.png"))
    print(f"wrote {RESULTS}")


if __name__ == "__main__":
    main()
