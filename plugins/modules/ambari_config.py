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
    password-typed properties, the lines of secret blocks and anything that looks like a secret are masked (see
    O(secret_properties) and O(secret_blocks)). The result names the changed properties, never their values.
  - A write that Ambari takes but does not answer within O(timeout) is read back. If the new version is in force, the
    task reports a change (with a warning); if not, it fails saying that the outcome is unknown and what to check.
  - Ambari returns password properties (PASSWORD-typed in the stack, or marked with the C(password) attribute) only
    as references C(SECRET:<type>:<version>:<name>), and a write that carries such a reference keeps the stored
    value. The module sends references back unchanged, compares them without their version, and never reports a
    reference as a change. A plaintext secret cannot be compared with a reference; O(update_password) decides.
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
      - Values are strings, numbers or booleans (Ambari stores every value as a string); a dict or list fails.
      - These values are logged like any module option (C(-vvv), syslog). Put secrets in O(secret_properties); the
        module warns about a property here whose name looks like a secret or that Ambari holds as a password.
    type: dict
    default: {}
  secret_properties:
    description:
      - Properties whose values are secrets, for example V(ssl.keystore.password). Like O(properties), but the
        values are never logged or returned (C(no_log)), are masked in the diff, and are marked with Ambari's
        C(password) attribute when written, so that Ambari returns them only as references from then on.
      - A property may be given in O(properties) or here, not both.
    type: dict
    default: {}
  update_password:
    description:
      - What to do with a secret given in plaintext (in O(secret_properties) or O(properties)) for a property that
        Ambari holds as a password reference, whose value it never returns, so that the two cannot be compared.
      - V(on_create) writes the secret only when the property is absent or empty; an existing value is kept and
        the property is listed in RV(unverified_secrets). Idempotent, also in check mode.
      - V(always) sends the secret on every run. Ambari compares it with the stored value and writes a new
        version only when something differs (C(AmbariManagementControllerImpl.updateCluster)); the module reports
        a change only when Ambari wrote one. Check mode cannot ask, and reports these properties as a possible
        change. A config group has no such comparison; with V(always) its overrides are rewritten on every run.
      - Any write of a config group's overrides carries every password value in plaintext (Ambari stores a
        reference in a config group as text), so give them in O(secret_properties).
    type: str
    choices: [on_create, always]
    default: on_create
  create_type:
    description:
      - Create O(config_type) when the cluster does not have it. Without it, a type the cluster does not have
        fails naming the types it has (most often a typo such as V(kafka-brokr)). Not for O(config_group), as a config
        group can only override a type the cluster has.
    type: bool
    default: false
  blocks:
    description:
      - Managed blocks inside multi-line properties.
      - Like O(properties), a block's O(blocks[].block) is logged as a module option (C(-vvv), syslog); the module warns
        about a block whose lines look like they hold a secret. Give such lines in O(secret_blocks) and name them with
        O(blocks[].secret).
      - With O(config_group), a V(present) block starts from the cluster's value when the group does not override the
        property yet, and the group then overrides (pins) the whole property for its hosts, so that later cluster-wide
        changes of it no longer reach them. An V(absent) block where the group does not override the property changes
        nothing.
    type: list
    elements: dict
    default: []
    suboptions:
      property:
        description: The multi-line property, for example V(content).
        type: str
        required: true
      block:
        description:
          - The lines between the markers. Without O(blocks[].block) and O(blocks[].secret), the block is empty.
          - A line equal to the block's own BEGIN or END marker line fails.
        type: str
      secret:
        description:
          - Name of the entry of O(secret_blocks) that holds the block's lines, instead of O(blocks[].block). The
            lines are then never logged, and are masked whole (as one V(********) line) in the diff, before and after.
        type: str
      marker:
        description:
          - The marker line; it must contain V({mark}), which becomes V(BEGIN) and V(END).
          - As M(ansible.builtin.blockinfile), the last BEGIN..END pair is the block managed. A BEGIN without its
            END, or an END without a BEGIN, fails naming the line; fix the value in Ambari first.
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
  secret_blocks:
    description:
      - Lines of managed blocks that hold secrets, by a name that O(blocks[].secret) refers to, for example
        C(tls_opts) for an C(export KAFKA_OPTS=...Password=...) line. Never logged or returned (C(no_log)).
      - A separate option because a no_log value inside O(blocks) would still be written to syslog when it spans
        several lines.
    type: dict
    default: {}
  note:
    description:
      - The service config version note Ambari shows in its history.
    type: str
    default: Changed by Ansible (ambari_kafka.mirroring.ambari_config)
  config_group:
    description:
      - Name of a config group; the properties become overrides for O(hosts) only. The group is created if missing.
      - A change of O(hosts) alone keeps the group's overrides as Ambari holds them (by their tag), so it needs no
        O(secret_properties); a change of the overrides of a type holding passwords does.
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

- name: A secret, kept out of logs; written once, then left as Ambari holds it
  ambari_kafka.mirroring.ambari_config:
    config_type: kafka-broker
    secret_properties:
      ssl.keystore.password: "{{ vault_keystore_password }}"
    update_password: on_create

- name: A kafka-env line holding a password, as a managed block kept out of logs
  ambari_kafka.mirroring.ambari_config:
    config_type: kafka-env
    blocks:
      - property: content
        marker: "# {mark} ambari_kafka.mirroring: TLS options"
        secret: tls_opts
    secret_blocks:
      tls_opts: |
        export KAFKA_OPTS="$KAFKA_OPTS -Djavax.net.ssl.trustStorePassword={{ vault_truststore_password }}"

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
  description:
    - Names of the properties set, changed or removed (in check mode, that would be). Their values are not returned;
      run with C(--diff) to see them before and after, secrets masked.
  returned: always
  type: list
  elements: str
  sample: [listeners]
unverified_secrets:
  description:
    - Secrets given in plaintext for properties Ambari holds only as password references, which cannot be compared
      (kept with O(update_password=on_create); sent for Ambari to compare with O(update_password=always)).
  returned: always
  type: list
  elements: str
  sample: [ssl.keystore.password]
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

from ansible_collections.ambari_kafka.mirroring.plugins.module_utils._ambari import ambari_argument_spec, run_module
from ansible_collections.ambari_kafka.mirroring.plugins.module_utils._ambari_configs import (
    DEFAULT_NOTE, run_ambari_config)


def module_spec():
    """AnsibleModule's arguments: the module's and the in-process action's (plugins/action/ambari_config.py)."""
    argument_spec = ambari_argument_spec()
    argument_spec.update(
        config_type=dict(type="str", required=True),
        properties=dict(type="dict", default={}),
        secret_properties=dict(type="dict", default={}, no_log=True),
        update_password=dict(type="str", choices=["on_create", "always"], default="on_create", no_log=False),
        create_type=dict(type="bool", default=False),
        blocks=dict(type="list", elements="dict", default=[], options=dict(
            property=dict(type="str", required=True),
            block=dict(type="str"),
            secret=dict(type="str", no_log=False),
            marker=dict(type="str", default="# {mark} ANSIBLE MANAGED BLOCK"),
            state=dict(type="str", choices=["present", "absent"], default="present"),
            insertafter=dict(type="str"),
            insertbefore=dict(type="str"),
        ), mutually_exclusive=[["insertafter", "insertbefore"], ["block", "secret"]]),
        secret_blocks=dict(type="dict", default={}, no_log=True),
        note=dict(type="str", default=DEFAULT_NOTE),
        config_group=dict(type="str"),
        hosts=dict(type="list", elements="str"),
        service=dict(type="str", default="KAFKA"),
        group_description=dict(type="str", default="Managed by Ansible (ambari_kafka.mirroring.ambari_config)"),
    )
    return dict(argument_spec=argument_spec, supports_check_mode=True, required_together=[["config_group", "hosts"]])


def main():
    module = AnsibleModule(**module_spec())
    run_module(module, run_ambari_config)


if __name__ == "__main__":
    main()
