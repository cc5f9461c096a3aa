"""One measured run: start a tool, watch the target fill, sample the tool's processes, stop it, trace the records."""
from __future__ import annotations

import multiprocessing
import os
import signal
import subprocess
import time
from dataclasses import asdict, dataclass
from pathlib import Path

from confluent_kafka import Consumer, KafkaError, Producer, TopicPartition
from confluent_kafka.admin import AdminClient

from kafka_lab.runtime import KafkaRuntime
from mirrorbench import breakdown, clusters
from mirrorbench.clusters import BenchError, Lab
from mirrorbench.procstat import IDLE_S, TreeSampler, busy_s, cpu_s
from mirrorbench.stats import Sample, mirror_window
from mirrorbench.tools import Job
from mirrorbench.workloads import ID, Workload

SAMPLE_S = 0.1
STOP_GRACE_S = 30.0


@dataclass(frozen=True)
class ThroughputRun:
    tool: str
    workload: str
    parallelism: int
    round: int
    records_per_s: float
    mb_per_s: float
    cpu_s_per_gb: float
    peak_rss_mib: float
    startup_s: float
    records: int
    missing: int
    duplicates: int
    moved: int
    malformed: int
    complete: bool
    stop_s: float  # SIGTERM to exit: a tool's clean shutdown
    trace_s: float  # reading the target back
    # Over the same window: the lab's six brokers' CPU per GB, and how busy the whole machine was (1.0: every core),
    # so that a row shows where the machine's CPU went besides the tool (issue 13, item 1).
    brokers_cpu_s_per_gb: float | None = None
    machine_busy: float | None = None
    idle_busy: float | None = None  # the machine's busy share in the IDLE_S before the tool started

    def to_json(self) -> dict:
        return asdict(self)


def run_name(workdir: Path) -> str:
    """Unique across invocations (`<invocation>-<run>`): groups and MirrorMaker 2's topics are named after it, and a
    group that already committed would start where an earlier run stopped."""
    return f"{workdir.parent.name}-{workdir.name}"


class Running:
    """A tool's process group: started in its own session, stopped with SIGTERM, then SIGKILL after a grace."""

    def __init__(self, argv: list[str], env: dict[str, str], workdir: Path) -> None:
        self.workdir = workdir
        self.console = open(workdir / "console.log", "wb")
        self.proc = subprocess.Popen(argv, stdout=self.console, stderr=subprocess.STDOUT,
                                     env={**os.environ, **env}, start_new_session=True, cwd=workdir)
        self.started = time.monotonic()
        self.sampler = TreeSampler(self.proc.pid)

    def exited(self) -> bool:
        return self.proc.poll() is not None

    def stop(self) -> None:
        if self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(STOP_GRACE_S)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait(10)
        try:  # children the tool left behind (a kafka-mirror stream, a JVM fork)
            os.killpg(self.proc.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        self.console.close()

    def tail(self, lines: int = 15) -> str:
        text = []
        for name in ("console.log", "tool.log"):
            path = self.workdir / name
            if path.exists():
                text += path.read_text(errors="replace").splitlines()[-lines:]
        return "\n".join(text[-lines:])


def throughput(lab: Lab, runtime: KafkaRuntime, tool, w: Workload, parallelism: int, rnd: int,
               workdir: Path) -> ThroughputRun:
    workdir.mkdir(parents=True, exist_ok=True)
    run_id = run_name(workdir)
    clusters.reset_topic(lab.secondary, w.topic, w.partitions, w.replication_factor)
    launch = tool.launch(Job(workdir, w.topic, parallelism, run_id, lab.primary, lab.secondary), runtime)
    admin = AdminClient({"bootstrap.servers": lab.secondary})
    timeout = 120 + w.records / 5_000
    brokers = clusters.broker_pids(lab)
    idle_from, idle_t = busy_s(), time.monotonic()
    time.sleep(IDLE_S)
    idle_busy = (busy_s() - idle_from) / (time.monotonic() - idle_t) / os.cpu_count()
    running = Running(launch.argv, launch.env, workdir)
    samples: list[Sample] = []
    try:
        while True:
            counts = clusters.partition_counts(admin, w.topic) or []
            cpu, rss = running.sampler.sample()
            samples.append(Sample(time.monotonic(), sum(counts), cpu, rss, cpu_s(brokers), busy_s()))
            if samples[-1].count >= w.records:
                break
            if running.exited():
                raise BenchError(f"{tool.name} exited with {running.proc.returncode} after mirroring "
                                 f"{samples[-1].count:,} of {w.records:,} records:\n{running.tail()}")
            if time.monotonic() - running.started > timeout:
                raise BenchError(f"{tool.name} mirrored {samples[-1].count:,} of {w.records:,} records in "
                                 f"{timeout:.0f}s; logs in {workdir}:\n{running.tail()}")
            time.sleep(SAMPLE_S)
    finally:
        stopping = time.monotonic()
        running.stop()
        stop_s = time.monotonic() - stopping
    window = mirror_window(samples, w.records, running.started)
    tracing = time.monotonic()
    got = clusters.trace(lab.secondary, w, w.topic)
    trace_s = time.monotonic() - tracing
    clusters.delete_topics(AdminClient({"bootstrap.servers": lab.secondary}), tool.internal_topics(run_id))
    gb = window.records * w.record_bytes / 1e9
    return ThroughputRun(tool.name, w.name, parallelism, rnd, window.rate, window.rate * w.record_bytes / 1e6,
                         window.cpu_s / gb, running.sampler.peak_rss / 2**20, window.startup_s, got.received,
                         got.missing, got.duplicates, got.moved, got.malformed, got.complete,
                         stop_s, trace_s, window.brokers_cpu_s / gb if brokers else None,
                         window.busy_s / window.seconds / os.cpu_count(), idle_busy)


# --- latency under a steady rate ----------------------------------------------------------------------------

@dataclass(frozen=True)
class LatencyRun:
    tool: str
    round: int
    rate: float
    produced: int
    received: int
    latencies_ms: list[int]  # record timestamp to arrival on the secondary, measured records only
    breakdown: dict | None = None  # kafka-mirror: where the time went, from its /metrics (breakdown.py)

    def to_json(self) -> dict:
        return {**asdict(self), "latencies_ms": None}


def _steady_producer(bootstrap: str, topic: str, rate: float, seconds: float, value_size: int, partitions: int,
                     done) -> None:
    """A separate process, so that the consumer's work never delays a send: `rate` records/s in 10 ms ticks."""
    producer = Producer({"bootstrap.servers": bootstrap, "linger.ms": 1, "enable.idempotence": True})
    fill = bytes(value_size - ID.size)
    start = time.monotonic()
    sent = 0
    while (elapsed := time.monotonic() - start) < seconds:
        due = int(rate * elapsed)
        while sent < due:
            try:
                producer.produce(topic, ID.pack(sent % partitions, sent) + fill, partition=sent % partitions)
                sent += 1
            except BufferError:
                producer.poll(0.01)
        producer.poll(0)
        time.sleep(0.01)
    producer.flush(60)
    done.put(sent)


def _metrics(tool, port: int) -> breakdown.Reading | None:
    """The tool's /metrics now; None when they cannot be read (the account is a side product: the run keeps its
    latencies)."""
    try:
        return breakdown.read(port)
    except (OSError, ValueError) as exc:
        print(f"{tool.name}'s /metrics not read ({exc}): no breakdown for this run", flush=True)
        return None


def latency(lab: Lab, runtime: KafkaRuntime, tool, rate: float, rnd: int, workdir: Path, seconds: float = 30.0,
            warmup: float = 5.0, value_size: int = 100, partitions: int = 8, parallelism: int = 1) -> LatencyRun:
    """Records produced on the primary at `rate`; each one's age when the secondary's consumer gets it.

    The tool is started first and proven to be mirroring (a probe record has arrived), so its start-up is not
    counted; the first `warmup` seconds of the steady stream are left out too.
    """
    workdir.mkdir(parents=True, exist_ok=True)
    run_id = run_name(workdir)
    topic = f"bench-latency-{run_id}"
    clusters.reset_topic(lab.primary, topic, partitions, 2)
    clusters.reset_topic(lab.secondary, topic, partitions, 2)
    port = breakdown.free_port() if tool.breakdown else 0
    launch = tool.launch(Job(workdir, topic, parallelism, run_id, lab.primary, lab.secondary, metrics_port=port),
                         runtime)
    consumer = Consumer({"bootstrap.servers": lab.secondary, "group.id": "bench-latency", "enable.auto.commit": False})
    consumer.assign([TopicPartition(topic, p, -2) for p in range(partitions)])
    spent = first_reading = None
    running = Running(launch.argv, launch.env, workdir)
    latencies: list[int] = []
    received = 0
    try:
        probe = Producer({"bootstrap.servers": lab.primary, "linger.ms": 0})
        deadline = time.monotonic() + 180
        probes = 0
        while not received:  # the tool mirrors: from here on, latency is the tool's steady state
            if running.exited() or time.monotonic() > deadline:
                raise BenchError(f"{tool.name} mirrored no probe record; logs in {workdir}:\n{running.tail()}")
            probe.produce(topic, ID.pack(0, 2**63) + bytes(value_size - ID.size), partition=0)
            probes += 1
            probe.flush(10)
            received += sum(1 for m in consumer.consume(100, 0.5) if m.error() is None)
        ctx = multiprocessing.get_context("spawn")
        done = ctx.Queue()
        # daemon: a run that ends in an exception (or ^C) takes the stream down with it at exit, not left producing
        producer = ctx.Process(target=_steady_producer, daemon=True,
                               args=(lab.primary, topic, rate, warmup + seconds, value_size, partitions, done))
        measure_from = (time.time() + warmup) * 1000
        producer.start()
        produced = None
        deadline = time.monotonic() + warmup + seconds + 120
        while time.monotonic() < deadline:
            batch = consumer.consume(10000, 0.005)  # consume() waits out its timeout unless the batch fills
            now_ms = time.time() * 1000
            if port and first_reading is None and now_ms >= measure_from:
                # the window of the breakdown opens with the measured records
                first_reading = _metrics(tool, port)
                port = port if first_reading is not None else 0
            for m in batch:
                if m.error() is not None:
                    if m.error().code() != KafkaError._PARTITION_EOF:
                        raise BenchError(f"latency consumer: {m.error()}")
                    continue
                received += 1
                ts = m.timestamp()[1]
                if ts >= measure_from and ID.unpack_from(m.value())[1] != 2**63:
                    latencies.append(int(now_ms - ts))
            if produced is None and not done.empty():
                produced = done.get()
            if produced is not None and received >= produced + probes:
                break
        producer.join(30)
        if produced is None:
            raise BenchError("the steady producer did not finish")
        stray = received - produced - probes
        if stray < 0:
            raise BenchError(f"{tool.name} delivered {received - probes:,} of {produced:,} records in time; logs in "
                             f"{workdir}:\n{running.tail()}")
        last_reading = _metrics(tool, port) if first_reading is not None else None
        if last_reading is not None:
            spent = breakdown.summarize(breakdown.window(first_reading, last_reading))
    finally:
        running.stop()
        consumer.close()
    clusters.delete_topics(AdminClient({"bootstrap.servers": lab.primary}), [topic])
    clusters.delete_topics(AdminClient({"bootstrap.servers": lab.secondary}), [topic, *tool.internal_topics(run_id)])
    return LatencyRun(tool.name, rnd, rate, produced, received - probes, latencies, spent)
