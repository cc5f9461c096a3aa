"""The real lab for integration tests: reused when it is up, else brought up (and down) for the session."""
from __future__ import annotations

import json
import os
import subprocess
import sys
import uuid
from dataclasses import dataclass
from pathlib import Path

import pytest

from kafka_lab import network
from kafka_lab.cli import daemon_pid
from kafka_lab.client import AmbariClient
from kafka_lab.layout import DEFAULT_HOME, ClusterSpec, LabConfig, Paths, load_config

from .playbook import playbook

REQUEST_TIMEOUT_S = 180.0
DESCRIBE = """
import json, sys, time
from confluent_kafka import KafkaException
from confluent_kafka.admin import AdminClient, ConfigResource
deadline = time.monotonic() + 60  # a cluster just restarted settles first: every broker in the metadata
brokers = AdminClient({"bootstrap.servers": sys.argv[1]}).list_topics(timeout=30).brokers
while len(brokers) < len(sys.argv[3:]) and time.monotonic() < deadline:
    time.sleep(1)
    brokers = AdminClient({"bootstrap.servers": sys.argv[1]}).list_topics(timeout=30).brokers
# Bootstrap by what the brokers advertise (names or IPs): librdkafka then never swaps handles mid-request.
conf = {"bootstrap.servers": ",".join(f"{b.host}:{b.port}" for b in brokers.values())}
values = {}
for node in sys.argv[3:]:  # one BROKER resource per call
    for attempt in range(3):  # a fresh client each time: one stuck connection must not decide
        try:
            admin = AdminClient(conf)  # keep a reference: a collected client destroys its pending requests
            futures = admin.describe_configs([ConfigResource("broker", node)], request_timeout=20)
            for resource, future in futures.items():
                values[resource.name] = future.result(timeout=20)[sys.argv[2]].value
            break
        except (KafkaException, TimeoutError):
            if attempt == 2:
                raise
print(json.dumps(values))
"""



def kafka_lab(*args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    proc = subprocess.run([sys.executable, "-m", "kafka_lab.cli", *args], capture_output=True, text=True)
    if check and proc.returncode != 0:
        pytest.fail(f"kafka-lab {' '.join(args)} failed:\n{proc.stdout}\n{proc.stderr}", pytrace=False)
    return proc


@dataclass
class LabCluster:
    spec: ClusterSpec
    client: AmbariClient
    paths: Paths

    @property
    def name(self) -> str:
        return self.spec.name

    @property
    def bootstrap(self) -> str:
        return ",".join(f"{h.ip}:9092" for h in self.spec.hosts())

    def desired(self, config_type: str) -> tuple[str, dict]:
        d = self.client.get(f"clusters/{self.name}?fields=Clusters/desired_configs")["Clusters"]["desired_configs"]
        tag = d[config_type]["tag"]
        items = self.client.get(f"clusters/{self.name}/configurations?type={config_type}&tag={tag}")["items"]
        return tag, items[0]["properties"]

    def put(self, config_type: str, props: dict, note: str):
        body = {"Clusters": {"desired_config": [{"type": config_type, "tag": f"test-{uuid.uuid4().hex[:12]}",
                                                 "properties": props, "service_config_version_note": note}]}}
        resp = self.client.call("PUT", f"clusters/{self.name}", body)
        assert resp.status == 200, resp.text

    def restart(self, hosts: list[str]) -> tuple[dict, list[dict]]:
        """RESTART hosts through /requests, wait, return the request and its tasks."""
        body = {"RequestInfo": {"command": "RESTART", "context": "test restart",
                                "operation_level": {"level": "SERVICE", "cluster_name": self.name,
                                                    "service_name": "KAFKA"}},
                "Requests/resource_filters": [{"service_name": "KAFKA", "component_name": "KAFKA_BROKER",
                                               "hosts": ",".join(hosts)}]}
        resp = self.client.call("POST", f"clusters/{self.name}/requests", body)
        assert resp.status == 202, resp.text
        request_id = resp.json()["Requests"]["id"]
        info = self.client.wait_request(self.name, request_id, REQUEST_TIMEOUT_S)
        tasks = self.client.get(f"clusters/{self.name}/requests/{request_id}/tasks?fields=Tasks/*")["items"]
        return info, [t["Tasks"] for t in tasks]

    def stale_hosts(self) -> list[str]:
        items = self.client.get(f"clusters/{self.name}/host_components?HostRoles/stale_configs=true")["items"]
        return sorted(i["HostRoles"]["host_name"] for i in items)

    def broker_config(self, key: str) -> dict[str, str]:
        """`key` as every running broker reports it (describe_configs), read on a cluster host, where the
        brokers' names resolve whether they advertise names or IPs."""
        fqdns = ",".join(f"{h.fqdn}:9092" for h in self.spec.hosts())
        ids = [str(h.node_id) for h in self.spec.hosts()]
        return json.loads(self.on_host(0, [sys.executable, "-c", DESCRIBE, fqdns, key, *ids]))

    def on_host(self, index: int, argv: list[str], timeout: float = 120) -> str:
        """Run argv on one of the cluster's hosts (its namespaces) and return stdout."""
        proc = subprocess.run(network.host_exec_argv(self.paths, self.spec.hosts()[index], argv),
                              capture_output=True, text=True, timeout=timeout)
        assert proc.returncode == 0, proc.stderr
        return proc.stdout


@dataclass
class Lab:
    config: LabConfig
    primary: LabCluster
    secondary: LabCluster


@pytest.fixture(scope="session")
def lab() -> Lab:
    home = Path(os.environ.get("KAFKA_LAB_HOME", DEFAULT_HOME))
    config = load_config(home)
    running = config is not None and daemon_pid(Paths(home)) is not None
    if not (running and config.nodes):  # e.g. left up by `make bench` without the node
        kafka_lab("--home", str(home), "up", "--node")  # the playbook deploys the mirror to the node
    config = load_config(home)
    password = Paths(home).password_file.read_text().strip()
    real = [c for c in config.clusters() if not c.simulated]
    clusters = [LabCluster(c, AmbariClient(f"http://127.0.0.1:{c.port}", config.username, password), Paths(home))
                for c in real]
    try:
        yield Lab(config, *clusters)
    finally:
        if not running:
            kafka_lab("--home", str(home), "down")


@pytest.fixture(scope="module")
def reachable(lab) -> Lab:
    """The article's network step on both clusters (brokers advertise their IPs, listen on all interfaces), so the
    controller reaches every broker by IP; nothing else of the playbook (bench/prepare-lab.yml: reads only, once it
    has been applied)."""
    playbook("bench/prepare-lab.yml")
    return lab


@pytest.fixture
def restore(lab):
    """Put back the primary's kafka-broker and kafka-env as they were, and restart what became stale."""
    before = {t: lab.primary.desired(t)[1] for t in ("kafka-broker", "kafka-env")}
    yield lab.primary
    for config_type, props in before.items():
        if lab.primary.desired(config_type)[1] != props:
            lab.primary.put(config_type, props, "test: restore")
    stale = lab.primary.stale_hosts()
    if stale:
        info, tasks = lab.primary.restart(stale)
        assert info["request_status"] == "COMPLETED", json.dumps(tasks, indent=1)[:3000]


@pytest.fixture(autouse=True)
def discard_mirrors():
    """Whatever a test did, none of the workers it started (test_mirror.Mirror, in every module that uses it) runs
    into the next test."""
    yield
    from .test_mirror import Mirror

    while Mirror.started:
        Mirror.started.pop().discard()
