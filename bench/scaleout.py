"""Scale-out: one pair mirrored by one worker node, then by two (issue 13 item 5).

Usage (root, the lab's venv, `kafka-lab up --nodes 2`): python bench/scaleout.py [--records 2000000] [--rounds 2]
Each round deploys the pair with setup-mirroring.yml (the role, as users run it) to its workers, under a pair name of
its own (so a group of its own), against a fresh target topic; the source holds a preloaded backlog. Throughput is
timed between the target holding 20% and 90% of it (the start, the group's joins and the tail left out); CPU is the
services' own (their processes' CPU time on each node, since the role's restart). One node and two alternate, so the
machine's drift falls on both. Writes bench/results/scaleout.json; `python -m mirrorbench --report-only` puts it in
bench/RESULTS.md.
"""
from __future__ import annotations

import argparse
import datetime
import json
import os
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import yaml
from confluent_kafka.admin import AdminClient

from kafka_lab import node
from kafka_lab.layout import DEFAULT_HOME, Paths, load_config
from mirrorbench.clusters import partition_counts, preload, reset_topic
from mirrorbench.workloads import Workload

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "bench" / "results" / "scaleout.json"
WORKERS = {1: ["lab-node"], 2: ["lab-node", "lab-node-2"]}
SAMPLE_S = 0.5


def home() -> Path:
    return Path(os.environ.get("KAFKA_LAB_HOME", DEFAULT_HOME))


def on_node(index: int, command: str) -> str:
    info = json.loads((Paths(home()).node_home(index) / "node.json").read_text())
    # A stop may take the unit's TimeoutStopSec (120 s): the lab's nodes sometimes cannot kill a stopped service's
    # control group ("Input/output error" under nspawn), and systemd then waits that long for a straggler.
    proc = subprocess.run(node.ssh_argv(Path(info["key"]), info["ip"], command), capture_output=True, text=True,
                          timeout=300)
    if proc.returncode != 0:
        raise SystemExit(f"on node {index + 1}: {command}: {proc.stderr}")
    return proc.stdout.strip()


def playbook(workdir: Path, extra: dict | None, *args: str) -> None:
    """setup-mirroring.yml on inventory/lab plus the second node; `extra` None: the inventory as it is."""
    argv = [str(Path(sys.executable).parent / "ansible-playbook"), "-i", str(ROOT / "inventory/lab")]
    if extra is not None:
        secondary = load_config(home()).clusters()[1]
        (workdir / "nodes.yml").write_text(yaml.safe_dump({"all": {"children": {"mirror_workers": {"hosts": {
            "lab-node-2": node.inventory_host(secondary, 1)}}}}}))
        (workdir / "vars.json").write_text(json.dumps(extra))
        argv += ["-i", str(workdir / "nodes.yml"), "-e", f"@{workdir / 'vars.json'}"]
    proc = subprocess.run([*argv, *args, str(ROOT / "setup-mirroring.yml")], capture_output=True, text=True, cwd=ROOT,
                          env={**os.environ, "ANSIBLE_CONFIG": str(ROOT / "ansible.cfg"), "ANSIBLE_NOCOLOR": "1"})
    if proc.returncode != 0:
        raise SystemExit(proc.stdout[-4000:] + proc.stderr[-2000:])


def watch(bootstrap: str, topic: str, total: int, samples: list[tuple[float, int]], stop: threading.Event) -> None:
    admin = AdminClient({"bootstrap.servers": bootstrap})
    while not stop.is_set():
        counts = partition_counts(admin, topic)
        if counts is not None:
            samples.append((time.monotonic(), sum(counts)))
            if sum(counts) >= total:
                return
        time.sleep(SAMPLE_S)


def crossing(samples: list[tuple[float, int]], level: float) -> float:
    at = next((t for t, n in samples if n >= level), None)
    if at is None:
        raise SystemExit(f"the target never held {level:,.0f} records (last sample: {samples[-1:]})")
    return at


# The service's processes' CPU time, summed from /proc: systemd's CPUUsageNSec is "[not set]" in the lab's nodes
# (nspawn gives them read-only cgroup v1 controllers), and every process of the service lives the whole round.
CPU_TICKS = ("for p in $(cat /sys/fs/cgroup/systemd/system.slice/kafka-mirror.service/cgroup.procs "
             "/sys/fs/cgroup/system.slice/kafka-mirror.service/cgroup.procs 2>/dev/null); do "
             "awk '{print $14 + $15}' /proc/$p/stat; done | awk '{s += $1} END {print s + 0}'; getconf CLK_TCK")


def cpu_ns(index: int) -> int:
    """CPU time of the node's kafka-mirror processes (user and system, since the role's restart)."""
    ticks, per_second = on_node(index, CPU_TICKS).split()
    return int(ticks) * 1_000_000_000 // int(per_second)


def one_round(w: Workload, nodes: int, index: int, primary: str, secondary: str, workdir: Path) -> dict:
    reset_topic(secondary, w.topic, w.partitions, w.replication_factor)
    total = sum(partition_counts(AdminClient({"bootstrap.servers": primary}), w.topic))
    samples: list[tuple[float, int]] = []
    stop = threading.Event()
    watcher = threading.Thread(target=watch, args=(secondary, w.topic, total, samples, stop), daemon=True)
    watcher.start()
    pair = {"name": f"scale-{index}-{nodes}", "primary": "lab-primary", "secondary": "lab-secondary",
            "workers": WORKERS[nodes], "topics": [{"name": w.topic, "partitions": w.partitions,
                                                   "replication_factor": w.replication_factor}]}
    # The canary the playbook checks lands after the backlog: give it the time the backlog takes. One node: the
    # second, a mirror_workers host of no pair then, is left out of the run.
    playbook(workdir, {"mirroring_pairs": [pair], "mirroring_check_deadline": 900},
             *(["--limit", "!lab-node-2"] if nodes == 1 else []))
    watcher.join(900)
    stop.set()
    used = sum(cpu_ns(i) for i in range(nodes))
    for i in range(nodes):
        on_node(i, "systemctl stop kafka-mirror")
    t20, t90 = crossing(samples, 0.2 * total), crossing(samples, 0.9 * total)
    if t90 <= t20:
        raise SystemExit("20% to 90% of the backlog arrived between two samples: give more --records")
    rate = 0.7 * total / (t90 - t20)
    gb = total * w.record_bytes / 1e9
    row = {"nodes": nodes, "records": total, "records_per_s": round(rate),
           "mb_per_s": round(rate * w.record_bytes / 1e6, 1), "cpu_s": round(used / 1e9, 1),
           "cpu_s_per_gb": round(used / 1e9 / gb, 1)}
    print(json.dumps(row), flush=True)
    return row


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--records", type=int, default=2_000_000)
    parser.add_argument("--rounds", type=int, default=2)
    args = parser.parse_args()
    config = load_config(home())
    if config is None or not all(node.running(Paths(home()), i) for i in range(2)):
        raise SystemExit("needs the lab with two worker nodes: kafka-lab up --nodes 2")
    primary, secondary = (",".join(f"{h.ip}:9092" for h in c.hosts()) for c in config.clusters()[:2])
    w = Workload("scale-out", "bench-scaleout", args.records, 100)
    preload(primary, w)
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        try:
            for index in range(args.rounds):
                for nodes in (1, 2):
                    rows.append(one_round(w, nodes, index, primary, secondary, Path(tmp)))
        finally:
            on_node(1, "systemctl disable --now kafka-mirror || true")
            playbook(Path(tmp), None)  # the inventory's own pair on the first node again
    commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True,
                            cwd=ROOT).stdout.strip()
    RESULTS.write_text(json.dumps({
        "command": f"python bench/scaleout.py --records {args.records} --rounds {args.rounds}",
        "date": datetime.date.today().isoformat(), "commit": commit, "cores": os.cpu_count(),
        "record_bytes": w.record_bytes, "rows": rows}, indent=2) + "\n")
    print(f"wrote {RESULTS}")


if __name__ == "__main__":
    main()
