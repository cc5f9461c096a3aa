#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: ambari_kafka.mirroring contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
---
module: ambari_cluster_info
short_description: Read the Kafka facts of an Ambari cluster (brokers, IPs, listeners, bootstrap servers)
version_added: 0.1.0
description:
  - Read-only. Returns the cluster's name and stack version, its Kafka broker hosts with IP and FQDN, the listeners
    and advertised listeners of each broker as Ambari configures them (config-group overrides applied, C(localhost)
    replaced by the host's FQDN as the stack scripts do), C(bootstrap_servers) by IP or by FQDN, the ZooKeeper
    servers and client port when the cluster has ZooKeeper, the desired config tags, stale components and hosts in
    maintenance mode.
  - This replaces the article's "write down the IP addresses of the brokers and ZooKeeper" step, and feeds the
    mirror worker's properties files.
author:
  - ambari_kafka.mirroring maintainers (@ambari-kafka)
extends_documentation_fragment:
  - ansible.builtin.action_common_attributes
  - ambari_kafka.mirroring.ambari
attributes:
  check_mode:
    support: full
    details: Reads only; runs in check mode as in a normal run.
  diff_mode:
    support: none
  platform:
    platforms: posix
options:
  address:
    description:
      - Whether RV(bootstrap_servers) and the ZooKeeper connect string use IP addresses or FQDNs.
      - With V(ip), the module fails naming the hosts for which Ambari lists no IP address (C(Hosts/ip)).
    type: str
    choices: [ip, fqdn]
    default: ip
  listener:
    description:
      - The listener whose port goes into RV(bootstrap_servers); names compare case-insensitively, as Kafka's do.
      - When no broker has it, the module fails naming the listeners the brokers have; brokers without it are left
        out of RV(bootstrap_servers) with a warning.
    type: str
    default: PLAINTEXT
"""

EXAMPLES = r"""
- name: Read the primary's brokers
  ambari_kafka.mirroring.ambari_cluster_info:
    url: https://kafka-primary.azurehdinsight.net
    password: "{{ vault_ambari_password }}"
  register: primary

- name: Use them
  ansible.builtin.debug:
    msg: "bootstrap.servers={{ primary.bootstrap_servers }}"
"""

RETURN = r"""
cluster:
  description: The cluster name.
  returned: always
  type: str
  sample: kafka-primary
stack_version:
  description: The stack, as Ambari names it.
  returned: always
  type: str
  sample: HDP-3.1
brokers:
  description: One entry per KAFKA_BROKER host, sorted by host name.
  returned: always
  type: list
  elements: dict
  sample:
    - host_name: wn0-kafka.example.internal
      ip: 10.0.0.11
      state: STARTED
      stale_configs: false
      maintenance_state: "OFF"
      port: 9092
      listeners: [{name: PLAINTEXT, host: 0.0.0.0, port: 9092}]
      advertised_listeners: [{name: PLAINTEXT, host: 0.0.0.0, port: 9092}]
bootstrap_servers:
  description: Comma-separated host:port of every broker's O(listener), by O(address).
  returned: always
  type: str
  sample: 10.0.0.11:9092,10.0.0.12:9092
zookeeper:
  description: ZooKeeper servers, client port and connect string; null when the cluster has no ZooKeeper (KRaft).
  returned: always
  type: dict
  sample: {servers: [{host_name: zk0-kafka.example.internal, ip: 10.0.0.5}], client_port: 2181, connect: "10.0.0.5:2181"}
desired_configs:
  description: Tag and version in force per config type.
  returned: always
  type: dict
  sample: {kafka-broker: {tag: version1, version: 1}}
stale_components:
  description: Host components of Kafka and ZooKeeper with stale configs (a restart is pending), with their service.
  returned: always
  type: list
  elements: dict
  sample: [{host: wn0-kafka.example.internal, component: KAFKA_BROKER, service: KAFKA}]
hosts_in_maintenance:
  description: Hosts in maintenance mode.
  returned: always
  type: list
  elements: str
  sample: []
http_requests:
  description: Number of HTTP requests the module made.
  returned: always
  type: int
  sample: 6
"""

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.ambari_kafka.mirroring.plugins.module_utils._ambari import ambari_argument_spec, run_module
from ansible_collections.ambari_kafka.mirroring.plugins.module_utils._ambari_facts import run_cluster_info


def module_spec():
    """AnsibleModule's arguments: the module's and the in-process action's (plugins/action/ambari_cluster_info.py)."""
    argument_spec = ambari_argument_spec()
    argument_spec.update(
        address=dict(type="str", choices=["ip", "fqdn"], default="ip"),
        listener=dict(type="str", default="PLAINTEXT"),
    )
    return dict(argument_spec=argument_spec, supports_check_mode=True)


def main():
    run_module(AnsibleModule(**module_spec()), run_cluster_info)


if __name__ == "__main__":
    main()
