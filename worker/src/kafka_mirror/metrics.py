"""Prometheus /metrics and /health for all streams of one worker.

Streams are processes: each records into prometheus_client's multiprocess files and writes a heartbeat file; the
supervisor serves both endpoints from those files. PROMETHEUS_MULTIPROC_DIR must be set before prometheus_client
is imported, so the imports below are local.
"""
from __future__ import annotations

import json
import os
import shutil
import time
from dataclasses import asdict, dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300)
HANDOVER_BUCKETS = (0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1)
ENV = "PROMETHEUS_MULTIPROC_DIR"


def prepare_dir(path: Path) -> None:
    """A fresh multiprocess directory, named in the environment the streams inherit."""
    shutil.rmtree(path, ignore_errors=True)
    path.mkdir(parents=True, mode=0o700)
    os.environ[ENV] = str(path)


class StreamMetrics:
    """What one stream records. Created inside the stream process, after prepare_dir."""

    def __init__(self) -> None:
        from prometheus_client import Counter, Gauge, Histogram

        self.records = Counter("kafka_mirror_records", "Records the target acknowledged (mirrored again after a fault: "
                                                   "counted again)", ["topic"])
        self.bytes = Counter("kafka_mirror_bytes", "Value bytes of the records the target acknowledged", ["topic"])
        self.latency = Histogram("kafka_mirror_replication_latency_seconds",
                                 "Record timestamp to acknowledgement by the target (sampled once per loop pass, "
                                 "acknowledgement counted from the producer's queue: kafka_mirror.ack_clock)",
                                 buckets=LATENCY_BUCKETS)
        # Where the replication latency goes: each latency sample split at the moment its record's fetch returned
        # (the same record, so fetched age + after fetch = latency), the hand-over of each pass, and the loop standing
        # still for each checkpoint.
        self.fetched_age = Histogram("kafka_mirror_fetched_age_seconds",
                                     "Of each latency sample: record timestamp to the return of the fetch that took "
                                     "it (producer, source, fetch, waiting for the loop)", buckets=LATENCY_BUCKETS)
        self.after_fetch = Histogram("kafka_mirror_after_fetch_seconds",
                                     "Of each latency sample: the fetch's return to the target's acknowledgement "
                                     "(hand-over, producer, target)", buckets=LATENCY_BUCKETS)
        self.handover = Histogram("kafka_mirror_handover_seconds",
                                  "Time a loop pass takes to hand its batch to the producer", buckets=HANDOVER_BUCKETS)
        self.checkpoint = Histogram("kafka_mirror_checkpoint_seconds",
                                    "Time the loop stands still for a checkpoint (flush; the commit when it waits "
                                    "for it: exactly-once, or after a failed record; group offsets)",
                                    buckets=LATENCY_BUCKETS)
        self.refresh = Histogram("kafka_mirror_refresh_seconds",
                                 "Time the loop stands still to apply a periodic topic refresh (its reads of both "
                                 "clusters, and the target topics made or grown, run beside the loop)", buckets=LATENCY_BUCKETS)
        self.lag = Gauge("kafka_mirror_consumer_lag", "Source records not yet consumed", ["topic", "partition"],
                         multiprocess_mode="livesum")
        self.send_errors = Counter("kafka_mirror_send_errors", "Records the target did not accept", ["topic", "reason"])
        self.commits = Counter("kafka_mirror_commits", "Source offset commits")
        self.looped = Counter("kafka_mirror_records_not_mirrored_back", "Records first written to the target cluster, "
                              "not mirrored back to it (--provenance)", ["topic"])
        self.assigned = Gauge("kafka_mirror_assigned_partitions", "Source partitions assigned",
                              multiprocess_mode="livesum")


@dataclass
class Heartbeat:
    stream: int
    pid: int
    state: str  # starting | running | stopping
    assigned: int = 0
    last_commit: float = 0.0  # time.time() of the last checkpoint that committed or had nothing to commit
    updated: float = 0.0


def write_heartbeat(directory: Path, beat: Heartbeat) -> None:
    beat.updated = time.time()
    tmp = directory / f".health-{beat.stream}.tmp"
    tmp.write_text(json.dumps(asdict(beat)))
    os.replace(tmp, directory / f"health-{beat.stream}.json")


def read_heartbeats(directory: Path) -> list[dict[str, Any]]:
    out = []
    for path in sorted(directory.glob("health-*.json")):
        try:
            out.append(json.loads(path.read_text()))
        except (OSError, ValueError):
            continue
    return out


def health(directory: Path, streams: int, commit_interval_s: float, alive: list[bool]) -> tuple[bool, dict]:
    """Ready: every stream process alive, running, and checkpointing (committing) recently."""
    now = time.time()
    beats = {b["stream"]: b for b in read_heartbeats(directory)}
    bound = max(3 * commit_interval_s, 60.0)
    report = []
    for i in range(streams):
        b = beats.get(i)
        # A checkpoint runs every commit interval, with or without partitions: one recent checkpoint means the
        # stream joined the group and commits (a stream left without partitions is healthy too).
        ok = alive[i] and b is not None and b["state"] == "running" and bool(b["last_commit"]) and \
            now - b["last_commit"] <= bound
        report.append({"stream": i, "alive": alive[i], "ready": bool(ok),
                       "state": b["state"] if b else "starting", "assigned": b["assigned"] if b else 0,
                       "seconds_since_last_commit": round(now - b["last_commit"], 1) if b and b["last_commit"] else None})
    ready = all(r["ready"] for r in report)
    return ready, {"status": "ready" if ready else "not ready", "streams": report}


def serve(host: str, port: int, directory: Path, streams: int, commit_interval_s: float,
          alive: callable) -> ThreadingHTTPServer:
    """The supervisor's endpoint: /metrics (all streams) and /health (200 ready, 503 not)."""
    from prometheus_client import CollectorRegistry, generate_latest
    from prometheus_client.core import GaugeMetricFamily
    from prometheus_client.multiprocess import MultiProcessCollector

    class SinceCommit:
        def collect(self):
            family = GaugeMetricFamily("kafka_mirror_seconds_since_last_commit",
                                       "Seconds since each stream last committed", labels=["stream"])
            for b in read_heartbeats(directory):
                if b["last_commit"]:
                    family.add_metric([str(b["stream"])], time.time() - b["last_commit"])
            yield family

    registry = CollectorRegistry()
    MultiProcessCollector(registry)
    registry.register(SinceCommit())

    class Handler(BaseHTTPRequestHandler):
        def log_message(self, fmt: str, *args: Any) -> None:
            pass

        def do_GET(self) -> None:
            if self.path.startswith("/metrics"):
                self._send(200, generate_latest(registry), "text/plain; version=0.0.4")
            elif self.path.startswith("/health"):
                ready, body = health(directory, streams, commit_interval_s, alive())
                self._send(200 if ready else 503, json.dumps(body).encode(), "application/json")
            else:
                self._send(404, b"not found: try /metrics or /health\n", "text/plain")

        def _send(self, status: int, data: bytes, ctype: str) -> None:
            self.send_response(status)
            self.send_header("Content-Type", ctype)
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

    server = ThreadingHTTPServer((host, port), Handler)
    server.daemon_threads = True
    return server
