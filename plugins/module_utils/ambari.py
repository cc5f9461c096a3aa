# -*- coding: utf-8 -*-
# Copyright: ambari_kafka.mirroring contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Ambari REST client shared by the ambari_* modules: connection options, HTTP through Ansible's own URL
helpers, typed errors with the messages users read, cluster discovery and a bounded request waiter.

Works against Ambari 2.6 and 2.7 and against HDInsight's gateway (401 instead of 403, HTTPS only).
"""

from __future__ import annotations

import json
import socket
import ssl
import time
import traceback
import urllib.error
from urllib.parse import quote, urlsplit

from ansible.module_utils.basic import env_fallback
from ansible.module_utils.urls import ConnectionError as UrlsConnectionError
from ansible.module_utils.urls import Request, SSLValidationError

FAILED_STATES = ("FAILED", "TIMEDOUT", "ABORTED", "SKIPPED_FAILED")
TERMINAL_STATES = ("COMPLETED",) + FAILED_STATES
READ_ATTEMPTS = 3
READ_BACKOFF_S = 1.0
STDERR_LINES = 8


class AmbariError(Exception):
    """Anything a module reports as its failure: `msg` is what the user reads, `details` extra result keys."""

    def __init__(self, msg, status=None, **details):
        super().__init__(msg)
        self.msg = msg
        self.details = dict(details)
        if status is not None:
            self.details["status_code"] = status


def ambari_argument_spec():
    """The connection options (doc fragment ambari_kafka.mirroring.ambari). A new dict on every call."""
    return dict(
        url=dict(type="str", required=True, fallback=(env_fallback, ["AMBARI_URL"])),
        username=dict(type="str", default="admin", fallback=(env_fallback, ["AMBARI_USERNAME"])),
        password=dict(type="str", required=True, no_log=True, fallback=(env_fallback, ["AMBARI_PASSWORD"])),
        cluster=dict(type="str"),
        validate_certs=dict(type="bool", default=True),
        ca_path=dict(type="path"),
        timeout=dict(type="int", default=30),
    )


def wait_argument_spec():
    """The request-wait options (doc fragment ambari_kafka.mirroring.ambari.WAIT)."""
    return dict(
        wait=dict(type="bool", default=True),
        wait_timeout=dict(type="int", default=1800),
        wait_sleep=dict(type="int", default=5),
    )


def run_module(module, process):
    """Run process(module, client); the one place where errors become messages, never a traceback.

    Every result, failed or not, says how many HTTP requests the module made (`http_requests`).
    """
    client = AmbariClient.from_params(module.params)
    try:
        result = process(module, client)
    except AmbariError as exc:
        module.fail_json(msg=exc.msg, http_requests=client.calls, **exc.details)
    except Exception as exc:  # a bug of ours: say so plainly; the traceback only with -vvv
        module.fail_json(msg="Unexpected error in %s: %s: %s" % (module._name, type(exc).__name__, exc),
                         exception=traceback.format_exc(), http_requests=client.calls)
    result["http_requests"] = client.calls
    module.exit_json(**result)


class AmbariClient:
    """HTTP calls to /api/v1 with basic auth and X-Requested-By. Reads are retried with backoff."""

    def __init__(self, url, username, password, validate_certs=True, ca_path=None, timeout=30, sleep=time.sleep):
        self.url = url.rstrip("/")
        self.username = username
        self.host = urlsplit(self.url).netloc or self.url
        self.calls = 0
        self._sleep = sleep
        self._request = Request(url_username=username, url_password=password, force_basic_auth=True,
                                validate_certs=validate_certs, ca_path=ca_path, timeout=timeout,
                                headers={"X-Requested-By": "ambari_kafka.mirroring", "Accept": "application/json"},
                                follow_redirects="safe", use_netrc=False)

    @classmethod
    def from_params(cls, params):
        return cls(params["url"], params["username"], params["password"], params["validate_certs"],
                   params["ca_path"], params["timeout"])

    def get(self, path):
        """GET with up to READ_ATTEMPTS tries on connection errors and 5xx."""
        for attempt in range(1, READ_ATTEMPTS + 1):
            try:
                return self.call("GET", path)[1]
            except AmbariError as exc:
                retryable = exc.details.get("status_code", 599) >= 500
                if not retryable or attempt == READ_ATTEMPTS:
                    raise
                self._sleep(READ_BACKOFF_S * attempt)
        raise AssertionError("unreachable")

    def put(self, path, body):
        return self.call("PUT", path, body)

    def post(self, path, body):
        return self.call("POST", path, body)

    def call(self, method, path, body=None):
        """One HTTP call; returns (status, parsed JSON or None for an empty body)."""
        target = "%s/api/v1/%s" % (self.url, path.lstrip("/"))
        data = None if body is None else json.dumps(body)
        self.calls += 1
        try:
            resp = self._request.open(method, target, data=data)
            status, raw = resp.getcode(), resp.read()
        except urllib.error.HTTPError as err:
            raise self._http_error(method, path, err.code, _read(err)) from None
        except SSLValidationError as err:
            raise self._tls_error(err) from None
        except (urllib.error.URLError, UrlsConnectionError, socket.timeout, ssl.SSLError, OSError) as err:
            reason = getattr(err, "reason", err)
            if isinstance(reason, ssl.SSLError):
                raise self._tls_error(reason) from None
            raise AmbariError("Cannot connect to Ambari at %s: %s" % (self.host, reason), status=599,
                              url=self.url) from None
        return status, self._parse(method, path, status, raw)

    def _tls_error(self, err):
        return AmbariError("TLS verification of Ambari at %s failed: %s. Give the CA's PEM file in ca_path, or "
                           "validate_certs: false for a test server." % (self.host, _first_line(err)), url=self.url)

    def _parse(self, method, path, status, raw):
        text = raw.decode("utf-8", "replace") if raw else ""
        if not text.strip():
            return None
        try:
            return json.loads(text)  # Ambari sends JSON as text/plain: never trust the content type
        except ValueError:
            raise AmbariError("Ambari at %s answered %s %s (HTTP %s) with a body that is not JSON: %r"
                              % (self.host, method, path, status, text[:120]), status=status, url=self.url) from None

    def _http_error(self, method, path, status, text):
        message = _message(text)
        if status in (401, 403):
            return AmbariError("Authentication or permission failed for user '%s' at %s (HTTP %s: %s)"
                               % (self.username, self.url, status, message), status=status, url=self.url)
        return AmbariError("Ambari at %s answered %s %s with HTTP %s: %s" % (self.host, method, path, status, message),
                           status=status, url=self.url)


def _read(err):
    try:
        return err.read().decode("utf-8", "replace")
    except Exception:
        return ""


def _message(text):
    """Ambari's {"status", "message"} body, else the first bytes of whatever came."""
    try:
        body = json.loads(text)
        if isinstance(body, dict) and body.get("message"):
            return body["message"]
    except ValueError:
        pass
    return repr(text[:120]) if text else "(empty body)"


def _first_line(err):
    return str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__


def cluster_path(cluster, *parts):
    return "/".join(["clusters", quote(cluster, safe="")] + [p for p in parts if p])


def resolve_cluster(client, name):
    """The given cluster name (a missing one is named by the 404 of the next call), or the only cluster."""
    if name:
        return name
    items = (client.get("clusters") or {}).get("items", [])
    names = [i["Clusters"]["cluster_name"] for i in items]
    if len(names) != 1:
        raise AmbariError("Cannot choose a cluster: the Ambari server at %s manages %d (%s); set the cluster option"
                          % (client.url, len(names), ", ".join(names) or "none"), url=client.url)
    return names[0]


def wait_for_request(client, cluster, request_id, timeout, sleep, clock=time.monotonic, sleeper=time.sleep):
    """Poll a request until it ends; raise with the failed tasks' hosts and stderr when it did not complete."""
    deadline = clock() + timeout
    path = cluster_path(cluster, "requests", str(request_id)) + "?fields=Requests/*"
    info = client.get(path)["Requests"]
    while info["request_status"] not in TERMINAL_STATES:
        remaining = deadline - clock()
        if remaining <= 0:
            raise AmbariError("Timed out after %ss waiting for Ambari request %s (%s) on %s (last state: %s, %.0f%%)"
                              % (timeout, request_id, info.get("request_context", ""), cluster,
                                 info["request_status"], info.get("progress_percent", 0)),
                              request_id=request_id, request_status=info["request_status"])
        sleeper(min(sleep, remaining))
        info = client.get(path)["Requests"]
    if info["request_status"] != "COMPLETED":
        raise request_failed(client, cluster, info)
    return info


def request_failed(client, cluster, info):
    """An AmbariError naming the failed tasks' hosts and the last lines of their stderr."""
    path = cluster_path(cluster, "requests", str(info["id"]), "tasks") + (
        "?Tasks/status.in(%s)&fields=Tasks/host_name,Tasks/role,Tasks/status,Tasks/stderr" % ",".join(FAILED_STATES))
    tasks = [t["Tasks"] for t in (client.get(path) or {}).get("items", [])]
    lines = []
    for task in tasks:
        stderr = "\n".join((task.get("stderr") or "").strip().splitlines()[-STDERR_LINES:])
        lines.append("%s %s %s:\n%s" % (task["host_name"], task["role"], task["status"], stderr or "(no stderr)"))
    return AmbariError("Ambari request %s (%s) on %s ended %s:\n%s"
                       % (info["id"], info.get("request_context", ""), cluster, info["request_status"],
                          "\n".join(lines) or "(no failed task reported)"),
                       request_id=info["id"], request_status=info["request_status"],
                       failed_tasks=[{"host": t["host_name"], "role": t["role"], "status": t["status"]} for t in tasks])
