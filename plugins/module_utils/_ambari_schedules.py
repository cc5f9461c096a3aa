# -*- coding: utf-8 -*-
# Copyright: ambari_kafka.mirroring contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Request schedules (rolling restarts): waiting for one, finding the requests it made, and judging every batch.

Ambari 2.6 and 2.7 (RequestExecution, BatchRequestJob, ExecutionScheduleManager) mark a schedule COMPLETED also
when it stopped past its failure tolerance, and go on past a batch whose POST was refused; only the schedule's
`batch/batch_requests` tells what ran. Their batch requests carry no request id (2.8 adds it), and the request list
is paged before it is filtered, so the schedule's requests are read with an explicit page.
"""

from __future__ import annotations

import time

from ansible_collections.ambari_kafka.mirroring.plugins.module_utils._ambari import (
    AmbariError, cluster_path, dig, objects, request_failed)

# A request schedule is done when COMPLETED or DISABLED (2.6/2.7: RequestExecution.Status); ABORTED from 2.8 on.
SCHEDULE_DONE = ("COMPLETED", "DISABLED", "ABORTED")
MAX_REQUEST_PAGE = 1000  # requests read at most to find those of one rolling restart


def wait_schedule(client, cluster, schedule_id, timeout, sleep, clock=time.monotonic, sleeper=time.sleep):
    """Poll a request schedule until Ambari stops running it; its RequestSchedule."""
    deadline = clock() + timeout
    path = cluster_path(cluster, "request_schedules", str(schedule_id))
    schedule = _schedule(client.get(path))
    while schedule["status"] not in SCHEDULE_DONE:
        remaining = deadline - clock()
        if remaining <= 0:
            ran = [b for b in _batch_requests(schedule) if b.get("request_status")]
            raise AmbariError("Timed out after %ss waiting for the rolling restart (request schedule %s) on %s "
                              "(last state: %s, %d of %d batches started)"
                              % (timeout, schedule_id, cluster, schedule["status"], len(ran),
                                 len(_batch_requests(schedule))), schedule_id=schedule_id)
        sleeper(min(sleep, remaining))
        schedule = _schedule(client.get(path))
    return schedule


def _schedule(answer):
    """RequestSchedule of an answer, its status a string (a status of another type would never end a wait)."""
    schedule = dig(answer, "RequestSchedule", want=dict, what="the rolling restart's schedule")
    dig(schedule, "status", want=str, what="the rolling restart's state")
    return schedule


def _batch_requests(schedule):
    batch = schedule.get("batch") or {}
    return batch.get("batch_requests") or [] if isinstance(batch, dict) else []


def newest_request_id(client, cluster):
    """The cluster's newest request id (0 without any): `page_size=1&to=end` reads the newest one only."""
    answer = client.get(cluster_path(cluster, "requests") + "?fields=Requests/id&page_size=1&to=end")
    items = objects(answer, "items", default=[], what="the newest request")
    return max([dig(i, "Requests", "id", want=int, what="a request's id") for i in items] or [0])


def schedule_requests(client, cluster, schedule_id, before):
    """The requests a schedule made, all of them: Ambari reads the newest 20 requests and filters them afterwards
    (RequestResourceProvider, BaseRequest.DEFAULT_PAGE_SIZE), so the page asked for spans every request id made
    since `before` (ids only grow; `page_size=N&to=end` reads the newest N)."""
    span = min(max(newest_request_id(client, cluster) - before, 1), MAX_REQUEST_PAGE)
    path = cluster_path(cluster, "requests") + (
        "?Requests/request_schedule/schedule_id=%s&fields=Requests/id,Requests/request_status,"
        "Requests/request_context,Requests/resource_filters&page_size=%d&to=end" % (schedule_id, span))
    answer = client.get(path)
    return [dig(i, "Requests", want=dict, what="a request of the rolling restart")
            for i in objects(answer, "items", default=[], what="the rolling restart's requests")]


def check_batches(client, cluster, schedule, groups, requests):
    """Every batch must have run and completed. Ambari 2.6/2.7 stop a schedule past its failure tolerance and
    still mark it COMPLETED (BatchRequestJob, ExecutionScheduleManager.finalizeBatch), and go on past a batch whose
    POST failed; only `batch/batch_requests` tells. Returns the request ids, or raises naming the hosts."""
    entries = {}
    for entry in _batch_requests(schedule):
        entries[int(entry["order_id"])] = entry
    by_hosts = {}
    for info in requests:
        hosts = frozenset(h for f in info.get("resource_filters") or [] for h in _hosts(f.get("hosts")))
        by_hosts.setdefault(hosts, info)
    ids, problems, failed_tasks = [], [], []
    for n, group in enumerate(groups, start=1):
        hosts = sorted({hc.host for hc in group})
        entry = entries.get(n) or {}
        status, code = entry.get("request_status"), entry.get("return_code")
        info = by_hosts.get(frozenset(hosts))
        if info is None and entry.get("request_id") is not None:  # Ambari 2.8+ names the request
            info = dig(client.get(cluster_path(cluster, "requests", str(entry["request_id"])) + "?fields=Requests/*"),
                       "Requests", want=dict, what="a batch's request")
        if info is not None:
            ids.append(info["id"])
        label = "batch %d of %d (%s)" % (n, len(groups), ", ".join(hosts))
        if not status:
            problems.append("%s never ran" % label)
        elif code is not None and int(code) >= 300:
            problems.append("%s: Ambari refused its request (HTTP %s: %s)" % (label, code, entry.get("response_message")))
        elif status != "COMPLETED":
            if info is not None:  # every failed batch with its own request, status and failed tasks
                error = request_failed(client, cluster, info)
                failed_tasks.extend(error.details.get("failed_tasks") or [])
                problems.append("%s: %s" % (label, error.msg))
            else:
                problems.append("%s ended %s, and no request of this schedule names its hosts (see Ambari's "
                                "operations list)" % (label, status))
        elif info is None and code is not None and int(code) != 202:
            problems.append("%s: Ambari created no request for it (HTTP %s): it left every host out" % (label, code))
    if problems:
        raise AmbariError("The rolling restart (request schedule %s) on %s did not restart every batch (Ambari "
                          "reports the schedule %s):\n%s\nFix the cause, then run again: only what is still stale "
                          "is restarted" % (schedule["id"], cluster, schedule["status"], "\n".join(problems)),
                          schedule_id=schedule["id"], request_ids=sorted(ids), batch_problems=problems,
                          failed_tasks=failed_tasks)
    return {"request_ids": sorted(ids), "request_status": "COMPLETED"}


def _hosts(value):
    """resource_filters hosts: a list in a request's answer, a comma-separated string in a body."""
    if isinstance(value, list):
        return [str(h).strip() for h in value]
    return [h.strip() for h in str(value or "").split(",") if h.strip()]
