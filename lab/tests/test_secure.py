"""The secure lab's pieces that run without root: its CA and certificates, Ambari over HTTPS, the seeded listeners."""
from __future__ import annotations

import http.server
import json
import socket
import ssl
import stat
import threading
import urllib.error
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives.serialization import pkcs12

from kafka_lab import pki, stack
from kafka_lab.client import AmbariClient
from kafka_lab.daemon import serve_https
from kafka_lab.layout import LabConfig, Paths

CONFIG = LabConfig(brokers=2, secure=True)
PRIMARY, SECONDARY = CONFIG.clusters()


@pytest.fixture
def paths(tmp_path) -> Paths:
    paths = Paths(tmp_path)
    pki.ensure_all(paths, CONFIG.clusters())
    return paths


def sans(path: Path) -> tuple[list[str], list[str]]:
    cert = x509.load_pem_x509_certificate(path.read_bytes())
    ext = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    return ext.get_values_for_type(x509.DNSName), [str(ip) for ip in ext.get_values_for_type(x509.IPAddress)]


def test_secrets_are_0600_and_only_the_ca_certificate_is_public(paths):
    host = PRIMARY.hosts()[0]
    secret_files = [paths.ca_key, *paths.ambari_tls(PRIMARY.name), paths.kafka_password(PRIMARY.name),
                    paths.broker_keystore(host.fqdn), paths.broker_keystore_secret(host.fqdn)]
    for path in secret_files:
        assert stat.S_IMODE(path.stat().st_mode) == 0o600, path
    assert stat.S_IMODE(paths.ca_cert.stat().st_mode) == 0o644
    assert b"PRIVATE" not in paths.ca_cert.read_bytes()


def test_each_broker_certificate_names_its_fqdn_and_ip(paths):
    for host in PRIMARY.hosts() + SECONDARY.hosts():
        names, ips = sans(paths.broker_cert(host.fqdn))
        assert host.fqdn in names and ips == [host.ip]


def test_keystore_opens_with_the_password_of_its_secret_file_only(paths):
    host = SECONDARY.hosts()[1]
    password = paths.broker_keystore_secret(host.fqdn).read_text().strip().removeprefix("password=")
    data = paths.broker_keystore(host.fqdn).read_bytes()
    key, cert, chain = pkcs12.load_key_and_certificates(data, password.encode())
    assert key is not None and cert == x509.load_pem_x509_certificate(paths.broker_cert(host.fqdn).read_bytes())
    assert chain == [x509.load_pem_x509_certificate(paths.ca_cert.read_bytes())]
    with pytest.raises(ValueError):
        pkcs12.load_key_and_certificates(data, b"not-the-password")


def test_a_second_up_keeps_the_ca_certificates_and_passwords(paths):
    before = {p: p.read_bytes() for p in (paths.ca_cert, paths.kafka_password(PRIMARY.name),
                                          paths.broker_keystore(PRIMARY.hosts()[0].fqdn))}
    pki.ensure_all(paths, CONFIG.clusters())
    assert {p: p.read_bytes() for p in before} == before


def test_a_new_ca_reissues_the_certificates(paths):
    fqdn = PRIMARY.hosts()[0].fqdn
    old = paths.broker_cert(fqdn).read_bytes()
    paths.ca_key.unlink()
    pki.ensure_all(paths, CONFIG.clusters())
    assert paths.broker_cert(fqdn).read_bytes() != old
    ca = x509.load_pem_x509_certificate(paths.ca_cert.read_bytes())
    x509.load_pem_x509_certificate(paths.broker_cert(fqdn).read_bytes()).verify_directly_issued_by(ca)


def test_client_passwords_differ_per_cluster(paths):
    assert paths.kafka_password(PRIMARY.name).read_text() != paths.kafka_password(SECONDARY.name).read_text()
    assert pki.client_user(PRIMARY) != pki.client_user(SECONDARY)


class Pong(http.server.BaseHTTPRequestHandler):
    def do_GET(self) -> None:  # noqa: N802 (http.server's naming)
        self.send_response(200)
        self.send_header("Content-Length", "4")
        self.end_headers()
        self.wfile.write(b"pong")

    def log_message(self, *args) -> None:
        pass


@pytest.fixture
def https(paths):
    """An HTTP server made HTTPS the way the daemon makes each Ambari endpoint HTTPS."""
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Pong)
    server.daemon_threads = True
    serve_https(server, *paths.ambari_tls(PRIMARY.name))
    threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()
    yield server.server_address[1]
    server.shutdown()
    server.server_close()


@pytest.mark.parametrize("name", ["127.0.0.1", "localhost"])
def test_ambari_https_verifies_for_loopback_names_with_the_lab_ca(paths, https, name):
    client = AmbariClient(f"https://{name}:{https}", "admin", "pw", str(paths.ca_cert))
    assert client.call("GET", "clusters").text == "pong"


def test_ambari_https_is_refused_without_the_lab_ca(https):
    with pytest.raises(urllib.error.URLError) as err:
        AmbariClient(f"https://127.0.0.1:{https}", "admin", "pw").call("GET", "clusters")
    assert isinstance(err.value.reason, ssl.SSLCertVerificationError)


def test_a_silent_client_does_not_hold_up_the_others(paths, https):
    with socket.create_connection(("127.0.0.1", https), timeout=5):  # connects, never says hello
        client = AmbariClient(f"https://127.0.0.1:{https}", "admin", "pw", str(paths.ca_cert))
        assert client.call("GET", "clusters").text == "pong"


def test_secure_seed_has_a_sasl_ssl_listener_and_no_secret():
    broker = stack.seed_configs(PRIMARY, "/lab/host", secure=True)["kafka-broker"]
    assert broker["listeners"] == "PLAINTEXT://localhost:9092,SASL_SSL://localhost:9094"
    assert broker["sasl.enabled.mechanisms"] == "SCRAM-SHA-512"
    assert broker["ssl.keystore.location"] == "/lab/host/tls/broker.p12"
    # The keystore password is read by the broker from the 0600 file, never stored in Ambari.
    assert broker["ssl.keystore.password"] == "${file:/lab/host/tls/keystore.properties:password}"
    assert "password=" not in json.dumps(broker)
    plain = stack.seed_configs(PRIMARY, "/lab/host")["kafka-broker"]
    assert plain["listeners"] == "PLAINTEXT://localhost:9092" and "ssl.keystore.location" not in plain


def test_rendered_secure_listeners_keep_controller_and_protocol_map():
    host = PRIMARY.hosts()[0]
    configs = stack.seed_configs(PRIMARY, "/lab/host", secure=True)
    params = stack.script_params(configs, host, "/usr/lib/jvm/java-17", "/lab/host/conf")
    text = stack.render_server_properties(configs["kafka-broker"], params, PRIMARY, host)
    values = dict(line.split("=", 1) for line in text.splitlines() if line and not line.startswith("#"))
    assert values["listeners"] == (f"PLAINTEXT://{host.fqdn}:9092,SASL_SSL://{host.fqdn}:9094,"
                                   f"CONTROLLER://{host.ip}:9093")
    assert values["listener.security.protocol.map"] == "PLAINTEXT:PLAINTEXT,SASL_SSL:SASL_SSL,CONTROLLER:PLAINTEXT"
    assert values["ssl.keystore.password"] == "${file:/lab/host/tls/keystore.properties:password}"


def test_config_urls_follow_security():
    assert CONFIG.ambari_url(PRIMARY) == "https://127.0.0.1:8080"
    assert LabConfig().ambari_url(PRIMARY) == "http://127.0.0.1:8080"
    assert LabConfig.from_json(CONFIG.to_json()).secure


def test_kraft_cluster_ids_never_start_with_a_dash(monkeypatch):
    """kafka-storage format -t -x... reads the id as an option: Kafka's Uuid.randomUuid skips such ids."""
    import uuid

    from kafka_lab import daemon

    dashed, plain = uuid.UUID(bytes=b"\xfb" + bytes(15)), uuid.UUID(bytes=b"\x01" * 16)
    ids = iter([dashed, plain])
    monkeypatch.setattr(daemon.uuid, "uuid4", lambda: next(ids))
    assert daemon.kraft_cluster_id() == "AQEBAQEBAQEBAQEBAQEBAQ"
