"""A local HTTP receiver for alert tests: records requests, verifies Standard Webhooks
signatures with the reference implementation, answers with scripted responses."""

from __future__ import annotations

import json
import threading
import time
from collections import deque
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from standardwebhooks.webhooks import Webhook, WebhookVerificationError


@dataclass
class Received:
    path: str
    headers: dict[str, str]
    body: bytes
    at: float
    verified: bool | None = None
    """True/False when the receiver has a secret; None otherwise."""
    verify_error: str | None = None

    def json(self) -> Any:
        return json.loads(self.body)


@dataclass
class Reply:
    status: int = 200
    body: str = "ok"
    headers: dict[str, str] = field(default_factory=dict)
    delay: float = 0.0


class Receiver:
    """A threaded HTTP server on 127.0.0.1. ``script`` replies are used in order, then 200."""

    def __init__(self, port: int, secret: str | None = None) -> None:
        self.port = port
        self.secret = secret
        self.received: list[Received] = []
        self.script: deque[Reply] = deque()
        self._lock = threading.Lock()
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> Receiver:
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: Any) -> None:
                pass

            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length", "0"))
                body = self.rfile.read(length)
                rec = Received(
                    self.path, {k.lower(): v for k, v in self.headers.items()}, body, time.time()
                )
                if receiver.secret and "webhook-id" in rec.headers:
                    try:
                        Webhook(receiver.secret).verify(body, rec.headers)
                        rec.verified = True
                    except WebhookVerificationError as exc:
                        rec.verified, rec.verify_error = False, str(exc)
                with receiver._lock:
                    receiver.received.append(rec)
                    reply = receiver.script.popleft() if receiver.script else Reply()
                if reply.delay:
                    time.sleep(reply.delay)
                data = reply.body.encode()
                self.send_response(reply.status)
                for k, v in reply.headers.items():
                    self.send_header(k, v)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

        self._server = ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    def reply(self, *replies: Reply) -> None:
        with self._lock:
            self.script.extend(replies)

    def at(self, path: str) -> list[Received]:
        with self._lock:
            return [r for r in self.received if r.path == path]

    def clear(self) -> None:
        with self._lock:
            self.received.clear()
            self.script.clear()
