#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: ambari_kafka.mirroring contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
---
module: kafka_group_failover
short_description: Set a consumer group's committed offsets on the secondary, for a failover
version_added: 0.2.0
description:
  - Commits, for consumer group O(group) on the cluster of O(bootstrap_servers) (the secondary), the offsets of
    O(offsets), typically the C(partitions) that C(kafka-mirror offsets translate --json) prints (see
    docs/FAILOVER.md). The playbook C(ambari_kafka.mirroring.failover) runs both for a fleet.
  - Refuses, changing nothing, while the group has members on this cluster (its state is neither C(EMPTY) nor
    C(DEAD)), because their commits would overwrite the offsets set here. Stop the group's consumers first.
  - Refuses, changing nothing, partitions without a safe offset (C(unmapped), or O(offsets[].target_offset) null)
    unless O(allow_incomplete=true); C(inexact) ones when O(require_exact=true); topics or partitions the secondary
    does not have; offsets past a partition's end on the secondary; a group with no partition to set; offsets
    below the group's committed offset on the secondary unless O(allow_rewind=true).
  - An offset below a partition's log start on the secondary (records deleted by retention) is set to the log start
    instead, reported in RV(partitions[].clamped_from) and a warning; from a deleted offset the consumers would
    start where C(auto.offset.reset) says (C(latest) by default, skipping every record still there).
  - Reads the group's committed offsets through an idle consumer of the group (it never subscribes, so it never
    joins), never through the admin API's OffsetFetch, which crashes librdkafka when the group's coordinator moves
    (confluentinc/librdkafka#5040). Commits with the admin API's AlterConsumerGroupOffsets, as
    C(kafka-consumer-groups.sh --reset-offsets) does; Kafka itself refuses that commit while the group has members.
  - Changes only partitions whose committed offset differs. Check mode reads everything and commits nothing; diff
    mode shows C(topic:partition) with the old and the new offset per changed partition.
author:
  - ambari_kafka.mirroring maintainers (@ambari-kafka)
extends_documentation_fragment:
  - ansible.builtin.action_common_attributes
  - ambari_kafka.mirroring.kafka
attributes:
  check_mode:
    support: full
  diff_mode:
    support: full
  platform:
    platforms: posix
options:
  group:
    description: The consumer group.
    type: str
    required: true
  offsets:
    description:
      - One item per partition to set. Either the C(partitions) list of C(kafka-mirror offsets translate --json) as
        it is (O(offsets[].target_offset), O(offsets[].status) and the other keys it prints), or offsets given by
        hand (O(offsets[].topic), O(offsets[].partition), O(offsets[].offset)).
      - Give O(offsets[].offset) or O(offsets[].target_offset), not both. A partition may appear once.
    type: list
    elements: dict
    required: true
    suboptions:
      topic:
        description: The topic (its name on the secondary, the same as on the primary).
        type: str
        required: true
      partition:
        description: The partition, 0 or more.
        type: int
        required: true
      offset:
        description: The offset to commit, 0 or more (the next record the group reads).
        type: int
      target_offset:
        description:
          - The offset to commit, as translated; V(null) when no safe offset is known (status C(unmapped)).
        type: int
      status:
        description:
          - How the offset was translated. V(exact) and V(inexact) are set (an inexact offset skips nothing and
            re-reads at most O(offsets[].reread_at_most) records), V(inexact) refused with O(require_exact=true).
            V(unmapped) is refused unless O(allow_incomplete=true).
          - Not given (offsets by hand), the offset is set as it is.
        type: str
        choices: [exact, inexact, unmapped]
      source_offset:
        description: The group's offset on the primary; reported back in RV(partitions).
        type: int
      reread_at_most:
        description: For an inexact offset, how many records may be read again; named when refused.
        type: int
      reason:
        description: Why the offset is not exact; named when refused or skipped.
        type: str
  require_exact:
    description: Refuse, changing nothing, when an item's status is C(inexact).
    type: bool
    default: false
  allow_incomplete:
    description:
      - Set the other partitions when some have no safe offset (status C(unmapped) or a null target offset), and
        leave those as they are, reporting them in RV(not_set) and in a warning. Without it the module refuses.
    type: bool
    default: false
  allow_rewind:
    description:
      - Commit even where the group's committed offset on the secondary is ahead of the one to set, so that its
        consumers read those records again. Without it the module refuses, changing nothing, naming the
        partitions (typically a re-run after the group's consumers resumed on the secondary).
      - A partition the group has no offset for on the secondary is never a rewind.
    type: bool
    default: false
  timeout:
    description:
      - Seconds the whole run may wait, retries included while the group's coordinator moves; each request also
        within O(request_timeout).
    type: int
    default: 60
notes:
  - The group's consumers then start, on the secondary, from the committed offsets; partitions not set keep what
    the group had committed there, if anything, else their C(auto.offset.reset) applies.
"""

EXAMPLES = r"""
- name: Translate the group's offsets on the mirror's worker
  ansible.builtin.command:
    argv: [/opt/kafka-mirror/venv/bin/kafka-mirror, offsets, translate, --config, /etc/kafka-mirror/worker.yaml,
           --group, orders-service, --json]
  delegate_to: orders-neu-mirror0
  register: translated
  changed_when: false
  failed_when: translated.rc not in [0, 4]  # 4: some partition is not exact

- name: Commit them on the secondary (the group's consumers there are stopped)
  ambari_kafka.mirroring.kafka_group_failover:
    bootstrap_servers: 10.1.0.11:9092,10.1.0.12:9092
    group: orders-service
    offsets: "{{ (translated.stdout | from_json).partitions }}"

- name: Offsets given by hand
  ambari_kafka.mirroring.kafka_group_failover:
    bootstrap_servers: 10.1.0.11:9092
    group: billing
    offsets:
      - {topic: orders, partition: 0, offset: 19501}
      - {topic: orders, partition: 1, offset: 1}
"""

RETURN = r"""
group:
  description: The consumer group.
  returned: success
  type: str
  sample: orders-service
group_state:
  description: The group's state on the secondary before the run (C(EMPTY), or C(DEAD) when it had none there).
  returned: success
  type: str
  sample: EMPTY
partitions:
  description: The partitions set (would be, in check mode), sorted by topic and partition.
  returned: success
  type: list
  elements: dict
  contains:
    topic:
      description: The topic.
      type: str
    partition:
      description: The partition.
      type: int
    before:
      description: The group's committed offset on the secondary before the run; null when it had none.
      type: int
    after:
      description: The group's committed offset after the run.
      type: int
    lag:
      description: The partition's end offset on the secondary minus RV(partitions[].after), what the group reads.
      type: int
    status:
      description: The item's status (exact, inexact); null for offsets given by hand.
      type: str
    source_offset:
      description: The group's offset on the primary, when the item gave it.
      type: int
    clamped_from:
      description:
        - The offset asked when it was below the partition's log start on the secondary (RV(partitions[].after) is
          the log start then); null otherwise.
      type: int
  sample:
    - {topic: orders, partition: 0, before: null, after: 19501, lag: 20497, status: exact, source_offset: 19520,
       clamped_from: null}
not_set:
  description: Items without a safe offset, left as they were (O(allow_incomplete=true)).
  returned: success
  type: list
  elements: dict
  contains:
    topic:
      description: The topic.
      type: str
    partition:
      description: The partition.
      type: int
    status:
      description: Always V(unmapped).
      type: str
    source_offset:
      description: The group's offset on the primary, when the item gave it.
      type: int
    reason:
      description: Why no safe offset is known.
      type: str
  sample:
    - {topic: orders, partition: 3, status: unmapped, source_offset: 120, reason: "the map starts at source offset 400"}
"""

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.ambari_kafka.mirroring.plugins.module_utils._kafka import (
    KAFKA_REQUIRED_IF, KAFKA_REQUIRED_TOGETHER, kafka_argument_spec, run_kafka_module)
from ansible_collections.ambari_kafka.mirroring.plugins.module_utils._kafka_groups import run_kafka_group_failover

# A row of kafka-mirror offsets translate --json (worker/src/kafka_mirror/translate.py, Translation), or `offset`.
OFFSET_OPTIONS = dict(
    topic=dict(type="str", required=True),
    partition=dict(type="int", required=True),
    offset=dict(type="int"),
    target_offset=dict(type="int"),
    status=dict(type="str", choices=["exact", "inexact", "unmapped"]),
    source_offset=dict(type="int"),
    reread_at_most=dict(type="int"),
    reason=dict(type="str"),
)


def main():
    argument_spec = kafka_argument_spec()
    argument_spec.update(
        group=dict(type="str", required=True),
        offsets=dict(type="list", elements="dict", required=True, options=OFFSET_OPTIONS,
                     mutually_exclusive=[["offset", "target_offset"]], required_one_of=[["offset", "target_offset"]]),
        require_exact=dict(type="bool", default=False),
        allow_incomplete=dict(type="bool", default=False),
        allow_rewind=dict(type="bool", default=False),
        timeout=dict(type="int", default=60),
    )
    module = AnsibleModule(argument_spec=argument_spec, supports_check_mode=True,
                           required_together=KAFKA_REQUIRED_TOGETHER, required_if=KAFKA_REQUIRED_IF)
    run_kafka_module(module, run_kafka_group_failover)


if __name__ == "__main__":
    main()
