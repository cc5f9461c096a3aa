"""Time `kafka-lab up` until every broker answers Metadata, and the lab's resident memory.

Usage: python bench/lab_up.py [--rounds N]   (root; destroys and recreates the lab in $KAFKA_LAB_HOME)
Cold = fresh state (KRaft storage formatted on first start), warm = `down` then `up`. Jars cached.
"""
from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

from kafka_lab.broker import BrokerHost
from kafka_lab.cli import daemon_pid
from kafka_lab.layout import DEFAULT_HOME, Paths, load_config
from kafka_lab.runtime import locate


def lab(*args: str) -> float:
    start = time.monotonic()
    subprocess.run([sys.executable, "-m", "kafka_lab.cli", *args], check=True, stdout=subprocess.DEVNULL)
    return time.monotonic() - start


def rss_mib(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


def lab_rss(home: Path) -> tuple[float, int]:
    config = load_config(home)
    kafka = locate(fetch=False)
    pids = [BrokerHost(Paths(home), c, h, kafka).pid() for c in config.clusters() if not c.simulated
            for h in c.hosts()]
    pids = [p for p in pids if p] + [daemon_pid(Paths(home))]
    return sum(rss_mib(p) for p in pids if p), len(pids) - 1


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    home = Path(os.environ.get("KAFKA_LAB_HOME", DEFAULT_HOME))
    cold, warm, rss = [], [], []
    for _ in range(args.rounds):
        lab("destroy")
        cold.append(lab("up", "--brokers", "3"))
        time.sleep(5)  # let the brokers settle before reading memory
        total, brokers = lab_rss(home)
        rss.append(total)
        lab("down")
        warm.append(lab("up"))
    print(f"brokers: {brokers} (3+3), rounds: {args.rounds}, cores: {os.cpu_count()}")
    print(f"kafka-lab up, cold (fresh state): median {statistics.median(cold):.1f} s  (all: "
          f"{', '.join(f'{c:.1f}' for c in cold)})")
    print(f"kafka-lab up, warm (after down):  median {statistics.median(warm):.1f} s  (all: "
          f"{', '.join(f'{w:.1f}' for w in warm)})")
    print(f"resident memory, 6 brokers + Ambari API: median {statistics.median(rss):.0f} MiB (max {max(rss):.0f})")


if __name__ == "__main__":
    main()
