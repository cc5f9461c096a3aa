"""A tool kept running as systemd keeps a service with Restart=on-failure, and one scenario run from start to verdict."""
from __future__ import annotations

import os
import signal
import subprocess
import threading
import time
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path

from confluent_kafka import KafkaException
from confluent_kafka.admin import AdminClient

from mirrorbench.clusters import BenchError, create_topic, delete_topics, partition_counts
from mirrorbench.tools import Job, Launch
from mirrorfaults.stream import PARTITIONS, SteadyStream, absent, verdict

RESTART_S = 5.0  # the role's unit: RestartSec=5
STOP_GRACE_S = 120.0  # the role's unit: TimeoutStopSec=120
SAMPLE_S = 0.5
START_WAIT_S = 180.0
RECOVER_WAIT_S = 300.0
DRAIN_WAIT_S = 240.0
STEADY_S = 6.0
QUIET_S = 10.0
FRESH_AFTER = 10  # failed watermark samples in a row (5 s) before the watch replaces its client


class Supervised:
    """A tool's process group in a network namespace; restarted RESTART_S after it exits with a failure."""

    def __init__(self, launch: Launch, workdir: Path, netns: str, name: str = "tool") -> None:
        self.argv = ["nsenter", f"--net={netns}", *launch.argv]
        self.env = {**os.environ, **launch.env}
        self.workdir = workdir
        self.console = open(workdir / f"{name}.log", "ab")
        self.exits: list[tuple[float, int]] = []  # (monotonic time, exit code; negative: signal), in order
        self.stopping = False
        self.lock = threading.Lock()
        self.proc = self._spawn()
        self.watch = threading.Thread(target=self._supervise, daemon=True)
        self.watch.start()

    def _spawn(self) -> subprocess.Popen:
        return subprocess.Popen(self.argv, stdout=self.console, stderr=subprocess.STDOUT, env=self.env,
                                start_new_session=True, cwd=self.workdir)

    def _supervise(self) -> None:
        while not self.stopping:
            with self.lock:
                code = None if self.stopping else self.proc.poll()
                if code is not None:
                    self._reap()
                    self.exits.append((time.monotonic(), code))
            if code is None:
                time.sleep(0.2)
                continue
            if code == 0:
                return  # a clean exit is not restarted (Restart=on-failure)
            deadline = time.monotonic() + RESTART_S
            while time.monotonic() < deadline and not self.stopping:
                time.sleep(0.2)
            with self.lock:
                if not self.stopping:
                    self.proc = self._spawn()

    def _reap(self) -> None:
        try:  # what the tool left behind (a stream process, a JVM fork), as systemd's KillMode=control-group
            os.killpg(self.proc.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass

    def kill9(self) -> None:
        self.signal(signal.SIGKILL)

    def signal(self, sig: int) -> None:
        with self.lock:
            try:
                os.killpg(self.proc.pid, sig)
            except ProcessLookupError:
                pass

    def stop(self) -> int:
        """SIGTERM and wait (SIGKILL after the grace); the exit code of this last stop is recorded too."""
        with self.lock:
            self.stopping = True
            running = self.proc.poll() is None
        if running:
            os.killpg(self.proc.pid, signal.SIGTERM)
            try:
                code = self.proc.wait(STOP_GRACE_S)
            except subprocess.TimeoutExpired:
                self._reap()
                code = self.proc.wait(10)
            self.exits.append((time.monotonic(), code))
        self._reap()
        self.watch.join(10)
        self.console.close()
        return self.exits[-1][1]

    @property
    def restarts(self) -> int:
        return len([c for _, c in self.exits if c != 0])

    def log_text(self) -> str:
        parts = []
        for path in sorted(self.workdir.glob("*.log")):
            parts.append(path.read_text(errors="replace"))
        return "\n".join(parts)


class Local:
    """A tool of the benchmark, run in a namespace near the secondary and kept up like a systemd service."""

    def __init__(self, tool) -> None:
        self.tool = tool
        self.name = tool.name

    def supervise(self, job: Job, lab, runtime, name: str = "tool") -> Supervised:
        return Supervised(self.tool.launch(job, runtime), job.workdir, lab.near_secondary, name)

    def internal_topics(self, run_id: str) -> list[str]:
        return self.tool.internal_topics(run_id)


@dataclass
class Context:
    """What a scenario acts on."""
    lab: object  # controls.Lab
    tool: object  # mirrorbench.tools.Tool
    job: Job
    supervised: Supervised
    topic: str
    notes: list[str] = field(default_factory=list)
    since: dict[int, int] | None = None  # set by a scenario whose verdict starts at a cut (see stream.verdict)
    requests: list[int] = field(default_factory=list)  # Ambari requests the fault made (ambari_service's request_ids)

    def second_instance(self, name: str, same_identity: bool = False) -> Supervised:
        """Another process of the same tool in the same group: another worker (its own static id, as a second node
        would have), or with `same_identity` a twin of the running one."""
        workdir = self.job.workdir / name
        workdir.mkdir(exist_ok=True)
        instance = self.job.instance_id if same_identity or not self.job.instance_id else f"{name}-{self.job.run_id}"
        job = replace(self.job, workdir=workdir, instance_id=instance)
        from kafka_lab.runtime import locate

        return self.tool.supervise(job, self.lab, locate(), name)


@dataclass(frozen=True)
class Result:
    scenario: str
    tool: str
    produced: int
    received: int
    missing: int
    duplicates: int
    order_violations: int
    malformed: int
    max_lag: int
    recover_s: float | None  # fault over -> the target holds everything produced before it ended
    restarts: int
    exit_codes: list[int]
    notes: list[str]
    requests: list[int] = field(default_factory=list)  # Ambari requests the fault made

    def to_json(self) -> dict:
        return asdict(self)


class Watermarks:
    """Samples source and target record counts (high minus low watermarks) in the background."""

    def __init__(self, primary: str, secondary: str, topic: str) -> None:
        self.servers = {"source": primary, "target": secondary}
        self.clients = {side: AdminClient({"bootstrap.servers": b}) for side, b in self.servers.items()}
        self.failures = {side: 0 for side in self.servers}
        self.topic = topic
        self.samples: list[tuple[float, int, int]] = []  # (time, source, target)
        self.source_count = 0  # the latest the source could be read
        self.done = threading.Event()
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def _run(self) -> None:
        while not self.done.wait(SAMPLE_S):
            source, target = self._count("source"), self._count("target")
            if source is not None:
                self.source_count = source
            if target is not None:  # that cluster is down or cut off right now: no sample
                self.samples.append((time.monotonic(), self.source_count, target))

    def _count(self, side: str) -> int | None:
        try:
            counts = partition_counts(self.clients[side], self.topic)
        except KafkaException:
            counts = None
        if counts is not None:
            self.failures[side] = 0
            return sum(counts)
        # After FRESH_AFTER failed samples in a row, a fresh client: one that lived through its cluster's restart was
        # seen to keep failing after the brokers were back, so the watch missed the recovery (663 s, nothing missing).
        self.failures[side] += 1
        if self.failures[side] >= FRESH_AFTER:
            self.clients[side] = AdminClient({"bootstrap.servers": self.servers[side]})
            self.failures[side] = 0
        return None

    def latest(self) -> tuple[int, int]:
        return self.samples[-1][1:] if self.samples else (0, 0)

    def wait(self, what: str, check, timeout: float) -> float | None:
        """Seconds until check(source, target) holds, or None when it did not within timeout."""
        start = time.monotonic()
        while time.monotonic() - start < timeout:
            if self.samples and check(*self.latest()):
                return time.monotonic() - start
            time.sleep(SAMPLE_S)
        return None

    def drain(self, produced: int, timeout: float) -> None:
        """Until the target holds at least what was produced and has not grown for QUIET_S: counts include
        duplicates, so reaching `produced` alone does not mean every record is there."""
        start = time.monotonic()
        last, since = -1, time.monotonic()
        while time.monotonic() - start < timeout:
            target = self.latest()[1]
            if target != last:
                last, since = target, time.monotonic()
            elif target >= produced and time.monotonic() - since >= QUIET_S:
                return
            time.sleep(SAMPLE_S)

    def max_lag(self) -> int:
        return max((max(0, s - t) for _, s, t in self.samples), default=0)

    def stop(self) -> None:
        self.done.set()
        self.thread.join(10)


# Kafka Connect's WorkerTask.doRun (apache/kafka 3.9, connect/runtime) logs this when a task's exception is not
# tolerated (MirrorMaker 2's default errors.tolerance=none): the task stays dead while the process runs on, so a
# supervisor that restarts failed processes never restarts it.
TASK_KILLED = "Task is being killed and will not recover until manually restarted"


def log_notes(log_text: str) -> list[str]:
    """What a tool's own log says that the counts alone do not explain."""
    killed = log_text.count(TASK_KILLED)
    if not killed:
        return []
    return [f"{killed} Connect task(s) killed after a failed send, never restarted while the process ran on (log: "
            f"\"{TASK_KILLED}\"): what they had not mirrored is counted missing at the end of the run"]


def run(lab, tool, scenario, workdir: Path, rate: float, runtime) -> Result:
    """Steady stream, tool running, the fault, recovery, drain, verdict."""
    workdir.mkdir(parents=True, exist_ok=True)
    run_id = f"{workdir.parent.name}-{workdir.name}"
    topic = f"faults-{run_id}"
    primary, secondary = lab.primary.bootstrap, lab.secondary.bootstrap
    for bootstrap in (primary, secondary):
        admin = AdminClient({"bootstrap.servers": bootstrap})
        delete_topics(admin, [topic])
        create_topic(admin, topic, PARTITIONS, 2)
    scenario.prepare(lab, topic)
    job = Job(workdir, topic, 2, run_id, primary, secondary, scenario.producer_extra, instance_id=f"w-{run_id}")
    stream = SteadyStream(primary, topic, rate)
    watch = Watermarks(primary, secondary, topic)
    supervised = tool.supervise(job, lab, runtime)
    ctx = Context(lab, tool, job, supervised, topic)
    produced = 0
    try:
        if watch.wait("mirroring to start", lambda s, t: t > 0, START_WAIT_S) is None:
            raise BenchError(f"{tool.name} mirrored nothing within {START_WAIT_S:.0f}s; logs in {workdir}")
        time.sleep(STEADY_S)
        scenario.fault(ctx)
        source_at_end = watch.source_count
        recover_s = watch.wait("recovery", lambda s, t: t >= source_at_end, RECOVER_WAIT_S)
        time.sleep(STEADY_S)
        produced = stream.stop()
        watch.drain(produced, DRAIN_WAIT_S)
    finally:
        if stream.proc.is_alive():
            stream.stop()
        watch.stop()
        supervised.stop()
        scenario.cleanup(ctx)
    try:  # notes only: a log that cannot be read must not cost the run its verdict
        ctx.notes.extend(log_notes(supervised.log_text()))
    except (BenchError, subprocess.SubprocessError, OSError) as exc:
        ctx.notes.append(f"the tool's log was not read: {exc}")
    if absent(secondary, topic):
        ctx.notes.append("no target topic at the end: the tool did not create it again, so all it had to mirror "
                         "is counted missing")
    v = verdict(primary, secondary, topic, topic, ctx.since)
    codes = [c for _, c in supervised.exits]
    result = Result(scenario.name, tool.name, v.produced, v.received, v.missing, v.duplicates, v.order_violations,
                    v.malformed, watch.max_lag(), None if recover_s is None else round(recover_s, 1),
                    supervised.restarts, codes, ctx.notes, ctx.requests)
    if result.missing == 0:  # kept otherwise, to be looked at
        delete_topics(AdminClient({"bootstrap.servers": primary}), [topic])
        delete_topics(AdminClient({"bootstrap.servers": secondary}), [topic, *tool.internal_topics(run_id)])
    return result
