"""Rewriting archived windows into the table schema, and ``reconcile schema`` (migrate).

The survey of what is there is :mod:`reconcile.archive.survey`. :func:`rewrite_window` rewrites one such window into the table schema through the same
commit as the archive: the converted files go to ``_staging/<run>/``, are read back and
verified (rows per file, column types), the manifest is written to staging (the commit
point) and :func:`~reconcile.archive.commit.roll_forward` moves them into the partition. A
kill at any point leaves either the old or the new files committed, never a mix that
counts wrong; the next survey rolls a committed rewrite forward or drops an uncommitted one.
"""

from __future__ import annotations

import dataclasses
import logging
import shutil
import tempfile
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import orjson
import pyarrow as pa
import pyarrow.parquet as pq

from .. import __version__
from ..errors import ReconcileError, VerificationError
from ..lease import LEASE_KEY, Lease
from ..storage import ObjectStore
from ..timewin import Window
from .commit import recover, roll_forward
from .config import ArchiveConfig
from .layout import MANIFEST, FileEntry, Manifest, staging_prefix, window_prefix
from .normalize import MOVED, column_normalizer
from .read import ArchiveReader
from .schema import EXTRA_COLUMN, WindowSchema
from .survey import Survey, store_table, survey
from .table import TableSchema
from .writer import write_file

log = logging.getLogger(__name__)


def _plain(v: Any) -> Any:
    """Parquet values as they came from JSON (dates as ISO 8601, decimals as numbers)."""
    if isinstance(v, datetime):
        return v.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")
    if isinstance(v, date):
        return v.isoformat()
    if isinstance(v, Decimal):
        return int(v) if v == v.to_integral_value() else str(v)
    if isinstance(v, dict):
        return {k: _plain(x) for k, x in v.items()}
    if isinstance(v, list):
        return [_plain(x) for x in v]
    return v


def conform_table(data: pa.Table, target: WindowSchema) -> tuple[pa.Table, Counter[str]]:
    """``data`` in ``target``'s types: values converted losslessly or moved to ``_extra``.

    Returns the table and, per field, how many rows moved a value to ``_extra``."""
    n = data.num_rows
    moved: dict[int, dict[str, Any]] = defaultdict(dict)
    arrays: list[pa.Array | pa.ChunkedArray | None] = []
    for f in target.arrow:
        if f.name == EXTRA_COLUMN:
            arrays.append(None)
        elif f.name not in data.column_names:
            arrays.append(pa.nulls(n, f.type))
        elif data.column(f.name).type == f.type:
            arrays.append(data.column(f.name))
        elif f.name in target.columns:
            arrays.append(_convert(data.column(f.name), target, f, moved))
        else:  # _id, _index, the timestamp: same values, another physical type
            arrays.append(data.column(f.name).cast(f.type))
    arrays[target.arrow.get_field_index(EXTRA_COLUMN)] = _merged_extra(data, n, moved)
    counts: Counter[str] = Counter()
    for extra in moved.values():
        counts.update(extra.keys())
    return pa.Table.from_arrays(arrays, schema=target.arrow), counts


def _convert(
    column: pa.ChunkedArray, target: WindowSchema, f: pa.Field, moved: dict[int, dict[str, Any]]
) -> pa.Array:
    norm = column_normalizer(target.columns[f.name], f.name)
    out: list[Any] = []
    for i, value in enumerate(column.to_pylist()):
        if value is None:
            out.append(None)
            continue
        extra: dict[str, Any] = {}
        fixed = norm(_plain(value), f.name, extra)
        out.append(None if fixed is MOVED else fixed)
        if extra:
            moved[i].update(extra)
    return pa.array(out, type=f.type)


def _merged_extra(data: pa.Table, n: int, moved: dict[int, dict[str, Any]]) -> pa.Array:
    old = data.column(EXTRA_COLUMN).to_pylist() if EXTRA_COLUMN in data.column_names else [None] * n
    if not moved:
        return pa.array(old, pa.string())
    out = []
    for i, text in enumerate(old):
        if i not in moved:
            out.append(text)
            continue
        merged = orjson.loads(text) if text else {}
        merged.update(moved[i])
        out.append(orjson.dumps(merged, option=orjson.OPT_NON_STR_KEYS).decode())
    return pa.array(out, pa.string())


@dataclass(slots=True)
class RewriteResult:
    window: Window
    rows: int
    files: int
    columns: list[str]
    extra_counts: dict[str, int]


def rewrite_window(
    store: ObjectStore,
    window: Window,
    table: TableSchema,
    run_id: str,
    columns: list[str],
    cfg: ArchiveConfig,
) -> RewriteResult:
    """Rewrite one committed window into ``table`` through staging and the manifest commit."""
    recover(store, window)
    raw = store.get_bytes(window_prefix(window) + MANIFEST)
    if raw is None:
        raise ReconcileError(f"window {window.label} is not committed")
    manifest = Manifest.from_json(raw)
    target = dataclasses.replace(table.window_schema, lenient=frozenset(columns))
    stage = staging_prefix(run_id, window)
    fs, base = store.arrow()
    counts: Counter[str] = Counter()
    entries = []
    scratch = Path(tempfile.mkdtemp(prefix="reconcile-rewrite-", dir=cfg.tmp_dir))
    try:
        for entry in manifest.files:
            with fs.open_input_file(f"{base}/{window_prefix(window)}{entry.path}") as fh:
                old = pq.read_table(fh)
            new, moved = conform_table(old, target)
            counts.update(moved)
            local = scratch / entry.path
            write_file(new, local, cfg)
            store.put_file(local, stage + entry.path)
            entries.append(FileEntry(entry.path, new.num_rows, local.stat().st_size))
            local.unlink()
        _verify(store, stage, manifest, entries, target.arrow)
        if store.get_bytes(window_prefix(window) + MANIFEST) != raw:
            raise ReconcileError(
                f"window {window.label} was committed again while it was rewritten; "
                "not committed (run reconcile schema --rewrite again)"
            )
        extra = Counter(manifest.extra_counts)
        extra.update(counts)
        committed = dataclasses.replace(
            manifest,
            run_id=run_id,
            tool_version=__version__,
            committed_at=datetime.now(UTC).isoformat(timespec="seconds").replace("+00:00", "Z"),
            files=entries,
            schema={
                "fingerprint": target.fingerprint,
                "columns": {f.name: str(f.type) for f in target.arrow},
                "drift": manifest.schema.get("drift", []),
                "rewritten": {
                    "from_run_id": manifest.run_id,
                    "from_fingerprint": manifest.schema.get("fingerprint"),
                    "columns": columns,
                    "moved_to_extra": dict(sorted(counts.items())),
                },
            },
            table_schema_version=table.version,
            extra_counts=dict(sorted(extra.items())),
        )
        store.put_bytes(stage + MANIFEST, committed.to_json())  # commit point
    except BaseException:
        leftovers = [o.key for o in store.list(stage)]
        if leftovers:
            store.delete(leftovers)
        raise
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    roll_forward(store, stage, window)
    log.info(
        "window %s rewritten into table schema v%d: %s; %d values kept in _extra",
        window.label,
        table.version,
        ", ".join(columns),
        sum(counts.values()),
        extra={"event": "rewrite", "window": window.label, "columns": columns},
    )
    return RewriteResult(window, committed.rows, len(entries), columns, dict(counts))


def _verify(
    store: ObjectStore,
    stage: str,
    manifest: Manifest,
    entries: list[FileEntry],
    want: pa.Schema,
) -> None:
    """Read the staged files back: same rows per file as committed, the table's types."""

    reader = ArchiveReader(store, 1)
    before = {f.path: f.rows for f in manifest.files}
    for entry in entries:
        rows = reader.footer_rows(stage + entry.path, entry.bytes)
        schema = reader.footer_schema(stage + entry.path, entry.bytes)
        if rows != before[entry.path] or rows != entry.rows:
            raise VerificationError(
                f"{stage}{entry.path}: {rows} rows read back, {before[entry.path]} committed; "
                "not committed"
            )
        wrong = [f.name for f in schema if want.field(f.name).type != f.type]
        if wrong:
            raise VerificationError(f"{stage}{entry.path}: {wrong} not in the table's types")
    if sum(e.rows for e in entries) != manifest.rows:
        raise VerificationError(f"{stage}: rows differ from the committed manifest")


@dataclass(slots=True)
class MigrationReport:
    """What ``reconcile schema`` found and did."""

    survey: Survey
    table: TableSchema
    saved: bool = False
    rewritten: list[RewriteResult] = field(default_factory=list)

    @property
    def pending(self) -> dict[Window, list[str]]:
        """Windows that still hold files outside the table schema."""
        done = {r.window for r in self.rewritten}
        return {w: c for w, c in self.survey.to_rewrite.items() if w not in done}


def migrate(
    store: ObjectStore,
    cfg: ArchiveConfig,
    timestamp_field: str,
    run_id: str,
    rewrite: bool = False,
    dry_run: bool = False,
    workers: int = 16,
    lease_ttl_s: float = 1800.0,
    lease_wait_s: float = 0.0,
) -> MigrationReport:
    """Derive and store the table schema; with ``rewrite``, rewrite the windows that differ.

    A rewrite holds the scheduled run's lease for the whole survey and rewrite, so no run
    archives meanwhile, and only then finishes or drops what crashed runs left in staging
    (without the lease that could be a live run's work). Without it nothing is recovered."""
    if not rewrite or dry_run:
        return _derive(store, cfg, timestamp_field, run_id, False, dry_run, workers)
    lease = Lease(store, LEASE_KEY, "run lease (reconcile schema --rewrite)")
    with lease.hold(lease_ttl_s, lease_wait_s, renew=True):
        return _derive(store, cfg, timestamp_field, run_id, True, False, workers)


def _derive(
    store: ObjectStore,
    cfg: ArchiveConfig,
    timestamp_field: str,
    run_id: str,
    rewrite: bool,
    dry_run: bool,
    workers: int,
) -> MigrationReport:
    found = survey(store, timestamp_field, workers, recover=rewrite)
    report = MigrationReport(found, found.table)
    if dry_run:
        return report
    if found.changed:
        report.table = store_table(store, found)
        report.saved = True
    if rewrite:
        for window, columns in found.to_rewrite.items():
            result = rewrite_window(store, window, report.table, run_id, columns, cfg)
            report.rewritten.append(result)
    return report
