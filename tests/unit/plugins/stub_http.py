"""A scripted HTTP server on loopback for the Ambari client's transport tests: it answers each request with the
next scripted reply and records what it was sent (method, path, headers, body), so a test can show what reached it.

`forwarding` makes it a tampering proxy in front of the lab's API: chosen calls get a scripted answer (of the wrong
shape, or late), every other call goes through, so a module runs end to end against answers the lab never gives.
"""
from __future__ import annotations

import contextlib
import re
import threading
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Callable, Iterator


@dataclass
class Reply:
    status: int = 200
    body: bytes = b""
    headers: dict[str, str] = field(default_factory=dict)
    delay: float = 0.0  # seconds before the answer is sent (a write the server applied, answered too late)


@dataclass
class Seen:
    method: str
    path: str
    headers: dict[str, str]
    body: bytes = b""


class Stub:
    def __init__(self, replies: list[Reply] | Callable[["Stub"], Reply]) -> None:
        self.replies = replies
        self.seen: list[Seen] = []
        self.url = ""

    def next_reply(self) -> Reply:
        if callable(self.replies):
            return self.replies(self)
        return self.replies.pop(0) if len(self.replies) > 1 else self.replies[0]


@contextlib.contextmanager
def serving(stub: Stub) -> Iterator[Stub]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, *args: object) -> None:
            pass

        def _answer(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length) if length else b""
            stub.seen.append(Seen(self.command, self.path, dict(self.headers), body))
            reply = stub.next_reply()
            time.sleep(reply.delay)
            self.send_response(reply.status)
            for key, value in {"Content-Type": "text/plain", **reply.headers}.items():
                self.send_header(key, value)
            self.send_header("Content-Length", str(len(reply.body)))
            self.end_headers()
            self.wfile.write(reply.body)

        do_GET = do_PUT = do_POST = do_DELETE = _answer

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    stub.url = f"http://127.0.0.1:{server.server_address[1]}"
    threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()
    try:
        yield stub
    finally:
        server.shutdown()
        server.server_close()


Route = tuple[str, str, Callable[[], Reply] | Reply]


def forwarding(target: str, routes: list[Route]) -> Callable[[Stub], Reply]:
    """Replies for a Stub: the first route whose method and path regex match the call answers it (a Reply, or a
    callable made after forwarding the call, to answer late or differently what the target did apply); every
    other call is forwarded to `target` with its headers and body."""
    def reply(stub: Stub) -> Reply:
        seen = stub.seen[-1]
        for method, pattern, answer in routes:
            if seen.method == method and re.search(pattern, seen.path):
                if isinstance(answer, Reply):
                    return answer
                forward(target, seen)
                return answer()
        return forward(target, seen)
    return reply


def forward(target: str, seen: Seen) -> Reply:
    headers = {k: v for k, v in seen.headers.items() if k.lower() not in ("host", "content-length", "connection")}
    request = urllib.request.Request(target + seen.path, data=seen.body or None, method=seen.method, headers=headers)
    try:
        with urllib.request.urlopen(request, timeout=30) as resp:
            return Reply(resp.status, resp.read())
    except urllib.error.HTTPError as err:
        return Reply(err.code, err.read())
