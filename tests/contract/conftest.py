"""Contract tests of the lab's Ambari API: an in-process endpoint over simulated hosts.

The API's behaviour (status codes, bodies, versions, requests) is what these tests pin down; the
real brokers behind it are tested in tests/integration.
"""
from __future__ import annotations

import contextlib
import ssl
import threading
from dataclasses import dataclass
from pathlib import Path

import pytest

from kafka_lab import stack
from kafka_lab.agents import SimulatedAgent
from kafka_lab.ambari.model import ClusterModel
from kafka_lab.ambari.operations import Operations
from kafka_lab.ambari.server import Credentials, Endpoint, make_server
from kafka_lab.client import AmbariClient
from kafka_lab.layout import ClusterSpec

CLUSTER = "c1"
PASSWORD = "s3cret-pw"


@dataclass
class Api:
    client: AmbariClient
    model: ClusterModel
    spec: ClusterSpec
    state_path: Path

    @property
    def hosts(self) -> list[str]:
        return [h.fqdn for h in self.spec.hosts()]

    def put_config(self, config_type: str, props: dict, tag: str | None = None, note: str = "test", **extra):
        desired = {"type": config_type, "properties": props, "service_config_version_note": note, **extra}
        if tag is not None:
            desired["tag"] = tag
        return self.client.call("PUT", f"clusters/{CLUSTER}", {"Clusters": {"desired_config": [desired]}})

    def current(self, config_type: str) -> tuple[str, int, dict]:
        d = self.client.get(f"clusters/{CLUSTER}?fields=Clusters/desired_configs")["Clusters"]["desired_configs"]
        tag, version = d[config_type]["tag"], d[config_type]["version"]
        items = self.client.get(f"clusters/{CLUSTER}/configurations?type={config_type}&tag={tag}")["items"]
        return tag, version, items[0]["properties"]

    def set_state(self, state: str, level: bool = True) -> int | None:
        body = {"RequestInfo": {"context": f"to {state}"}, "Body": {"ServiceInfo": {"state": state}}}
        if level:
            body["RequestInfo"]["operation_level"] = {"level": "SERVICE", "cluster_name": CLUSTER,
                                                      "service_name": "KAFKA"}
        resp = self.client.call("PUT", f"clusters/{CLUSTER}/services/KAFKA", body)
        assert resp.status in (200, 202), resp.text
        if resp.status == 200:
            return None
        request_id = resp.json()["Requests"]["id"]
        assert self.client.wait_request(CLUSTER, request_id, 30)["request_status"] == "COMPLETED"
        return request_id

    def restart(self, hosts: list[str], level: dict | None = None):
        body = {"RequestInfo": {"command": "RESTART", "context": "restart"},
                "Requests/resource_filters": [{"service_name": "KAFKA", "component_name": "KAFKA_BROKER",
                                               "hosts": ",".join(hosts)}]}
        if level is not None:
            body["RequestInfo"]["operation_level"] = level
        return self.client.call("POST", f"clusters/{CLUSTER}/requests", body)

    def stale_hosts(self) -> list[str]:
        items = self.client.get(f"clusters/{CLUSTER}/host_components?HostRoles/stale_configs=true")["items"]
        return sorted(i["HostRoles"]["host_name"] for i in items)


@contextlib.contextmanager
def running_api(tmp_path: Path, version: str = "2.7", gateway: bool = False, tls: ssl.SSLContext | None = None,
                **server_options):
    spec = ClusterSpec(CLUSTER, "sim", 0, "10.232.99.0/24", "", "c1.lab.internal", "c1", 3, simulated=True)
    state_path = tmp_path / "state.json"
    model = ClusterModel(spec, state_path, version)
    model.load_or_seed(stack.seed_configs(spec, "/lab/host"), "kraft-cluster-id")
    ops = Operations(model, SimulatedAgent(spec))
    server = make_server(Endpoint(model, ops, Credentials("admin", PASSWORD, gateway)), "127.0.0.1", 0,
                         **server_options)
    if tls is not None:
        server.socket = tls.wrap_socket(server.socket, server_side=True)
    threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()
    scheme = "https" if tls is not None else "http"
    client = AmbariClient(f"{scheme}://127.0.0.1:{server.server_address[1]}", "admin", PASSWORD)
    try:
        yield Api(client, model, spec, state_path)
    finally:
        server.shutdown()
        server.server_close()


@pytest.fixture
def api(tmp_path):
    with running_api(tmp_path) as api:
        yield api


@pytest.fixture
def api26(tmp_path):
    with running_api(tmp_path, version="2.6") as api:
        yield api


@pytest.fixture
def started(api):
    api.set_state("STARTED")
    return api
