#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: ambari_kafka.mirroring contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
---
module: kafka_mirror_check
short_description: Check that a mirror copies records, with a canary
version_added: 0.1.0
description:
  - Produces one canary record to O(topic) on the primary (O(bootstrap_servers)) and reads the secondary
    (O(target_bootstrap_servers)) from its end offsets until the canary arrives, reporting the latency; fails with a
    message that says where it got stuck when it does not arrive within O(deadline).
  - The canary is a real record in the topic. The module never reports a change. In check mode nothing is produced.
author:
  - ambari_kafka.mirroring maintainers (@ambari-kafka)
extends_documentation_fragment:
  - ansible.builtin.action_common_attributes
  - ambari_kafka.mirroring.kafka
attributes:
  check_mode:
    support: full
    details: Produces nothing in check mode.
  diff_mode:
    support: none
  platform:
    platforms: posix
options:
  topic:
    description: A mirrored topic.
    type: str
    required: true
  target_bootstrap_servers:
    description: Brokers of the secondary cluster.
    type: str
    required: true
  target_security_protocol:
    description:
      - How to talk to the secondary's brokers. When set, the secondary is reached with the C(target_*) options
        below only (its own credentials and CA); when not set, with the primary's options (O(security_protocol),
        O(sasl_username)...).
    type: str
    choices: [PLAINTEXT, SSL, SASL_PLAINTEXT, SASL_SSL]
  target_sasl_mechanism:
    description: SASL mechanism of the secondary.
    type: str
    choices: [PLAIN, SCRAM-SHA-256, SCRAM-SHA-512, GSSAPI]
  target_sasl_username:
    description: SASL user on the secondary.
    type: str
  target_sasl_password:
    description: SASL password on the secondary. Never logged.
    type: str
  target_sasl_kerberos_service_name:
    description: Kerberos service name of the secondary's brokers (GSSAPI).
    type: str
  target_sasl_kerberos_keytab:
    description: Keytab of O(target_sasl_kerberos_principal), on the controller (GSSAPI).
    type: path
  target_sasl_kerberos_principal:
    description: Kerberos principal for the secondary (GSSAPI).
    type: str
  target_ssl_ca_location:
    description: PEM file of the CA that signed the secondary's broker certificates.
    type: path
  target_ssl_certificate_location:
    description: PEM client certificate for the secondary, for mutual TLS.
    type: path
  target_ssl_key_location:
    description: PEM client key for the secondary, for mutual TLS.
    type: path
  target_ssl_key_password:
    description: Password of O(target_ssl_key_location). Never logged.
    type: str
  deadline:
    description: Seconds the canary may take.
    type: int
    default: 60
"""

EXAMPLES = r"""
- name: A record typed on the primary shows up on the secondary
  ambari_kafka.mirroring.kafka_mirror_check:
    bootstrap_servers: "{{ hostvars['prod-primary'].kafka_network_bootstrap_servers }}"
    target_bootstrap_servers: "{{ hostvars['prod-secondary'].kafka_network_bootstrap_servers }}"
    topic: testtopic

- name: Each cluster with its own SASL_SSL credentials and CA
  ambari_kafka.mirroring.kafka_mirror_check:
    bootstrap_servers: 10.0.0.11:9094
    security_protocol: SASL_SSL
    sasl_mechanism: SCRAM-SHA-512
    sasl_username: mirror-primary
    sasl_password: "{{ vault_kafka_primary_password }}"
    ssl_ca_location: /etc/pki/kafka-primary-ca.pem
    target_bootstrap_servers: 10.1.0.11:9094
    target_security_protocol: SASL_SSL
    target_sasl_mechanism: SCRAM-SHA-512
    target_sasl_username: mirror-secondary
    target_sasl_password: "{{ vault_kafka_secondary_password }}"
    target_ssl_ca_location: /etc/pki/kafka-secondary-ca.pem
    topic: testtopic
"""

RETURN = r"""
latency_ms:
  description: Milliseconds from the canary's timestamp on the primary to reading it on the secondary.
  returned: success, not in check mode
  type: int
  sample: 240
canary:
  description: The canary's value.
  returned: success, not in check mode
  type: str
  sample: ambari_kafka.mirroring canary 1b4e28ba-2fa1-11d2-883f-0016d3cca427
source_partition:
  description: Partition of the canary on the primary.
  returned: success, not in check mode
  type: int
  sample: 3
source_offset:
  description: Offset of the canary on the primary.
  returned: success, not in check mode
  type: int
  sample: 1200
target_partition:
  description: Partition of the canary on the secondary.
  returned: success, not in check mode
  type: int
  sample: 3
target_offset:
  description: Offset of the canary on the secondary.
  returned: success, not in check mode
  type: int
  sample: 1187
"""

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.ambari_kafka.mirroring.plugins.module_utils._kafka import (
    KAFKA_REQUIRED_IF, KAFKA_REQUIRED_TOGETHER, SECURITY_OPTIONS, kafka_argument_spec, run_kafka_module,
    security_argument_spec, security_required_together)
from ansible_collections.ambari_kafka.mirroring.plugins.module_utils._kafka_check import run_mirror_check


def main():
    argument_spec = kafka_argument_spec()
    argument_spec.update(
        topic=dict(type="str", required=True),
        target_bootstrap_servers=dict(type="str", required=True),
        deadline=dict(type="int", default=60),
    )
    argument_spec.update(security_argument_spec("target_"))
    module = AnsibleModule(
        argument_spec=argument_spec, supports_check_mode=True,
        required_together=KAFKA_REQUIRED_TOGETHER + security_required_together("target_"),
        required_if=KAFKA_REQUIRED_IF + [["target_security_protocol", "SASL_PLAINTEXT", ["target_sasl_mechanism"]],
                                         ["target_security_protocol", "SASL_SSL", ["target_sasl_mechanism"]]],
        # The secondary's own settings apply only with its protocol; never half of them mixed with the primary's.
        required_by={"target_" + opt: "target_security_protocol" for opt in SECURITY_OPTIONS})
    run_kafka_module(module, run_mirror_check)


if __name__ == "__main__":
    main()
