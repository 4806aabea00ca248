"""The results history: every judged finding, as Parquet in object storage.

Layout (Hive, Athena partition projection on ``kind`` and ``dt``)::

    <results>/kind=logflow/dt=YYYY-MM-DD/<job>.parquet
    <results>/kind=egress/dt=YYYY-MM-DD/<job>.parquet

One file per (kind, day, job). Writing merges: rows for the same (resource, window) are
replaced by the new judgement, others are kept, so re-checking an hour after a backfill
replaces that hour and nothing else.
"""

from __future__ import annotations

import io
from collections import defaultdict
from datetime import UTC, datetime

import orjson
import pyarrow as pa
import pyarrow.parquet as pq

from .findings import Finding
from .storage import ObjectStore

SCHEMA = pa.schema(
    [
        pa.field("job", pa.string(), nullable=False),
        pa.field("kind", pa.string(), nullable=False),
        pa.field("resource", pa.string(), nullable=False),
        pa.field("window_start", pa.timestamp("ms", tz="UTC"), nullable=False),
        pa.field("status", pa.string(), nullable=False),
        pa.field("expected", pa.int64()),
        pa.field("archived", pa.int64()),
        pa.field("ratio", pa.float64()),
        pa.field("bytes", pa.int64()),
        pa.field("baseline", pa.float64()),
        pa.field("threshold", pa.float64()),
        pa.field("message", pa.string()),
        pa.field("detail", pa.string()),
        pa.field("judged_at", pa.timestamp("ms", tz="UTC"), nullable=False),
        # Added with the three-hop check; last, as Athena's ALTER TABLE ADD COLUMNS appends.
        pa.field("indexed", pa.int64()),
        pa.field("hop", pa.string()),
    ]
)

#: Columns stored in the file; ``kind`` lives in the partition path as well, as Athena expects.
FILE_SCHEMA = pa.schema([f for f in SCHEMA if f.name != "kind"])


def results_key(kind: str, day: str, job: str) -> str:
    return f"kind={kind}/dt={day}/{job}.parquet"


def _rows(findings: list[Finding], judged_at: datetime) -> list[dict[str, object]]:
    return [
        {
            "job": f.job,
            "resource": f.resource,
            "window_start": f.window_start,
            "status": f.status,
            "expected": f.expected,
            "archived": f.archived,
            "ratio": f.ratio,
            "bytes": f.bytes,
            "baseline": f.baseline,
            "threshold": f.threshold,
            "message": f.message,
            "detail": orjson.dumps(f.detail_dict(), option=orjson.OPT_NON_STR_KEYS).decode(),
            "judged_at": judged_at,
            "indexed": f.indexed,
            "hop": f.hop,
        }
        for f in findings
    ]


def write_findings(
    store: ObjectStore, findings: list[Finding], judged_at: datetime | None = None
) -> list[str]:
    """Merge findings into the results dataset; returns the keys written."""
    judged_at = judged_at or datetime.now(UTC)
    groups: dict[tuple[str, str, str], list[Finding]] = defaultdict(list)
    for f in findings:
        groups[(f.kind, f.window_start.strftime("%Y-%m-%d"), f.job)].append(f)
    written = []
    for (kind, day, job), group in sorted(groups.items()):
        key = results_key(kind, day, job)
        new = pa.Table.from_pylist(_rows(group, judged_at), schema=FILE_SCHEMA)
        old = read_results_file(store, key)
        if old is not None and old.num_rows:
            replaced = {(f.resource, f.window_start) for f in group}
            keep = [
                i
                for i, (r, w) in enumerate(
                    zip(
                        old.column("resource").to_pylist(),
                        old.column("window_start").to_pylist(),
                        strict=True,
                    )
                )
                if (r, w) not in replaced
            ]
            new = pa.concat_tables([conform(old.take(pa.array(keep, pa.int64()))), new])
        new = new.sort_by([("window_start", "ascending"), ("resource", "ascending")])
        buf = io.BytesIO()
        pq.write_table(new, buf, compression="zstd")
        store.put_bytes(key, buf.getvalue())
        written.append(key)
    return written


def conform(table: pa.Table) -> pa.Table:
    """A results file in the current schema; columns added since it was written are null."""
    for f in FILE_SCHEMA:
        if f.name not in table.column_names:
            table = table.append_column(f, pa.nulls(table.num_rows, f.type))
    return table.select(FILE_SCHEMA.names).cast(FILE_SCHEMA)


def read_results_file(store: ObjectStore, key: str) -> pa.Table | None:
    data = store.get_bytes(key)
    if data is None:
        return None
    return pq.read_table(io.BytesIO(data))


def read_results(store: ObjectStore, kind: str) -> pa.Table:
    """Every stored finding of one kind (small data: one file per job and day)."""
    tables = []
    for obj in store.list(f"kind={kind}/"):
        if obj.key.endswith(".parquet"):
            t = read_results_file(store, obj.key)
            if t is not None:
                tables.append(conform(t))
    if not tables:
        return FILE_SCHEMA.empty_table()
    return pa.concat_tables(tables)
