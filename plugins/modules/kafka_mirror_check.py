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
    description: Brokers of the secondary cluster (the security options apply to both clusters).
    type: str
    required: true
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

from ansible_collections.ambari_kafka.mirroring.plugins.module_utils.kafka import (
    KAFKA_REQUIRED_IF, KAFKA_REQUIRED_TOGETHER, kafka_argument_spec, run_kafka_module)
from ansible_collections.ambari_kafka.mirroring.plugins.module_utils.kafka_check import run_mirror_check


def main():
    argument_spec = kafka_argument_spec()
    argument_spec.update(
        topic=dict(type="str", required=True),
        target_bootstrap_servers=dict(type="str", required=True),
        deadline=dict(type="int", default=60),
    )
    module = AnsibleModule(argument_spec=argument_spec, supports_check_mode=True,
                           required_together=KAFKA_REQUIRED_TOGETHER, required_if=KAFKA_REQUIRED_IF)
    run_kafka_module(module, run_mirror_check)


if __name__ == "__main__":
    main()
