"""The demo's sandbox around the local servers: the process's AWS environment pointed at
moto's server (:func:`local_aws_env`), and a local alert receiver that verifies Standard
Webhooks signatures (:class:`WebhookReceiver`). Nothing here talks to real AWS."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import os
import secrets
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from email.message import Message
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

AWS_KEYS = [
    "AWS_ENDPOINT_URL",
    "AWS_ACCESS_KEY_ID",
    "AWS_SECRET_ACCESS_KEY",
    "AWS_SESSION_TOKEN",
    "AWS_PROFILE",
    "AWS_DEFAULT_REGION",
    "AWS_REGION",
    "AWS_EC2_METADATA_DISABLED",
]


@contextmanager
def local_aws_env(endpoint: str) -> Iterator[None]:
    """Point every AWS client of this process at ``endpoint`` with throwaway credentials."""
    saved = {k: os.environ.get(k) for k in AWS_KEYS}
    for k in AWS_KEYS:
        os.environ.pop(k, None)
    os.environ.update(
        AWS_ENDPOINT_URL=endpoint,
        AWS_ACCESS_KEY_ID="demo",
        AWS_SECRET_ACCESS_KEY="demo",
        AWS_DEFAULT_REGION="us-east-1",
        AWS_REGION="us-east-1",
        AWS_EC2_METADATA_DISABLED="true",
    )
    try:
        yield
    finally:
        _restore(saved)


def _restore(saved: dict[str, str | None]) -> None:
    for k, v in saved.items():
        if v is None:
            os.environ.pop(k, None)
        else:
            os.environ[k] = v


def signature(key: bytes, msg_id: str, timestamp: str, body: bytes) -> str:
    """The Standard Webhooks ``v1`` signature of one delivery."""
    mac = hmac.new(key, f"{msg_id}.{timestamp}.".encode() + body, hashlib.sha256).digest()
    return "v1," + base64.b64encode(mac).decode()


class WebhookReceiver:
    """A local alert receiver that checks each Standard Webhooks signature."""

    def __init__(self) -> None:
        self.secret = "whsec_" + base64.b64encode(secrets.token_bytes(24)).decode()
        self.key = base64.b64decode(self.secret[len("whsec_") :])
        self.received: list[dict[str, Any]] = []
        self.rejected = 0
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: object) -> None:
                pass

            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                self.send_response(receiver.accept(self.headers, body))
                self.end_headers()

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hooks/reconcile"

    def accept(self, headers: Message, body: bytes) -> int:
        """Keep a delivery whose signature verifies (204); count and refuse others (401)."""
        expected = signature(
            self.key, headers.get("webhook-id", ""), headers.get("webhook-timestamp", ""), body
        )
        if expected not in headers.get("webhook-signature", "").split():
            self.rejected += 1
            return 401
        self.received.append(json.loads(body))
        return 204

    def __enter__(self) -> WebhookReceiver:
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()
