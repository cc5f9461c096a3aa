# -*- coding: utf-8 -*-
# Copyright: ambari_kafka.mirroring contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""kafka_client_properties: a cluster's kafka_security (inventory) as Java client properties for kafka-mirror.

The names are the Java clients' (MirrorMaker reads the same files), except Kerberos' keytab and principal, which
kafka-mirror takes as librdkafka's sasl.kerberos.* settings (a Java client puts them in a Krb5LoginModule line).
"""

from __future__ import annotations

from collections.abc import Mapping

from ansible.errors import AnsibleFilterError

PROTOCOLS = ("PLAINTEXT", "SSL", "SASL_PLAINTEXT", "SASL_SSL")
LOGIN_MODULES = {"PLAIN": "org.apache.kafka.common.security.plain.PlainLoginModule",
                 "SCRAM-SHA-256": "org.apache.kafka.common.security.scram.ScramLoginModule",
                 "SCRAM-SHA-512": "org.apache.kafka.common.security.scram.ScramLoginModule"}


def _jaas_value(name: str, value: object) -> str:
    """A JAAS option value in double quotes, escaped as Kafka's JaasConfig reads it back (java.io.StreamTokenizer:
    a backslash escapes the next character, a line end would end the string), so any password can be carried."""
    # YAML's yes, 0123 or 1e3 unquoted: str() would not give what was typed. (A vaulted value is no str subclass on
    # every ansible-core: str() decrypts it.)
    if isinstance(value, (bool, int, float)):
        raise AnsibleFilterError(f"kafka_client_properties: kafka_security.{name} must be a string, not a "
                                 f"{type(value).__name__}: quote it in the inventory")
    text = str(value)
    if "\0" in text:
        raise AnsibleFilterError(f"kafka_client_properties: kafka_security.{name} holds a NUL character, which "
                                 "librdkafka cannot take (it reads settings as C strings)")
    text = text.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n").replace("\r", "\\r")
    return f'"{text}"'


def kafka_client_properties(security: Mapping | None, ca_location: str = "") -> dict:
    """Properties for one cluster: `ca_location` is where the CA file (kafka_security.ca_path) is on the node."""
    security = security or {}
    if not isinstance(security, Mapping):
        raise AnsibleFilterError(f"kafka_client_properties expects kafka_security as a dict, got a "
                                 f"{type(security).__name__}")
    protocol = str(security.get("protocol") or "PLAINTEXT").upper()
    if protocol not in PROTOCOLS:
        raise AnsibleFilterError(f"kafka_security.protocol must be one of {', '.join(PROTOCOLS)}, not {protocol}")
    if protocol == "PLAINTEXT":
        return {}  # nothing to add: the files stay as they were before kafka_security existed
    props = {"security.protocol": protocol}
    if protocol in ("SSL", "SASL_SSL") and security.get("ca_path"):
        if not ca_location:
            raise AnsibleFilterError("kafka_client_properties: kafka_security.ca_path is set but no CA location on the "
                                     "node was given")
        props.update({"ssl.truststore.type": "PEM", "ssl.truststore.location": ca_location})
    if protocol.startswith("SASL_"):
        mechanism = str(security.get("sasl_mechanism") or "")
        if not mechanism:
            raise AnsibleFilterError(f"kafka_security.protocol {protocol} needs kafka_security.sasl_mechanism")
        props["sasl.mechanism"] = mechanism
        if mechanism in LOGIN_MODULES:
            missing = [k for k in ("sasl_username", "sasl_password") if not security.get(k)]
            if missing:
                raise AnsibleFilterError(f"kafka_security with sasl_mechanism {mechanism} needs "
                                         f"{' and '.join('kafka_security.' + k for k in missing)}")
            props["sasl.jaas.config"] = "%s required username=%s password=%s;" % (
                LOGIN_MODULES[mechanism], _jaas_value("sasl_username", security["sasl_username"]),
                _jaas_value("sasl_password", security["sasl_password"]))
        elif mechanism == "GSSAPI":
            missing = [k for k in ("kerberos_principal", "kerberos_keytab") if not security.get(k)]
            if missing:
                raise AnsibleFilterError(f"kafka_security with sasl_mechanism GSSAPI needs "
                                         f"{' and '.join('kafka_security.' + k for k in missing)}")
            props.update({"sasl.kerberos.service.name": str(security.get("kerberos_service_name") or "kafka"),
                          "sasl.kerberos.principal": str(security["kerberos_principal"]),
                          "sasl.kerberos.keytab": str(security["kerberos_keytab"])})
        else:
            raise AnsibleFilterError(f"kafka_security.sasl_mechanism {mechanism} is not one kafka-mirror supports: "
                                     "PLAIN, SCRAM-SHA-256, SCRAM-SHA-512, GSSAPI")
    return props


class FilterModule:
    def filters(self):
        return {"kafka_client_properties": kafka_client_properties}
