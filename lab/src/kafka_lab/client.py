"""A small Ambari REST client for the lab's own command line and tests (urllib, no dependencies)."""
from __future__ import annotations

import base64
import json
import ssl
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from typing import Any

from kafka_lab.errors import LabError

TERMINAL = ("COMPLETED", "FAILED", "TIMEDOUT", "ABORTED", "SKIPPED_FAILED")


@dataclass(frozen=True)
class Response:
    status: int
    text: str
    headers: dict[str, str]

    def json(self) -> Any:
        return json.loads(self.text) if self.text else None


@dataclass(frozen=True)
class AmbariClient:
    url: str  # http://127.0.0.1:8080
    username: str
    password: str = field(repr=False)  # never in reprs, test reports or logs
    ca_file: str | None = None  # an https URL's CA (the secure lab's pki/ca.pem); None: the system's

    def call(self, method: str, path: str, body: Any = None, headers: dict[str, str] | None = None,
             auth: bool = True, csrf: bool = True) -> Response:
        data = None if body is None else (body if isinstance(body, (bytes, str)) else json.dumps(body))
        req = urllib.request.Request(self.url + "/api/v1/" + path.lstrip("/"), method=method,
                                     data=data.encode() if isinstance(data, str) else data)
        if auth:
            token = base64.b64encode(f"{self.username}:{self.password}".encode()).decode()
            req.add_header("Authorization", f"Basic {token}")
        if csrf:
            req.add_header("X-Requested-By", "kafka-lab")
        req.add_header("Accept", "*/*")  # as curl: Ambari's Jersey answers 406 to an Accept without text/plain
        for key, value in (headers or {}).items():
            req.add_header(key, value)
        try:
            context = ssl.create_default_context(cafile=self.ca_file) if self.url.startswith("https:") else None
            with urllib.request.urlopen(req, timeout=30, context=context) as resp:
                return Response(resp.status, resp.read().decode(), dict(resp.headers))
        except urllib.error.HTTPError as err:
            return Response(err.code, err.read().decode(), dict(err.headers))

    def get(self, path: str) -> Any:
        resp = self.call("GET", path)
        if resp.status != 200:
            raise LabError(f"GET {path} answered {resp.status}: {resp.text[:300]}")
        return resp.json()

    def wait_request(self, cluster: str, request_id: int, timeout_s: float) -> dict:
        """Poll a request until it ends; returns its Requests dict."""
        deadline = time.monotonic() + timeout_s
        while True:
            info = self.get(f"clusters/{cluster}/requests/{request_id}?fields=Requests/*")["Requests"]
            if info["request_status"] in TERMINAL and info["end_time"] != -1:
                return info
            if time.monotonic() > deadline:
                raise LabError(f"Timed out after {timeout_s:.0f}s waiting for request {request_id} on {cluster} "
                               f"(last state: {info['request_status']}, {info['progress_percent']:.0f}%)")
            time.sleep(0.3)
