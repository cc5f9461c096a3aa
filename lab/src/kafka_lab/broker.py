"""A broker host's files and JVM: what the KAFKA stack scripts do on START, STOP and RESTART."""
from __future__ import annotations

import os
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

from kafka_lab import network, stack
from kafka_lab.layout import ClusterSpec, HostSpec, Paths
from kafka_lab.procs import pid_from, terminate
from kafka_lab.runtime import KafkaRuntime

# A start task's bound. Ambari gives KAFKA_BROKER's commands 1200 s (common-services/KAFKA/0.8.1/metainfo.xml,
# <commandScript><timeout>, release-2.7.8) and its script returns once the process runs; the lab waits until the broker
# logs that it serves, which on two loaded cores took just over 120 s (a secondary rolling restart under MirrorMaker 1
# and a 2,000 records/s stream: JVM up 30 s after exec, serving 2 minutes after).
START_TIMEOUT_S = 600.0
STOP_GRACE_S = 30.0
# What the broker logs once it serves: KafkaRaftServer (KRaft), KafkaServer (ZooKeeper, every release).
STARTED_MARKERS = ("Kafka Server started", "] started (kafka.server.KafkaServer)")

# kafka-server-start.sh's defaults, used when kafka-env.sh does not set them.
JVM_PERFORMANCE_OPTS = ("-server -XX:+UseG1GC -XX:MaxGCPauseMillis=20 -XX:InitiatingHeapOccupancyPercent=35 "
                        "-XX:+ExplicitGCInvokesConcurrent -Djava.awt.headless=true")

# `source kafka-env.sh ; kafka start`, as the stack's kafka_broker.py runs it.
START_SCRIPT = """
. "$CONF/kafka-env.sh"
mkdir -p "${PID_DIR:?}" "${LOG_DIR:?}"
echo $$ > "$PID_DIR/kafka.pid"
exec "$JAVA_HOME/bin/java" ${KAFKA_HEAP_OPTS:--Xmx1G -Xms1G} ${KAFKA_JVM_PERFORMANCE_OPTS:-$PERF_OPTS} \
  $KAFKA_KERBEROS_PARAMS $KAFKA_OPTS -Dkafka.logs.dir="$LOG_DIR" \
  -Dlog4j.configuration="file:$CONF/log4j.properties" -cp "$CLASSPATH:$LIBS/*" \
  kafka.Kafka "$CONF/server.properties"
"""


class TaskFailed(Exception):
    """A START/STOP could not be carried out; the message is the task's stderr."""


@dataclass(frozen=True)
class BrokerHost:
    paths: Paths
    cluster: ClusterSpec
    host: HostSpec
    runtime: KafkaRuntime

    @property
    def dir(self) -> Path:
        return self.paths.host_dir(self.host.fqdn)

    @property
    def view_conf(self) -> str:
        return f"{self.paths.host_view}/conf"

    def real(self, view_path: str) -> Path:
        """A path as the host sees it, translated to the root namespace."""
        view = str(self.paths.host_view)
        if view_path == view or view_path.startswith(view + "/"):
            return self.dir / view_path[len(view):].lstrip("/")
        return Path(view_path)

    @property
    def out_file(self) -> Path:
        return self.dir / "log" / "kafka.out"

    @property
    def pid_file(self) -> Path:
        return self.paths.broker_pid_file(self.host.fqdn)

    def configure(self, configs: dict[str, dict[str, str]]) -> None:
        """Render server.properties, kafka-env.sh and log4j.properties from the effective configs."""
        params = stack.script_params(configs, self.host, str(self.runtime.java_home), self.view_conf)
        conf = self.dir / "conf"
        for sub in ("conf", "log", "run", "kafka-logs"):
            (self.dir / sub).mkdir(parents=True, exist_ok=True)
        files = {
            "server.properties": stack.render_server_properties(configs["kafka-broker"], params, self.cluster,
                                                                self.host, self.runtime.release.kraft),
            "kafka-env.sh": stack.render_kafka_env(configs.get("kafka-env", {}), params),
            "log4j.properties": stack.render_log4j(configs.get("kafka-log4j", {}), params),
        }
        for name, text in files.items():
            (conf / name).write_text(text)
        for log_dir in configs["kafka-broker"].get("log.dirs", "").split(","):
            if log_dir.strip():
                self.real(log_dir.strip()).mkdir(parents=True, exist_ok=True)

    def format_storage(self, cluster_id: str, log_dirs: str) -> None:
        """Once, before the first start: KRaft storage is formatted. With ZooKeeper, the stack scripts leave
        broker.id out and the broker generates one (1001 up, in start order) into meta.properties; the lab writes
        that file first, with the host's node id, so that each host keeps one id and tests can name it."""
        dirs = [self.real(d.strip()) for d in log_dirs.split(",") if d.strip()]
        if all((d / "meta.properties").exists() for d in dirs):
            return
        if not self.runtime.release.kraft:
            for d in dirs:
                d.mkdir(parents=True, exist_ok=True)
                (d / "meta.properties").write_text(f"version=0\nbroker.id={self.host.node_id}\n")
            return
        argv = self.runtime.java_cmd("kafka.tools.StorageTool", "format", "-t", cluster_id, "-c",
                                     f"{self.view_conf}/server.properties", "--ignore-formatted")
        proc = subprocess.run(network.host_exec_argv(self.paths, self.host, argv),
                              capture_output=True, text=True, timeout=120)
        if proc.returncode != 0:
            raise TaskFailed(f"kafka-storage format failed on {self.host.fqdn}:\n{(proc.stdout + proc.stderr)[-3000:]}")

    def pid(self) -> int | None:
        return pid_from(self.pid_file)

    def start(self, children: dict[str, subprocess.Popen]) -> str:
        """Start the JVM and wait until it logs that it started; return the stdout to report."""
        if self.pid():
            return f"Kafka broker on {self.host.fqdn} is already running (pid {self.pid()})"
        self.out_file.parent.mkdir(parents=True, exist_ok=True)
        offset = self.out_file.stat().st_size if self.out_file.exists() else 0
        env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "CONF": self.view_conf,
               "LIBS": str(self.runtime.libs), "PERF_OPTS": JVM_PERFORMANCE_OPTS, "CLASSPATH": ""}
        with open(self.out_file, "ab") as out:
            proc = subprocess.Popen(network.host_exec_argv(self.paths, self.host, ["bash", "-c", START_SCRIPT]),
                                    stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT, env=env,
                                    start_new_session=True)
        children[self.host.fqdn] = proc
        return self._wait_started(proc, offset)

    def _wait_started(self, proc: subprocess.Popen, offset: int) -> str:
        deadline = time.monotonic() + START_TIMEOUT_S
        while time.monotonic() < deadline:
            text = self._read_from(offset)
            if any(marker in text for marker in STARTED_MARKERS):
                return f"Kafka broker on {self.host.fqdn} started (pid {proc.pid})"
            if proc.poll() is not None:
                raise self._failed(f"exited with code {proc.returncode} during start-up", offset)
            time.sleep(0.25)
        raise self._failed(f"did not log that it started within {START_TIMEOUT_S:.0f}s", offset)

    def _failed(self, what: str, offset: int) -> TaskFailed:
        """The broker's error lines, then one closing line with the cause, as Ambari's stack scripts end with
        `resource_management.core.exceptions.Fail: ...` (clients show the last lines)."""
        text = self._read_from(offset)
        return TaskFailed(f"Kafka broker on {self.host.fqdn} {what}:\n{error_excerpt(text)}\n"
                          f"Fail: Kafka broker on {self.host.fqdn} {what}: {first_cause(text)}")

    def _read_from(self, offset: int) -> str:
        with open(self.out_file, "rb") as f:
            f.seek(offset)
            return f.read().decode(errors="replace")

    def stop(self, grace_s: float = STOP_GRACE_S) -> str:
        """SIGTERM (controlled shutdown), then SIGKILL once `grace_s` has passed."""
        pid = self.pid()
        if pid is None:
            self.pid_file.unlink(missing_ok=True)
            return f"Kafka broker on {self.host.fqdn} is not running"
        killed = terminate(pid, grace_s)
        self.pid_file.unlink(missing_ok=True)
        how = f"killed after {grace_s:.0f}s without a controlled shutdown" if killed else "stopped"
        return f"Kafka broker on {self.host.fqdn} {how} (pid {pid})"


def first_cause(text: str) -> str:
    """The first exception message of a broker's output, else its first ERROR line."""
    lines = text.splitlines()
    for line in lines:
        if "Exception: " in line or "Error: " in line:
            return line.strip()
    return next((line.strip() for line in lines if " ERROR " in line), "no error logged")


def error_excerpt(text: str, limit: int = 40) -> str:
    """The lines of a broker's output that say why it failed, else its last lines."""
    lines = text.splitlines()
    picked: list[str] = []
    for i, line in enumerate(lines):
        if any(word in line for word in (" ERROR ", " FATAL ", "Exception", "Error:")):
            picked.extend(lines[i:i + 3])
    picked = list(dict.fromkeys(picked)) or lines[-20:]
    return "\n".join(picked[:limit])
