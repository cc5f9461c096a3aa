"""`python -m mirrorbench.profile`: where a kafka-mirror stream spends its time while mirroring at full speed.

Starts kafka-mirror on the 100-byte workload (the benchmark's own launch), waits for records to flow, attaches
py-spy to the stream process for a fixed time, and prints self time by function (idle time included, a stream
that waits on the network shows it as time inside consume/flush) with --idle.
"""
from __future__ import annotations

import argparse
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

from confluent_kafka.admin import AdminClient

from kafka_lab.runtime import locate
from mirrorbench import clusters
from mirrorbench.procstat import tree
from mirrorbench.runs import Running
from mirrorbench.tools import Job, KafkaMirror
from mirrorbench.workloads import FULL


def self_time(raw: str) -> tuple[Counter, int]:
    """py-spy's raw (collapsed) output: `frame;frame;leaf count` lines -> samples per leaf function."""
    leaves: Counter = Counter()
    total = 0
    for line in raw.splitlines():
        stack, _, count = line.rpartition(" ")
        if not stack or not count.isdigit():
            continue
        leaf = stack.split(";")[-1]
        leaves[leaf.split(" (")[0] + (" (" + leaf.split(" (")[1] if " (" in leaf else "")] += int(count)
        total += int(count)
    return leaves, total


def main() -> None:
    p = argparse.ArgumentParser(prog="python -m mirrorbench.profile", description=__doc__)
    p.add_argument("--seconds", type=int, default=8)
    p.add_argument("--streams", type=int, default=1)
    p.add_argument("--idle", action="store_true", help="count time spent waiting too (default: CPU time only)")
    p.add_argument("--out", type=Path, default=Path("/tmp/kafka-mirror-profile"))
    args = p.parse_args()
    lab = clusters.lab()
    w = FULL[0]
    clusters.preload(lab.primary, w)
    clusters.reset_topic(lab.secondary, w.topic, w.partitions, w.replication_factor)
    args.out.mkdir(parents=True, exist_ok=True)
    workdir = args.out / time.strftime("%Y%m%dT%H%M%S")
    workdir.mkdir()
    launch = KafkaMirror().launch(Job(workdir, w.topic, args.streams, f"profile-{workdir.name}", lab.primary,
                                      lab.secondary), locate())
    admin = AdminClient({"bootstrap.servers": lab.secondary})
    running = Running(launch.argv, launch.env, workdir)
    try:
        while sum(clusters.partition_counts(admin, w.topic) or [0]) < 100_000:
            time.sleep(0.1)
        pids, _ = tree(running.proc.pid)
        streams = [pid for pid in pids if pid != running.proc.pid
                   and "spawn_main" in Path(f"/proc/{pid}/cmdline").read_text(errors="replace")
                   and "resource_tracker" not in Path(f"/proc/{pid}/cmdline").read_text(errors="replace")]
        raw = workdir / "py-spy.raw"
        subprocess.run([str(Path(sys.executable).parent / "py-spy"), "record", "--pid", str(streams[0]),
                        *(["--idle"] if args.idle else []), "--duration", str(args.seconds), "--rate", "200",
                        "--format", "raw", "-o", str(raw)], check=True, capture_output=True)
    finally:
        running.stop()
    leaves, total = self_time(raw.read_text())
    print(f"stream pid {streams[0]}, {total} samples over {args.seconds}s at 200/s ({100 * total / (200 * args.seconds):.0f}% "
          f"of the time {'sampled' if args.idle else 'on a CPU'}); self time by line:")
    for leaf, n in leaves.most_common(15):
        print(f"{100 * n / total:5.1f}%  {leaf}")
    print(f"raw stacks: {raw}")


if __name__ == "__main__":
    main()
