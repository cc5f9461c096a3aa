"""The HTTP side of one cluster's Ambari endpoint: auth, CSRF, routing, status codes, bodies (§1, §2, §13)."""
from __future__ import annotations

import base64
import hmac
import json
import logging
import re
import secrets
import threading
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Callable
from urllib.parse import unquote, urlsplit

from kafka_lab.ambari.errors import ApiError, bad_request, not_found, unsupported
from kafka_lab.ambari.model import COMPONENTS, ClusterModel
from kafka_lab.ambari.operations import Operations
from kafka_lab.ambari.query import Query, QueryError, Resource, known, parse_query, render
from kafka_lab.ambari.resources import Views

log = logging.getLogger("kafka_lab.ambari")

CSRF_MESSAGE = "CSRF protection is turned on. X-Requested-By HTTP header is required."
BAD_LOGIN = "Unable to sign in. Invalid username/password combination."
MAX_BODY_BYTES = 16 * 1024 * 1024  # the lab's own bound; bodies are read only after authentication
# Jetty's idle timeout ends a connection that sends nothing (headers or body) for this long; without it a client
# that never finishes a request holds a thread for ever.
CONNECTION_TIMEOUT_S = 30.0
MAX_CONNECTIONS = 64  # served at once; beyond, a connection gets 503 at once (Jetty's bounded thread pool)
DEFAULT_PAGE_SIZE = 20  # BaseRequest.DEFAULT_PAGE_SIZE
PRODUCES = ("text", "plain")  # every resource service: @Produces("text/plain")
MEDIA_RANGE = re.compile(r"^([A-Za-z0-9!#$&^_.+*-]+)/([A-Za-z0-9!#$&^_.+*-]+)$")


class ServletError(ApiError):
    """An error of Jetty or Jersey, before Ambari's own code: AmbariErrorHandler writes it with Gson's spacing."""


@dataclass(frozen=True)
class Credentials:
    username: str
    password: str = field(repr=False)
    gateway: bool = False  # HDInsight's gateway answers 401 itself


@dataclass
class Reply:
    status: int
    body: Any = None  # dict -> JSON, None -> empty body


class Endpoint:
    """One cluster's API. Handlers return a Reply or raise ApiError."""

    def __init__(self, model: ClusterModel, ops: Operations, credentials: Credentials) -> None:
        self.model = model
        self.ops = ops
        self.credentials = credentials
        self.routes: list[tuple[str, re.Pattern, Callable[..., Reply]]] = []
        c = r"(?P<cluster>[^/]+)"
        for method, pattern, handler in [
            ("GET", r"clusters", self.get_clusters),
            ("GET", rf"clusters/{c}", self.get_cluster),
            ("PUT", rf"clusters/{c}", self.put_cluster),
            ("GET", rf"clusters/{c}/configurations", self.get_configurations),
            ("POST", rf"clusters/{c}/configurations", self.post_configuration),
            ("GET", rf"clusters/{c}/configurations/service_config_versions", self.get_scvs),
            ("GET", rf"clusters/{c}/config_groups", self.get_config_groups),
            ("POST", rf"clusters/{c}/config_groups", self.post_config_groups),
            ("GET", rf"clusters/{c}/config_groups/(?P<id>[^/]+)", self.get_config_group),
            ("PUT", rf"clusters/{c}/config_groups/(?P<id>[^/]+)", self.put_config_group),
            ("DELETE", rf"clusters/{c}/config_groups/(?P<id>[^/]+)", self.delete_config_group),
            ("GET", rf"clusters/{c}/hosts", self.get_hosts),
            ("GET", rf"clusters/{c}/hosts/(?P<host>[^/]+)", self.get_host),
            ("PUT", rf"clusters/{c}/hosts/(?P<host>[^/]+)", self.put_host),
            ("GET", rf"clusters/{c}/hosts/(?P<host>[^/]+)/host_components", self.get_host_host_components),
            ("GET", rf"clusters/{c}/hosts/(?P<host>[^/]+)/host_components/(?P<comp>[^/]+)", self.get_host_component),
            ("PUT", rf"clusters/{c}/hosts/(?P<host>[^/]+)/host_components/(?P<comp>[^/]+)", self.put_host_component),
            ("GET", rf"clusters/{c}/host_components", self.get_host_components),
            ("PUT", rf"clusters/{c}/host_components", self.put_host_components),
            ("GET", rf"clusters/{c}/services", self.get_services),
            ("GET", rf"clusters/{c}/services/(?P<service>[^/]+)", self.get_service),
            ("PUT", rf"clusters/{c}/services/(?P<service>[^/]+)", self.put_service),
            ("GET", rf"clusters/{c}/services/(?P<service>[^/]+)/components", self.get_components),
            ("GET", rf"clusters/{c}/services/(?P<service>[^/]+)/components/(?P<comp>[^/]+)", self.get_component),
            ("GET", rf"clusters/{c}/requests", self.get_requests),
            ("POST", rf"clusters/{c}/requests", self.post_request),
            ("GET", rf"clusters/{c}/requests/(?P<id>[^/]+)", self.get_request),
            ("PUT", rf"clusters/{c}/requests/(?P<id>[^/]+)", self.put_request),
            ("GET", rf"clusters/{c}/requests/(?P<id>[^/]+)/tasks", self.get_tasks),
            ("GET", rf"clusters/{c}/requests/(?P<id>[^/]+)/tasks/(?P<task>[^/]+)", self.get_task),
            ("GET", rf"clusters/{c}/request_schedules", self.get_schedules),
            ("POST", rf"clusters/{c}/request_schedules", self.post_schedule),
            ("GET", rf"clusters/{c}/request_schedules/(?P<id>[^/]+)", self.get_schedule),
            ("DELETE", rf"clusters/{c}/request_schedules/(?P<id>[^/]+)", self.delete_schedule),
        ]:
            self.routes.append((method, re.compile(pattern + "$"), handler))

    # --- dispatch -------------------------------------------------------------------------------

    def handle(self, method: str, path: str, query: str, raw: bytes, base: str, user: str,
               accept: str | None = None) -> Reply:
        """Jersey's order: match the resource (404, 405), negotiate the response type (406), then the resource
        method parses the body (400) and runs."""
        rel = path.removeprefix("/api/v1/").strip("/")
        allowed = False
        for m, pattern, handler in self.routes:
            match = pattern.match(rel)
            if match:
                allowed = True
                if m == method:
                    negotiate(accept)
                    body = _parse_body(raw)
                    if method == "GET" and body is not None:  # RequestInfo/query of a method-overridden POST
                        extra = _request_info(body).get("query", "")
                        query = "&".join(p for p in (query, extra) if p)
                        body = None
                    args = {k: unquote(v) for k, v in match.groupdict().items()}
                    cluster = args.pop("cluster", None)
                    if cluster is not None and cluster != self.model.spec.name:
                        raise not_found(f"Cluster not found, clusterName={cluster}")
                    ctx = Ctx(Views(self.model, self.ops, base), _parse_query(query), body, user,
                              f"{base}/{rel}" + (f"?{unquote(query)}" if query else ""))
                    with self.model.lock:
                        return handler(ctx, **args)
        raise ServletError(405, "Method Not Allowed") if allowed else ServletError(404, "Not Found")

    # --- clusters -------------------------------------------------------------------------------

    def get_clusters(self, ctx: "Ctx") -> Reply:
        return ctx.collection([ctx.views.cluster()], "Cluster")

    def get_cluster(self, ctx: "Ctx") -> Reply:
        return ctx.instance(ctx.views.cluster(), "Cluster")

    def put_cluster(self, ctx: "Ctx") -> Reply:
        clusters = _merged(ctx.body, "Clusters")
        desired = clusters.get("desired_config")
        rollback = clusters.get("desired_service_config_versions")
        if desired is not None and rollback is not None:
            raise bad_request("Unable to set desired configs and rollback at same time, request = "
                              + json.dumps(clusters))
        if rollback is not None:
            if not rollback.get("service_name") or not rollback.get("service_config_version"):
                raise bad_request("Service name and version should be specified in service config version")
            return Reply(200, {"resources": self.model.rollback(
                rollback["service_name"], rollback["service_config_version"],
                rollback.get("service_config_version_note"), ctx.user)})
        if desired is None:
            unknown = [f"Clusters/{k}" for k in clusters if k not in ("cluster_name", "version")]
            if unknown:
                raise unsupported(unknown, "Cluster")
            return Reply(200)
        requests = desired if isinstance(desired, list) else [desired]
        if not all(isinstance(r, dict) for r in requests):
            raise bad_request("Invalid desired_config: expected an object or a list of objects")
        result = self.model.put_desired_configs(requests, ctx.user)
        return Reply(200, {"resources": result} if result else None)

    # --- configurations -------------------------------------------------------------------------

    def get_configurations(self, ctx: "Ctx") -> Reply:
        q = ctx.query
        by_type_and_tag = "type" in q.predicate_props and "tag" in q.predicate_props
        wants = q.fields is not None and any(f == "*" or f.startswith("properties") for f in q.fields)
        items = ctx.views.configurations(include_properties=by_type_and_tag or wants)
        # ConfigurationResourceProvider emits all its fields whatever was asked.
        return ctx.collection(items, "Configuration", everything=True)

    def post_configuration(self, ctx: "Ctx") -> Reply:
        for item in _items(ctx.body):
            if not item.get("type") or not item.get("tag"):
                raise bad_request("Configuration type and tag need to be provided.")
            self.model.create_configuration(item["type"], item["tag"], item.get("properties") or {},
                                            item.get("properties_attributes") or {}, ctx.user)
        return Reply(201)

    def get_scvs(self, ctx: "Ctx") -> Reply:
        return ctx.collection(ctx.views.service_config_versions(), "ServiceConfigVersion", everything=True)

    # --- config groups --------------------------------------------------------------------------

    def get_config_groups(self, ctx: "Ctx") -> Reply:
        groups = ctx.views.config_groups(ctx.query.property_maps())
        return ctx.collection(groups, "ConfigGroup", evaluate=False)  # ConfigGroupResourceProvider.evaluate: true

    def get_config_group(self, ctx: "Ctx", id: str) -> Reply:
        return ctx.instance(ctx.views.config_group(self.model.group(id)), "ConfigGroup")

    def post_config_groups(self, ctx: "Ctx") -> Reply:
        resources = []
        for item in _items(ctx.body):
            group_id = self.model.create_config_group(item.get("ConfigGroup") or {}, ctx.user)
            resources.append({"href": f"{ctx.views.cluster_href}/config_groups/{group_id}",
                              "ConfigGroup": {"id": group_id}})
        return Reply(201, {"resources": resources})

    def put_config_group(self, ctx: "Ctx", id: str) -> Reply:
        body = _merged(ctx.body, "ConfigGroup")
        g = self.model.update_config_group(id, body, ctx.user)
        return Reply(200, {"resources": [{"href": f"{ctx.views.cluster_href}/config_groups/{g['id']}",
                                          "ConfigGroup": {"cluster_name": self.model.spec.name,
                                                          "group_name": g["group_name"], "id": g["id"],
                                                          "tag": g["tag"], "version_tags": [g["desired_configs"]]}}]})

    def delete_config_group(self, ctx: "Ctx", id: str) -> Reply:
        self.model.delete_config_group(id)
        return Reply(200)

    # --- hosts and host components ----------------------------------------------------------------

    def get_hosts(self, ctx: "Ctx") -> Reply:
        return ctx.collection([ctx.views.host(h) for h in self.model.state["hosts"]], "Host")

    def get_host(self, ctx: "Ctx", host: str) -> Reply:
        self.model.require_host(host)
        return ctx.instance(ctx.views.host(host), "Host")

    def put_host(self, ctx: "Ctx", host: str) -> Reply:
        h = self.model.require_host(host)
        state = _merged(ctx.body, "Hosts").get("maintenance_state")
        if state not in ("ON", "OFF"):
            raise bad_request(f"Invalid maintenance state: {state}")
        h["maintenance_state"] = state
        self.model.save()
        return Reply(200)

    def get_host_host_components(self, ctx: "Ctx", host: str) -> Reply:
        self.model.require_host(host)
        comps = self.model.state["host_components"][host]
        return ctx.collection([ctx.views.host_component(host, c, True) for c in comps], "HostComponent")

    def get_host_component(self, ctx: "Ctx", host: str, comp: str) -> Reply:
        self.model.require_host_component(host, comp)
        return ctx.instance(ctx.views.host_component(host, comp, True), "HostComponent")

    def put_host_component(self, ctx: "Ctx", host: str, comp: str) -> Reply:
        hc = self.model.require_host_component(host, comp)
        roles = _merged(ctx.body, "HostRoles")
        if "maintenance_state" in roles:
            if roles["maintenance_state"] not in ("ON", "OFF"):
                raise bad_request(f"Invalid maintenance state: {roles['maintenance_state']}")
            hc["maintenance_state"] = roles["maintenance_state"]
            self.model.save()
            return Reply(200)
        raise bad_request("The lab changes HostRoles/maintenance_state only; restart through /requests")

    def get_host_components(self, ctx: "Ctx") -> Reply:
        return ctx.collection(ctx.views.all_host_components(), "HostComponent")

    def put_host_components(self, ctx: "Ctx") -> Reply:
        """PUT host_components?<predicate> with HostRoles/state: what the UI sends to start or stop components."""
        state = _merged(ctx.body, "HostRoles").get("state")
        if not state:
            raise bad_request("Nothing to update: give HostRoles/state")
        matches = ctx.views.all_host_components()
        if ctx.query.predicate:
            matches = [r for r in matches if ctx.query.predicate(r.values)]
        pairs = [(r.props["HostRoles"]["host_name"], r.props["HostRoles"]["component_name"]) for r in matches]
        info = _request_info(ctx.body)
        return ctx.accepted(self.ops.set_components_state(pairs, state, info.get("operation_level"),
                                                          info.get("context", ""), ctx.user))

    # --- services and components ----------------------------------------------------------------

    def get_services(self, ctx: "Ctx") -> Reply:
        return ctx.collection([ctx.views.service(s) for s in self.model.state["services"]], "Service")

    def get_service(self, ctx: "Ctx", service: str) -> Reply:
        self.model.require_service(service)
        return ctx.instance(ctx.views.service(service), "Service")

    def put_service(self, ctx: "Ctx", service: str) -> Reply:
        svc = self.model.require_service(service)
        info = _merged(ctx.body, "ServiceInfo")
        request_info = _request_info(ctx.body)
        if "maintenance_state" in info:
            if info["maintenance_state"] not in ("ON", "OFF"):
                raise bad_request(f"Invalid maintenance state: {info['maintenance_state']}")
            svc["maintenance_state"] = info["maintenance_state"]
            self.model.save()
            return Reply(200)
        if "state" not in info:
            raise bad_request("Nothing to update: give ServiceInfo/state or ServiceInfo/maintenance_state")
        request_id = self.ops.set_service_state(service, info["state"], request_info.get("operation_level"),
                                                request_info.get("context", ""), ctx.user)
        return ctx.accepted(request_id)

    def get_components(self, ctx: "Ctx", service: str) -> Reply:
        self.model.require_service(service)
        return ctx.collection([ctx.views.component(service, c) for c in COMPONENTS[service]], "Component")

    def get_component(self, ctx: "Ctx", service: str, comp: str) -> Reply:
        self.model.require_component(service, comp)
        return ctx.instance(ctx.views.component(service, comp), "Component")

    # --- requests and schedules -----------------------------------------------------------------

    def get_requests(self, ctx: "Ctx") -> Reply:
        """RequestResourceProvider.getResources: per property map of the predicate, the request named by
        Requests/id, else the newest (or, paged from the start, oldest) `max_results` requests, of one status if
        Requests/request_status names it; the predicate is applied to those afterwards, then the page is taken
        (QueryImpl.createRequest, ClusterControllerImpl.getPage)."""
        page = _page_request(ctx.query.params)
        max_results = page.size + page.offset if page else DEFAULT_PAGE_SIZE
        ascending = page is not None and page.start in ("start", "offset_start")
        everything = sorted(self.model.state["requests"].values(), key=lambda r: r["id"])
        chosen: dict[int, dict] = {}
        for props in ctx.query.property_maps():
            if props.get("Requests/id") is not None:
                found = self.model.state["requests"].get(str(props["Requests/id"]))
                if found is not None:
                    chosen[found["id"]] = found
                continue
            pool = everything
            if props.get("Requests/request_status") is not None:
                pool = [r for r in pool if self.ops.summary(r)["status"] == props["Requests/request_status"]]
            window = pool[:max_results] if ascending else pool[max(0, len(pool) - max_results):] if max_results else []
            chosen.update((r["id"], r) for r in window)
        items = [ctx.views.request(r) for _, r in sorted(chosen.items())]
        return ctx.collection(items, "Request", page=page.take if page else None)

    def post_request(self, ctx: "Ctx") -> Reply:
        items = _items(ctx.body)
        if len(items) != 1:
            raise ApiError(500, "An internal system exception occurred: "
                                "Multiple actions/commands cannot be executed at the same time.")
        request_id = self.ops.post_request(items[0], ctx.user)
        # No stage (every host left out): a synchronous result, so CreateHandler answers 201 with an empty body.
        return ctx.accepted(request_id) if request_id is not None else Reply(201)

    def get_request(self, ctx: "Ctx", id: str) -> Reply:
        return ctx.instance(ctx.views.request(self.ops.request(id)), "Request")

    def put_request(self, ctx: "Ctx", id: str) -> Reply:
        info = _merged(ctx.body, "Requests")
        if info.get("request_status") != "ABORTED":
            raise bad_request(f"{info.get('request_status')} is wrong value. The only allowed value for updating "
                              "request status is ABORTED")
        self.ops.abort(id, info.get("abort_reason", ""))
        return Reply(200)

    def get_tasks(self, ctx: "Ctx", id: str) -> Reply:
        request = self.ops.request(id)
        tasks = [ctx.views.task(self.model.state["tasks"][str(t)]) for stage in request["stages"] for t in stage]
        return ctx.collection(tasks, "Task")

    def get_task(self, ctx: "Ctx", id: str, task: str) -> Reply:
        request = self.ops.request(id)
        if not any(str(t) == task for stage in request["stages"] for t in stage):
            raise not_found(f"Task resource doesn't exist, taskId={task}")
        return ctx.instance(ctx.views.task(self.model.state["tasks"][task]), "Task")

    def get_schedules(self, ctx: "Ctx") -> Reply:
        schedules = self.model.state["schedules"].values()
        return ctx.collection([ctx.views.schedule(s) for s in schedules], "RequestSchedule")

    def post_schedule(self, ctx: "Ctx") -> Reply:
        resources = []
        for item in _items(ctx.body):
            schedule_id = self.ops.create_schedule(item, ctx.user)
            resources.append({"href": f"{ctx.views.cluster_href}/request_schedules/{schedule_id}",
                              "RequestSchedule": {"id": schedule_id}})
        return Reply(201, {"resources": resources})

    def get_schedule(self, ctx: "Ctx", id: str) -> Reply:
        return ctx.instance(ctx.views.schedule(self.ops.schedule(id), with_body=True), "RequestSchedule")

    def delete_schedule(self, ctx: "Ctx", id: str) -> Reply:
        self.ops.delete_schedule(id)
        return Reply(200)


@dataclass
class Ctx:
    views: Views
    query: Query
    body: Any
    user: str
    href: str

    def _check(self, sample: Resource | None, resource_type: str) -> None:
        if sample is None:
            return
        paths = list(self.query.fields or []) + self.query.predicate_props
        bad = [p for p in paths if not known(sample, p)]
        if bad:
            raise unsupported(bad, resource_type)

    def instance(self, resource: Resource, resource_type: str) -> Reply:
        self._check(resource, resource_type)
        body = render(resource, self.query.fields, True, self.query.minimal)
        if not self.query.minimal:
            body["href"] = self.href
        return Reply(200, _href_first(body))

    def collection(self, items: list[Resource], resource_type: str, everything: bool = False,
                   evaluate: bool = True, page: "Callable[[list[Resource], int], list[Resource]] | None" = None) -> Reply:
        self._check(items[0] if items else None, resource_type)
        total = len(items)
        if self.query.predicate and evaluate:
            items = [r for r in items if self.query.predicate(r.values)]
        if page is not None:
            items = page(items, total)
        fields = self.query.fields
        if everything:
            fields = ["*"]
        else:
            # Keys, the requested fields and the properties the predicate names (BaseProvider).
            fields = (fields or []) + list(self.query.predicate_props)
        out: dict[str, Any] = {} if self.query.minimal else {"href": self.href}
        out["items"] = [_href_first(render(r, fields, False, self.query.minimal)) for r in items]
        return Reply(200, out)

    def accepted(self, request_id: int | None) -> Reply:
        if request_id is None:
            return Reply(200)
        return Reply(202, {"href": f"{self.views.cluster_href}/requests/{request_id}",
                           "Requests": {"id": request_id, "status": "Accepted"}})


@dataclass(frozen=True)
class Page:
    """BaseRequest.getPageRequest: page_size (default 20) from `from` (start | offset) or to `to` (end | offset)."""

    start: str  # start | offset_start | end | offset_end
    size: int
    offset: int

    def take(self, items: list, total: int) -> list:
        """ClusterControllerImpl.getPageFromOffset / getPageToOffset over the filtered, sorted resources."""
        if self.start in ("start", "offset_start"):
            return items[self.offset:self.offset + self.size]
        newest_first = items[::-1]
        skip = 0 if self.start == "end" else max(0, min(total - 1 - self.offset, len(items)))
        return newest_first[skip:skip + self.size][::-1]


def _page_request(params: dict[str, str]) -> Page | None:
    """Ambari parses these with Integer.parseInt: a value that is not a number is a 500, as there."""
    size, start, end = params.get("page_size"), params.get("from"), params.get("to")
    if size is None and start is None and end is None:
        return None
    page_size = DEFAULT_PAGE_SIZE if size is None else int(size)
    if start is not None:
        return Page("start", page_size, 0) if start == "start" else Page("offset_start", page_size, int(start))
    if end is not None:
        return Page("end", page_size, 0) if end == "end" else Page("offset_end", page_size, int(end))
    return Page("start", page_size, 0)


def negotiate(accept: str | None) -> None:
    """Jersey 1.19 content negotiation against @Produces("text/plain"): 406 unless a media range of the Accept
    header with q > 0 admits text/plain (text/plain, text/*, */*); no or an empty Accept admits everything."""
    if accept is None or not accept.strip():
        return
    for item in accept.split(","):
        item = item.strip()
        if not item:
            continue
        kind, *params = [p.strip() for p in item.split(";")]
        match = MEDIA_RANGE.match(kind)
        q = 1.0
        for param in params:
            name, _, value = param.partition("=")
            if name.strip().lower() == "q":
                try:
                    q = float(value)
                except ValueError:
                    match = None
        if match is None or not 0 <= q <= 1:
            raise ServletError(400, "Bad Request")  # Jersey: "Bad Accept header"
        main, sub = match.group(1).lower(), match.group(2).lower()
        if q > 0 and main in ("*", PRODUCES[0]) and sub in ("*", PRODUCES[1]):
            return
    raise ServletError(406, "Not Acceptable")


def _parse_body(raw: bytes) -> Any:
    if not raw.strip():
        return None
    try:
        return stringify(json.loads(raw))
    except ValueError as exc:
        raise bad_request(f"Invalid Request: Malformed Request Body.  An exception occurred parsing "
                          f"the request body: {exc}") from None


def _href_first(body: dict) -> dict:
    return {"href": body["href"], **{k: v for k, v in body.items() if k != "href"}} if "href" in body else body


def _parse_query(raw: str) -> Query:
    try:
        return parse_query(raw)
    except QueryError as exc:
        raise bad_request(str(exc)) from None


def _items(body: Any) -> list[dict]:
    """A top-level object is a one-element array (JsonRequestBodyParser)."""
    if body is None:
        return []
    items = body if isinstance(body, list) else [body]
    if not all(isinstance(i, dict) for i in items):
        raise bad_request("Invalid Request: the body must be a JSON object or an array of objects")
    return items


def _merged(body: Any, category: str) -> dict:
    """The category's properties of the body, unwrapping `Body` (RequestInfo/Body wrappers)."""
    out: dict = {}
    for item in _items(body):
        inner = item.get("Body", item)
        section = inner.get(category) if isinstance(inner, dict) else None
        if isinstance(section, dict):
            out.update(section)
    return out


def _request_info(body: Any) -> dict:
    items = _items(body)
    return items[0].get("RequestInfo") or {} if items else {}


def stringify(value: Any) -> Any:
    """Every JSON scalar arrives as a string (JsonNode.asText); null stays null."""
    if isinstance(value, dict):
        return {k: stringify(v) for k, v in value.items()}
    if isinstance(value, list):
        return [stringify(v) for v in value]
    if isinstance(value, bool):
        return "true" if value else "false"
    if value is None or isinstance(value, str):
        return value
    return str(value)


def _content_length(headers: Any) -> int | None:
    """Content-Length as Jetty's HttpParser takes it: absent is 0; anything but one non-negative number is None."""
    values = headers.get_all("Content-Length") or []
    if not values:
        return 0
    if len(set(v.strip() for v in values)) != 1 or not values[0].strip().isdigit():
        return None
    return int(values[0].strip())


class Handler(BaseHTTPRequestHandler):
    endpoint: Endpoint  # set on a subclass per server
    _body_read = True
    server_version = "Jetty(9.4.12.v20180830)"
    sys_version = ""
    protocol_version = "HTTP/1.1"

    def log_message(self, fmt: str, *args: Any) -> None:
        # The cluster first: bench/fleet_noop.py counts requests per cluster and method from this log.
        log.info("%s %s %s", self.endpoint.model.spec.name, self.address_string(), fmt % args)

    def do_GET(self) -> None:
        self._serve("GET")

    def do_PUT(self) -> None:
        self._serve("PUT")

    def do_POST(self) -> None:
        self._serve("POST")

    def do_DELETE(self) -> None:
        self._serve("DELETE")

    def _serve(self, method: str) -> None:
        """Jetty parses the headers (a bad Content-Length is its 400), Spring authenticates (403/401) before
        anything reads the body, Jersey's CSRF filter runs (400), then the body is read, bounded."""
        length = _content_length(self.headers)
        self._body_read = not length and self.headers.get("Transfer-Encoding", "").lower() != "chunked"
        if length is None:
            self._send_bad_message("Invalid Content-Length Value")
            return
        user = self._authenticate()
        if user is None:
            return
        url = urlsplit(self.path)
        try:
            if method not in ("GET", "HEAD", "OPTIONS") and self.headers.get("X-Requested-By") is None:
                raise ApiError(400, CSRF_MESSAGE)
            raw = self._read_body(length)
            self._body_read = True
            query = url.query
            if method == "POST" and self.headers.get("X-Http-Method-Override", "").upper() == "GET":
                method = "GET"  # MethodOverrideFilter
            host = self.headers.get("Host") or f"{self.server.server_address[0]}:{self.server.server_address[1]}"
            reply = self.endpoint.handle(method, url.path, query, raw, f"http://{host}/api/v1", user,
                                         self.headers.get("Accept"))
        except ServletError as exc:
            self._send(Reply(exc.status, {"status": exc.status, "message": exc.message}), {}, gson=True)
            return
        except ApiError as exc:
            reply = Reply(exc.status, {"status": exc.status, "message": exc.message})
        except Exception:  # the Jetty error handler: a 500 that names a reference, never a traceback
            ref = secrets.token_hex(8)
            log.exception("internal error %s on %s %s", ref, method, self.path)
            reply = Reply(500, {"status": 500, "message": f"Internal server error, please refer the exception by "
                                                          f"{ref} in the server log file"})
        self._send(reply, {"User": user, "Set-Cookie": f"AMBARISESSIONID={secrets.token_hex(12)};Path=/;HttpOnly"})

    def _read_body(self, length: int) -> bytes:
        """The request body, at most MAX_BODY_BYTES (413 beyond, the connection then closed unread)."""
        if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
            return self._read_chunked()
        if length > MAX_BODY_BYTES:
            self.close_connection = True
            raise ServletError(413, "Payload Too Large")
        if not length:
            return b""
        try:
            raw = self.rfile.read(length)
        except TimeoutError:  # the connection's timeout: fewer bytes came than Content-Length announced
            raw = b""
        if len(raw) < length:
            self.close_connection = True
            raise ServletError(408, "Request Timeout")
        return raw

    def _read_chunked(self) -> bytes:
        try:
            return self._read_chunks()
        except TimeoutError:
            self.close_connection = True
            raise ServletError(408, "Request Timeout") from None

    def _read_chunks(self) -> bytes:
        out = bytearray()
        while True:
            line = self.rfile.readline(1024).split(b";", 1)[0].strip()
            try:
                size = int(line, 16)
            except ValueError:
                self.close_connection = True
                raise ServletError(400, "Bad Request") from None
            if size == 0:
                while self.rfile.readline(1024).strip():  # trailers
                    pass
                return bytes(out)
            if len(out) + size > MAX_BODY_BYTES:
                self.close_connection = True
                raise ServletError(413, "Payload Too Large")
            out += self.rfile.read(size)
            self.rfile.readline(8)

    def _send_bad_message(self, reason: str) -> None:
        """Jetty 9.4's answer to a request it cannot parse (HttpChannel.onBadMessage, ErrorHandler.badMessageError)."""
        data = f"<h1>Bad Message 400</h1><pre>reason: {reason}</pre>".encode()
        self.close_connection = True
        self.send_response(400, reason)
        self.send_header("Content-Type", "text/html;charset=iso-8859-1")
        self.send_header("Content-Length", str(len(data)))
        self.send_header("Connection", "close")
        self.end_headers()
        self.wfile.write(data)

    def _authenticate(self) -> str | None:
        creds = self.endpoint.credentials
        header = self.headers.get("Authorization", "")
        if header.startswith("Basic "):
            try:
                user, _, password = base64.b64decode(header[6:]).decode().partition(":")
            except (ValueError, UnicodeDecodeError):
                user, password = "", ""
            if hmac.compare_digest(user.encode(), creds.username.encode()) and \
                    hmac.compare_digest(password.encode(), creds.password.encode()):
                return user
            message = BAD_LOGIN
        else:
            message = "Missing authentication token"
        if creds.gateway:
            self._send(Reply(401, {"status": 401, "message": "Unauthorized"}, ),
                       {"WWW-Authenticate": 'Basic realm="HDInsight"'}, gson=True)
        else:
            self._send(Reply(403, {"status": 403, "message": message}), {}, gson=True)
        return None

    def _send(self, reply: Reply, headers: dict[str, str], gson: bool = False) -> None:
        if not self._body_read:
            self.close_connection = True  # an unread body must not be taken for the next request
            headers = {**headers, "Connection": "close"}
        if reply.body is None:
            data = b""
        else:
            # Handler errors and bodies use Jackson's spacing ("key" : v), Jetty's errors Gson's ("key": v).
            data = json.dumps(reply.body, indent=2, separators=(",", ": " if gson else " : ")).encode()
        self.send_response(reply.status)
        self.send_header("Content-Type", "text/plain")
        self.send_header("Content-Length", str(len(data)))
        for key, value in headers.items():
            self.send_header(key, value)
        self.end_headers()
        if data:
            self.wfile.write(data)


class BoundedServer(ThreadingHTTPServer):
    """A thread per connection, at most `max_connections` of them; one more is answered 503 and closed."""

    daemon_threads = True
    busy = (b"HTTP/1.1 503 Service Unavailable\r\nContent-Type: text/plain\r\nContent-Length: 0\r\n"
            b"Connection: close\r\n\r\n")

    def __init__(self, address: tuple[str, int], handler: type, max_connections: int) -> None:
        super().__init__(address, handler)
        self.slots = threading.BoundedSemaphore(max_connections)

    def process_request(self, request: Any, client_address: Any) -> None:
        if not self.slots.acquire(blocking=False):
            try:
                request.settimeout(1)
                request.sendall(self.busy)
            except OSError:
                pass
            self.shutdown_request(request)
            return
        try:
            super().process_request(request, client_address)
        except BaseException:
            self.slots.release()
            raise

    def process_request_thread(self, request: Any, client_address: Any) -> None:
        try:
            super().process_request_thread(request, client_address)
        finally:
            self.slots.release()


def make_server(endpoint: Endpoint, host: str, port: int, timeout: float = CONNECTION_TIMEOUT_S,
                max_connections: int = MAX_CONNECTIONS) -> ThreadingHTTPServer:
    """The endpoint's HTTP server: every connection read with `timeout` (BaseHTTPRequestHandler.setup), so a
    client that stops sending is dropped (while sending headers) or answered 408 (while sending a body)."""
    handler = type("BoundHandler", (Handler,), {"endpoint": endpoint, "timeout": timeout})
    return BoundedServer((host, port), handler, max_connections)
