"""The lab's Ambari server process: one HTTP endpoint per cluster on loopback."""
from __future__ import annotations

import argparse
import base64
import logging
import signal
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
    return base64.urlsafe_b64encode(uuid.uuid4().bytes).decode().rstrip("=")


def serve(config: LabConfig, password: str) -> None:
    paths = Paths(config.home)
    kafka = runtime.locate(fetch=False)
    credentials = Credentials(config.username, password, config.gateway_auth)
    servers = []
    for cluster in config.clusters():
        model = ClusterModel(cluster, paths.cluster_state(cluster.name), config.ambari_version)
        model.load_or_seed(stack.seed_configs(cluster, str(paths.host_view)), kraft_cluster_id())
        model.ambari_version = config.ambari_version
        agent = SimulatedAgent(cluster) if cluster.simulated else BrokerAgent(
            paths, cluster, kafka, model.state["kafka_cluster_id"])
        server = make_server(Endpoint(model, Operations(model, agent), credentials), "127.0.0.1", cluster.port)
        servers.append(server)
        threading.Thread(target=server.serve_forever, daemon=True, name=f"http-{cluster.name}").start()
        log.info("Ambari API for %s on http://127.0.0.1:%d (Ambari %s mode)", cluster.name, cluster.port,
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
