"""What acts on a cluster's hosts for the Ambari API: real broker JVMs, or simulated hosts."""
from __future__ import annotations

import subprocess
import threading
import time

from kafka_lab.broker import BrokerHost
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


class SimulatedAgent:
    """Hosts of fleet-test clusters: tasks succeed after a short delay, no process is started."""

    TASK_SECONDS = 0.05

    def __init__(self, cluster: ClusterSpec) -> None:
        self.up: set[str] = set()
        self.lock = threading.Lock()

    def running(self, host: str) -> bool:
        return host in self.up

    def start(self, host: str, configs: dict[str, dict[str, str]]) -> str:
        time.sleep(self.TASK_SECONDS)
        with self.lock:
            self.up.add(host)
        return f"Simulated Kafka broker on {host} started"

    def stop(self, host: str) -> str:
        time.sleep(self.TASK_SECONDS)
        with self.lock:
            self.up.discard(host)
        return f"Simulated Kafka broker on {host} stopped"
