# -*- coding: utf-8 -*-
# Copyright: ambari_kafka.mirroring contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Ambari REST client shared by the ambari_* modules: connection options, HTTP through Ansible's own URL
helpers, typed errors with the messages users read, cluster discovery and a bounded request waiter.

Works against Ambari 2.6 and 2.7 and against HDInsight's gateway (401 instead of 403, HTTPS only).
"""

from __future__ import annotations

import http.client
import json
import socket
import ssl
import time
import traceback
import urllib.error
from urllib.parse import quote, urljoin, urlsplit

from ansible.module_utils.api import generate_jittered_backoff
from ansible.module_utils.basic import env_fallback
from ansible.module_utils.urls import ConnectionError as UrlsConnectionError
from ansible.module_utils.urls import Request, SSLValidationError

FAILED_STATES = ("FAILED", "TIMEDOUT", "ABORTED", "SKIPPED_FAILED")
TERMINAL_STATES = ("COMPLETED",) + FAILED_STATES
READ_ATTEMPTS = 3  # a GET answered 5xx or not answered at all is tried this often
RATE_LIMIT_ATTEMPTS = 7  # any call answered 429 by a gateway: it was not processed, so it is sent again
RETRY_DELAY_BASE_S = 1
RETRY_DELAY_MAX_S = 30  # each delay is jittered below min(this, base * 2**n) (ansible.module_utils.api)
MAX_REDIRECTS = 5
MAX_ANSWER_BYTES = 16 * 1024 * 1024  # Ambari's largest answers the modules ask for are a few hundred KiB
REDIRECT_CODES = (301, 302, 303, 307, 308)
STDERR_LINES = 8
# A task ended by Ambari itself has no output: ActionScheduler aborts a task whose host stopped heartbeating.
NO_OUTPUT = {"ABORTED": "(no output: Ambari aborts a task when the host's ambari-agent has lost heartbeat, or when "
                        "someone aborted the request; check the host in Ambari's Hosts page)"}
URL_HINT = "Check that url is the Ambari server's address (scheme://host:port, without /api/v1)"


class AmbariError(Exception):
    """Anything a module reports as its failure: `msg` is what the user reads, `details` extra result keys."""

    def __init__(self, msg, status=None, **details):
        super().__init__(msg)
        self.msg = msg
        self.details = dict(details)
        if status is not None:
            self.details["status_code"] = status


class WriteUnanswered(AmbariError):
    """A write was sent and no answer came (timeout, connection closed): Ambari may have applied it. Callers that
    can read the outcome back catch this; otherwise the message says what to check."""


class Answer(dict):
    """A JSON object Ambari answered: a field it lacks is an AmbariError naming the call and the field, so an
    answer of another shape (a proxy's page, another API) ends in a message, not a KeyError. `path` is where the
    object sits in the answer (keys and list indexes), so that dig() on a nested object names the whole path."""

    where = "an Ambari call"
    path = ()

    def __missing__(self, key):
        raise AmbariError("%s answered without the field '%s'%s (it has: %s). %s"
                          % (self.where, key, " in " + _keys(self.path) if self.path else "",
                             ", ".join(sorted(self)) or "nothing", URL_HINT))


REQUIRED = object()


def dig(data, *keys, want=None, where=None, what="", default=REQUIRED):
    """data[k1][k2]... of an answer (str keys for objects, int indexes for lists), else an AmbariError naming the
    call, the path that was expected and what came instead: an answer of another shape never ends in a traceback.

    `want`: the type (or types) the value must have; `what`: what the value is, for the message; `default`: what
    an absent or null last field stands for (its parents must still be there, and a value present must be of `want`).
    """
    where = where or getattr(data, "where", None) or "Ambari"
    prefix = tuple(getattr(data, "path", ()))
    node = data
    for n, key in enumerate(keys):
        present = (isinstance(node, dict) and key in node) if isinstance(key, str) else (
            isinstance(node, list) and -len(node) <= key < len(node))
        last = n == len(keys) - 1
        if last and default is not REQUIRED and isinstance(node, dict) and isinstance(key, str) and (
                not present or node[key] is None):
            return default
        if not present:
            raise AmbariError("%s answered without %s%s (got %s at %s). %s"
                              % (where, _keys(prefix + keys), what and ", " + what, _describe(node),
                                 _keys(prefix + keys[:n]) or "the top level", URL_HINT))
        node = node[key]
    if want is not None and (not isinstance(node, want) or (isinstance(node, bool) and bool not in _tuple(want))):
        raise AmbariError("%s answered %s as %s where %s was expected%s. %s"
                          % (where, _keys(prefix + keys) or "its body", _describe(node), _names(want),
                             what and " (" + what + ")", URL_HINT))
    return node


def objects(data, *keys, where=None, what="", default=REQUIRED):
    """The list at data[k1][k2]... whose every item is a JSON object (Ambari's `items` of a collection), else an
    AmbariError naming the call and the item of another shape; `default` as for dig (absent or null list)."""
    found = dig(data, *keys, want=list, where=where, what=what, default=default)
    for n in range(len(found)):
        dig(data, *keys, n, want=dict, where=where, what=what and "one of " + what)
    return found


def _annotate(answer, where):
    """Set where and path on every object of a parsed answer (iteratively: answers nest as deep as json reads)."""
    todo = [(answer, ())]
    while todo:
        node, path = todo.pop()
        if isinstance(node, Answer):
            node.where, node.path = where, path
            todo.extend((value, path + (key,)) for key, value in node.items())
        elif isinstance(node, list):
            todo.extend((value, path + (n,)) for n, value in enumerate(node))
    return answer


def _keys(keys):
    out = ""
    for key in keys:
        out += "[%d]" % key if isinstance(key, int) else ("." if out else "") + key
    return out


def _tuple(types):
    return types if isinstance(types, tuple) else (types,)


def _names(types):
    return " or ".join(dict.fromkeys({dict: "a JSON object", list: "a JSON list", str: "a string", int: "a number",
                                      float: "a number"}.get(t, t.__name__) for t in _tuple(types)))


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


def check_params(params):
    """The connection and wait options' ranges, as AmbariErrors naming the option (ints Ansible cannot bound)."""
    url = urlsplit(params["url"] or "")
    if url.scheme not in ("http", "https") or not url.hostname:
        raise AmbariError("url must be the Ambari server's http:// or https:// address, for example "
                          "https://CLUSTERNAME.azurehdinsight.net or http://ambari.example.com:8080 (got %r)"
                          % params["url"])
    if url.username is not None or url.password is not None:
        # Refused, not stripped: url is echoed in messages and results, and the password would be there.
        raise AmbariError("url must not hold credentials (user:password@ before the host); give them in username "
                          "and password (password is no_log), and url as %s://%s"
                          % (url.scheme, url.netloc.rsplit("@", 1)[1] + url.path))
    minimum = {"timeout": 1, "wait_timeout": 0, "wait_sleep": 1}
    for name, low in sorted(minimum.items()):
        if name in params and params[name] is not None and params[name] < low:
            raise AmbariError("%s must be %d or more seconds (got %s)" % (name, low, params[name]))


def run_module(module, process):
    """Run process(module, client); the one place where errors become messages, never a traceback.

    Every result, failed or not, says how many HTTP requests the module made (`http_requests`).
    """
    try:
        check_params(module.params)
    except AmbariError as exc:
        module.fail_json(msg=exc.msg, http_requests=0)
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


def _origin(url):
    parts = urlsplit(url)
    scheme = parts.scheme.lower()
    return scheme, (parts.hostname or "").lower(), parts.port or {"http": 80, "https": 443}.get(scheme)


class AmbariClient:
    """HTTP calls to /api/v1 with basic auth and X-Requested-By.

    Redirects are followed only to the same origin (scheme, host, port) and only for reads: the credentials go
    with every request, and a write is never re-sent. A 429 from a gateway is retried with jittered backoff; a
    read answered 5xx or not answered is retried a few times; a TLS failure never is.
    """

    def __init__(self, url, username, password, validate_certs=True, ca_path=None, timeout=30, sleep=time.sleep,
                 clock=time.monotonic):
        self.url = url.rstrip("/")
        self.username = username
        self.host = urlsplit(self.url).netloc or self.url
        self.calls = 0
        self.timeout = timeout
        self._sleep = sleep
        self._clock = clock
        # Accept */*: every Ambari resource is @Produces("text/plain"), and Jersey 1.19 answers 406 to an Accept
        # that admits neither text/plain nor a wildcard (application/json alone is refused).
        self._request = Request(url_username=username, url_password=password, force_basic_auth=True,
                                validate_certs=validate_certs, ca_path=ca_path, timeout=timeout,
                                headers={"X-Requested-By": "ambari_kafka.mirroring", "Accept": "*/*"},
                                follow_redirects="none", use_netrc=False)

    @classmethod
    def from_params(cls, params):
        return cls(params["url"], params["username"], params["password"], params["validate_certs"],
                   params["ca_path"], params["timeout"])

    def where(self, method, path):
        """How messages name a call (as answers' fields do: Answer.where)."""
        return "Ambari at %s (%s %s)" % (self.host, method, path)

    def get(self, path):
        """GET that must answer a JSON object (every Ambari resource and collection is one)."""
        data = self.call("GET", path)[1]
        if not isinstance(data, dict):
            raise AmbariError("Ambari at %s answered GET %s with %s where a JSON object was expected. %s"
                              % (self.host, path, _shape(data), URL_HINT), url=self.url)
        return data

    def put(self, path, body):
        return self.call("PUT", path, body)

    def post(self, path, body):
        return self.call("POST", path, body)

    def call(self, method, path, body=None):
        """One API call, retried as the class says; returns (status, parsed JSON or None for an empty body).

        The waits between attempts add up to `timeout` seconds at most (the option bounds each answer, and the
        retries of one call as a whole), so a gateway answering 429 with Retry-After for ever cannot hold a task:
        a wait for a request ends at most one call's retries after wait_timeout.
        """
        delays = generate_jittered_backoff(retries=RATE_LIMIT_ATTEMPTS - 1, delay_base=RETRY_DELAY_BASE_S,
                                           delay_threshold=RETRY_DELAY_MAX_S)
        attempts = read_failures = 0
        waited = 0.0
        while True:
            attempts += 1
            try:
                return self._exchange(method, path, body)
            except AmbariError as exc:
                status = exc.details.get("status_code")
                if status == 429:
                    delay = next(delays, None)
                    delay = None if delay is None else max(delay, exc.details.pop("retry_after", 0))
                    if delay is None or waited + delay > self.timeout:
                        raise AmbariError("%s. Ambari's gateway still refused it after %d attempts in %.0f s (retries "
                                          "stop after timeout=%s s): run fewer hosts at once (serial, throttle) or "
                                          "try again later" % (exc.msg, attempts, waited, self.timeout),
                                          status=429, url=self.url) from None
                    waited += self._pause(delay)
                    continue
                read_failures += 1
                retryable = method == "GET" and status is not None and status >= 500
                delay = next(delays, RETRY_DELAY_MAX_S)
                if not retryable or read_failures >= READ_ATTEMPTS or waited + delay > self.timeout:
                    raise
                waited += self._pause(delay)

    def _pause(self, seconds):
        """Sleep; the seconds actually spent (a clock, not the sum asked for, bounds the retries)."""
        start = self._clock()
        self._sleep(seconds)
        return max(self._clock() - start, seconds)

    def _exchange(self, method, path, body):
        """One HTTP exchange, following same-origin redirects of a read."""
        target = "%s/api/v1/%s" % (self.url, path.lstrip("/"))
        data = None if body is None else json.dumps(body)
        for _hop in range(MAX_REDIRECTS + 1):
            self.calls += 1
            try:
                resp = self._request.open(method, target, data=data)
                try:
                    status, raw = resp.getcode(), _read_bounded(resp)
                finally:
                    resp.close()
            except urllib.error.HTTPError as err:
                text = _read(err)
                location = err.headers.get("Location") if err.headers else None
                if err.code in REDIRECT_CODES and location:
                    target = self._redirect(method, path, err.code, urljoin(target, location))
                    continue
                raise self._http_error(method, path, err.code, text, err.headers) from None
            except SSLValidationError as err:
                raise self._tls_error(err) from None
            except (urllib.error.URLError, UrlsConnectionError) as err:  # raised before the request was sent
                reason = getattr(err, "reason", err)
                if isinstance(reason, ssl.SSLError):
                    raise self._tls_error(reason) from None
                raise AmbariError("Cannot connect to Ambari at %s: %s. %s" % (self.host, reason, URL_HINT),
                                  status=599, url=self.url) from None
            except (socket.timeout, ssl.SSLError, OSError, http.client.HTTPException) as err:
                # Sent, then no (complete) answer: urllib raises these from getresponse() and read() unwrapped.
                if isinstance(err, ssl.SSLCertVerificationError):
                    raise self._tls_error(err) from None
                reason = "no answer within timeout=%ss" % self.timeout if isinstance(err, socket.timeout) else (
                    "the connection ended without an answer (%s)" % (_first_line(err)))
                if method != "GET":
                    raise WriteUnanswered("Ambari at %s took %s %s but gave %s: the change may or may not have been "
                                          "applied" % (self.host, method, path, reason), status=599,
                                          url=self.url) from None
                raise AmbariError("Ambari at %s took GET %s but gave %s. %s" % (self.host, path, reason, URL_HINT),
                                  status=599, url=self.url) from None
            if raw is None:
                raise AmbariError("Ambari at %s answered %s %s with more than %d MiB; that is not an answer the "
                                  "modules ask for. %s" % (self.host, method, path, MAX_ANSWER_BYTES // 2 ** 20,
                                                           URL_HINT), status=status, url=self.url)
            return status, self._parse(method, path, status, raw)
        raise AmbariError("Ambari at %s redirected %s %s more than %d times (last to %s). %s"
                          % (self.host, method, path, MAX_REDIRECTS, target, URL_HINT), url=self.url)

    def _redirect(self, method, path, code, location):
        """The next URL of a redirect, or an AmbariError: never to another origin, never for a write."""
        if _origin(location) != _origin(self.url):
            scheme, host, port = _origin(location)
            raise AmbariError("Ambari at %s redirected %s %s (HTTP %s) to %s, another origin (scheme, host or port) "
                              "than url %s. Not followed: the Ambari credentials would be sent there. If that "
                              "server is trusted, set url to %s://%s:%s"
                              % (self.host, method, path, code, location, self.url, scheme, host, port),
                              status=code, url=self.url, location=location)
        if method != "GET":
            raise AmbariError("Ambari at %s redirected %s %s (HTTP %s) to %s; a write is not re-sent to a redirect "
                              "target. Set url to the address that serves Ambari's API"
                              % (self.host, method, path, code, location), status=code, url=self.url,
                              location=location)
        return location

    def _tls_error(self, err):
        return AmbariError("TLS verification of Ambari at %s failed: %s. Give the CA's PEM file in ca_path, or "
                           "validate_certs: false for a test server." % (self.host, _first_line(err)), url=self.url)

    def _parse(self, method, path, status, raw):
        text = raw.decode("utf-8", "replace") if raw else ""
        if not text.strip():
            return None
        try:  # Ambari sends JSON as text/plain: never trust the type
            return _annotate(json.loads(text, object_hook=Answer), self.where(method, path))
        except RecursionError:
            raise AmbariError("Ambari at %s answered %s %s (HTTP %s) with JSON nested deeper than Python reads "
                              "(it starts %r); no Ambari answer is. %s"
                              % (self.host, method, path, status, text[:40], URL_HINT), status=status,
                              url=self.url) from None
        except ValueError:
            raise AmbariError("Ambari at %s answered %s %s (HTTP %s) with a body that is not JSON: %r. %s"
                              % (self.host, method, path, status, text[:120], URL_HINT), status=status,
                              url=self.url) from None

    def _http_error(self, method, path, status, text, headers=None):
        message = _message(text)
        if status in (401, 403):
            return AmbariError("Authentication or permission failed for user '%s' at %s (HTTP %s: %s)"
                               % (self.username, self.url, status, message), status=status, url=self.url)
        details = {}
        if status == 429:
            details["retry_after"] = _retry_after(headers)
        if status == 406:
            message += " (the server refused the Accept header; %s)" % URL_HINT
        return AmbariError("Ambari at %s answered %s %s with HTTP %s: %s" % (self.host, method, path, status, message),
                           status=status, url=self.url, **details)


def _read_bounded(resp):
    """The body, or None when it is larger than MAX_ANSWER_BYTES."""
    raw = resp.read(MAX_ANSWER_BYTES + 1)
    return None if len(raw) > MAX_ANSWER_BYTES else raw


def _read(err):
    """The first 64 KiB of an error's body; the response is closed either way."""
    try:
        return err.read(64 * 1024).decode("utf-8", "replace")
    except Exception:
        return ""
    finally:
        err.close()


def _retry_after(headers):
    """Retry-After in seconds (bounded), 0 when absent or an HTTP date."""
    value = (headers.get("Retry-After") if headers else None) or ""
    return min(int(value), RETRY_DELAY_MAX_S) if value.strip().isdigit() else 0


def _shape(data):
    if data is None:
        return "an empty body"
    return {list: "a JSON list", str: "a JSON string", bool: "a JSON boolean"}.get(type(data), "a JSON number")


def _describe(data):
    """_shape with what it holds: the fields of an object, the length of a list, the start of a string."""
    if isinstance(data, dict):
        return "an object with %s" % (", ".join(sorted(map(str, data))[:8]) or "no fields")
    if isinstance(data, list):
        return "a JSON list of %d" % len(data) if data else "an empty JSON list"
    if isinstance(data, str):
        return "a JSON string %r" % data[:40]
    return _shape(data)


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
    answer = client.get("clusters")
    items = dig(answer, "items", want=list, what="the clusters the server manages") if "items" in answer else []
    names = [dig(answer, "items", n, "Clusters", "cluster_name", want=str, what="a cluster's name")
             for n in range(len(items))]
    if len(names) != 1:
        raise AmbariError("Cannot choose a cluster: the Ambari server at %s manages %d (%s); set the cluster option"
                          % (client.url, len(names), ", ".join(names) or "none"), url=client.url)
    return names[0]


def host_roles(item, what="a host component"):
    """HostRoles of an item of host_components, with its host_name and component_name strings."""
    roles = dig(item, "HostRoles", want=dict, what=what)
    dig(roles, "host_name", want=str, what=what + "'s host")
    dig(roles, "component_name", want=str, what=what + "'s name")
    return roles


def wait_for_request(client, cluster, request_id, timeout, sleep, clock=time.monotonic, sleeper=time.sleep):
    """Poll a request until it ends; raise with the failed tasks' hosts and stderr when it did not complete."""
    deadline = clock() + timeout
    path = cluster_path(cluster, "requests", str(request_id)) + "?fields=Requests/*"
    info = _request_info(client.get(path))
    while info["request_status"] not in TERMINAL_STATES:
        remaining = deadline - clock()
        if remaining <= 0:
            raise AmbariError("Timed out after %ss waiting for Ambari request %s (%s) on %s (last state: %s, %.0f%%)"
                              % (timeout, request_id, info.get("request_context", ""), cluster,
                                 info["request_status"], info.get("progress_percent", 0)),
                              request_id=request_id, request_status=info["request_status"])
        sleeper(min(sleep, remaining))
        info = _request_info(client.get(path))
    if info["request_status"] != "COMPLETED":
        raise request_failed(client, cluster, info)
    return info


def _request_info(answer):
    """Requests of a request's answer; its state a string (a state of another type would never end a wait)."""
    info = dig(answer, "Requests", want=dict, what="the request's state")
    dig(info, "request_status", want=str, what="the request's state")
    dig(info, "progress_percent", want=(int, float), default=0, what="the request's progress")
    return info


def request_failed(client, cluster, info):
    """An AmbariError naming the failed tasks' hosts and the last lines of their stderr."""
    path = cluster_path(cluster, "requests", str(info["id"]), "tasks") + (
        "?Tasks/status.in(%s)&fields=Tasks/host_name,Tasks/role,Tasks/status,Tasks/stderr" % ",".join(FAILED_STATES))
    answer = client.get(path)
    tasks = [dig(item, "Tasks", want=dict, what="a failed task") for item in objects(
        answer, "items", default=[], what="the request's failed tasks")]
    for task in tasks:
        for name in ("host_name", "role", "status"):
            dig(task, name, want=str, what="a failed task's %s" % name)
        dig(task, "stderr", want=str, default="", what="a failed task's output")
    lines = []
    for task in tasks:
        stderr = "\n".join((task.get("stderr") or "").strip().splitlines()[-STDERR_LINES:])
        if not stderr:
            stderr = NO_OUTPUT.get(task["status"], "(no stderr)")
        lines.append("%s %s %s:\n%s" % (task["host_name"], task["role"], task["status"], stderr))
    return AmbariError("Ambari request %s (%s) on %s ended %s:\n%s"
                       % (info["id"], info.get("request_context", ""), cluster, info["request_status"],
                          "\n".join(lines) or "(no failed task reported)"),
                       request_id=info["id"], request_status=info["request_status"],
                       failed_tasks=[{"host": t["host_name"], "role": t["role"], "status": t["status"]} for t in tasks])
