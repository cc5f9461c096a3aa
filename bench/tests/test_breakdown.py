"""The latency breakdown read from kafka-mirror's /metrics text (the names the worker's StreamMetrics registers)."""
from __future__ import annotations

import os
import subprocess
import sys

from prometheus_client import CollectorRegistry, Histogram, generate_latest

from kafka_mirror.metrics import LATENCY_BUCKETS
from mirrorbench.breakdown import HISTOGRAMS, summarize


def exposition(observations: dict[str, list[float]]) -> str:
    registry = CollectorRegistry()
    for name, values in observations.items():
        histogram = Histogram(name, "help", buckets=LATENCY_BUCKETS, registry=registry)
        for v in values:
            histogram.observe(v)
    return generate_latest(registry).decode()


def test_means_the_p99_bucket_and_the_targets_part():
    text = exposition({HISTOGRAMS["fetched_age"]: [0.010] * 99 + [0.400],
                       HISTOGRAMS["replication"]: [0.030] * 99 + [0.600],
                       HISTOGRAMS["checkpoint"]: [0.2, 0.3]})
    spent = summarize(text)
    assert spent["fetched_age"] == {"samples": 100, "mean_ms": 13.9, "p99_bucket_ms": 10.0}
    assert spent["replication"]["mean_ms"] == 35.7 and spent["replication"]["p99_bucket_ms"] == 50.0
    assert spent["target"] == {"mean_ms": 21.8}
    assert spent["checkpoint"] == {"samples": 2, "mean_ms": 250.0, "p99_bucket_ms": 500.0}
    assert "handover" not in spent  # never observed: no row


def test_the_worker_registers_every_histogram_the_breakdown_reads(tmp_path):
    """A renamed metric in the worker would leave the breakdown silently empty: the worker's StreamMetrics, in a
    process of its own as a stream is (multiprocess files), read back as the supervisor serves them."""
    script = """
from kafka_mirror import metrics
metrics.prepare_dir(__import__("pathlib").Path(__import__("sys").argv[1]))
m = metrics.StreamMetrics()
for h in (m.fetched_age, m.handover, m.latency, m.checkpoint):
    h.observe(0.02)
from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.multiprocess import MultiProcessCollector
registry = CollectorRegistry()
MultiProcessCollector(registry)
print(generate_latest(registry).decode())
"""
    env = {k: v for k, v in os.environ.items() if k != "PROMETHEUS_MULTIPROC_DIR"}
    text = subprocess.run([sys.executable, "-c", script, str(tmp_path / "metrics")], capture_output=True, text=True,
                          check=True, env=env).stdout
    spent = summarize(text)
    assert set(spent) == {"fetched_age", "handover", "replication", "checkpoint", "target"}
    assert all(spent[k]["mean_ms"] == 20.0 for k in HISTOGRAMS)


def test_the_report_weighs_each_rounds_means_by_their_samples():
    from mirrorbench.report import breakdown_rows

    rows = breakdown_rows([{"fetched_age": {"samples": 1, "mean_ms": 10.0, "p99_bucket_ms": 10.0},
                            "replication": {"samples": 1, "mean_ms": 40.0, "p99_bucket_ms": 50.0},
                            "target": {"mean_ms": 30.0}},
                           None,  # a MirrorMaker run: no account of its own
                           {"fetched_age": {"samples": 3, "mean_ms": 30.0, "p99_bucket_ms": 50.0},
                            "replication": {"samples": 3, "mean_ms": 40.0, "p99_bucket_ms": 100.0},
                            "target": {"mean_ms": 10.0}}])
    table = "\n".join(rows)
    assert "| 25.0 | <= 50 | 4 |" in table  # fetched age: (10 + 3 * 30) / 4
    assert "| 15.0 |  | 4 |" in table  # target: (30 + 3 * 10) / 4, weighed by the replication samples
    assert "checkpoint:" not in table and "| hand-over of a batch" not in table
    assert breakdown_rows([None, None]) == []
