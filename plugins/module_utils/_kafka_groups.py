# -*- coding: utf-8 -*-
# Copyright: ambari_kafka.mirroring contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""kafka_group_failover's work: check the offsets given, refuse a group with members, read the group's committed
offsets and the partitions' ends, plan with pure functions, commit what differs.

Reads go through a consumer of the group (committed(), get_watermark_offsets()), never through
AdminClient.list_consumer_group_offsets: on NOT_COORDINATOR (the group's coordinator moved) librdkafka's OffsetFetch
handler calls into the client's own consumer group, which an admin client does not have, and the process dies of
SIGSEGV (confluentinc/librdkafka#5040; worker/src/kafka_mirror/group_offsets.py says where). The commit goes through
AdminClient.alter_consumer_group_offsets, which parses its answer with ignore_cgrp set
(rd_kafka_AlterConsumerGroupOffsetsResponse_parse -> rd_kafka_handle_OffsetCommit(..., rd_true) in src/rdkafka_admin.c,
confluentinc/librdkafka v2.13.0 to master): it never touches a consumer group handle, reports an error per partition,
and is what kafka-consumer-groups.sh --reset-offsets uses (KIP-396).
"""

from __future__ import annotations

import concurrent.futures
import time
from dataclasses import dataclass
from typing import Callable, Optional

from ansible_collections.ambari_kafka.mirroring.plugins.module_utils._kafka import (
    LEADER_MOVING, KafkaModuleError, client_config)

EXACT, INEXACT, UNMAPPED = "exact", "inexact", "unmapped"
IDLE_STATES = ("EMPTY", "DEAD")
# Asked again until the deadline: the group's coordinator or a partition's leader is moving (a broker restart, an
# election), or one request went unanswered within request_timeout.
RETRIABLE = ("NOT_COORDINATOR", "COORDINATOR_NOT_AVAILABLE", "COORDINATOR_LOAD_IN_PROGRESS", "_TIMED_OUT",
             *LEADER_MOVING)
# Kafka refuses a commit without a generation while the group has members (ClassicGroup.validateOffsetCommit,
# apache/kafka trunk; GroupCoordinator before 3.7): a consumer joined after the check.
JOINED = ("UNKNOWN_MEMBER_ID", "REBALANCE_IN_PROGRESS", "ILLEGAL_GENERATION")
MAX_NAMED = 10  # partitions named in one message; the rest are counted


@dataclass(frozen=True)
class Row:
    """One partition's wanted offset, as given (an item of `offsets`)."""

    topic: str
    partition: int
    offset: Optional[int]  # None: no safe offset known (target_offset null)
    status: Optional[str] = None  # exact | inexact | unmapped as translated; None: an offset given by hand
    source_offset: Optional[int] = None
    reread_at_most: int = 0
    reason: str = ""

    @property
    def key(self) -> tuple[str, int]:
        return (self.topic, self.partition)

    @property
    def name(self) -> str:
        return "%s:%d" % self.key

    @property
    def unmapped(self) -> bool:
        return self.offset is None or self.status == UNMAPPED


@dataclass(frozen=True)
class Choice:
    """The rows to set, and those left as they are (no safe offset, allow_incomplete)."""

    to_set: tuple[Row, ...]
    skipped: tuple[Row, ...] = ()


@dataclass(frozen=True)
class GroupState:
    state: str  # ConsumerGroupState's name: EMPTY, DEAD, STABLE, PREPARING_REBALANCING...
    members: int

    @property
    def idle(self) -> bool:
        return self.members == 0 and self.state in IDLE_STATES


@dataclass(frozen=True)
class PartitionChange:
    topic: str
    partition: int
    before: Optional[int]  # the group's committed offset on the secondary; None: none
    after: int
    lag: int  # the partition's end offset minus `after`: what the group will read
    status: Optional[str] = None
    source_offset: Optional[int] = None
    clamped_from: Optional[int] = None  # the offset asked, below the log start: `after` is the log start instead

    @property
    def name(self) -> str:
        return "%s:%d" % (self.topic, self.partition)

    @property
    def rewinds(self) -> bool:
        """The group would go back: its consumers would read again what they read on the secondary."""
        return self.before is not None and self.before > self.after

    def as_dict(self) -> dict:
        return {"topic": self.topic, "partition": self.partition, "before": self.before, "after": self.after,
                "lag": self.lag, "status": self.status, "source_offset": self.source_offset,
                "clamped_from": self.clamped_from}


@dataclass(frozen=True)
class GroupPlan:
    group: str
    partitions: tuple[PartitionChange, ...]
    skipped: tuple[Row, ...] = ()
    warnings: tuple[str, ...] = ()

    @property
    def changes(self) -> tuple[PartitionChange, ...]:
        return tuple(c for c in self.partitions if c.before != c.after)

    @property
    def changed(self) -> bool:
        return bool(self.changes)

    def diff(self) -> dict:
        lines = ["%s: %s -> %d\n" % (c.name, "none" if c.before is None else c.before, c.after) for c in self.changes]
        return {"prepared": "group %s\n%s" % (self.group, "".join(lines)) if lines else ""}

    def as_result(self) -> dict:
        not_set = [{"topic": r.topic, "partition": r.partition, "status": r.status or UNMAPPED,
                    "source_offset": r.source_offset, "reason": r.reason} for r in self.skipped]
        return {"group": self.group, "partitions": [c.as_dict() for c in self.partitions], "not_set": not_set}


def _names(rows, describe: Callable = lambda r: r.name) -> str:
    shown = [describe(r) for r in rows[:MAX_NAMED]]
    more = len(rows) - len(shown)
    return ", ".join(shown) + (" and %d more" % more if more > 0 else "")


def parse_offsets(group: str, items: list) -> tuple[Row, ...]:
    """Rows from `offsets` (pure). AnsibleModule has checked the keys and types; this checks the values and names
    every item that is wrong, by its index, in one KafkaModuleError.

    Args:
        group: the consumer group, for the message.
        items: `offsets`: dicts with topic, partition and offset or target_offset (either kafka-mirror offsets
            translate --json's `partitions` rows or offsets given by hand).

    Returns:
        The rows sorted by topic and partition.
    """
    if not group or not group.strip():
        raise KafkaModuleError("group is empty: name the consumer group whose offsets to set")
    if not items:
        raise KafkaModuleError("Cannot set the offsets of group '%s': offsets is empty. Give the partitions to set "
                               "(the `partitions` of kafka-mirror offsets translate --json)" % group)
    problems, rows, seen = [], [], {}
    for index, item in enumerate(items):
        problem, row = _parse_row(item)
        if problem is None and row.key in seen:
            problem = "%s repeats offsets[%d]" % (row.name, seen[row.key])
        if problem is not None:
            problems.append("offsets[%d] %s" % (index, problem))
            continue
        seen[row.key] = index
        rows.append(row)
    if problems:
        raise KafkaModuleError("Cannot set the offsets of group '%s': %s; nothing was changed"
                               % (group, _names(problems, str)), problems=problems)
    return tuple(sorted(rows, key=lambda r: r.key))


def _parse_row(item: dict) -> tuple[Optional[str], Optional[Row]]:
    """(what is wrong, None) or (None, the row)."""
    topic, partition = item.get("topic"), item.get("partition")
    if not topic or not str(topic).strip():
        return "needs topic, the topic's name", None
    if not _whole(partition):
        return "(topic %s) needs partition, a whole number >= 0, not %r" % (topic, partition), None
    name = "%s:%d" % (topic, partition)
    if item.get("offset") is not None and item.get("target_offset") is not None:
        return "(%s) has both offset and target_offset: give one" % name, None
    given = "offset" if item.get("offset") is not None else "target_offset"
    offset = item.get(given)
    if offset is not None and not _whole(offset):
        return "(%s): %s must be a whole number >= 0, not %r" % (name, given, offset), None
    for key in ("source_offset", "reread_at_most"):
        if item.get(key) is not None and not _whole(item[key]):
            return "(%s): %s must be a whole number >= 0, not %r" % (name, key, item[key]), None
    return None, Row(topic, partition, offset, item.get("status"), item.get("source_offset"),
                     item.get("reread_at_most") or 0, item.get("reason") or "")


def _whole(value) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value >= 0


def choose(group: str, rows: tuple[Row, ...], require_exact: bool, allow_incomplete: bool) -> Choice:
    """The rows to set (pure): refuses rows without a safe offset unless allow_incomplete (then skipped), and
    inexact rows with require_exact. Inexact offsets are safe (nothing skipped; at most reread_at_most records
    read again), so they are set by default."""
    unmapped = [r for r in rows if r.unmapped]
    if unmapped and not allow_incomplete:
        raise KafkaModuleError(
            "Cannot fail over group '%s': no safe offset on the secondary for %s; nothing was changed. Translate "
            "again once the mirror has mapped them, give their offsets yourself, or set allow_incomplete: true to "
            "set the other partitions and leave these as they are"
            % (group, _names(unmapped, lambda r: "%s (%s)" % (r.name, r.reason or "unmapped"))),
            unmapped=[r.name for r in unmapped])
    inexact = [r for r in rows if r.status == INEXACT and not r.unmapped]
    if inexact and require_exact:
        raise KafkaModuleError(
            "Cannot fail over group '%s' with require_exact: %s; nothing was changed. Inexact offsets are safe "
            "(nothing is skipped, at most reread_at_most records are read again): set require_exact: false to "
            "accept them" % (group, _names(inexact, lambda r: "%s is inexact (may re-read %d%s)" % (
                r.name, r.reread_at_most, ": " + r.reason if r.reason else ""))),
            inexact=[r.name for r in inexact])
    if unmapped and len(unmapped) == len(rows):
        # allow_incomplete leaves some partitions as they are; with none left to set the group is not failed over.
        raise KafkaModuleError(
            "Cannot fail over group '%s': no partition had a safe offset on the secondary (%s); nothing was changed. "
            "allow_incomplete sets the others, and there are none: translate again once the mirror has mapped them, "
            "or give their offsets yourself"
            % (group, _names(unmapped, lambda r: "%s: %s" % (r.name, r.reason or "unmapped"))),
            unmapped=[r.name for r in unmapped])
    return Choice(tuple(r for r in rows if not r.unmapped), tuple(unmapped))


def refuse_members(group: str, state: GroupState, where: str) -> None:
    """Raise unless the group is idle on this cluster (pure): its members would commit over the new offsets."""
    if state.idle:
        return
    if state.members == 0:
        raise KafkaModuleError(
            "Cannot fail over group '%s' on %s: its state on this cluster is %s, neither EMPTY nor DEAD. Wait until "
            "its consumers there have left, then run this again" % (group, where, state.state),
            group_state=state.state, members=0)
    raise KafkaModuleError(
        "Cannot fail over group '%s' on %s: it has %d active member%s on this cluster (state %s). Stop the group's "
        "consumers on the secondary first (their commits would overwrite the offsets set here), then run this again"
        % (group, where, state.members, "" if state.members == 1 else "s", state.state),
        group_state=state.state, members=state.members)


def refuse_missing(group: str, rows: tuple[Row, ...], counts: dict, where: str) -> None:
    """Raise naming the topics and partitions the secondary does not have (pure); `counts`: topic -> partitions."""
    problems = []
    for topic in sorted({r.topic for r in rows}):
        wanted = [r for r in rows if r.topic == topic]
        if topic not in counts:
            problems.append("no topic '%s' (offsets of %s)" % (topic, _names(wanted)))
            continue
        beyond = [r for r in wanted if r.partition >= counts[topic]]
        if beyond:
            problems.append("topic '%s' has %d partitions, so no %s" % (topic, counts[topic], _names(beyond)))
    if problems:
        raise KafkaModuleError(
            "Cannot fail over group '%s': the secondary (%s) has %s; nothing was changed. Create them there (the "
            "mirror creates the topics it copies with create_topics: true) or leave them out of offsets"
            % (group, where, "; ".join(problems)), missing=problems)


def plan(group: str, choice: Choice, committed: dict, marks: dict, allow_rewind: bool = False) -> GroupPlan:
    """The change (pure): per partition the group's committed offset on the secondary against the wanted one.

    Args:
        group: the consumer group.
        choice: what choose() kept.
        committed: (topic, partition) -> the group's committed offset on the secondary, or None.
        marks: (topic, partition) -> (log start offset, end offset) on the secondary.
        allow_rewind: commit even where the group's offset on the secondary is ahead of the wanted one.

    Returns:
        The plan; `changed` when some partition's offset differs. An offset below the log start becomes the log
        start: from a deleted offset the consumer gets OFFSET_OUT_OF_RANGE and auto.offset.reset (latest by
        default) would skip every record still there.
    """
    beyond = [r for r in choice.to_set if r.offset > marks[r.key][1]]
    if beyond:
        raise KafkaModuleError(
            "Cannot fail over group '%s': %s; nothing was changed. From an offset past the end the group's consumers "
            "would start where their auto.offset.reset says. Is the mirror behind (let it catch up and translate "
            "again), or did the secondary lose records (an unclean leader election)?"
            % (group, _names(beyond, lambda r: "offset %d of %s is past its end on the secondary (%d)"
                             % (r.offset, r.name, marks[r.key][1]))), past_end=[r.name for r in beyond])
    rows = []
    for r in choice.to_set:
        start, end = marks[r.key]
        after = max(r.offset, start)
        rows.append(PartitionChange(r.topic, r.partition, committed.get(r.key), after, end - after, r.status,
                                    r.source_offset, r.offset if after != r.offset else None))
    rewinds = [c for c in rows if c.rewinds]
    if rewinds and not allow_rewind:
        raise KafkaModuleError(
            "Cannot fail over group '%s': its committed offset on the secondary is ahead of the one to set for %s; "
            "nothing was changed. Its consumers have already read further there (is this a re-run after they "
            "resumed on the secondary?): committing would make them re-read those records. Set allow_rewind: true "
            "to commit anyway" % (group, _names(rewinds, lambda c: "%s (%d -> %d)" % (c.name, c.before, c.after))),
            rewind=[c.name for c in rewinds])
    warnings = []
    clamped = [c for c in rows if c.clamped_from is not None]
    if clamped:
        named = _names(clamped, lambda c: "offset %d of %s is below the log start offset %d"
                       % (c.clamped_from, c.name, c.after))
        warnings.append("group %s: %s: records deleted by retention on the secondary; set to the log start offset "
                        "instead (from a deleted offset auto.offset.reset would apply and, latest by default, skip "
                        "every record still there)" % (group, named))
    if choice.skipped:
        warnings.append("group %s: no safe offset for %s (allow_incomplete): not set; they keep the group's offsets "
                        "on the secondary, if any, else the consumers start where auto.offset.reset says"
                        % (group, _names(choice.skipped)))
    return GroupPlan(group, tuple(rows), choice.skipped, tuple(warnings))


def commit_failure(group: str, failed: list, changes: tuple[PartitionChange, ...]) -> KafkaModuleError:
    """The message for partitions the broker refused (pure); `failed`: (topic, partition, error name, error text)."""
    refused = {f[:2] for f in failed}
    done = [c for c in changes if (c.topic, c.partition) not in refused]
    hint = ""
    if any(f[2] in JOINED for f in failed):
        hint = (" A consumer of the group joined since the check (Kafka refuses a commit from outside the group "
                "while it has members): stop the group's consumers on the secondary and run this again.")
    return KafkaModuleError(
        "Cannot commit the offsets of group '%s' for %s.%s Committed: %s"
        % (group, _names(failed, lambda f: "%s:%d: %s (%s)" % f), hint, _names(done) if done else "none"),
        failed=["%s:%d" % f[:2] for f in failed], committed=[c.name for c in done])


# --- I/O ------------------------------------------------------------------------------------------------------------

class Deadline:
    """The bound of the whole run (`timeout`); each request also within `request_timeout`."""

    def __init__(self, seconds: float, request_timeout: float, clock: Optional[Callable[[], float]] = None,
                 sleeper: Optional[Callable[[float], None]] = None) -> None:
        self.seconds = seconds
        self.request_timeout = request_timeout
        self.clock = clock or time.monotonic
        self.sleeper = sleeper or time.sleep
        self.end = self.clock() + seconds

    def remaining(self) -> float:
        return self.end - self.clock()

    def request(self) -> float:
        """Seconds the next request may take."""
        return max(0.1, min(self.request_timeout, self.remaining()))

    def pause(self, seconds: float) -> None:
        self.sleeper(max(0.0, min(seconds, self.remaining())))


def ask(what: str, call: Callable[[float], object], deadline: Deadline):
    """call(timeout)'s answer; asked again while the error is RETRIABLE, until the deadline. Other Kafka errors
    become a KafkaModuleError naming `what` (its `kafka_error` detail: the error's name)."""
    from confluent_kafka import KafkaException

    name, last = "", "not asked"
    while deadline.remaining() > 0:
        try:
            return call(deadline.request())
        except KafkaException as exc:
            error = exc.args[0] if exc.args else exc
            name = error.name() if hasattr(error, "name") else ""
            last = error.str() if hasattr(error, "str") else str(error)
            if name not in RETRIABLE:
                raise KafkaModuleError("Cannot %s: %s" % (what, last), kafka_error=name) from None
        except (TimeoutError, concurrent.futures.TimeoutError):
            name, last = "_TIMED_OUT", "no answer"
        deadline.pause(0.5)
    raise KafkaModuleError("Timed out after %ss waiting to %s (last state: %s)" % (deadline.seconds, what, last),
                           kafka_error=name or "_TIMED_OUT")


def read_group_state(admin, group: str, deadline: Deadline) -> GroupState:
    """The group's state and member count on this cluster (DescribeGroups; its answer never touches a consumer
    group handle: no rk_cgrp in src/rdkafka_admin.c)."""
    def call(timeout):
        return admin.describe_consumer_groups([group], request_timeout=timeout)[group].result(timeout=timeout + 1)
    try:
        description = ask("describe group '%s'" % group, call, deadline)
    except KafkaModuleError as exc:
        if exc.details.get("kafka_error") == "GROUP_ID_NOT_FOUND":  # brokers answering so for an unknown group
            return GroupState("DEAD", 0)
        raise
    state = description.state
    return GroupState(str(getattr(state, "name", state)).upper(), len(description.members or []))


def read_partition_counts(admin, deadline: Deadline) -> dict:
    """topic -> partitions on this cluster. Metadata of every topic: asking for named ones would create them where
    auto.create.topics.enable is on."""
    metadata = ask("read the secondary's topics", lambda timeout: admin.list_topics(timeout=timeout), deadline)
    return {name: len(topic.partitions) for name, topic in metadata.topics.items()
            if topic.error is None or topic.partitions}


def open_consumer(conf: dict, group: str):
    """An idle consumer of the group: it never subscribes, so it never joins the group nor changes its members
    (worker/src/kafka_mirror/group_offsets.py). read_uncommitted: the flag keeps the broker from holding back
    offsets committed in an open transaction (UNSTABLE_OFFSET_COMMIT, retried by librdkafka until the timeout)."""
    from confluent_kafka import Consumer

    return Consumer({**conf, "group.id": group, "enable.auto.commit": False, "enable.auto.offset.store": False,
                     "isolation.level": "read_uncommitted"})


def read_partitions(consumer, group: str, keys: list, deadline: Deadline) -> tuple[dict, dict]:
    """(the group's committed offsets, (log start, end) offsets) of `keys` on this cluster."""
    from confluent_kafka import TopicPartition

    wanted = [TopicPartition(t, p) for t, p in keys]
    answer = ask("read the committed offsets of group '%s'" % group,
                 lambda timeout: consumer.committed(wanted, timeout=timeout), deadline)
    refused = [tp for tp in answer if tp.error is not None]
    if refused:
        raise KafkaModuleError("Cannot read the committed offsets of group '%s' for %s" % (group, _names(
            refused, lambda tp: "%s:%d: %s" % (tp.topic, tp.partition, tp.error.str()))))
    committed = {(tp.topic, tp.partition): tp.offset if tp.offset >= 0 else None for tp in answer}
    marks = {}
    for topic, partition in keys:
        def call(timeout, tp=TopicPartition(topic, partition)):
            return consumer.get_watermark_offsets(tp, timeout=timeout, cached=False)
        marks[(topic, partition)] = tuple(ask("read the end offset of %s:%d" % (topic, partition), call, deadline))
    return committed, marks


def commit(admin, group: str, changes: tuple[PartitionChange, ...], deadline: Deadline) -> None:
    """Commit the changed offsets; again while every refused partition's error is RETRIABLE (the same offsets:
    committing twice changes nothing); otherwise raise naming each refused partition."""
    from confluent_kafka import ConsumerGroupTopicPartitions, KafkaException, TopicPartition

    request = [ConsumerGroupTopicPartitions(group, [TopicPartition(c.topic, c.partition, c.after) for c in changes])]

    def call(timeout):
        answer = admin.alter_consumer_group_offsets(request, request_timeout=timeout)[group].result(timeout=timeout + 1)
        failed = [tp for tp in answer.topic_partitions if tp.error is not None]
        if failed and all(tp.error.name() in RETRIABLE for tp in failed):
            raise KafkaException(failed[0].error)
        return [(tp.topic, tp.partition, tp.error.name(), tp.error.str()) for tp in failed]

    while True:
        failed = ask("commit the offsets of group '%s'" % group, call, deadline)
        if not failed:
            return
        # GroupCoordinator.doCommitOffsets of Kafka 2.1 and 2.2 (apache/kafka 2.1) answers UNKNOWN_MEMBER_ID for a
        # group in Dead state, one being removed from the coordinator's cache (its coordinator moving, its offsets
        # expired); from 2.3 (KAFKA-8386) it answers COORDINATOR_NOT_AVAILABLE (RETRIABLE). A group still without members is sent the same
        # offsets again; one with members is refused: a consumer joined after the check.
        if not (all(f[2] in JOINED for f in failed) and deadline.remaining() > 0
                and read_group_state(admin, group, deadline).idle):
            raise commit_failure(group, failed, changes)
        deadline.pause(0.5)


def run_kafka_group_failover(module, admin) -> dict:
    """Check the arguments, refuse a group with members, read, plan, commit (not in check mode); the module's result."""
    p = module.params
    group, where = p["group"], p["bootstrap_servers"]
    if p["timeout"] <= 0:
        raise KafkaModuleError("timeout must be a number of seconds above 0, not %s" % p["timeout"])
    choice = choose(group, parse_offsets(group, p["offsets"]), p["require_exact"], p["allow_incomplete"])
    deadline = Deadline(p["timeout"], p["request_timeout"])
    state = read_group_state(admin, group, deadline)
    refuse_members(group, state, where)
    committed, marks = {}, {}
    if choice.to_set:
        refuse_missing(group, choice.to_set, read_partition_counts(admin, deadline), where)
        consumer = open_consumer(client_config(p), group)
        try:
            committed, marks = read_partitions(consumer, group, [r.key for r in choice.to_set], deadline)
        finally:
            consumer.close()  # never subscribed: nothing to revoke, no member to leave
    todo = plan(group, choice, committed, marks, p["allow_rewind"])
    for warning in todo.warnings:
        module.warn(warning)
    if todo.changed and not module.check_mode:
        commit(admin, group, todo.changes, deadline)
    result = {"changed": todo.changed, "group_state": state.state, **todo.as_result()}
    if module._diff:
        result["diff"] = todo.diff()
    return result
