"""The secure lab end to end: Ambari over HTTPS, Kafka's SASL_SSL listener with a SCRAM user per cluster, the whole
playbook through inventory/lab-secure (idempotent, no secret in -vvv --diff output), modules failing clearly
without the CA and passing with it, records crossing over SASL_SSL with each cluster's own credentials.

Runs against the lab at $KAFKA_LAB_HOME, which must be (or become) a secure one: `kafka-lab up --secure --node`.
"""
from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest
from confluent_kafka import Consumer, Producer

from kafka_lab import pki
from kafka_lab.cli import daemon_pid
from kafka_lab.client import AmbariClient
from kafka_lab.layout import DEFAULT_HOME, SASL_SSL_PORT, LabConfig, Paths, load_config
from kafka_lab.node import ssh_argv

from .conftest import kafka_lab
from .playbook import ROOT, module_run

pytestmark = [pytest.mark.integration, pytest.mark.secure]
HOME = Path(os.environ.get("KAFKA_LAB_HOME", DEFAULT_HOME))
TOPIC = "testtopic"  # inventory/lab-secure's pair


@pytest.fixture(scope="module")
def secure() -> LabConfig:
    config = load_config(HOME)
    running = config is not None and config.secure and config.nodes and daemon_pid(Paths(HOME)) is not None
    if not running:
        kafka_lab("--home", str(HOME), "up", "--secure", "--node")
    yield load_config(HOME)
    if not running:
        kafka_lab("--home", str(HOME), "down")


def clusters(config: LabConfig):
    return [c for c in config.clusters() if not c.simulated]


def sasl_bootstrap(cluster) -> str:
    return ",".join(f"{h.ip}:{SASL_SSL_PORT}" for h in cluster.hosts())


def password(config: LabConfig, cluster) -> str:
    return Paths(config.home).kafka_password(cluster.name).read_text().strip()


def secrets_of(config: LabConfig) -> dict[str, str]:
    """Every password of the lab: Ambari's, each cluster's SCRAM user's, each broker's keystore's."""
    paths = Paths(config.home)
    out = {"ambari": paths.password_file.read_text().strip()}
    for cluster in clusters(config):
        out[f"scram {cluster.name}"] = password(config, cluster)
        for host in cluster.hosts():
            out[f"keystore {host.fqdn}"] = paths.broker_keystore_secret(host.fqdn).read_text().strip().split("=", 1)[1]
    assert all(len(v) >= 16 for v in out.values())
    return out


def client(config: LabConfig, cluster, **extra) -> dict:
    return {"bootstrap.servers": sasl_bootstrap(cluster), "security.protocol": "SASL_SSL",
            "sasl.mechanism": pki.SCRAM_MECHANISM, "sasl.username": pki.client_user(cluster),
            "sasl.password": password(config, cluster), "ssl.ca.location": str(Paths(config.home).ca_cert), **extra}


def test_status_names_the_files_and_prints_no_secret(secure):
    out = kafka_lab("--home", str(HOME), "status").stdout
    assert str(Paths(HOME).ca_cert) in out and "https://127.0.0.1:8080" in out
    assert str(Paths(HOME).kafka_password("kafka-primary-cluster")) in out
    for name, value in secrets_of(secure).items():
        assert value not in out, name


def test_ambari_view_of_the_brokers_is_truthful_and_holds_no_secret(secure):
    paths = Paths(HOME)
    cluster = clusters(secure)[0]
    api = AmbariClient(secure.ambari_url(cluster), secure.username, paths.password_file.read_text().strip(),
                       str(paths.ca_cert))
    desired = api.get(f"clusters/{cluster.name}?fields=Clusters/desired_configs")["Clusters"]["desired_configs"]
    tag = desired["kafka-broker"]["tag"]
    props = api.get(f"clusters/{cluster.name}/configurations?type=kafka-broker&tag={tag}")["items"][0]["properties"]
    assert "SASL_SSL://" in props["listeners"] and props["sasl.enabled.mechanisms"] == "SCRAM-SHA-512"
    assert props["ssl.keystore.password"].startswith("${file:")
    text = json.dumps(props)
    for name, value in secrets_of(secure).items():
        assert value not in text, name


def run_playbook(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([str(Path(sys.executable).parent / "ansible-playbook"), "-i",
                           str(ROOT / "inventory/lab-secure"), "setup-mirroring.yml", *args],
                          capture_output=True, text=True, cwd=ROOT, timeout=1800,
                          env={**os.environ, "KAFKA_LAB_HOME": str(HOME), "ANSIBLE_CONFIG": str(ROOT / "ansible.cfg"),
                               "ANSIBLE_NOCOLOR": "1"})


def recap(stdout: str) -> dict[str, int]:
    return {m.group(1): int(m.group(2)) for m in re.finditer(r"^(\S+)\s+: ok=\d+\s+changed=(\d+)", stdout, re.M)}


def on_node(secure: LabConfig, command: str) -> str:
    info = json.loads((Paths(secure.home).node_dir / "node.json").read_text())
    proc = subprocess.run(ssh_argv(info["key"], info["ip"], command), capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr
    return proc.stdout.strip()


def test_playbook_converges_idempotently_and_no_password_is_ever_shown(secure):
    first = run_playbook("-vvv", "--diff")
    assert first.returncode == 0, first.stdout[-6000:] + first.stderr[-3000:]
    assert "canary mirrored in" in first.stdout
    second = run_playbook("-vvv", "--diff")
    assert second.returncode == 0, second.stdout[-6000:] + second.stderr[-3000:]
    assert recap(second.stdout) == {"lab-primary": 0, "lab-secondary": 0, "lab-node": 0}
    for name, value in secrets_of(secure).items():
        for run in (first, second):
            assert value not in run.stdout and value not in run.stderr, f"the {name} password is in the output"
    # The worker's files: each side's own user and CA, root-owned 0640; the CA copies readable by the service.
    assert on_node(secure, "stat -c '%a %U %G' /etc/kafka-mirror/consumer.properties "
                           "/etc/kafka-mirror/producer.properties").split("\n") == ["640 root kafka-mirror"] * 2
    # Lines as to_java_properties writes them ('=' in a value escaped): one each.
    consumer = on_node(secure, "grep -c -e '^security.protocol=SASL_SSL' -e 'username.*mirror-primary' "
                               "-e '^ssl.truststore.location=/etc/kafka-mirror/source-ca.pem' "
                               "/etc/kafka-mirror/consumer.properties")
    producer = on_node(secure, "grep -c -e '^security.protocol=SASL_SSL' -e 'username.*mirror-secondary' "
                               "-e '^ssl.truststore.location=/etc/kafka-mirror/target-ca.pem' "
                               "/etc/kafka-mirror/producer.properties")
    assert (consumer, producer) == ("3", "3")


def test_ambari_module_fails_without_the_ca_naming_ca_path_and_passes_with_it(secure):
    env = {"AMBARI_PASSWORD": Paths(HOME).password_file.read_text().strip()}
    args = {"url": "https://127.0.0.1:8080", "cluster": "kafka-primary-cluster", "listener": "SASL_SSL"}
    without = module_run("ambari_cluster_info", args, env)
    assert without["failed"] and "ca_path" in without["msg"], without["msg"]
    with_ca = module_run("ambari_cluster_info", {**args, "ca_path": str(Paths(HOME).ca_cert)}, env)
    assert not with_ca["failed"], with_ca.get("msg")
    assert with_ca["bootstrap_servers"] == sasl_bootstrap(clusters(secure)[0])


def test_kafka_module_fails_without_the_ca_naming_ssl_ca_location_and_passes_with_it(secure):
    """After the playbook (the brokers advertise their IPs, which their certificates name)."""
    primary = clusters(secure)[0]
    env = {"KAFKA_BOOTSTRAP_SERVERS": sasl_bootstrap(primary), "KAFKA_SASL_PASSWORD": password(secure, primary)}
    args = {"name": f"secure-{uuid.uuid4().hex[:8]}", "partitions": 1, "replication_factor": 1,
            "security_protocol": "SASL_SSL", "sasl_mechanism": "SCRAM-SHA-512",
            "sasl_username": pki.client_user(primary), "request_timeout": 10}
    without = module_run("kafka_topic", args, env, check=True)
    assert without["failed"] and "ssl_ca_location" in without["msg"] and "ca_path" in without["msg"], without["msg"]
    with_ca = module_run("kafka_topic", {**args, "ssl_ca_location": str(Paths(HOME).ca_cert)}, env, check=True)
    assert not with_ca["failed"] and with_ca["changed"], with_ca.get("msg")


def test_one_clusters_credentials_are_refused_by_the_other(secure):
    primary, secondary = clusters(secure)
    env = {"KAFKA_BOOTSTRAP_SERVERS": sasl_bootstrap(secondary), "KAFKA_SASL_PASSWORD": password(secure, primary)}
    args = {"name": TOPIC, "security_protocol": "SASL_SSL", "sasl_mechanism": "SCRAM-SHA-512",
            "sasl_username": pki.client_user(primary), "ssl_ca_location": str(Paths(HOME).ca_cert),
            "request_timeout": 10}
    result = module_run("kafka_topic", args, env, check=True)
    assert result["failed"] and "sasl_username and sasl_password" in result["msg"], result["msg"]


def test_records_cross_over_sasl_ssl_with_each_clusters_own_user(secure):
    """After the playbook: a record produced on the primary's SASL_SSL listener is read on the secondary's."""
    primary, secondary = clusters(secure)
    marker = f"secure-{uuid.uuid4()}".encode()
    producer = Producer(client(secure, primary, **{"enable.idempotence": True}))
    producer.produce(TOPIC, marker)
    assert producer.flush(30) == 0
    reader = Consumer(client(secure, secondary, **{"group.id": f"test-secure-{uuid.uuid4().hex[:6]}",
                                                   "auto.offset.reset": "earliest", "enable.auto.commit": False}))
    try:
        reader.subscribe([TOPIC])
        deadline = time.monotonic() + 90
        while time.monotonic() < deadline:
            message = reader.poll(1.0)
            if message is not None and message.error() is None and message.value() == marker:
                return
        pytest.fail(f"{marker!r} produced on {primary.name} over SASL_SSL was not read on {secondary.name} in 90s")
    finally:
        reader.close()
