"""Build archives for check tests directly in the real layout, and count object requests.

Parquet part files and ``_manifest.json`` are written exactly where ``reconcile archive``
puts them (``dt=YYYY-MM-DD/hour=HH/part-SSS-NNNNN.parquet``), so the check reads the same
bytes it would read in production, without Elasticsearch.
"""

from __future__ import annotations

import io
import threading
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
import urllib3

from reconcile.archive.layout import MANIFEST, FileEntry, Manifest, part_name, reject_name
from reconcile.job import JobSpec, load_job
from reconcile.storage import ObjectStore
from reconcile.timewin import Window

SCHEMA = pa.schema(
    [
        pa.field("@timestamp", pa.timestamp("ms", tz="UTC")),
        pa.field("_id", pa.string()),
        pa.field("message", pa.string()),
        pa.field(
            "http",
            pa.struct([pa.field("status", pa.int64()), pa.field("path", pa.string())]),
        ),
        pa.field("tags", pa.list_(pa.string())),
    ]
)


def part_bytes(window: Window, rows: int, seed: int = 0) -> bytes:
    """A Parquet part file of ``rows`` log rows inside ``window``."""
    step = 3_600_000 // max(rows, 1)
    start = window.start_ms
    table = pa.table(
        {
            "@timestamp": pa.array([start + i * step for i in range(rows)], pa.int64()).cast(
                pa.timestamp("ms", tz="UTC")
            ),
            "_id": [f"{seed}-{window.label}-{i}" for i in range(rows)],
            "message": ["request served"] * rows,
            "http": [{"status": 200, "path": "/api"}] * rows,
            "tags": [["alb"]] * rows,
        },
        schema=SCHEMA,
    )
    buf = io.BytesIO()
    pq.write_table(table, buf, compression="zstd", row_group_size=max(rows, 1))
    return buf.getvalue()


def write_window(
    store: ObjectStore,
    window: Window,
    files: list[int],
    *,
    manifest: bool = True,
    quarantined: int = 0,
    source_count: int | None = None,
) -> Manifest | None:
    """Write a window's part files (``files`` = rows per file) and, by default, its manifest."""
    entries = []
    for seq, rows in enumerate(files):
        name = part_name(0, seq)
        data = part_bytes(window, rows, seed=seq)
        store.put_bytes(f"{window.partition}/{name}", data)
        entries.append(FileEntry(name, rows, len(data)))
    rejects = []
    if quarantined:
        data = b"\x1f\x8b" + b"0" * 40  # content is not read by the check; presence is
        store.put_bytes(f"{window.partition}/{reject_name(0)}", data)
        rejects.append(FileEntry(reject_name(0), quarantined, len(data)))
    if not manifest:
        return None
    rows = sum(files)
    m = Manifest(
        window_start=window.iso(),
        window_end=Window(window.end).iso(),
        partition=window.partition,
        run_id="test-run",
        tool_version="test",
        committed_at=datetime.now(UTC).isoformat(timespec="seconds"),
        source={"count": source_count if source_count is not None else rows + quarantined},
        rows=rows,
        quarantined=quarantined,
        files=entries,
        rejects=rejects,
    )
    store.put_bytes(f"{window.partition}/{MANIFEST}", m.to_json())
    return m


def hours(start: str, n: int) -> list[Window]:
    first = Window(datetime.fromisoformat(start).replace(tzinfo=UTC))
    return [Window(first.start + timedelta(hours=i)) for i in range(n)]


def check_spec(archive: str, **extra: Any) -> JobSpec:
    """A job spec with dotted-key overrides, e.g. ``**{"check.grace": "30m"}``.

    These archives are built without Elasticsearch, so the ``indexed`` figure is off unless
    a test turns it on; settle is zero so any grace is valid."""
    overrides = {
        "name": ("hub", "test"),
        "archive.uri": (archive, "test"),
        "check.read_indexed": (False, "test"),
        "archive.settle": ("0s", "test"),
    }
    overrides.update({k: (v, "test") for k, v in extra.items()})
    return load_job(None, overrides, environ={})


# -- counting proxy in front of moto's S3 ------------------------------------------------


@dataclass
class RequestLog:
    url: str = ""
    counts: Counter[str] = field(default_factory=Counter)
    lock: threading.Lock = field(default_factory=threading.Lock)

    @property
    def total(self) -> int:
        return sum(self.counts.values())

    def reset(self) -> None:
        with self.lock:
            self.counts.clear()


_HOP = {"connection", "keep-alive", "transfer-encoding", "content-length", "host"}


@contextmanager
def counting_proxy(upstream: str) -> Iterator[RequestLog]:
    """Forward HTTP to ``upstream`` and count requests by method (HEAD, GET, LIST, PUT...)."""
    log = RequestLog()
    pool = urllib3.PoolManager(maxsize=32)

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, *args: object) -> None:
            pass

        def _handle(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length) if length else None
            kind = self.command
            if kind == "GET" and ("list-type=" in self.path or "delimiter=" in self.path):
                kind = "LIST"
            with log.lock:
                log.counts[kind] += 1
            headers = {k: v for k, v in self.headers.items() if k.lower() not in _HOP}
            resp = pool.request(
                self.command,
                upstream + self.path,
                body=body,
                headers=headers,
                preload_content=True,
                retries=False,
                decode_content=False,
            )
            self.send_response(resp.status)
            for k, v in resp.headers.items():
                if k.lower() not in _HOP:
                    self.send_header(k, v)
            length_header = resp.headers.get("Content-Length")
            if self.command == "HEAD" and length_header is not None:
                self.send_header("Content-Length", length_header)
            else:
                self.send_header("Content-Length", str(len(resp.data)))
            self.end_headers()
            if self.command != "HEAD":
                self.wfile.write(resp.data)

        do_GET = do_POST = do_PUT = do_DELETE = do_HEAD = _handle

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    log.url = f"http://127.0.0.1:{server.server_address[1]}"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield log
    finally:
        server.shutdown()
        server.server_close()
