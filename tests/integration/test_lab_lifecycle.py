"""The lab's lifecycle: the systemd worker node, and state that survives `down` then `up`."""
from __future__ import annotations

import json
import subprocess

import pytest

from kafka_lab import node
from kafka_lab.layout import Paths

from .conftest import kafka_lab

pytestmark = pytest.mark.integration


def test_worker_node_runs_systemd_and_reaches_both_clusters(lab):
    home = str(lab.config.home)
    kafka_lab("--home", home, "up", "--node")
    info = json.loads((Paths(lab.config.home).node_dir / "node.json").read_text())
    probe = ("import socket, sys\n"
             "for ip in sys.argv[1:]: socket.create_connection((ip, 9092), 3).close()\n"
             "print('reachable')")
    ips = [lab.primary.spec.hosts()[0].ip, lab.secondary.spec.hosts()[0].ip]
    script = f"ps -p 1 -o comm=; hostname -f; systemctl is-system-running; python3 -c \"{probe}\" {' '.join(ips)}"
    out = subprocess.run(node.ssh_argv(info["key"], info["ip"], script), capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    assert out.stdout.split() == ["systemd", info["hostname"], "running", "reachable"]


def test_state_survives_down_and_up(lab):
    home = str(lab.config.home)
    before = lab.primary.client.get(f"clusters/{lab.primary.name}?fields=Clusters/desired_configs")
    scvs = lab.primary.client.get(f"clusters/{lab.primary.name}/configurations/service_config_versions"
                                  "?service_name=KAFKA")["items"]
    requests = lab.primary.client.get(f"clusters/{lab.primary.name}/requests")["items"]
    kafka_lab("--home", home, "down")
    for cluster in (lab.primary, lab.secondary):
        for host in cluster.spec.hosts():
            assert subprocess.run(["ip", "netns", "pids", host.netns], capture_output=True).returncode != 0
    assert subprocess.run(["ip", "link", "show", lab.primary.spec.bridge], capture_output=True).returncode != 0
    kafka_lab("--home", home, "up")
    assert lab.primary.client.get(f"clusters/{lab.primary.name}?fields=Clusters/desired_configs") == before
    again = lab.primary.client.get(f"clusters/{lab.primary.name}/configurations/service_config_versions"
                                   "?service_name=KAFKA")["items"]
    assert [s["service_config_version"] for s in again] == [s["service_config_version"] for s in scvs]
    for r in requests:  # the request history is still there, with its outcome
        old = lab.primary.client.get(f"clusters/{lab.primary.name}/requests/{r['Requests']['id']}")
        assert old["Requests"]["request_status"] in ("COMPLETED", "FAILED")
