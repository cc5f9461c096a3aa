"""A ZooKeeper-mode cluster's ZooKeeper: one server on the cluster's first host, started by `kafka-lab up` before
the brokers and stopped by `down` after them. It is not part of the lab's Ambari model (the modules manage KAFKA
only); a real cluster runs it as the ZOOKEEPER service on hosts of its own."""
from __future__ import annotations

import socket
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

from kafka_lab import network
from kafka_lab.errors import LabError
from kafka_lab.layout import ZOOKEEPER_PORT, ClusterSpec, Paths
from kafka_lab.procs import pid_from, terminate
from kafka_lab.runtime import KafkaRuntime

START_TIMEOUT_S = 60.0

LOG4J = """log4j.rootLogger=INFO, file
log4j.appender.file=org.apache.log4j.FileAppender
log4j.appender.file.File={log}
log4j.appender.file.layout=org.apache.log4j.PatternLayout
log4j.appender.file.layout.ConversionPattern=[%d] %p %m (%c)%n
"""


@dataclass(frozen=True)
class ZooKeeperServer:
    paths: Paths
    cluster: ClusterSpec
    runtime: KafkaRuntime

    @property
    def host(self):
        return self.cluster.zookeeper_host

    @property
    def dir(self) -> Path:
        return self.paths.host_dir(self.host.fqdn) / "zookeeper"

    @property
    def pid_file(self) -> Path:
        return self.dir / "zookeeper.pid"

    @property
    def log_file(self) -> Path:
        return self.dir / "zookeeper.log"

    def pid(self) -> int | None:
        return pid_from(self.pid_file)

    def start(self) -> None:
        """Start the server unless it runs, and wait (bounded) until it accepts connections at its address."""
        if self.pid() is None:
            (self.dir / "data").mkdir(parents=True, exist_ok=True)
            (self.dir / "zoo.cfg").write_text(
                f"dataDir={self.dir / 'data'}\nclientPort={ZOOKEEPER_PORT}\nclientPortAddress={self.host.ip}\n"
                "tickTime=2000\ninitLimit=10\nsyncLimit=5\nadmin.enableServer=false\n")
            (self.dir / "log4j.properties").write_text(LOG4J.format(log=self.log_file))
            argv = [str(self.runtime.java), "-Xmx128m", f"-Dlog4j.configuration=file:{self.dir / 'log4j.properties'}",
                    "-cp", self.runtime.classpath, "org.apache.zookeeper.server.quorum.QuorumPeerMain",
                    str(self.dir / "zoo.cfg")]
            with open(self.dir / "zookeeper.out", "ab") as out:
                proc = subprocess.Popen(network.host_exec_argv(self.paths, self.host, argv), stdin=subprocess.DEVNULL,
                                        stdout=out, stderr=subprocess.STDOUT, start_new_session=True)
            self.pid_file.write_text(str(proc.pid))
        deadline = time.monotonic() + START_TIMEOUT_S
        while not self._answers():
            if self.pid() is None or time.monotonic() > deadline:
                tail = self.log_file.read_text(errors="replace")[-2000:] if self.log_file.exists() else ""
                raise LabError(f"ZooKeeper of {self.cluster.name} on {self.host.fqdn} ({self.host.ip}:"
                               f"{ZOOKEEPER_PORT}) did not start within {START_TIMEOUT_S:.0f}s:\n{tail}")
            time.sleep(0.2)

    def _answers(self) -> bool:
        try:
            with socket.create_connection((self.host.ip, ZOOKEEPER_PORT), timeout=1.0):
                return True
        except OSError:
            return False

    def stop(self) -> None:
        pid = self.pid()
        if pid is not None:
            terminate(pid, grace_s=10.0)
        self.pid_file.unlink(missing_ok=True)
