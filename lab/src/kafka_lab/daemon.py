"""The lab's Ambari server process: one HTTP endpoint per cluster on loopback."""
from __future__ import annotations

import argparse
import base64
import logging
import signal
import socketserver
import ssl
import threading
import uuid
from pathlib import Path

from kafka_lab import runtime, stack
from kafka_lab.agents import BrokerAgent, SimulatedAgent
from kafka_lab.ambari.model import ClusterModel
from kafka_lab.ambari.operations import Operations
from kafka_lab.ambari.server import Credentials, Endpoint, make_server
from kafka_lab.layout import LabConfig, Paths, load_config

log = logging.getLogger("kafka_lab.daemon")


def kraft_cluster_id() -> str:
    """As Kafka's Uuid.randomUuid: never starting with '-', which kafka-storage's `-t` would read as an option
    (one lab in 64 failed to format its storage)."""
    while True:
        text = base64.urlsafe_b64encode(uuid.uuid4().bytes).decode().rstrip("=")
        if not text.startswith("-"):
            return text


def tls_context(cert: Path, key: Path) -> ssl.SSLContext:
    """HTTPS as Ambari's `api.ssl` serves it: the server's certificate chain, TLS 1.2 or later.

    The listening socket is wrapped with the handshake deferred to the first read, which happens in the request's
    own thread: a client that connects and says nothing does not hold up the accept loop.
    """
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    context.load_cert_chain(cert, key)
    return context


def serve_https(server: socketserver.TCPServer, cert: Path, key: Path) -> None:
    server.socket = tls_context(cert, key).wrap_socket(server.socket, server_side=True, do_handshake_on_connect=False)


def serve(config: LabConfig, password: str) -> None:
    paths = Paths(config.home)
    kafka = runtime.locate(fetch=False, version=config.kafka_version)
    credentials = Credentials(config.username, password, config.gateway_auth)
    servers = []
    for cluster in config.clusters():
        model = ClusterModel(cluster, paths.cluster_state(cluster.name), config.ambari_version)
        model.load_or_seed(stack.seed_configs(cluster, str(paths.host_view), kafka.release.kraft, config.secure),
                           kraft_cluster_id())
        model.ambari_version = config.ambari_version
        agent = SimulatedAgent(cluster) if cluster.simulated else BrokerAgent(
            paths, cluster, kafka, model.state["kafka_cluster_id"])
        server = make_server(Endpoint(model, Operations(model, agent), credentials), "127.0.0.1", cluster.port)
        if config.secure:
            serve_https(server, *paths.ambari_tls(cluster.name))
        servers.append(server)
        threading.Thread(target=server.serve_forever, daemon=True, name=f"http-{cluster.name}").start()
        log.info("Ambari API for %s on %s (Ambari %s mode)", cluster.name, config.ambari_url(cluster),
                 config.ambari_version)
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    stop.wait()
    for server in servers:
        server.shutdown()
    log.info("Ambari API stopped; brokers keep running, as they do when a real Ambari server stops")


def main() -> None:
    parser = argparse.ArgumentParser(prog="kafka-lab-daemon")
    parser.add_argument("--home", type=Path, required=True)
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s %(message)s")
    config = load_config(args.home)
    if config is None:
        raise SystemExit(f"no lab configuration in {args.home}; start the lab with `kafka-lab up`")
    serve(config, Paths(args.home).password_file.read_text().strip())


if __name__ == "__main__":
    main()
