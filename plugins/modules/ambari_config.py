#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: ambari_kafka.mirroring contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
---
module: ambari_config
short_description: Set and remove properties of an Ambari config type, idempotently
version_added: 0.1.0
description:
  - Reads the config type in force (for example C(kafka-broker) or C(kafka-env)), computes the change, and writes a new
    version only when something differs. The write carries the complete property set, a fresh tag (Ambari 2.6 requires
    one), the existing C(properties_attributes) and a service config version note.
  - Values are compared as Ambari stores them, as strings; V(true) and C(yes) in YAML both become C("true").
  - O(blocks) manages marked blocks inside multi-line properties such as kafka-env C(content), the way
    M(ansible.builtin.blockinfile) does in files, so a snippet is added once and updated in place.
  - With O(config_group) and O(hosts), the properties become per-host overrides in an Ambari config group.
  - Check mode computes the same change and writes nothing. Diff mode shows the changed properties before and after;
    password-typed properties and anything that looks like a secret are masked.
author:
  - ambari_kafka.mirroring maintainers (@ambari-kafka)
extends_documentation_fragment:
  - ansible.builtin.action_common_attributes
  - ambari_kafka.mirroring.ambari
attributes:
  check_mode:
    support: full
  diff_mode:
    support: full
  platform:
    platforms: posix
options:
  config_type:
    description:
      - The config type, for example V(kafka-broker), V(kafka-env), V(kafka-log4j).
    type: str
    required: true
  properties:
    description:
      - Properties to set. A V(null) value removes the property.
    type: dict
    default: {}
  blocks:
    description:
      - Managed blocks inside multi-line properties.
    type: list
    elements: dict
    default: []
    suboptions:
      property:
        description: The multi-line property, for example V(content).
        type: str
        required: true
      block:
        description: The lines between the markers.
        type: str
        default: ""
      marker:
        description: The marker line; V({mark}) becomes V(BEGIN) and V(END).
        type: str
        default: "# {mark} ANSIBLE MANAGED BLOCK"
      state:
        description: Whether the block is present.
        type: str
        choices: [present, absent]
        default: present
      insertafter:
        description: Regex of the line after which a new block goes; V(EOF) (default) appends.
        type: str
      insertbefore:
        description: Regex of the line before which a new block goes; V(BOF) prepends.
        type: str
  note:
    description:
      - The service config version note Ambari shows in its history.
    type: str
    default: Changed by Ansible (ambari_kafka.mirroring.ambari_config)
  config_group:
    description:
      - Name of a config group; the properties become overrides for O(hosts) only. The group is created if missing.
    type: str
  hosts:
    description:
      - Host names (as Ambari knows them) that belong to O(config_group). Required with O(config_group).
    type: list
    elements: str
  service:
    description:
      - The service a config group belongs to.
    type: str
    default: KAFKA
  group_description:
    description:
      - Description of a config group created or updated by the module.
    type: str
    default: Managed by Ansible (ambari_kafka.mirroring.ambari_config)
"""

EXAMPLES = r"""
- name: Listen on all interfaces (the article's listeners step)
  ambari_kafka.mirroring.ambari_config:
    url: https://kafka-primary.azurehdinsight.net
    username: admin
    password: "{{ vault_ambari_password }}"
    cluster: kafka-primary
    config_type: kafka-broker
    properties:
      listeners: PLAINTEXT://0.0.0.0:9092

- name: Advertise each broker's IP (the article's kafka-env snippet, as a managed block)
  ambari_kafka.mirroring.ambari_config:
    config_type: kafka-env
    blocks:
      - property: content
        marker: "# {mark} ambari_kafka.mirroring: advertise IP addresses"
        block: |
          IP_ADDRESS=$(hostname -i)
          echo advertised.listeners=$IP_ADDRESS
          sed -i.bak -e '/advertised/{/advertised@/!d;}' /usr/hdp/current/kafka-broker/conf/server.properties
          echo "advertised.listeners=PLAINTEXT://$IP_ADDRESS:9092" >> /usr/hdp/current/kafka-broker/conf/server.properties

- name: Per-host advertised listener through a config group
  ambari_kafka.mirroring.ambari_config:
    config_type: kafka-broker
    config_group: advertise-wn0
    hosts: [wn0-kafka.example.internal]
    properties:
      advertised.listeners: PLAINTEXT://10.0.0.11:9092

- name: Remove a property
  ambari_kafka.mirroring.ambari_config:
    config_type: kafka-broker
    properties:
      auto.create.topics.enable: null
"""

RETURN = r"""
cluster:
  description: The cluster that was read or changed.
  returned: always
  type: str
  sample: kafka-primary
config_type:
  description: The config type.
  returned: always
  type: str
  sample: kafka-broker
tag:
  description: Tag in force after the run (null in check mode when it would change).
  returned: always
  type: str
  sample: ansible1763712345678
version:
  description: Version of the config type after the run (null in check mode when it would change).
  returned: when not O(config_group)
  type: int
  sample: 7
previous_tag:
  description: Tag in force before the run.
  returned: always
  type: str
  sample: version1
previous_version:
  description: Version in force before the run.
  returned: when not O(config_group)
  type: int
  sample: 6
changed_properties:
  description: Names of the properties that differ.
  returned: always
  type: list
  elements: str
  sample: [listeners]
properties:
  description: The properties after the run, secrets masked.
  returned: always
  type: dict
  sample: {listeners: "PLAINTEXT://0.0.0.0:9092"}
stale_components:
  description: Host components that became stale (in check mode, that would become stale).
  returned: always
  type: list
  elements: dict
  sample: [{host: wn0-kafka.example.internal, component: KAFKA_BROKER}]
restart_required:
  description: Whether any component became stale.
  returned: always
  type: bool
  sample: true
group_id:
  description: Id of the config group.
  returned: when O(config_group)
  type: int
  sample: 2
hosts:
  description: Hosts of the config group after the run.
  returned: when O(config_group)
  type: list
  elements: str
  sample: [wn0-kafka.example.internal]
"""

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.ambari_kafka.mirroring.plugins.module_utils.ambari import ambari_argument_spec, run_module
from ansible_collections.ambari_kafka.mirroring.plugins.module_utils.ambari_configs import (
    DEFAULT_NOTE, run_ambari_config)


def main():
    argument_spec = ambari_argument_spec()
    argument_spec.update(
        config_type=dict(type="str", required=True),
        properties=dict(type="dict", default={}),
        blocks=dict(type="list", elements="dict", default=[], options=dict(
            property=dict(type="str", required=True),
            block=dict(type="str", default=""),
            marker=dict(type="str", default="# {mark} ANSIBLE MANAGED BLOCK"),
            state=dict(type="str", choices=["present", "absent"], default="present"),
            insertafter=dict(type="str"),
            insertbefore=dict(type="str"),
        ), mutually_exclusive=[["insertafter", "insertbefore"]]),
        note=dict(type="str", default=DEFAULT_NOTE),
        config_group=dict(type="str"),
        hosts=dict(type="list", elements="str"),
        service=dict(type="str", default="KAFKA"),
        group_description=dict(type="str", default="Managed by Ansible (ambari_kafka.mirroring.ambari_config)"),
    )
    module = AnsibleModule(argument_spec=argument_spec, supports_check_mode=True,
                           required_together=[["config_group", "hosts"]])
    run_module(module, run_ambari_config)


if __name__ == "__main__":
    main()
