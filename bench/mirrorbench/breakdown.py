"""Where kafka-mirror's latency goes (issue 13, item 2), read from its own /metrics over a latency run's window.

Each latency sample of the stream (once per loop pass: the newest record counted as acknowledged) is split at the
moment its record's fetch returned: the fetched age (the steady producer's linger, the source broker, the fetch, and
any time the record waited for the loop) and what came after (the hand-over, kafka-mirror's producer and the target
broker). The two parts of one record add up to its latency. Besides: each pass's hand-over, each checkpoint's pause
and the time taken to apply each periodic topic refresh (the loop stands still: what arrives meanwhile waits). The histograms count from the
worker's start, so the window is the difference of two readings: when the measured records begin, and at the end.
"""
from __future__ import annotations

import socket
import urllib.request

from prometheus_client.parser import text_string_to_metric_families

HISTOGRAMS = {"fetched_age": "kafka_mirror_fetched_age_seconds", "after_fetch": "kafka_mirror_after_fetch_seconds",
              "replication": "kafka_mirror_replication_latency_seconds", "handover": "kafka_mirror_handover_seconds",
              "checkpoint": "kafka_mirror_checkpoint_seconds", "refresh": "kafka_mirror_refresh_seconds"}
Reading = dict[str, dict]  # histogram key -> {"count", "sum", "buckets": {upper bound s: cumulative count}}


def free_port() -> int:
    """A port of the loopback nothing listens on now (the tool binds it a moment later)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def parse(text: str) -> Reading:
    """The histograms of a /metrics text (the supervisor serves every stream's samples summed)."""
    families = {f.name: f for f in text_string_to_metric_families(text)}
    out: Reading = {}
    for key, name in HISTOGRAMS.items():
        family = families.get(name)
        if family is None:
            continue
        h = out[key] = {"count": 0.0, "sum": 0.0, "buckets": {}}
        for sample in family.samples:
            if sample.name == name + "_count":
                h["count"] += sample.value
            elif sample.name == name + "_sum":
                h["sum"] += sample.value
            elif sample.name == name + "_bucket":
                bound = float(sample.labels["le"])
                h["buckets"][bound] = h["buckets"].get(bound, 0.0) + sample.value
    return out


def window(start: Reading, end: Reading) -> Reading:
    """What was observed between two readings."""
    out: Reading = {}
    for key, h in end.items():
        before = start.get(key, {"count": 0.0, "sum": 0.0, "buckets": {}})
        out[key] = {"count": h["count"] - before["count"], "sum": h["sum"] - before["sum"],
                    "buckets": {b: n - before["buckets"].get(b, 0.0) for b, n in h["buckets"].items()}}
    return out


def summarize(reading: Reading) -> dict[str, dict]:
    """Per histogram: samples, mean ms, and the upper bound (ms) of the bucket holding its 99th percentile (None: above
    the largest bound)."""
    out = {}
    for key, h in reading.items():
        if h["count"] <= 0:
            continue
        bound = next((b for b in sorted(h["buckets"]) if h["buckets"][b] >= 0.99 * h["count"]), float("inf"))
        out[key] = {"samples": h["count"], "mean_ms": round(h["sum"] / h["count"] * 1000, 2),
                    "p99_bucket_ms": None if bound == float("inf") else bound * 1000}
    return out


def read(port: int, timeout: float = 10.0) -> Reading:
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=timeout) as response:
        return parse(response.read().decode())
