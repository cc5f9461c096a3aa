"""The kafka_* modules' security options: each cluster its own credentials, and a clear failure without the CA."""
from __future__ import annotations

import socket
import ssl
import threading
from unittest import mock

import pytest
from ansible.module_utils.basic import AnsibleModule

from ansible_collections.ambari_kafka.mirroring.plugins.module_utils import _kafka as kafka_utils
from ansible_collections.ambari_kafka.mirroring.plugins.module_utils._kafka_check import target_config
from ansible_collections.ambari_kafka.mirroring.plugins.modules import kafka_mirror_check, kafka_topic

from ..module_args import patch_module_args

SOURCE = {"bootstrap_servers": "10.0.0.1:9094", "security_protocol": "SASL_SSL", "sasl_mechanism": "SCRAM-SHA-512",
          "sasl_username": "mirror-primary", "sasl_password": "source-secret", "ssl_ca_location": "/ca/primary.pem",
          "request_timeout": 5}
TARGET = {"target_bootstrap_servers": "10.1.0.1:9094", "target_security_protocol": "SASL_SSL",
          "target_sasl_mechanism": "SCRAM-SHA-512", "target_sasl_username": "mirror-secondary",
          "target_sasl_password": "target-secret", "target_ssl_ca_location": "/ca/secondary.pem"}


def params(**given):
    spec = kafka_utils.kafka_argument_spec()
    spec.update(kafka_utils.security_argument_spec("target_"))
    out = {name: option.get("default") for name, option in spec.items()}
    out["target_bootstrap_servers"] = None
    out.update(given)
    return out


def without_callback(conf):
    return {k: v for k, v in conf.items() if k != "error_cb"}


def test_target_gets_its_own_credentials_and_ca():
    conf = without_callback(target_config(params(**SOURCE, **TARGET)))
    assert conf == {"bootstrap.servers": "10.1.0.1:9094", "security.protocol": "SASL_SSL",
                    "sasl.mechanism": "SCRAM-SHA-512", "sasl.username": "mirror-secondary",
                    "sasl.password": "target-secret", "ssl.ca.location": "/ca/secondary.pem",
                    "socket.timeout.ms": 5000}


def test_without_target_protocol_the_target_is_reached_like_the_source():
    conf = without_callback(target_config(params(**SOURCE, target_bootstrap_servers="10.1.0.1:9094")))
    assert conf["bootstrap.servers"] == "10.1.0.1:9094"
    assert conf["sasl.username"] == "mirror-primary" and conf["ssl.ca.location"] == "/ca/primary.pem"


def test_kerberos_options_become_librdkafka_settings():
    conf = kafka_utils.client_config(params(bootstrap_servers="b:9093", security_protocol="SASL_SSL",
                                            sasl_mechanism="GSSAPI", sasl_kerberos_service_name="kafka",
                                            sasl_kerberos_keytab="/etc/security/keytabs/mirror.keytab",
                                            sasl_kerberos_principal="mirror@EXAMPLE.COM"))
    assert conf["sasl.kerberos.service.name"] == "kafka"
    assert conf["sasl.kerberos.keytab"] == "/etc/security/keytabs/mirror.keytab"
    assert conf["sasl.kerberos.principal"] == "mirror@EXAMPLE.COM"


class Done(Exception):
    def __init__(self, result, failed):
        super().__init__(result.get("msg", ""))
        self.result, self.failed = result, failed


def run(module, **args):
    def exit_json(self, **result):
        raise Done(result, False)

    def fail_json(self, **result):
        raise Done(result, True)

    with patch_module_args(args), mock.patch.object(AnsibleModule, "exit_json", exit_json), \
            mock.patch.object(AnsibleModule, "fail_json", fail_json):
        with pytest.raises(Done) as done:
            module.main()
    return done.value


def test_half_of_the_targets_settings_are_refused():
    done = run(kafka_mirror_check, topic="t", **SOURCE, target_bootstrap_servers="10.1.0.1:9094",
               target_sasl_username="mirror-secondary", target_sasl_password="target-secret")
    assert done.failed and "target_security_protocol" in done.result["msg"]
    assert "target-secret" not in done.result["msg"]


@pytest.fixture(scope="module")
def untrusted_tls_port(tmp_path_factory):
    """A TLS server whose certificate comes from a CA the system does not know (the secure lab's kind)."""
    from kafka_lab import pki
    from kafka_lab.layout import LabConfig, Paths

    paths = Paths(tmp_path_factory.mktemp("pki"))
    cluster = LabConfig(brokers=1, secure=True).clusters()[0]
    pki.ensure_all(paths, [cluster])
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(*paths.ambari_tls(cluster.name))
    listener = socket.create_server(("127.0.0.1", 0))
    port = listener.getsockname()[1]

    def serve() -> None:
        while True:
            try:
                conn, _ = listener.accept()
            except OSError:
                return
            try:
                with context.wrap_socket(conn, server_side=True) as tls:
                    tls.recv(1)
            except (OSError, ssl.SSLError):
                pass

    threading.Thread(target=serve, daemon=True).start()
    yield port
    listener.close()


def test_a_module_without_the_ca_fails_naming_ssl_ca_location(untrusted_tls_port):
    done = run(kafka_topic, name="t", bootstrap_servers=f"127.0.0.1:{untrusted_tls_port}",
               security_protocol="SASL_SSL", sasl_mechanism="SCRAM-SHA-512", sasl_username="u",
               sasl_password="never-shown", request_timeout=3)
    assert done.failed
    assert "certificate verify failed" in done.result["msg"]
    assert "ssl_ca_location" in done.result["msg"] and "kafka_security.ca_path" in done.result["msg"]
    assert "never-shown" not in str(done.result)


def test_connection_hint_for_refused_credentials():
    hint = kafka_utils.connection_hint([("_AUTHENTICATION", "sasl_ssl://b:9094/1: SASL authentication error")],
                                       "SASL_SSL")
    assert "sasl_username and sasl_password" in hint and "SASL authentication error" in hint
    assert kafka_utils.connection_hint([], "SASL_SSL") == ""
