"""AWS SigV4 for Amazon OpenSearch Service: the requests the source sends verify against a
signature that a local HTTP receiver recomputes on its own with botocore from what it
received (method, path, query, the signed headers, the body), with the test credentials
the suite puts in the environment (the standard credential chain finds them)."""

from __future__ import annotations

import hashlib
import json
import threading
from collections.abc import Iterator
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import urlsplit

import pytest
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials

from reconcile.source.config import SourceConfig
from reconcile.source.factory import open_source
from reconcile.source.opensearch import OpenSearchSource
from reconcile.timewin import Window

ROOT = {"version": {"distribution": "opensearch", "number": "2.19.0"}, "tagline": "x"}


def verify(
    method: str,
    path: str,
    headers: dict[str, str],
    body: bytes,
    region: str,
    secret: str,
    service: str = "es",
) -> str:
    """``ok`` or why the request's signature is wrong, recomputed from scratch."""
    auth = headers.get("authorization", "")
    if not auth.startswith("AWS4-HMAC-SHA256 "):
        return f"not SigV4: {auth!r}"
    parts = dict(p.strip().split("=", 1) for p in auth[len("AWS4-HMAC-SHA256 ") :].split(","))
    access_key, date, cred_region, scope_service, _ = parts["Credential"].split("/")
    if (access_key, cred_region, scope_service) != ("testing", region, service) or not headers.get(
        "x-amz-date", ""
    ).startswith(date):
        return f"credential scope {parts['Credential']}"
    if headers.get("x-amz-content-sha256") != hashlib.sha256(body).hexdigest():
        return "payload hash does not match the body received"
    signed = parts["SignedHeaders"].split(";")
    request = AWSRequest(
        method=method,
        url=f"http://{headers['host']}{path}",
        data=body,
        headers={h: headers[h] for h in signed},
    )
    request.context["timestamp"] = headers["x-amz-date"]
    signer = SigV4Auth(Credentials("testing", secret), service, region)
    canonical = signer.canonical_request(request)
    expected = signer.signature(signer.string_to_sign(request, canonical), request)
    if expected != parts["Signature"]:
        return f"signature mismatch\n{canonical}"
    return "ok"


class Receiver:
    def __init__(self, region: str) -> None:
        self.region = region
        self.verdicts: list[tuple[str, str, str]] = []
        self.tamper = False
        self.secret = "testing"  # what AWS_SECRET_ACCESS_KEY holds in the tests
        self.service = "es"
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: object) -> None:
                pass

            def _handle(self) -> None:
                length = int(self.headers.get("content-length") or 0)
                body = self.rfile.read(length) if length else b""
                if receiver.tamper and body:
                    body = body.replace(b"gte", b"gt ")  # a proxy that changed the query
                headers = {k.lower(): v for k, v in self.headers.items()}
                verdict = verify(
                    self.command,
                    self.path,
                    headers,
                    body,
                    receiver.region,
                    receiver.secret,
                    receiver.service,
                )
                receiver.verdicts.append((self.command, urlsplit(self.path).path, verdict))
                if verdict != "ok":
                    self._send(403, {"message": verdict})
                elif urlsplit(self.path).path == "/":
                    self._send(200, ROOT)
                else:
                    self._send(200, {"count": 7})

            def _send(self, status: int, doc: dict[str, Any]) -> None:
                data = json.dumps(doc).encode()
                self.send_response(status)
                self.send_header("content-type", "application/json")
                self.send_header("content-length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            do_GET = do_POST = do_DELETE = _handle

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    r = Receiver("eu-west-1")
    t = threading.Thread(target=r.server.serve_forever, daemon=True)
    t.start()
    yield r
    r.server.shutdown()
    r.server.server_close()


def test_signed_requests_verify_independently(receiver: Receiver) -> None:
    cfg = SourceConfig(
        url=receiver.url, index="hub-logs-*", aws_sigv4=True, aws_region="eu-west-1", max_retries=0
    )
    src = open_source(cfg)
    assert isinstance(src, OpenSearchSource)  # SigV4 means Amazon OpenSearch Service
    assert src.ping() == "2.19.0"
    assert src.count(Window(datetime(2026, 11, 20, 13, tzinfo=UTC))) == 7
    assert receiver.verdicts == [("GET", "/", "ok"), ("POST", "/hub-logs-*/_count", "ok")]


def test_serverless_requests_are_signed_for_aoss(receiver: Receiver) -> None:
    receiver.service = "aoss"
    cfg = SourceConfig(
        url=receiver.url,
        index="hub-logs-*",
        aws_sigv4=True,
        aws_service="aoss",
        aws_region="eu-west-1",
        max_retries=0,
    )
    assert open_source(cfg).count(Window(datetime(2026, 11, 20, 13, tzinfo=UTC))) == 7
    assert receiver.verdicts == [("POST", "/hub-logs-*/_count", "ok")]


def test_a_changed_body_fails_verification(receiver: Receiver) -> None:
    from reconcile.errors import SourceError

    cfg = SourceConfig(url=receiver.url, aws_sigv4=True, aws_region="eu-west-1", max_retries=0)
    receiver.tamper = True
    with pytest.raises(SourceError, match="403"):
        open_source(cfg).count(Window(datetime(2026, 11, 20, 13, tzinfo=UTC)))
    assert receiver.verdicts[-1][2] == "payload hash does not match the body received"


def test_a_signature_made_with_another_secret_fails_verification(receiver: Receiver) -> None:
    from reconcile.errors import SourceError

    receiver.secret = "another"
    cfg = SourceConfig(url=receiver.url, aws_sigv4=True, aws_region="eu-west-1", max_retries=0)
    with pytest.raises(SourceError, match="403"):
        open_source(cfg).ping()
    assert receiver.verdicts[-1][2].startswith("signature mismatch")


def test_a_region_is_required(monkeypatch: pytest.MonkeyPatch) -> None:
    from reconcile.errors import ConfigError

    for var in ("AWS_REGION", "AWS_DEFAULT_REGION"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("AWS_CONFIG_FILE", "/nonexistent")
    with pytest.raises(ConfigError, match="needs a region"):
        open_source(SourceConfig(aws_sigv4=True))
