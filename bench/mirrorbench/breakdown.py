"""Where kafka-mirror's latency goes (issue 13, item 2), read from its own /metrics at the end of a latency run.

The stream samples, once per loop pass: the newest fetched record's age when it takes the batch (the source's part:
the producer's linger, the source broker, the fetch, and any time the batch waited for the loop), the hand-over to
the producer, and the replication latency (record timestamp to the target's acknowledgement). What the target adds
(produce to acknowledgement) is the replication latency less the fetched age. The checkpoints are timed each: the
loop stands still while one runs, and what arrives meanwhile waits.
"""
from __future__ import annotations

import socket
import urllib.request

from prometheus_client.parser import text_string_to_metric_families

HISTOGRAMS = {"fetched_age": "kafka_mirror_fetched_age_seconds", "handover": "kafka_mirror_handover_seconds",
              "replication": "kafka_mirror_replication_latency_seconds",
              "checkpoint": "kafka_mirror_checkpoint_seconds"}


def free_port() -> int:
    """A port of the loopback nothing listens on now (the tool binds it a moment later)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def summarize(text: str) -> dict[str, dict[str, float]]:
    """Per histogram: samples, mean ms, and the upper bound (ms) of the bucket holding the 99th percentile."""
    out: dict[str, dict[str, float]] = {}
    families = {f.name: f for f in text_string_to_metric_families(text)}
    for key, name in HISTOGRAMS.items():
        family = families.get(name.removesuffix("_seconds") + "_seconds")
        if family is None:
            continue
        count = total = 0.0
        buckets: dict[float, float] = {}
        for sample in family.samples:  # summed over the streams (one series each)
            if sample.name.endswith("_count"):
                count += sample.value
            elif sample.name.endswith("_sum"):
                total += sample.value
            elif sample.name.endswith("_bucket"):
                bound = float(sample.labels["le"])
                buckets[bound] = buckets.get(bound, 0.0) + sample.value
        if not count:
            continue
        p99 = next((bound for bound in sorted(buckets) if buckets[bound] >= 0.99 * count), float("inf"))
        out[key] = {"samples": count, "mean_ms": round(total / count * 1000, 1),
                    "p99_bucket_ms": p99 * 1000 if p99 != float("inf") else None}
    if "replication" in out and "fetched_age" in out:
        out["target"] = {"mean_ms": round(out["replication"]["mean_ms"] - out["fetched_age"]["mean_ms"], 1)}
    return out


def scrape(port: int, timeout: float = 10.0) -> dict[str, dict[str, float]]:
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=timeout) as response:
        return summarize(response.read().decode())
