#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: ambari_kafka.mirroring contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
---
module: kafka_topic
short_description: Create, grow, reconfigure or delete a Kafka topic, idempotently
version_added: 0.1.0
description:
  - Reads the topic, computes the change and applies only what differs, through Kafka's AdminClient
    (confluent-kafka) on the controller.
  - Partitions can only grow; a decrease fails with a clear message. The replication factor is set at creation; a
    different one later fails with a clear message.
  - O(config) holds topic overrides, compared with the topic's dynamic configs and changed with incremental alter;
    O(purge=true) removes overrides not listed.
  - Internal topics (such as C(__consumer_offsets)) are refused.
  - Check mode asks the broker to validate every step (C(validate_only)) and changes nothing. Diff mode shows
    partitions, replication factor and overrides before and after.
author:
  - ambari_kafka.mirroring maintainers (@ambari-kafka)
extends_documentation_fragment:
  - ansible.builtin.action_common_attributes
  - ambari_kafka.mirroring.kafka
attributes:
  check_mode:
    support: full
    details: Creation, partition growth and reconfiguration are validated by the broker; deletion is not.
  diff_mode:
    support: full
  platform:
    platforms: posix
options:
  name:
    description: The topic.
    type: str
    required: true
  state:
    description: Whether the topic exists.
    type: str
    choices: [present, absent]
    default: present
  partitions:
    description: Number of partitions; required to create; can only grow.
    type: int
  replication_factor:
    description: Replication factor at creation (default the broker's C(default.replication.factor)).
    type: int
  config:
    description: Topic overrides, for example C(retention.ms). A V(null) value removes the override.
    type: dict
    default: {}
  purge:
    description: Remove overrides that O(config) does not list.
    type: bool
    default: false
"""

EXAMPLES = r"""
- name: The article's topic on the primary
  ambari_kafka.mirroring.kafka_topic:
    bootstrap_servers: "{{ primary.bootstrap_servers }}"
    name: testtopic
    partitions: 8
    replication_factor: 2

- name: Keep a week of data, and nothing else overridden
  ambari_kafka.mirroring.kafka_topic:
    bootstrap_servers: 10.0.0.11:9092
    name: orders
    partitions: 16
    config:
      retention.ms: 604800000
    purge: true
"""

RETURN = r"""
topic:
  description: The topic.
  returned: always
  type: str
  sample: testtopic
exists:
  description: Whether the topic exists after the run (would, in check mode).
  returned: always
  type: bool
  sample: true
partitions:
  description: Partitions after the run.
  returned: always
  type: int
  sample: 8
replication_factor:
  description: Replication factor after the run (0 in check mode when the broker's default would apply).
  returned: always
  type: int
  sample: 2
config:
  description: Topic overrides after the run.
  returned: always
  type: dict
  sample: {retention.ms: "604800000"}
"""

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.ambari_kafka.mirroring.plugins.module_utils._kafka import (
    KAFKA_REQUIRED_IF, KAFKA_REQUIRED_TOGETHER, kafka_argument_spec, run_kafka_module)
from ansible_collections.ambari_kafka.mirroring.plugins.module_utils._kafka_topics import run_kafka_topic


def main():
    argument_spec = kafka_argument_spec()
    argument_spec.update(
        name=dict(type="str", required=True),
        state=dict(type="str", choices=["present", "absent"], default="present"),
        partitions=dict(type="int"),
        replication_factor=dict(type="int"),
        config=dict(type="dict", default={}),
        purge=dict(type="bool", default=False),
    )
    module = AnsibleModule(argument_spec=argument_spec, supports_check_mode=True,
                           required_together=KAFKA_REQUIRED_TOGETHER, required_if=KAFKA_REQUIRED_IF)
    run_kafka_module(module, run_kafka_topic)


if __name__ == "__main__":
    main()
