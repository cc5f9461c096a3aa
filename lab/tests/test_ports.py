"""`kafka-lab up` refuses ports another program listens on, and waits (bounded) for ports its own daemon, just
stopped, still holds: after a fleet of 200 simulated clusters, port 8080 was still in use right after the stop."""
from __future__ import annotations

import re
import socket
import threading
import time
from types import SimpleNamespace

import pytest

from kafka_lab import cli
from kafka_lab.errors import LabError


def listening() -> socket.socket:
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    sock.listen()
    return sock


def config_on(port: int):
    return SimpleNamespace(clusters=lambda: [SimpleNamespace(name="c1", port=port)])


def test_a_port_released_within_the_wait_is_taken(monkeypatch):
    monkeypatch.setattr(cli, "PORT_RELEASE_S", 10.0)
    holder = listening()
    threading.Timer(0.5, holder.close).start()
    started = time.monotonic()
    cli.require_free_ports(config_on(holder.getsockname()[1]))
    assert time.monotonic() - started >= 0.4


def test_a_port_held_past_the_wait_is_refused_naming_it(monkeypatch):
    monkeypatch.setattr(cli, "PORT_RELEASE_S", 0.5)
    holder = listening()
    try:
        with pytest.raises(LabError, match=re.escape(f"Port {holder.getsockname()[1]} (Ambari API of c1) is in use")):
            cli.require_free_ports(config_on(holder.getsockname()[1]))
    finally:
        holder.close()
