"""Synthetic request logs: realistic ALB-fronted application log documents.

Used by the demo, the tests and the benchmarks. Deterministic for a seed.
"""

from __future__ import annotations

import random
from collections.abc import Iterable, Iterator
from datetime import datetime, timedelta
from typing import Any

import orjson

from ..timewin import Window

PATHS = [
    "/api/v1/orders",
    "/api/v1/users/{id}",
    "/api/v1/search",
    "/health",
    "/static/app.js",
    "/api/v2/cart",
]
METHODS = ["GET", "GET", "GET", "POST", "PUT", "DELETE"]
AGENTS = ["Mozilla/5.0 (X11; Linux x86_64)", "curl/8.5.0", "okhttp/4.12.0", "python-requests/2.32"]
STATUSES = [200] * 40 + [201, 204, 301, 304, 400, 401, 403, 404, 404, 500, 502, 503]


def request_doc(rng: random.Random, ts: datetime, service: str = "hub") -> dict[str, Any]:
    """One access-log document as Filebeat/Logstash would ship it (about 450 bytes of JSON)."""
    path = rng.choice(PATHS).replace("{id}", str(rng.randrange(1, 99999)))
    return {
        "@timestamp": ts.strftime("%Y-%m-%dT%H:%M:%S.") + f"{ts.microsecond // 1000:03d}Z",
        "service": service,
        "trace_id": f"{rng.getrandbits(128):032x}",
        "http": {
            "method": rng.choice(METHODS),
            "path": path,
            "status": rng.choice(STATUSES),
            "bytes_sent": rng.randrange(120, 65000),
            "duration_ms": round(rng.lognormvariate(3, 0.8), 2),
        },
        "client": {"ip": f"10.{rng.randrange(256)}.{rng.randrange(256)}.{rng.randrange(1, 255)}"},
        "user_agent": rng.choice(AGENTS),
        "host": {"name": f"{service}-{rng.randrange(6)}"},
        "tags": ["alb", service],
        "message": f"request served path={path}",
    }


def window_docs(
    window: Window, n: int, seed: int = 0, service: str = "hub"
) -> Iterator[dict[str, Any]]:
    """``n`` documents spread over the window, in time order."""
    rng = random.Random(f"{seed}-{window.label}")
    step = 3600.0 / max(n, 1)
    for i in range(n):
        yield request_doc(
            rng, window.start + timedelta(seconds=i * step + rng.random() * step * 0.5), service
        )


def daily_index(prefix: str, ts: datetime) -> str:
    return f"{prefix}{ts:%Y.%m.%d}"


def bulk_index(
    es: Any, docs: Iterable[tuple[str, dict[str, Any]]], chunk: int = 5000, refresh: bool = True
) -> int:
    """Index ``(index, doc)`` pairs with raw NDJSON bulk requests; raises on any item error."""
    total = 0
    lines: list[bytes] = []
    indices: set[str] = set()

    def flush() -> None:
        nonlocal total
        if not lines:
            return
        resp = es.bulk(operations=b"\n".join(lines) + b"\n")
        if resp.get("errors"):
            bad = next(i for i in resp["items"] if next(iter(i.values())).get("error"))
            raise RuntimeError(f"bulk indexing failed: {bad}")
        total += len(lines) // 2
        lines.clear()

    for index, doc in docs:
        indices.add(index)
        lines.append(orjson.dumps({"index": {"_index": index}}))
        lines.append(orjson.dumps(doc))
        if len(lines) >= 2 * chunk:
            flush()
    flush()
    if refresh and indices:
        es.indices.refresh(index=",".join(sorted(indices)))
    return total
