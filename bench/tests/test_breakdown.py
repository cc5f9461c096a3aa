"""The latency breakdown read from kafka-mirror's /metrics text (the names the worker's StreamMetrics registers)."""
from __future__ import annotations

import os
import subprocess
import sys

import pytest
from prometheus_client import CollectorRegistry, Histogram, generate_latest

from kafka_mirror.metrics import LATENCY_BUCKETS
from mirrorbench.breakdown import HISTOGRAMS, parse, summarize, window


def exposition(observations: dict[str, list[float]]) -> str:
    registry = CollectorRegistry()
    for name, values in observations.items():
        histogram = Histogram(name.removesuffix("_seconds") + "_seconds", "help", buckets=LATENCY_BUCKETS,
                              registry=registry)
        for v in values:
            histogram.observe(v)
    return generate_latest(registry).decode()


def test_means_and_the_p99_bucket_of_the_window_between_two_readings():
    before = parse(exposition({HISTOGRAMS["fetched_age"]: [5.0] * 50, HISTOGRAMS["checkpoint"]: [0.2]}))
    after = parse(exposition({HISTOGRAMS["fetched_age"]: [5.0] * 50 + [0.010] * 99 + [0.400],
                              HISTOGRAMS["checkpoint"]: [0.2, 0.3, 400.0]}))
    spent = summarize(window(before, after))
    assert spent["fetched_age"] == {"samples": 100, "mean_ms": 13.9, "p99_bucket_ms": 10.0}  # start-up left out
    assert spent["checkpoint"] == {"samples": 2, "mean_ms": 200150.0, "p99_bucket_ms": None}  # above every bound
    assert "handover" not in spent  # never observed: no row


def test_the_worker_registers_every_histogram_the_breakdown_reads(tmp_path):
    """A renamed metric in the worker would leave the breakdown silently empty: the worker's StreamMetrics, in a
    process of its own as a stream is (multiprocess files), read back as the supervisor serves them."""
    script = """
from kafka_mirror import metrics
metrics.prepare_dir(__import__("pathlib").Path(__import__("sys").argv[1]))
m = metrics.StreamMetrics()
for h in (m.fetched_age, m.after_fetch, m.handover, m.latency, m.checkpoint, m.refresh):
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
    spent = summarize(parse(text))
    assert set(spent) == set(HISTOGRAMS)
    assert all(spent[k]["mean_ms"] == 20.0 for k in HISTOGRAMS)


def test_the_report_weighs_each_rounds_means_by_their_samples():
    from mirrorbench.report import breakdown_rows

    rows = breakdown_rows([{"fetched_age": {"samples": 1, "mean_ms": 10.0, "p99_bucket_ms": 10.0},
                            "checkpoint": {"samples": 1, "mean_ms": 100.0, "p99_bucket_ms": None}},
                           None,  # a MirrorMaker run: no account of its own
                           {"fetched_age": {"samples": 3, "mean_ms": 30.0, "p99_bucket_ms": 50.0},
                            "checkpoint": {"samples": 1, "mean_ms": 50.0, "p99_bucket_ms": 100.0}}])
    table = "\n".join(rows)
    assert "| 25.0 | <= 50 | 4 |" in table  # fetched age: (10 + 3 * 30) / 4
    assert "| 75.0 | > largest | 2 |" in table  # a round's p99 above every bucket
    assert "| after the fetch" not in table and "| hand-over" not in table
    assert breakdown_rows([None, None]) == []


@pytest.mark.parametrize("flag, message", [("--latency-parallelism=0", "--latency-parallelism: at least 1"),
                                           ("--latency-value-size=8", "--latency-value-size: at least 12")])
def test_latency_setups_that_cannot_run_are_refused_before_anything_runs(capsys, flag, message):
    from mirrorbench.cli import main

    with pytest.raises(SystemExit) as exit_:
        main([flag])
    assert exit_.value.code == 2 and message in capsys.readouterr().err


def test_the_report_has_a_row_for_every_histogram_the_breakdown_reads():
    from mirrorbench.report import BREAKDOWN

    assert [key for key, _ in BREAKDOWN] == list(HISTOGRAMS)
