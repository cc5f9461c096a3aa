"""A Kafka Metadata request (v1) on a raw socket: does a broker answer, and what does it advertise?"""
from __future__ import annotations

import socket
import struct
from dataclasses import dataclass


@dataclass(frozen=True)
class AdvertisedBroker:
    node_id: int
    host: str
    port: int


def metadata(host: str, port: int, timeout: float = 2.0) -> list[AdvertisedBroker]:
    """The brokers a bootstrap server returns; raises OSError when it does not answer."""
    client_id = b"kafka-lab"
    body = struct.pack(">hhih", 3, 1, 1, len(client_id)) + client_id + struct.pack(">i", 0)
    with socket.create_connection((host, port), timeout=timeout) as sock:
        sock.settimeout(timeout)
        sock.sendall(struct.pack(">i", len(body)) + body)
        size = struct.unpack(">i", _recv(sock, 4))[0]
        data = _recv(sock, size)
    pos = 4  # correlation id
    (count,) = struct.unpack_from(">i", data, pos)
    pos += 4
    brokers = []
    for _ in range(count):
        node_id, hlen = struct.unpack_from(">ih", data, pos)
        pos += 6
        name = data[pos:pos + hlen].decode()
        pos += hlen
        (bport, rlen) = struct.unpack_from(">ih", data, pos)
        pos += 6 + max(rlen, 0)
        brokers.append(AdvertisedBroker(node_id, name, bport))
    return brokers


def _recv(sock: socket.socket, n: int) -> bytes:
    buf = b""
    while len(buf) < n:
        chunk = sock.recv(n - len(buf))
        if not chunk:
            raise OSError("connection closed by the broker")
        buf += chunk
    return buf
