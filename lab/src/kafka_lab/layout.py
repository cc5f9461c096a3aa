"""Lab configuration (frozen, from the command line) and where everything lives on disk."""
from __future__ import annotations

import dataclasses
import ipaddress
import json
import os
from dataclasses import dataclass
from pathlib import Path

DEFAULT_HOME = Path(os.environ.get("KAFKA_LAB_HOME", "/var/lib/kafka-lab"))
KAFKA_PORT = 9092
CONTROLLER_PORT = 9093
SASL_SSL_PORT = 9094  # the secure lab's client listener (TLS + SCRAM), beside PLAINTEXT for the lab's own use
ZOOKEEPER_PORT = 2181


@dataclass(frozen=True)
class HostSpec:
    fqdn: str
    short: str
    ip: str
    netns: str
    veth: str
    node_id: int

    @property
    def rack(self) -> str:
        return "/default-rack"


@dataclass(frozen=True)
class ClusterSpec:
    """One Ambari-managed cluster. Simulated clusters have hosts but no namespaces or JVMs."""

    name: str
    role: str  # primary | secondary | sim
    port: int
    subnet: str
    bridge: str
    domain: str
    host_prefix: str
    brokers: int
    simulated: bool = False

    @property
    def gateway(self) -> str:
        return str(ipaddress.ip_network(self.subnet)[1])

    @property
    def prefixlen(self) -> int:
        return ipaddress.ip_network(self.subnet).prefixlen

    @property
    def zookeeper_host(self) -> HostSpec:
        """Where a ZooKeeper-mode cluster's one ZooKeeper server runs (HDInsight gives it hosts of its own)."""
        return self.hosts()[0]

    def hosts(self) -> list[HostSpec]:
        net = ipaddress.ip_network(self.subnet)
        out = []
        for i in range(self.brokers):
            short = f"wn{i}-{self.host_prefix}"
            out.append(HostSpec(
                fqdn=f"{short}.{self.domain}", short=short, ip=str(net[10 + i]),
                netns=f"kl-{short}", veth=f"klv-{self.host_prefix[:6]}{i}", node_id=1001 + i))
        return out


@dataclass(frozen=True)
class LabConfig:
    home: Path = DEFAULT_HOME
    brokers: int = 3
    ambari_version: str = "2.7"  # "2.6": tag required, `user` in desired_configs
    gateway_auth: bool = False  # answer bad credentials with 401 like HDInsight's gateway
    sim_clusters: int = 0
    nodes: int = 0  # systemd worker nodes (nspawn) on the secondary's network
    base_port: int = 8080
    sim_base_port: int = 8100
    username: str = "admin"
    kafka_version: str = "3.9.1"  # runtime.RELEASES: before 3.3 the brokers run with ZooKeeper, else KRaft
    secure: bool = False  # Ambari over HTTPS, a SASL_SSL (SCRAM-SHA-512) listener on every broker

    def ambari_url(self, cluster: ClusterSpec) -> str:
        return f"{'https' if self.secure else 'http'}://127.0.0.1:{cluster.port}"

    def clusters(self) -> list[ClusterSpec]:
        real = [
            ClusterSpec("kafka-primary-cluster", "primary", self.base_port, "10.231.1.0/24",
                        "klbr-pri", "primary.lab.internal", "kafkap", self.brokers),
            ClusterSpec("kafka-secondary-cluster", "secondary", self.base_port + 1, "10.231.2.0/24",
                        "klbr-sec", "secondary.lab.internal", "kafkas", self.brokers),
        ]
        sims = [
            ClusterSpec(f"sim-{i:03d}", "sim", self.sim_base_port + i, f"10.232.{i}.0/24", "",
                        f"sim-{i:03d}.lab.internal", f"sim{i:03d}", 3, simulated=True)
            for i in range(self.sim_clusters)
        ]
        return real + sims

    def to_json(self) -> str:
        data = dataclasses.asdict(self)
        data["home"] = str(self.home)
        return json.dumps(data, indent=2, sort_keys=True)

    @classmethod
    def from_json(cls, text: str) -> "LabConfig":
        data = json.loads(text)
        data["home"] = Path(data["home"])
        if "node" in data:  # written before --nodes: one node or none
            data.setdefault("nodes", int(data.pop("node")))
        return cls(**data)


@dataclass(frozen=True)
class Paths:
    """Every file the lab writes is below `home`."""

    home: Path

    @property
    def config(self) -> Path:
        return self.home / "lab.json"

    @property
    def password_file(self) -> Path:
        return self.home / "ambari-password"

    @property
    def daemon_pid(self) -> Path:
        return self.home / "ambari.pid"

    @property
    def daemon_log(self) -> Path:
        return self.home / "ambari.log"

    @property
    def net_state(self) -> Path:
        return self.home / "network.json"

    def cluster_state(self, cluster: str) -> Path:
        return self.home / "clusters" / cluster / "state.json"

    def host_dir(self, fqdn: str) -> Path:
        return self.home / "hosts" / fqdn

    def broker_pid_file(self, fqdn: str) -> Path:
        return self.host_dir(fqdn) / "run" / "kafka.pid"

    @property
    def host_view(self) -> Path:
        """Mount point at which each host sees its own directory (same path on every host)."""
        return self.home / "host"

    @property
    def node_dir(self) -> Path:
        """The first worker node's directory; its SSH key there is every node's."""
        return self.node_home(0)

    def node_home(self, index: int) -> Path:
        """Worker node `index` (0-based): node, node2, node3..."""
        return self.home / ("node" if index == 0 else f"node{index + 1}")

    # The secure lab (pki.py): the CA certificate is public, everything else 0600.
    @property
    def pki_dir(self) -> Path:
        return self.home / "pki"

    @property
    def ca_cert(self) -> Path:
        return self.pki_dir / "ca.pem"

    @property
    def ca_key(self) -> Path:
        return self.pki_dir / "ca.key"

    def ambari_tls(self, cluster: str) -> tuple[Path, Path]:
        """Certificate chain and key of a cluster's Ambari API."""
        return self.pki_dir / f"ambari-{cluster}.pem", self.pki_dir / f"ambari-{cluster}.key"

    def kafka_password(self, cluster: str) -> Path:
        """The password of the cluster's SCRAM client user (pki.client_user)."""
        return self.home / "kafka-users" / f"{cluster}.password"

    def broker_tls_dir(self, fqdn: str) -> Path:
        """A broker's TLS files; the host sees them at `host_view`/tls."""
        return self.host_dir(fqdn) / "tls"

    def broker_keystore(self, fqdn: str) -> Path:
        return self.broker_tls_dir(fqdn) / "broker.p12"

    def broker_keystore_secret(self, fqdn: str) -> Path:
        return self.broker_tls_dir(fqdn) / "keystore.properties"

    def broker_cert(self, fqdn: str) -> Path:
        return self.broker_tls_dir(fqdn) / "broker.pem"


def load_config(home: Path) -> LabConfig | None:
    path = Paths(home).config
    return LabConfig.from_json(path.read_text()) if path.exists() else None
