"""The lab's real controls, as a fault scenario pulls them: Ambari, the network, the worker node, Kafka itself."""
from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

from confluent_kafka.admin import AdminClient, AlterConfigOpType, ConfigEntry, ConfigResource

from kafka_lab.client import AmbariClient
from kafka_lab.layout import ClusterSpec, load_config
from kafka_lab.network import IP_FORWARD
from mirrorbench.clusters import BenchError

ROOT = Path(__file__).resolve().parents[2]
AMBARI_WAIT_S = 300.0


@dataclass(frozen=True)
class Cluster:
    spec: ClusterSpec
    url: str
    password_file: Path

    @property
    def name(self) -> str:
        return self.spec.name

    @property
    def bootstrap(self) -> str:
        return ",".join(f"{h.ip}:9092" for h in self.spec.hosts())

    def client(self) -> AmbariClient:
        return AmbariClient(self.url, "admin", self.password_file.read_text().strip())


@dataclass(frozen=True)
class Lab:
    home: Path
    primary: Cluster
    secondary: Cluster

    @property
    def near_secondary(self) -> str:
        """Where the tools run: a network namespace on the secondary's network, as the article runs MirrorMaker
        on the secondary's head node; the primary is reached across the peering."""
        return f"/run/netns/{self.secondary.spec.hosts()[-1].netns}"


def lab() -> Lab:
    home = Path(os.environ.get("KAFKA_LAB_HOME", "/var/lib/kafka-lab"))
    cfg = load_config(home)
    if cfg is None:
        raise BenchError(f"no lab in {home}: run `kafka-lab up --node` first")
    clusters = [Cluster(c, f"http://127.0.0.1:{c.port}", home / "ambari-password") for c in cfg.clusters()[:2]]
    return Lab(home, clusters[0], clusters[1])


def kafka_state(cluster: Cluster, state: str) -> None:
    """PUT ServiceInfo/state through the cluster's Ambari API (INSTALLED stops, STARTED starts) and wait."""
    client = client_of(cluster)
    body = {"RequestInfo": {"context": f"fault suite: KAFKA {state}",
                            "operation_level": {"level": "SERVICE", "cluster_name": cluster.name,
                                                "service_name": "KAFKA"}},
            "Body": {"ServiceInfo": {"state": state}}}
    resp = client.call("PUT", f"clusters/{cluster.name}/services/KAFKA", body, headers={"Accept": "*/*"})
    if resp.status == 200:
        return  # already in that state
    if resp.status != 202:
        raise BenchError(f"Ambari of {cluster.name} answered {resp.status} to KAFKA {state}: {resp.text[:300]}")
    info = client.wait_request(cluster.name, resp.json()["Requests"]["id"], AMBARI_WAIT_S)
    if info["request_status"] != "COMPLETED":
        raise BenchError(f"KAFKA {state} on {cluster.name} ended {info['request_status']}")


def client_of(cluster: Cluster) -> AmbariClient:
    return cluster.client()


BATCH_SEPARATION_S = 5  # between one broker's restart and the next one's


def rolling_restart(cluster: Cluster) -> dict:
    """Every broker, one at a time, through the collection's ambari_service module (as a user's playbook would)."""
    args = {"url": cluster.url, "cluster": cluster.name, "service": "KAFKA", "components": ["KAFKA_BROKER"],
            "state": "restarted", "restart": "always", "rolling": True, "batch_size": 1,
            "batch_separation": BATCH_SEPARATION_S,
            "wait_timeout": 900, "wait_sleep": 2}
    env = {**os.environ, "AMBARI_PASSWORD": cluster.password_file.read_text().strip(),  # never in argv
           "ANSIBLE_CONFIG": str(ROOT / "ansible.cfg"), "ANSIBLE_CALLBACK_RESULT_FORMAT": "json",
           "ANSIBLE_NOCOLOR": "1"}
    ansible = Path(sys.executable).parent / "ansible"
    proc = subprocess.run([str(ansible), "localhost", "-i", "localhost,", "-c", "local", "-e",
                           f"ansible_python_interpreter={sys.executable}", "-m",
                           "ambari_kafka.mirroring.ambari_service", "-a", json.dumps(args)],
                          capture_output=True, text=True, env=env, timeout=1200, cwd=ROOT)
    start = proc.stdout.find("localhost | ")
    if proc.returncode != 0 or start < 0:
        raise BenchError(f"rolling restart of {cluster.name} failed:\n{proc.stdout[-2000:]}\n{proc.stderr[-1000:]}")
    return json.loads(proc.stdout[proc.stdout.index("=>", start) + 2:])


def peering(on: bool) -> None:
    """The two networks are peered by the root namespace forwarding between their bridges."""
    IP_FORWARD.write_text("1\n" if on else "0\n")


def set_topic_config(bootstrap: str, topic: str, name: str, value: str, settled: int = 5) -> None:
    """Set a topic config, and return once `settled` reads in a row, each by a new client, answer the new value. The
    controller answers the alter once the change is in its metadata log; each broker applies it a little later. A
    topic's DescribeConfigs goes to the broker a client's metadata names as controller, which KRaft brokers answer
    with a random live broker (apache/kafka 3.9 KRaftMetadataCache.getControllerId; librdkafka src/rdkafka_admin.c,
    rd_kafka_ConfigResource_get_single_broker_id): a worker started at once read the old max.message.bytes in a
    clean-clone CI run and stopped on it. New clients spread the reads over the brokers; a bound, not a proof."""
    admin = AdminClient({"bootstrap.servers": bootstrap})
    entry = ConfigEntry(name, value, incremental_operation=AlterConfigOpType.SET)
    resource = ConfigResource(ConfigResource.Type.TOPIC, topic, incremental_configs=[entry])
    for future in admin.incremental_alter_configs([resource]).values():
        future.result(30)
    deadline, seen = time.monotonic() + 30, 0
    while seen < settled:
        if time.monotonic() > deadline:
            raise BenchError(f"{topic}'s {name} not read back as {value} within 30 s")
        reader = AdminClient({"bootstrap.servers": bootstrap})
        described = reader.describe_configs([ConfigResource(ConfigResource.Type.TOPIC, topic)], request_timeout=10)
        answer = next(iter(described.values())).result(10).get(name)
        seen = seen + 1 if answer is not None and answer.value == value else 0
        time.sleep(0.1)


def node_ssh(lab_: Lab, *command: str, timeout: float = 120, check: bool = True, stdin: str | None = None) -> str:
    from kafka_lab.node import ssh_argv

    info = json.loads((lab_.home / "node" / "node.json").read_text())
    proc = subprocess.run(ssh_argv(Path(info["key"]), info["ip"], *command), capture_output=True, text=True,
                          timeout=timeout, input=stdin)
    if check and proc.returncode != 0:
        raise BenchError(f"on the node, {' '.join(command)} failed ({proc.returncode}): {proc.stderr[-500:]}")
    return proc.stdout


def node_reboot(lab_: Lab) -> None:
    """`systemctl reboot` in the node (its services stop as on any reboot), then boot it again."""
    from kafka_lab import node

    from kafka_lab.layout import Paths
    from kafka_lab.procs import pid_from

    paths = Paths(lab_.home)
    node_ssh(lab_, "systemctl", "reboot", check=False)
    deadline = time.monotonic() + 120  # nspawn runs the container's shutdown, then exits (no supervisor here)
    while pid_from(paths.node_dir / "nspawn.pid") is not None:
        if time.monotonic() > deadline:
            raise BenchError("the node did not shut down within 120 s of `systemctl reboot`")
        time.sleep(0.5)
    node.up(paths, lab_.secondary.spec)
