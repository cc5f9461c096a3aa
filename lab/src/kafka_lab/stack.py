"""What Ambari's KAFKA stack definition seeds and how its scripts render a broker's files.

Follows reference/ambari-rest-api.md §12: kafka-broker becomes server.properties (sorted, each
value rendered as a Jinja template against the script parameters, `localhost` in listeners
replaced by the host's FQDN), kafka-env `content` becomes kafka-env.sh (Jinja, undefined names
render empty), kafka-log4j `content` becomes log4j.properties.
"""
from __future__ import annotations

import time
from importlib import resources

import jinja2

from kafka_lab.layout import CONTROLLER_PORT, KAFKA_PORT, SASL_SSL_PORT, ZOOKEEPER_PORT, ClusterSpec, HostSpec

SERVICE_CONFIG_TYPES = {"KAFKA": ("kafka-broker", "kafka-env", "kafka-log4j")}
# Changing any of these makes KAFKA_BROKER stale (stack metainfo configuration-dependencies).
KAFKA_CONFIG_DEPENDENCIES = frozenset({
    "kafka-broker", "kafka-env", "kafka-log4j", "ranger-kafka-plugin-properties", "ranger-kafka-audit",
    "ranger-kafka-policymgr-ssl", "ranger-kafka-security", "zookeeper-env", "zoo.cfg", "kafka_jaas_conf",
    "kafka_client_jaas_conf"})


def _template(name: str) -> str:
    return (resources.files("kafka_lab") / "templates" / name).read_text()


def seed_configs(cluster: ClusterSpec, view: str, kraft: bool = True,
                 secure: bool = False) -> dict[str, dict[str, str]]:
    """Initial desired configs, HDInsight-like: listeners on localhost:9092, no auto-creation; with ZooKeeper,
    `zookeeper.connect` in kafka-broker as Ambari's stack advisor sets it; `secure`: a SASL_SSL listener too."""
    rf = str(min(3, cluster.brokers))
    broker = {
        "listeners": f"PLAINTEXT://localhost:{KAFKA_PORT}",
        "auto.create.topics.enable": "false",  # HDInsight disallows auto-creation by default
        "auto.leader.rebalance.enable": "true",
        "compression.type": "producer",
        "controlled.shutdown.enable": "true",
        "controlled.shutdown.max.retries": "3",
        "controlled.shutdown.retry.backoff.ms": "5000",
        "default.replication.factor": rf,
        "delete.topic.enable": "true",
        "leader.imbalance.check.interval.seconds": "300",
        "leader.imbalance.per.broker.percentage": "10",
        "log.dirs": f"{view}/kafka-logs",
        "log.index.interval.bytes": "4096",
        "log.index.size.max.bytes": "10485760",
        "log.retention.bytes": "-1",
        "log.retention.check.interval.ms": "600000",
        "log.retention.hours": "168",
        "log.roll.hours": "168",
        "log.segment.bytes": "1073741824",
        "message.max.bytes": "1000000",
        "min.insync.replicas": "1",
        "num.io.threads": "8",
        "num.network.threads": "3",
        "num.partitions": "1",
        "num.recovery.threads.per.data.dir": "1",
        "num.replica.fetchers": "1",
        "offsets.topic.replication.factor": rf,
        "queued.max.requests": "500",
        "replica.fetch.max.bytes": "1048576",
        "replica.lag.time.max.ms": "30000",
        "sasl.enabled.mechanisms": "GSSAPI",
        "sasl.mechanism.inter.broker.protocol": "GSSAPI",
        "security.inter.broker.protocol": "PLAINTEXT",
        "socket.receive.buffer.bytes": "102400",
        "socket.request.max.bytes": "104857600",
        "socket.send.buffer.bytes": "102400",
        "transaction.state.log.min.isr": "1",
        "transaction.state.log.replication.factor": rf,
    }
    if secure:
        broker.update(secure_broker_settings(view))
    if not kraft:
        broker["zookeeper.connect"] = f"{cluster.zookeeper_host.fqdn}:{ZOOKEEPER_PORT}"
    env = {
        "content": _template("kafka-env.content"),
        "is_supported_kafka_ranger": "true",
        "kafka_keytab": "",
        "kafka_log_dir": f"{view}/log",
        "kafka_pid_dir": f"{view}/run",
        "kafka_principal_name": "",
        "kafka_user": "kafka",
        "kafka_user_nofile_limit": "128000",
        "kafka_user_nproc_limit": "65536",
    }
    log4j = {
        "content": _template("kafka-log4j.content"),
        "controller_log_maxbackupindex": "20",
        "controller_log_maxfilesize": "256",
        "kafka_log_maxbackupindex": "20",
        "kafka_log_maxfilesize": "256",
    }
    cluster_env = {"security_enabled": "false", "user_group": "hadoop", "stack_root": "/usr/hdp"}
    return {"kafka-broker": broker, "kafka-env": env, "kafka-log4j": log4j, "cluster-env": cluster_env}


def secure_broker_settings(view: str) -> dict[str, str]:
    """A SASL_SSL listener (TLS, SCRAM-SHA-512) beside PLAINTEXT, as Ambari-visible kafka-broker properties.

    Inter-broker traffic stays PLAINTEXT, so the listener's JAAS line carries no credentials (SCRAM users live in
    the cluster's metadata). The keystore's password is not in Ambari either: the broker's FileConfigProvider
    (KIP-421) reads it from a 0600 file beside the keystore, so Ambari's API shows `${file:...}`, not the secret.
    """
    return {
        "listeners": f"PLAINTEXT://localhost:{KAFKA_PORT},SASL_SSL://localhost:{SASL_SSL_PORT}",
        "listener.security.protocol.map": "PLAINTEXT:PLAINTEXT,SASL_SSL:SASL_SSL",
        "sasl.enabled.mechanisms": "SCRAM-SHA-512",
        "sasl.mechanism.inter.broker.protocol": "SCRAM-SHA-512",
        "listener.name.sasl_ssl.scram-sha-512.sasl.jaas.config":
            "org.apache.kafka.common.security.scram.ScramLoginModule required;",
        "config.providers": "file",
        "config.providers.file.class": "org.apache.kafka.common.config.provider.FileConfigProvider",
        "ssl.keystore.type": "PKCS12",
        "ssl.keystore.location": f"{view}/tls/broker.p12",
        "ssl.keystore.password": f"${{file:{view}/tls/keystore.properties:password}}",
        "ssl.client.auth": "none",
    }


def script_params(configs: dict[str, dict[str, str]], host: HostSpec, java_home: str, conf_dir: str) -> dict:
    """The variables of the stack's params.py that templates may use."""
    env = configs.get("kafka-env", {})
    log4j = configs.get("kafka-log4j", {})
    return {
        **{k: v for k, v in env.items() if k != "content"},
        **{k: v for k, v in log4j.items() if k != "content"},
        "java64_home": java_home,
        "conf_dir": conf_dir,
        "hostname": host.fqdn,
        "kafka_kerberos_params": "",
        "kerberos_security_enabled": False,
        "kafka_other_sasl_enabled": False,
        "security_enabled": False,
    }


def _render(text: str, params: dict) -> str:
    return jinja2.Environment(autoescape=False).from_string(text).render(**params)


def render_server_properties(broker: dict[str, str], params: dict, cluster: ClusterSpec, host: HostSpec,
                             kraft: bool = True) -> str:
    props = dict(broker)
    for key in ("listeners", "advertised.listeners"):
        if key in props:
            props[key] = props[key].replace("localhost", host.fqdn)
    props["broker.rack"] = host.rack
    props = {k: _render(v, params) for k, v in props.items()}
    if kraft:
        props.update(kraft_settings(props, cluster, host))
    lines = [f"# Generated by Apache Ambari. {time.asctime()}", "", ""]
    lines += [f"{k}={v}" for k, v in sorted(props.items())]
    return "\n".join(lines) + "\n"


def kraft_settings(props: dict[str, str], cluster: ClusterSpec, host: HostSpec) -> dict[str, str]:
    """The lab's clusters run KRaft (combined broker+controller) instead of ZooKeeper.

    This is the lab's stack adaptation, like the real scripts' Kerberos rewrite of listeners:
    a CONTROLLER listener is appended and the quorum is configured; none of it is part of the
    Ambari-visible kafka-broker config.
    """
    voters = ",".join(f"{h.node_id}@{h.ip}:{CONTROLLER_PORT}" for h in cluster.hosts())
    protocol_map = props.get("listener.security.protocol.map",
                             "PLAINTEXT:PLAINTEXT,SSL:SSL,SASL_PLAINTEXT:SASL_PLAINTEXT,SASL_SSL:SASL_SSL")
    if "CONTROLLER:" not in protocol_map:
        protocol_map += ",CONTROLLER:PLAINTEXT"
    return {
        "process.roles": "broker,controller",
        "node.id": str(host.node_id),
        "controller.quorum.voters": voters,
        "controller.listener.names": "CONTROLLER",
        "listeners": f"{props.get('listeners', '')},CONTROLLER://{host.ip}:{CONTROLLER_PORT}".lstrip(","),
        "listener.security.protocol.map": protocol_map,
        # A lab creates and deletes thousands of topics over its life; without a snapshot every restart replays the
        # whole metadata log (63,000 records: about 35 s per broker on two cores, before it serves). Default: 20 MB.
        "metadata.log.max.record.bytes.between.snapshots": str(1024 * 1024),
    }


def render_kafka_env(env: dict[str, str], params: dict) -> str:
    return _render(env.get("content", ""), params) + "\n"


def render_log4j(log4j: dict[str, str], params: dict) -> str:
    return _render(log4j.get("content", ""), params) + "\n"
