# -*- coding: utf-8 -*-
# Copyright: ambari_kafka.mirroring contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations


class ModuleDocFragment:
    """The Kafka connection options every kafka_* module shares (module_utils._kafka.kafka_argument_spec)."""

    DOCUMENTATION = r"""
attributes:
  action_group:
    description:
      - Use C(group/ambari_kafka.mirroring.kafka) in C(module_defaults) to set the connection options (O(bootstrap_servers), SASL and TLS settings)
        once for every module of the group.
    support: full
    membership:
      - ambari_kafka.mirroring.kafka
options:
  bootstrap_servers:
    description:
      - Brokers to bootstrap from, C(host:port) separated by commas, for example the RV(ambari_kafka.mirroring.ambari_cluster_info#module:bootstrap_servers)
        of the cluster.
      - If not set, the environment variable E(KAFKA_BOOTSTRAP_SERVERS) is used.
    type: str
    required: true
  security_protocol:
    description: How to talk to the brokers.
    type: str
    choices: [PLAINTEXT, SSL, SASL_PLAINTEXT, SASL_SSL]
    default: PLAINTEXT
  sasl_mechanism:
    description: SASL mechanism, with O(security_protocol=SASL_PLAINTEXT) or O(security_protocol=SASL_SSL).
    type: str
    choices: [PLAIN, SCRAM-SHA-256, SCRAM-SHA-512, GSSAPI]
  sasl_username:
    description: SASL user.
    type: str
  sasl_password:
    description:
      - SASL password. Never logged.
      - If not set, the environment variable E(KAFKA_SASL_PASSWORD) is used.
    type: str
  sasl_kerberos_service_name:
    description: Kerberos service name of the brokers, with O(sasl_mechanism=GSSAPI) (librdkafka's default C(kafka)).
    type: str
  sasl_kerberos_keytab:
    description: Keytab of O(sasl_kerberos_principal) on the controller, with O(sasl_mechanism=GSSAPI).
    type: path
  sasl_kerberos_principal:
    description: Kerberos principal of the client, with O(sasl_mechanism=GSSAPI).
    type: str
  ssl_ca_location:
    description:
      - PEM file of the CA that signed the brokers' certificates (a private CA, as the inventory's
        C(kafka_security.ca_path)). Without it the system's CAs are used; when they cannot verify the brokers'
        certificate, the module fails with a message naming this option.
    type: path
  ssl_certificate_location:
    description: PEM client certificate, for mutual TLS.
    type: path
  ssl_key_location:
    description: PEM client key, for mutual TLS.
    type: path
  ssl_key_password:
    description: Password of O(ssl_key_location). Never logged.
    type: str
  request_timeout:
    description: Seconds to wait for each admin request.
    type: int
    default: 30
requirements:
  - confluent-kafka >= 2.13 on the controller
"""
