"""Schema drift benchmark: what the table schema costs the archive, and how fast a rewrite is.

    python -m bench.schema                  # 100k documents converted, 200k rows rewritten

Part 1 (client CPU per document, no server): the archive's converter over synthetic hits
whose columns fit the table, whose ``status`` drifted to keyword but converts (``"200"``
into bigint), and whose ``status`` half does not convert (``"OK"`` kept in ``_extra``).

Part 2 (local disk): an old archive of two windows, ``status`` bigint in the first and
string in the second (``--rows`` rows, one in ten ``"OK"``), rewritten into the table
schema by :func:`reconcile.archive.rewrite.migrate` (staged, verified, committed).
"""

from __future__ import annotations

import argparse
import resource
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

from reconcile.archive.config import ArchiveConfig
from reconcile.archive.convert import RowConverter
from reconcile.archive.layout import FileEntry, Manifest
from reconcile.archive.rewrite import migrate
from reconcile.archive.schema import FieldType, WindowSchema
from reconcile.storage import ObjectStore, open_store
from reconcile.timewin import Window, parse_time

STR, INT = FieldType("string"), FieldType("int")
COLUMNS = {
    "client": FieldType("struct", (("ip", STR), ("port", INT))),
    "latency": FieldType("float"),
    "method": STR,
    "path": STR,
    "status": INT,
}


def _hits(n: int, status: Callable[[int], Any]) -> list[dict[str, Any]]:
    source = {"@timestamp": "2026-11-20T13:00:00Z", "latency": 0.5, "path": "/api/v1/items"}
    source |= {"method": "GET", "client": {"ip": "10.0.0.1", "port": 443}}
    return [
        {
            "_id": str(i),
            "_index": "logs",
            "_source": {**source, "status": status(i)},
            "fields": {"@timestamp": ["1763643600000"]},
        }
        for i in range(n)
    ]


def convert_cpu(n: int) -> None:
    cases: list[tuple[str, frozenset[str], Callable[[int], Any]]] = [
        ("fits the table", frozenset(), lambda i: 200),
        ('drifted, converts ("200")', frozenset({"status"}), lambda i: "200"),
        (
            'drifted, half to _extra ("OK")',
            frozenset({"status"}),
            lambda i: "OK" if i % 2 else "200",
        ),
    ]
    for label, lenient, status in cases:
        schema = WindowSchema("@timestamp", COLUMNS, lenient=lenient)
        conv = RowConverter(schema, 10**6)
        hits = _hits(n, status)
        t0 = time.process_time()
        for i in range(0, n, 1024):
            conv.convert(hits[i : i + 1024])
        cpu = time.process_time() - t0
        print(f"  {label:32s} {cpu * 1e6 / n:6.2f} us CPU/doc  extra={schema.extra.as_dict()}")


def _old_window(store: ObjectStore, root: Path, w: Window, n: int, status: pa.Array) -> None:
    ts = pa.array([w.start_ms + i for i in range(n)], pa.int64())
    table = pa.table(
        {
            "_id": [f"{w.label}-{i}" for i in range(n)],
            "_index": ["logs"] * n,
            "@timestamp": ts.cast(pa.timestamp("ms", tz="UTC")),
            "status": status,
            "path": ["/api/v1/items"] * n,
            "_extra": pa.nulls(n, pa.string()),
        }
    )
    local = root / w.partition / "part-000-00000.parquet"
    local.parent.mkdir(parents=True, exist_ok=True)
    pq.write_table(table, local, compression="zstd")
    files = [FileEntry(local.name, n, local.stat().st_size)]
    m = Manifest(
        w.iso(), w.end.isoformat(), w.partition, "old", "0", "-", {"count": n}, n, 0, files
    )
    store.put_bytes(f"{w.partition}/_manifest.json", m.to_json())


def rewrite(rows: int) -> None:
    root = Path(tempfile.mkdtemp(prefix="reconcile-bench-schema-")) / "archive"
    store = open_store(str(root))
    _old_window(store, root, Window(parse_time("2026-10-05T10")), 10, pa.array(range(10)))
    drifted = pa.array(["200" if i % 10 else "OK" for i in range(rows)])
    _old_window(store, root, Window(parse_time("2026-10-06T10")), rows, drifted)
    t0, c0 = time.monotonic(), time.process_time()
    report = migrate(store, ArchiveConfig(), "@timestamp", "bench", rewrite=True)
    wall, cpu = time.monotonic() - t0, time.process_time() - c0
    done = sum(r.rows for r in report.rewritten)
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(
        f"  rewrote {done:,} rows: {wall:.2f} s wall, {cpu:.2f} s CPU ({done / wall:,.0f} rows/s), "
        f"_extra {report.rewritten[0].extra_counts}, peak RSS {rss:.0f} MB"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--docs", type=int, default=100_000, help="hits converted per case")
    parser.add_argument("--rows", type=int, default=200_000, help="rows of the drifted window")
    args = parser.parse_args()
    print(f"convert, {args.docs:,} hits per case:")
    convert_cpu(args.docs)
    print("rewrite:")
    rewrite(args.rows)


if __name__ == "__main__":
    main()
