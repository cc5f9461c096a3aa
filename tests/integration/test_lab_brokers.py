"""The lab acts for real: config changes reach running brokers, failures surface, the article's snippet works."""
from __future__ import annotations

import time
from pathlib import Path

import pytest
from confluent_kafka.admin import AdminClient

from kafka_lab import runtime
from kafka_lab.broker import BrokerHost
from kafka_lab.zookeeper import ZooKeeperServer

pytestmark = pytest.mark.integration

ARTICLE_SNIPPET = """
# Configure Kafka to advertise IP addresses instead of FQDN
IP_ADDRESS=$(hostname -i)
echo advertised.listeners=$IP_ADDRESS
sed -i.bak -e '/advertised/{{/advertised@/!d;}}' {conf}/server.properties
echo "advertised.listeners=PLAINTEXT://$IP_ADDRESS:9092" >> {conf}/server.properties
"""


def test_brokers_run_the_release_the_lab_was_started_as(lab):
    """`kafka-lab up --kafka-version V`: every broker JVM runs V's jars; before 3.3 it registers in the cluster's
    ZooKeeper (server.properties names it), from 3.3 it runs KRaft."""
    kafka = runtime.locate(fetch=False, version=lab.config.kafka_version)
    for cluster in (lab.primary, lab.secondary):
        for host in cluster.spec.hosts():
            broker = BrokerHost(cluster.paths, cluster.spec, host, kafka)
            cmdline = Path(f"/proc/{broker.pid()}/cmdline").read_bytes().split(b"\0")
            assert f"{kafka.libs}/*".encode() in cmdline[cmdline.index(b"-cp") + 1].split(b":"), cmdline
            props = dict(line.split("=", 1) for line in (broker.dir / "conf" / "server.properties").read_text()
                         .splitlines() if "=" in line and not line.startswith("#"))
            if kafka.release.kraft:
                assert props["process.roles"] == "broker,controller" and "zookeeper.connect" not in props
            else:
                zk = ZooKeeperServer(cluster.paths, cluster.spec, kafka)
                assert zk.pid() is not None
                assert props["zookeeper.connect"] == f"{zk.host.fqdn}:2181" and "process.roles" not in props
                meta = (broker.real(props["log.dirs"].split(",")[0]) / "meta.properties").read_text()
                assert f"broker.id={host.node_id}" in meta.splitlines()


def test_hosts_answer_like_worker_nodes(lab):
    host = lab.primary.spec.hosts()[0]
    out = lab.primary.on_host(0, ["sh", "-c", "hostname; hostname -f; hostname -i"]).split()
    assert out == [host.short, host.fqdn, host.ip]


# A property change reaching the running brokers through a restart, and a broker that cannot start failing its
# request with the broker's own error, are shown through the collection's modules in
# tests/integration/test_ambari_modules.py (one restart of every broker each, fewer in make test's 40 minutes).


def test_article_snippet_makes_each_broker_advertise_its_ip(lab, restore):
    primary = restore
    _, env = primary.desired("kafka-env")
    conf = f"{primary.paths.host_view}/conf"
    primary.put("kafka-env", {**env, "content": env["content"] + ARTICLE_SNIPPET.format(conf=conf)},
                "test: advertise IPs")
    info, tasks = primary.restart([h.fqdn for h in primary.spec.hosts()])
    assert info["request_status"] == "COMPLETED", tasks
    admin = AdminClient({"bootstrap.servers": primary.bootstrap})
    expected = {h.node_id: (h.ip, 9092) for h in primary.spec.hosts()}
    deadline = time.monotonic() + 60  # a broker restarted with the others is in metadata once it is unfenced
    while True:
        seen = {b.id: (b.host, b.port) for b in admin.list_topics(timeout=30).brokers.values()}
        if len(seen) == len(expected) or time.monotonic() > deadline:
            break
        time.sleep(0.5)
    assert seen == expected
