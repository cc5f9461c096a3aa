"""kafka_client_properties: a cluster's kafka_security as the client properties kafka-mirror reads back as given."""
from __future__ import annotations

import pytest
from ansible.errors import AnsibleFilterError

from ansible_collections.ambari_kafka.mirroring.plugins.filter.java_properties import to_java_properties
from ansible_collections.ambari_kafka.mirroring.plugins.filter.kafka_client_properties import kafka_client_properties
from kafka_mirror.properties import parse_properties, translate

LAB_PRIMARY = {"protocol": "SASL_SSL", "sasl_mechanism": "SCRAM-SHA-512", "sasl_username": "mirror-primary",
               "sasl_password": "Zx-9_secret", "ca_path": "/var/lib/kafka-lab/pki/ca.pem", "address": "ip"}


def test_plaintext_adds_nothing_so_existing_files_do_not_change():
    assert kafka_client_properties({}) == {} == kafka_client_properties(None)
    assert kafka_client_properties({"protocol": "PLAINTEXT", "ca_path": "/x"}, "/etc/ca.pem") == {}


def test_scram_over_tls_reaches_kafka_mirror_as_librdkafka_settings():
    props = kafka_client_properties(LAB_PRIMARY, "/etc/kafka-mirror/source-ca.pem")
    assert props["ssl.truststore.location"] == "/etc/kafka-mirror/source-ca.pem"  # the node's copy, not the controller's
    text = to_java_properties({"bootstrap.servers": "10.231.1.10:9094", **props})
    conf, warnings = translate(parse_properties(text), "consumer")
    assert conf == {"bootstrap.servers": "10.231.1.10:9094", "security.protocol": "SASL_SSL",
                    "sasl.mechanism": "SCRAM-SHA-512", "sasl.username": "mirror-primary",
                    "sasl.password": "Zx-9_secret", "ssl.ca.location": "/etc/kafka-mirror/source-ca.pem"}
    assert warnings == ["consumer.properties: ignoring ssl.truststore.type (PEM CA files are given directly)"]


def test_kerberos_gives_librdkafka_keytab_and_principal():
    props = kafka_client_properties({"protocol": "SASL_SSL", "sasl_mechanism": "GSSAPI",
                                     "kerberos_principal": "mirror@CONTOSO.COM",
                                     "kerberos_keytab": "/etc/security/keytabs/mirror.keytab"}, "/etc/ca.pem")
    assert props == {"security.protocol": "SASL_SSL", "sasl.mechanism": "GSSAPI",
                     "sasl.kerberos.service.name": "kafka", "sasl.kerberos.principal": "mirror@CONTOSO.COM",
                     "sasl.kerberos.keytab": "/etc/security/keytabs/mirror.keytab"}


@pytest.mark.parametrize("security, message", [
    ({"protocol": "SASL_SSL"}, "needs kafka_security.sasl_mechanism"),
    ({"protocol": "SASL_SSL", "sasl_mechanism": "SCRAM-SHA-512", "sasl_username": "u"},
     "needs kafka_security.sasl_password"),
    ({"protocol": "SASL_SSL", "sasl_mechanism": "GSSAPI", "kerberos_principal": "p@R"},
     "needs kafka_security.kerberos_keytab"),
    ({"protocol": "TLS"}, "must be one of"),
])
def test_incomplete_settings_name_the_missing_one(security, message):
    with pytest.raises(AnsibleFilterError, match=message):
        kafka_client_properties(security, "/etc/ca.pem")


def test_a_password_a_jaas_line_cannot_carry_is_refused_without_showing_it():
    with pytest.raises(AnsibleFilterError) as err:
        kafka_client_properties({**LAB_PRIMARY, "sasl_password": 'a"b-hidden'}, "/etc/ca.pem")
    assert "sasl_password" in str(err.value) and "hidden" not in str(err.value)
