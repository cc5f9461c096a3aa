"""setup-mirroring.yml against the lab: converges, then changes and restarts nothing; --check tells the truth; client
secrets stay out of the output at any verbosity and reach the worker exactly as given."""
from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import uuid
from pathlib import Path

import pytest
from confluent_kafka.admin import AdminClient

from kafka_lab import node
from kafka_lab.layout import Paths
from kafka_mirror.properties import parse_properties

from .playbook import ROOT, playbook

pytestmark = pytest.mark.integration
PLAYBOOK = "setup-mirroring.yml"


def request_ids(cluster) -> list[int]:
    return sorted(i["Requests"]["id"] for i in cluster.client.get(
        f"clusters/{cluster.name}/requests?Requests/id>=0")["items"])


def on_node(lab, command: str) -> str:
    info = json.loads((Paths(lab.config.home).node_dir / "node.json").read_text())
    proc = subprocess.run(node.ssh_argv(info["key"], info["ip"], command), capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr
    return proc.stdout.strip()


def assert_sandboxed_with_loopback_metrics(lab) -> None:
    """The service's sandbox as systemd scores it (at most 2.0 of 10), and metrics on the node's loopback only."""
    score = re.search(r"Overall exposure level for kafka-mirror.service: ([0-9.]+)",
                      on_node(lab, "systemd-analyze security --no-pager kafka-mirror.service"))
    assert score and float(score.group(1)) <= 2.0
    listeners = on_node(lab, "ss --listening --tcp --numeric --no-header 'sport = :9464'").splitlines()
    assert listeners and all(line.split()[3] == "127.0.0.1:9464" for line in listeners)


def run_playbook(*args: str) -> subprocess.CompletedProcess:
    """ansible-playbook as playbook() runs it, with stderr too and whatever its outcome."""
    return subprocess.run([str(Path(sys.executable).parent / "ansible-playbook"), *args], capture_output=True,
                          text=True, cwd=ROOT, timeout=1800,
                          env={**os.environ, "ANSIBLE_CONFIG": str(ROOT / "ansible.cfg"), "ANSIBLE_NOCOLOR": "1"})


WHEELHOUSE = Path.home() / ".cache/ambari_kafka.mirroring/wheelhouse"  # the role's default, on the controller


def test_second_run_changes_and_restarts_nothing(lab):
    # The node's wheelhouse on the controller (the role's name for it: Python, then glibc's manylinux platform), with
    # a download marker inside it as earlier versions left them.
    platform = WHEELHOUSE / on_node(lab, "python3 -c 'import platform, sys; print(\"cp%d%d-manylinux_%s_%s\" % "
                                         "(*sys.version_info[:2], platform.libc_ver()[1].replace(\".\", \"_\"), "
                                         "platform.machine()))'")
    platform.mkdir(parents=True, exist_ok=True)
    (platform / ".complete-0123").write_text("kafka_mirror-0.1.0-py3-none-any.whl\n")
    output, _ = playbook(PLAYBOOK)  # converge (on a fresh lab it changes everything)
    assert "canary mirrored in" in output
    # It is copied to the node file by file: nothing but the dependencies' wheels in it.
    assert {f.suffix for f in platform.iterdir()} == {".whl"}
    before = {c.name: request_ids(c) for c in (lab.primary, lab.secondary)}
    service = on_node(lab, "systemctl show kafka-mirror -p MainPID -p ActiveState -p User")
    _, recap = playbook(PLAYBOOK)
    assert {host: r["changed"] for host, r in recap.items()} == {"lab-primary": 0, "lab-secondary": 0, "lab-node": 0}
    assert {c.name: request_ids(c) for c in (lab.primary, lab.secondary)} == before  # no broker restarted
    assert on_node(lab, "systemctl show kafka-mirror -p MainPID -p ActiveState -p User") == service  # nor the worker
    assert "ActiveState=active" in service and "User=kafka-mirror" in service
    assert on_node(lab, "stat -c '%a %U %G' /etc/kafka-mirror/consumer.properties /etc/kafka-mirror/producer.properties"
                        " /etc/kafka-mirror/worker.yaml").split("\n") == ["640 root kafka-mirror"] * 3
    # What molecule's verify checks (make molecule), here too.
    assert_sandboxed_with_loopback_metrics(lab)
    assert "kafka_mirror_records_total" in on_node(lab, "python3 -c \"import urllib.request as u; print(u.urlopen("
                                                        "'http://127.0.0.1:9464/metrics').read().decode())\"")
    output, recap = playbook(PLAYBOOK, "--check", "--diff")
    assert all(r["changed"] == 0 for r in recap.values()) and "+++ after" not in output
    for cluster in (lab.primary, lab.secondary):  # the article's goal: brokers reachable by IP from outside
        brokers = AdminClient({"bootstrap.servers": cluster.bootstrap}).list_topics(timeout=30).brokers
        assert {b.id: b.host for b in brokers.values()} == {h.node_id: h.ip for h in cluster.spec.hosts()}


def test_check_mode_shows_drift_and_a_run_restarts_the_brokers_it_left_stale(lab, restore):
    """--check --diff on a drifted cluster shows the change and the restart that would follow, and writes nothing.
    The drift then reverted in Ambari without a restart (what a run interrupted between its config change and the
    restart leaves): the next run changes no config, yet restarts every broker, as they are stale. The restart task is
    skipped only when no broker was stale as the run read the cluster and no config task changed anything. (One test:
    the revert leaves nothing for `restore` to restart.)"""
    primary = restore
    _, props = primary.desired("kafka-broker")
    unmanaged = str(int(props["log.retention.hours"]) + 1)  # a property the play does not manage: kept, not diffed
    primary.put("kafka-broker", {**props, "listeners": "PLAINTEXT://localhost:9092", "log.retention.hours": unmanaged},
                "test: drift")
    output, recap = playbook(PLAYBOOK, "--check", "--diff", "--limit", "lab-primary")
    assert "-listeners=PLAINTEXT://localhost:9092" in output and "+listeners=PLAINTEXT://0.0.0.0:9092" in output
    assert not [line for line in output.splitlines() if line.startswith(("-log.retention.hours", "+log.retention"))]
    assert recap["lab-primary"]["changed"] == 2  # the listeners change, and the restart that would follow
    assert primary.desired("kafka-broker")[1]["listeners"] == "PLAINTEXT://localhost:9092"  # nothing written

    primary.put("kafka-broker", props, "test: drift reverted, brokers never restarted")
    assert primary.stale_hosts() == sorted(h.fqdn for h in primary.spec.hosts())
    before = request_ids(primary)
    _, recap = playbook(PLAYBOOK, "--limit", "lab-primary")
    assert recap["lab-primary"]["changed"] == 1  # the restart alone
    assert primary.stale_hosts() == [] and max(request_ids(primary)) > max(before)  # the listing holds the newest 20
    assert primary.desired("kafka-broker")[1] == props


# The mirror_worker role alone, the clusters' brokers given as kafka_network sets them (every broker, in host order):
# the worker's configuration is then the one setup-mirroring.yml writes.
ROLE_ONLY = """
- hosts: ambari_clusters
  gather_facts: false
  tasks:
    - ansible.builtin.set_fact:
        kafka_network_bootstrap_servers: >-
          {{ '10.231.1.10:9092,10.231.1.11:9092,10.231.1.12:9092' if inventory_hostname == 'lab-primary' else
             '10.231.2.10:9092,10.231.2.11:9092,10.231.2.12:9092' }}
- hosts: mirror_workers
  roles: [ambari_kafka.mirroring.mirror_worker]
"""


def test_client_secrets_are_never_shown_and_reach_the_worker_as_given(lab, tmp_path):
    secret = f"s3cr3t-{uuid.uuid4().hex}"
    extra = {  # written raw, the newline would add security.protocol=SSL and the backslash would swallow group.id
        "sasl.jaas.config": "org.apache.kafka.common.security.plain.PlainLoginModule required username=\"mirror\" "
                            f"password=\"{secret}=:#!\\\"\";",  # a JAAS line Java's JaasConfig accepts
        "client.id": "mirror\nsecurity.protocol=SSL",
        "client.rack": "rack\\",
    }
    variables = tmp_path / "secrets.json"  # a vars file, as vault would give them: never on a command line
    variables.write_text(json.dumps({"mirror_worker_consumer_properties": extra}))
    (tmp_path / "role.yml").write_text(ROLE_ONLY)  # where the properties are written (setup-mirroring.yml's play)
    pid = on_node(lab, "systemctl show kafka-mirror -p MainPID")
    try:
        proc = run_playbook("-vvv", "-i", str(ROOT / "inventory/lab"), "-e", f"@{variables}",
                            str(tmp_path / "role.yml"))
        assert proc.returncode == 0, proc.stdout[-6000:] + proc.stderr[-3000:]
        # Restarted with them and healthy (the role waits for every stream assigned and committing on /health).
        assert on_node(lab, "systemctl show kafka-mirror -p MainPID") != pid
        assert "Wait until every stream is assigned and committing" in proc.stdout
        assert secret not in proc.stdout + proc.stderr
        written = parse_properties(on_node(lab, "cat /etc/kafka-mirror/consumer.properties"))
        assert {k: written[k] for k in extra} == extra and "security.protocol" not in written
        assert written["group.id"] == "kafka-mirror-lab"
        assert on_node(lab, "stat -c '%a %U %G' /etc/kafka-mirror/consumer.properties") == "640 root kafka-mirror"
    finally:  # back to the inventory's configuration
        assert run_playbook("-i", str(ROOT / "inventory/lab"), str(tmp_path / "role.yml")).returncode == 0


def test_a_configuration_the_worker_refuses_fails_the_play_naming_why_and_restarts_nothing(lab, tmp_path):
    """The worker's own checks run before the handler restarts it (kafka-mirror check): before, the play waited out
    /health and ended in 'connection refused', with the worker restarting in a loop on the node."""
    variables = tmp_path / "vars.json"
    variables.write_text(json.dumps({"mirror_worker_exactly_once": True,
                                     "mirror_worker_producer_properties": {"transaction.timeout.ms": "600000"}}))
    (tmp_path / "role.yml").write_text(ROLE_ONLY)
    pid = on_node(lab, "systemctl show kafka-mirror -p MainPID -p ActiveState")
    try:
        proc = run_playbook("-i", str(ROOT / "inventory/lab"), "-e", f"@{variables}", str(tmp_path / "role.yml"))
        output = " ".join((proc.stdout + proc.stderr).split())
        assert proc.returncode != 0, output[-3000:]
        assert "refuses the configuration this run wrote to /etc/kafka-mirror: producer transaction.timeout.ms=600000 " \
            "lets a new assignment wait about 645 s" in output, output[-3000:]
        assert "It was not restarted" in output and "Traceback" not in output
        assert on_node(lab, "systemctl show kafka-mirror -p MainPID -p ActiveState") == pid  # the old one mirrors on
        # The refused files stay written: the mark makes the next accepted run restart onto them, even one that
        # writes nothing (a fix made on the node).
        assert on_node(lab, "ls /etc/kafka-mirror/.restart-pending") == "/etc/kafka-mirror/.restart-pending"
    finally:  # back to the inventory's configuration: accepted, and the files written again
        assert run_playbook("-i", str(ROOT / "inventory/lab"), str(tmp_path / "role.yml")).returncode == 0
    assert on_node(lab, "ls -A /etc/kafka-mirror | grep -c restart-pending || true") == "0"
    assert on_node(lab, "systemctl show kafka-mirror -p MainPID -p ActiveState") != pid


def test_an_accepted_run_restarts_a_worker_that_a_refused_one_left_on_its_old_files(lab, tmp_path):
    """A refusal whose fix writes no file (a keytab placed, a package installed): the mark left by the refused run
    still has the next run restart the worker onto what is on disk, and a run after that restarts nothing."""
    (tmp_path / "role.yml").write_text(ROLE_ONLY)
    on_node(lab, "touch /etc/kafka-mirror/.restart-pending")  # as a refused run leaves it
    pid = on_node(lab, "systemctl show kafka-mirror -p MainPID")
    proc = run_playbook("-i", str(ROOT / "inventory/lab"), str(tmp_path / "role.yml"))
    assert proc.returncode == 0, proc.stdout[-3000:]
    assert "RUNNING HANDLER [ambari_kafka.mirroring.mirror_worker : Restart kafka-mirror]" in proc.stdout
    assert on_node(lab, "systemctl show kafka-mirror -p MainPID") != pid
    again = on_node(lab, "systemctl show kafka-mirror -p MainPID")
    proc = run_playbook("-i", str(ROOT / "inventory/lab"), str(tmp_path / "role.yml"))
    assert proc.returncode == 0 and "RUNNING HANDLER" not in proc.stdout, proc.stdout[-3000:]
    assert on_node(lab, "systemctl show kafka-mirror -p MainPID") == again


@pytest.mark.parametrize("extra, message", [
    ({"mirror_worker_wheel": "/nonexistent/kafka_mirror-0.1.0-py3-none-any.whl"},
     "No kafka-mirror wheel at /nonexistent/kafka_mirror-0.1.0-py3-none-any.whl. The collection's release artifact "
     "ships it"),
    ({"mirror_worker_offline": True, "mirror_worker_wheelhouse": "{tmp}/empty"},
     "pip could not download kafka-mirror's dependencies for Python 3.11 on x86_64 with glibc 2.36"),
], ids=["no-wheel", "offline-empty-wheelhouse"])
def test_bad_install_inputs_fail_with_a_message_and_change_nothing(lab, tmp_path, extra, message):
    state = "systemctl show kafka-mirror -p MainPID -p ActiveState; ls -l --time-style=+%s /opt/kafka-mirror " \
            "/opt/kafka-mirror/wheelhouse /etc/kafka-mirror"
    before = on_node(lab, state)
    (tmp_path / "role.yml").write_text(ROLE_ONLY)
    variables = tmp_path / "vars.json"
    variables.write_text(json.dumps({k: v.format(tmp=tmp_path) if isinstance(v, str) else v for k, v in extra.items()}))
    proc = run_playbook("-i", str(ROOT / "inventory/lab"), "-e", f"@{variables}", str(tmp_path / "role.yml"))
    output = " ".join((proc.stdout + proc.stderr).split())
    assert proc.returncode != 0 and message in output, output[-3000:]
    assert "Traceback" not in output
    assert on_node(lab, state) == before  # nothing installed, written or restarted
