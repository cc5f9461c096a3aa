#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: ambari_kafka.mirroring contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
---
module: ambari_service
short_description: Start, stop or restart an Ambari service, restarting only what has stale configs
version_added: 0.1.0
description:
  - O(state=restarted) with O(restart=stale) (the default) restarts only the host components Ambari marks with stale
    configs, like "Restart All Affected", and reports C(changed=false) when there are none.
  - O(rolling=true) restarts broker by broker through an Ambari request schedule (batch size, separation, failure
    tolerance), the way a production Kafka cluster must be restarted. Ambari 2.6 and 2.7 report a schedule that
    stopped after a failure as C(COMPLETED); the module reads every batch and fails naming the hosts of a batch that
    failed or never ran.
  - After waiting, the module re-reads the host components it acted on and fails naming those Ambari left out without
    an error, and why. Ambari leaves out hosts put in maintenance mode meanwhile; of a start or stop also hosts whose
    ambari-agent lost heartbeat. A MASTER component such as C(KAFKA_BROKER) on a heartbeat-lost host is not left out
    of a RESTART, its task is ABORTED and the request fails (only SLAVE and CLIENT components there are left out of a
    RESTART that names several components).
  - Requests are sent with C(operation_level) SERVICE, so a service in maintenance mode is not silently skipped; the
    module warns when the service, or hosts it would act on, are in maintenance mode (those hosts are skipped and
    listed in RV(skipped)).
  - Waits for the Ambari request, and fails on V(FAILED), V(TIMEDOUT), V(ABORTED) or V(SKIPPED_FAILED) with the
    failed tasks' hosts and the last lines of their stderr.
  - Check mode lists what would be restarted, started or stopped.
author:
  - ambari_kafka.mirroring maintainers (@ambari-kafka)
extends_documentation_fragment:
  - ansible.builtin.action_common_attributes
  - ambari_kafka.mirroring.ambari
  - ambari_kafka.mirroring.ambari.WAIT
attributes:
  check_mode:
    support: full
  diff_mode:
    support: none
  platform:
    platforms: posix
options:
  service:
    description: The service, as Ambari names it.
    type: str
    default: KAFKA
  components:
    description: Only these components of the service (default all), for example V(KAFKA_BROKER).
    type: list
    elements: str
  state:
    description: What to do.
    type: str
    choices: [started, stopped, restarted]
    default: restarted
  restart:
    description: With O(state=restarted), restart only stale host components (V(stale)) or all (V(always)).
    type: str
    choices: [stale, always]
    default: stale
  rolling:
    description: Restart O(batch_size) hosts at a time through an Ambari request schedule.
    type: bool
    default: false
  batch_size:
    description: Hosts per batch of a rolling restart.
    type: int
    default: 1
  batch_separation:
    description: Seconds between two batches of a rolling restart.
    type: int
    default: 60
  failure_tolerance:
    description: Failed tasks a rolling restart tolerates before Ambari stops running the remaining batches.
    type: int
    default: 0
  context:
    description: The request context Ambari shows in its operations list.
    type: str
  stale_components:
    description:
      - Host components to treat as stale besides those Ambari reports, as C(host) and C(component), for example
        the RV(ambari_kafka.mirroring.ambari_config#module:stale_components) of a config change. In check mode,
        where the change was not written, this makes the restart that would follow show up.
      - Each element needs C(host) and C(component); other keys are ignored.
    type: list
    elements: dict
    default: []
"""

EXAMPLES = r"""
- name: Restart the brokers whose configs are stale ("Restart All Affected"), one at a time
  ambari_kafka.mirroring.ambari_service:
    url: https://kafka-primary.azurehdinsight.net
    password: "{{ vault_ambari_password }}"
    cluster: kafka-primary
    service: KAFKA
    state: restarted
    rolling: true
    batch_separation: 120

- name: Stop Kafka
  ambari_kafka.mirroring.ambari_service:
    service: KAFKA
    state: stopped

- name: Restart every broker now, in parallel
  ambari_kafka.mirroring.ambari_service:
    service: KAFKA
    components: [KAFKA_BROKER]
    state: restarted
    restart: always
"""

RETURN = r"""
cluster:
  description: The cluster acted on.
  returned: always
  type: str
  sample: kafka-primary
restarted:
  description: Host components restarted (in check mode, that would be).
  returned: when O(state=restarted)
  type: list
  elements: dict
  sample: [{host: wn0-kafka.example.internal, component: KAFKA_BROKER}]
started:
  description: Host components started (in check mode, that would be).
  returned: when O(state=started)
  type: list
  elements: dict
  sample: [{host: wn0-kafka.example.internal, component: KAFKA_BROKER}]
stopped:
  description: Host components stopped (in check mode, that would be).
  returned: when O(state=stopped)
  type: list
  elements: dict
  sample: [{host: wn0-kafka.example.internal, component: KAFKA_BROKER}]
skipped:
  description: Host components left alone because they are in maintenance mode.
  returned: always
  type: list
  elements: dict
  sample: []
request_ids:
  description: Ambari requests created (one per batch of a rolling restart).
  returned: always
  type: list
  elements: int
  sample: [42]
request_status:
  description: Final status of the request(s).
  returned: when a request was sent and O(wait=true)
  type: str
  sample: COMPLETED
schedule_id:
  description: The request schedule of a rolling restart.
  returned: when O(rolling=true) and something was restarted
  type: int
  sample: 3
batches:
  description: Host components per batch of a rolling restart, in order.
  returned: when O(rolling=true) and something was restarted
  type: list
  elements: list
  sample: [[{host: wn0-kafka.example.internal, component: KAFKA_BROKER}]]
left_out:
  description: Host components Ambari accepted to act on but silently left out (on failure).
  returned: failed, when Ambari left host components out
  type: list
  elements: dict
  sample: [{host: wn2-kafka.example.internal, component: KAFKA_BROKER}]
batch_problems:
  description: What went wrong with each batch of a rolling restart that failed or never ran (on failure).
  returned: failed, when a rolling restart did not restart every batch
  type: list
  elements: str
  sample: ["batch 3 of 3 (wn2-kafka.example.internal) never ran"]
rolling:
  description: Whether the restart was rolling.
  returned: always
  type: bool
  sample: true
"""

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.ambari_kafka.mirroring.plugins.module_utils._ambari import (
    ambari_argument_spec, run_module, wait_argument_spec)
from ansible_collections.ambari_kafka.mirroring.plugins.module_utils._ambari_services import run_ambari_service


def module_spec():
    """AnsibleModule's arguments: the module's and the in-process action's (plugins/action/ambari_service.py)."""
    argument_spec = ambari_argument_spec()
    argument_spec.update(wait_argument_spec())
    argument_spec.update(
        service=dict(type="str", default="KAFKA"),
        components=dict(type="list", elements="str"),
        state=dict(type="str", choices=["started", "stopped", "restarted"], default="restarted"),
        restart=dict(type="str", choices=["stale", "always"], default="stale"),
        rolling=dict(type="bool", default=False),
        batch_size=dict(type="int", default=1),
        batch_separation=dict(type="int", default=60),
        failure_tolerance=dict(type="int", default=0),
        context=dict(type="str"),
        stale_components=dict(type="list", elements="dict", default=[]),
    )
    return dict(argument_spec=argument_spec, supports_check_mode=True)


def main():
    run_module(AnsibleModule(**module_spec()), run_ambari_service)


if __name__ == "__main__":
    main()
