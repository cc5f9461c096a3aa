"""Secured clusters in the mirror's configuration: SCRAM over SASL_SSL per side, and Kerberos checked at start-up."""
from __future__ import annotations

from pathlib import Path

import pytest

from kafka_mirror.config import load
from kafka_mirror.errors import ConfigError

SOURCE = ("bootstrap.servers=10.231.1.10:9094\ngroup.id=g\nsecurity.protocol=SASL_SSL\nsasl.mechanism=SCRAM-SHA-512\n"
          "sasl.jaas.config=org.apache.kafka.common.security.scram.ScramLoginModule required "
          'username="mirror-primary" password="p-secret";\n'
          "ssl.truststore.type=PEM\nssl.truststore.location=/etc/kafka-mirror/source-ca.pem\n")


def config(tmp_path: Path, consumer: str, producer: str = "bootstrap.servers=10.231.2.10:9092\n"):
    (tmp_path / "c.properties").write_text(consumer)
    (tmp_path / "p.properties").write_text(producer)
    return ["--consumer.config", str(tmp_path / "c.properties"), "--producer.config", str(tmp_path / "p.properties"),
            "--whitelist", "t"]


def test_each_side_keeps_its_own_scram_credentials_and_ca(tmp_path):
    producer = SOURCE.replace("10.231.1.10", "10.231.2.10").replace("mirror-primary", "mirror-secondary") \
        .replace("p-secret", "s-secret").replace("source-ca", "target-ca").replace("group.id=g\n", "")
    cfg = load(config(tmp_path, SOURCE, producer))
    assert (cfg.consumer["sasl.username"], cfg.consumer["sasl.password"]) == ("mirror-primary", "p-secret")
    assert (cfg.producer["sasl.username"], cfg.producer["sasl.password"]) == ("mirror-secondary", "s-secret")
    assert cfg.consumer["ssl.ca.location"] == "/etc/kafka-mirror/source-ca.pem"
    assert cfg.admin("target")["ssl.ca.location"] == "/etc/kafka-mirror/target-ca.pem"
    assert cfg.admin("target")["sasl.password"] == "s-secret"


KERBEROS = ("bootstrap.servers=wn0-kafka.contoso.com:9093\ngroup.id=g\nsecurity.protocol=SASL_SSL\n"
            "sasl.mechanism=GSSAPI\nsasl.kerberos.service.name=kafka\n")


def test_kerberos_without_the_keytab_on_the_node_stops_naming_it(tmp_path):
    missing = tmp_path / "mirror.keytab"
    with pytest.raises(ConfigError) as err:
        load(config(tmp_path, KERBEROS + f"sasl.kerberos.keytab={missing}\nsasl.kerberos.principal=mirror@C.COM\n"))
    assert str(missing) in str(err.value) and "does not exist on this node" in str(err.value)
    assert "sasl.kerberos.keytab" in str(err.value)


def test_kerberos_without_keytab_or_principal_settings(tmp_path):
    with pytest.raises(ConfigError, match="without sasl.kerberos.keytab"):
        load(config(tmp_path, KERBEROS))
    keytab = tmp_path / "k.keytab"
    keytab.write_bytes(b"\x05\x02")
    with pytest.raises(ConfigError, match="without sasl.kerberos.principal"):
        load(config(tmp_path, KERBEROS + f"sasl.kerberos.keytab={keytab}\n"))


def test_kerberos_keytab_unreadable(tmp_path, monkeypatch):
    keytab = tmp_path / "k.keytab"
    keytab.write_bytes(b"\x05\x02")
    monkeypatch.setattr("kafka_mirror.config.os.access", lambda path, mode: False)  # as the service's user sees it
    with pytest.raises(ConfigError, match="not readable"):
        load(config(tmp_path, KERBEROS + f"sasl.kerberos.keytab={keytab}\nsasl.kerberos.principal=m@C.COM\n"))


def test_kerberos_without_kinit_names_the_package(tmp_path, monkeypatch):
    keytab = tmp_path / "k.keytab"
    keytab.write_bytes(b"\x05\x02")
    monkeypatch.setattr("kafka_mirror.config.shutil.which", lambda name: None)
    with pytest.raises(ConfigError, match="krb5-user"):
        load(config(tmp_path, KERBEROS + f"sasl.kerberos.keytab={keytab}\nsasl.kerberos.principal=m@C.COM\n"))


def test_kerberos_complete_passes_with_a_kinit_command(tmp_path):
    keytab = tmp_path / "k.keytab"
    keytab.write_bytes(b"\x05\x02")
    cfg = load(config(tmp_path, KERBEROS + f"sasl.kerberos.keytab={keytab}\nsasl.kerberos.principal=m@C.COM\n"
                                           "sasl.kerberos.kinit.cmd=/usr/bin/true\n"))
    assert cfg.admin("source")["sasl.kerberos.keytab"] == str(keytab)
    assert cfg.admin("source")["sasl.kerberos.service.name"] == "kafka"


@pytest.mark.parametrize("line, expected", [
    ('m required username="u" password="a\\"b\\\\c";', {"username": "u", "password": 'a"b\\c'}),
    ("m required username='u' password='it\\'s';", {"username": "u", "password": "it's"}),
    ("m required username=bob password=s3cret;", {"username": "bob", "password": "s3cret"}),
    ('m required username="" password="\\101\\7\\n\\q";', {"username": "", "password": "A\a\nq"}),
])
def test_jaas_options_are_read_as_kafkas_jaasconfig_reads_them(line, expected):
    """apache/kafka clients/.../security/JaasConfig.java: java.io.StreamTokenizer with " and ' as quotes, escapes
    inside them, bare words otherwise (the Java side of it: tests/unit/plugins/filter/test_kafka_client_properties.py)."""
    from kafka_mirror.jaas import login_options

    assert login_options(line) == ("m", expected)
