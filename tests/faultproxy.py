"""A small fault-injecting HTTP proxy for Elasticsearch tests.

It forwards every request to the upstream server and, when a rule matches, answers
instead with an error status (429/503 with ``Retry-After``), drops the connection
mid-response, pretends a point in time expired, or rewrites a response body. Rules fire a
bounded number of times, so a test can say "the 3rd, 5th and 7th search fail" and then
assert both that the faults happened and that the result is still exact.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import urllib3

HOP = {"connection", "keep-alive", "transfer-encoding", "content-length", "content-encoding"}


@dataclass
class Rule:
    """Fire ``action`` on matching requests number ``every``, 2 * ``every``, ... up to ``times``."""

    action: str  # status | drop | pit_expired | rewrite
    path: str = "/_search"
    method: str = "POST"
    every: int = 1
    times: int = 1
    status: int = 503
    retry_after: str | None = None
    rewrite: Callable[[dict[str, object]], dict[str, object]] | None = None
    seen: int = 0
    fired: int = 0

    def matches(self, method: str, path: str) -> bool:
        if method != self.method or self.path not in path:
            return False
        self.seen += 1
        if self.fired >= self.times or self.seen % self.every:
            return False
        self.fired += 1
        return True


@dataclass
class FaultProxy:
    upstream: str
    rules: list[Rule] = field(default_factory=list)
    #: Every request passed on or answered: (method, path with query).
    sent: list[tuple[str, str]] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)
    url: str = ""

    def add(self, rule: Rule) -> Rule:
        with self.lock:
            self.rules.append(rule)
        return rule

    def pick(self, method: str, path: str) -> Rule | None:
        with self.lock:
            self.sent.append((method, path))
            for rule in self.rules:
                if rule.matches(method, path):
                    return rule
        return None


def _handler(proxy: FaultProxy, pool: urllib3.PoolManager) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, *args: object) -> None:
            pass

        def _respond(self, status: int, body: bytes, headers: dict[str, str] | None = None) -> None:
            self.send_response(status)
            for k, v in (headers or {}).items():
                self.send_header(k, v)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def _handle(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length) if length else None
            rule = proxy.pick(self.command, self.path)
            json_ct = {"Content-Type": "application/json"}
            if rule is not None and rule.action == "status":
                headers = dict(json_ct)
                if rule.retry_after is not None:
                    headers["Retry-After"] = rule.retry_after
                err = {
                    "error": {"type": "es_rejected_execution_exception", "reason": "injected"},
                    "status": rule.status,
                }
                self._respond(rule.status, json.dumps(err).encode(), headers)
                return
            if rule is not None and rule.action == "pit_expired":
                err = {
                    "error": {
                        "root_cause": [
                            {
                                "type": "search_context_missing_exception",
                                "reason": "No search context found for id [1]",
                            }
                        ],
                        "type": "search_phase_execution_exception",
                        "reason": "all shards failed",
                    },
                    "status": 404,
                }
                self._respond(404, json.dumps(err).encode(), json_ct)
                return
            headers = {
                k: v
                for k, v in self.headers.items()
                if k.lower() not in HOP and k.lower() != "host"
            }
            resp = pool.request(
                self.command,
                proxy.upstream + self.path,
                body=body,
                headers=headers,
                preload_content=True,
                retries=False,
            )
            data = resp.data
            if rule is not None and rule.action == "drop":
                # Promise a full body, send half of it, hang up.
                self.send_response(resp.status)
                self.send_header(
                    "Content-Type", resp.headers.get("Content-Type", "application/json")
                )
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data[: max(1, len(data) // 2)])
                self.wfile.flush()
                self.close_connection = True
                self.connection.shutdown(2)
                return
            if rule is not None and rule.action == "rewrite" and rule.rewrite is not None:
                data = json.dumps(rule.rewrite(json.loads(data))).encode()
            out = {k: v for k, v in resp.headers.items() if k.lower() not in HOP}
            self._respond(resp.status, data, out)

        do_GET = do_POST = do_PUT = do_DELETE = do_HEAD = _handle

    return Handler


@contextmanager
def fault_proxy(upstream: str) -> Iterator[FaultProxy]:
    proxy = FaultProxy(upstream.rstrip("/"))
    pool = urllib3.PoolManager(maxsize=16)
    server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(proxy, pool))
    server.daemon_threads = True
    proxy.url = f"http://127.0.0.1:{server.server_address[1]}"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield proxy
    finally:
        server.shutdown()
        server.server_close()
