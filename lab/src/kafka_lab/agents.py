"""What acts on a cluster's hosts for the Ambari API: real broker JVMs, or simulated hosts."""
from __future__ import annotations

import re
import subprocess
import threading
import time

from kafka_lab.broker import BrokerHost, TaskFailed
from kafka_lab.layout import ClusterSpec, Paths
from kafka_lab.runtime import KafkaRuntime


class BrokerAgent:
    """Real hosts: renders files, formats KRaft storage once, starts and stops the JVM."""

    def __init__(self, paths: Paths, cluster: ClusterSpec, runtime: KafkaRuntime, kafka_cluster_id: str) -> None:
        self.hosts = {h.fqdn: BrokerHost(paths, cluster, h, runtime) for h in cluster.hosts()}
        self.kafka_cluster_id = kafka_cluster_id
        self.children: dict[str, subprocess.Popen] = {}

    def running(self, host: str) -> bool:
        return self.hosts[host].pid() is not None

    def start(self, host: str, configs: dict[str, dict[str, str]]) -> str:
        broker = self.hosts[host]
        broker.configure(configs)
        broker.format_storage(self.kafka_cluster_id, configs["kafka-broker"].get("log.dirs", ""))
        return broker.start(self.children)

    def stop(self, host: str) -> str:
        return self.hosts[host].stop()


LISTENER = re.compile(r"^[A-Za-z0-9_]+://(\[[0-9a-fA-F:]+\]|[^:/\s]*):\d{1,5}$")


class SimulatedAgent:
    """Hosts of fleet-test clusters: no process is started; a START succeeds after a short delay
    unless `listeners` is one a broker would refuse (Kafka's listener syntax, checked the same way)."""

    TASK_SECONDS = 0.05

    def __init__(self, cluster: ClusterSpec) -> None:
        self.up: set[str] = set()
        self.lock = threading.Lock()

    def running(self, host: str) -> bool:
        return host in self.up

    def start(self, host: str, configs: dict[str, dict[str, str]]) -> str:
        time.sleep(self.TASK_SECONDS)
        listeners = configs.get("kafka-broker", {}).get("listeners", "")
        bad = [item for item in listeners.split(",") if not LISTENER.match(item.strip())]
        if bad:
            raise TaskFailed(f"Simulated Kafka broker on {host} exited during start-up:\n"
                             f"java.lang.IllegalArgumentException: Error creating broker listeners from "
                             f"'{listeners}': Unable to parse {bad[0]} to a broker endpoint")
        with self.lock:
            self.up.add(host)
        return f"Simulated Kafka broker on {host} started"

    def stop(self, host: str) -> str:
        time.sleep(self.TASK_SECONDS)
        with self.lock:
            self.up.discard(host)
        return f"Simulated Kafka broker on {host} stopped"
