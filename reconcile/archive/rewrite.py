"""Archives written before the table schema: derive it, list the drift, rewrite the windows.

:func:`survey` finishes what interrupted runs left in ``_staging/``, reads the footer of
every committed data file (oldest window first), derives the table schema from them (the
stored one, when there is one, keeps its columns; files only add columns) and lists the
columns whose type in some window differs from the table's.

:func:`rewrite_window` rewrites one such window into the table schema through the same
commit as the archive: the converted files go to ``_staging/<run>/``, are read back and
verified (rows per file, column types), the manifest is written to staging (the commit
point) and :func:`~reconcile.archive.run.roll_forward` moves them into the partition. A
kill at any point leaves either the old or the new files committed, never a mix that
counts wrong; the next survey rolls a committed rewrite forward or drops an uncommitted one.
"""

from __future__ import annotations

import dataclasses
import logging
import shutil
import tempfile
from collections import Counter, defaultdict
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import orjson
import pyarrow as pa
import pyarrow.parquet as pq

from .. import __version__
from ..errors import ReconcileError, StorageError, VerificationError
from ..storage import ObjectInfo, ObjectStore
from ..timewin import Window
from .config import ArchiveConfig
from .convert import MOVED, column_normalizer
from .layout import MANIFEST, STAGING, FileEntry, Manifest, staging_prefix, window_prefix
from .schema import EXTRA_COLUMN, ID_COLUMN, INDEX_COLUMN, WindowSchema, from_arrow
from .table import TableSchema, load_table, save_table
from .writer import write_file

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class DataFile:
    """A committed data file and its footer schema."""

    window: Window
    key: str
    size: int
    schema: pa.Schema


@dataclass(slots=True)
class ColumnDrift:
    """A column whose files do not all have the table's type."""

    column: str
    table_type: str
    file_types: dict[str, list[str]]
    """Arrow type found in files -> the windows (``YYYY-MM-DDTHH``) holding it."""


@dataclass(slots=True)
class Survey:
    """What the committed archive holds, against the table schema derived from it."""

    table: TableSchema
    stored: TableSchema | None
    """The table schema as stored before the survey (None: the archive had none)."""
    windows: list[Window] = field(default_factory=list)
    files: list[DataFile] = field(default_factory=list)
    recovered: list[str] = field(default_factory=list)

    @property
    def changed(self) -> bool:
        """The derived table differs from the stored one (or none was stored)."""
        return self.stored is None or self.stored.columns != self.table.columns

    def differing(self, data: DataFile) -> list[str]:
        """Columns of ``data`` whose type is not the table's."""
        want = self.table.arrow
        return [
            f.name
            for f in data.schema
            if want.get_field_index(f.name) >= 0 and want.field(f.name).type != f.type
        ]

    @property
    def to_rewrite(self) -> dict[Window, list[str]]:
        """Windows holding at least one file that differs, with the differing columns."""
        out: dict[Window, set[str]] = defaultdict(set)
        for data in self.files:
            cols = self.differing(data)
            if cols:
                out[data.window].update(cols)
        return {w: sorted(out[w]) for w in sorted(out, key=lambda w: w.start)}

    @property
    def drift(self) -> list[ColumnDrift]:
        found: dict[str, dict[str, set[str]]] = defaultdict(lambda: defaultdict(set))
        for data in self.files:
            for name in self.differing(data):
                found[name][str(data.schema.field(name).type)].add(data.window.label)
        want = self.table.arrow
        return [
            ColumnDrift(
                name,
                str(want.field(name).type),
                {t: sorted(ws) for t, ws in sorted(found[name].items())},
            )
            for name in sorted(found)
        ]

    @property
    def first_day(self) -> str | None:
        return min((w.dt for w in self.windows), default=None)


def _windows_with_staging(store: ObjectStore) -> list[Window]:
    found = set()
    for obj in store.list(f"{STAGING}/"):
        parts = obj.key.split("/")
        if len(parts) > 3 and parts[2].startswith("dt=") and parts[3].startswith("hour="):
            found.add(Window.from_partition(parts[2][3:], parts[3][5:]))
    return sorted(found, key=lambda w: w.start)


def finish_interrupted(store: ObjectStore) -> list[str]:
    """Roll forward or drop what crashed runs left in staging; returns the windows touched."""
    from .run import recover

    touched = _windows_with_staging(store)
    for window in touched:
        recover(store, window)
    return [w.label for w in touched]


def _committed(store: ObjectStore) -> dict[Window, list[ObjectInfo]]:
    """Committed windows (a ``_manifest.json`` present) and their data files, oldest first."""
    by_window: dict[Window, list[ObjectInfo]] = defaultdict(list)
    manifests: set[Window] = set()
    for obj in store.list("dt="):
        parts = obj.key.split("/")
        if len(parts) != 3 or not parts[1].startswith("hour="):
            continue
        window = Window.from_partition(parts[0][3:], parts[1][5:])
        if parts[2] == MANIFEST:
            manifests.add(window)
        elif not parts[2].startswith(("_", ".")) and parts[2].endswith(".parquet"):
            by_window[window].append(obj)
    return {w: by_window.get(w, []) for w in sorted(manifests, key=lambda w: w.start)}


def survey(
    store: ObjectStore, timestamp_field: str, workers: int = 16, recover: bool = True
) -> Survey:
    """Read every committed file's footer and derive the table schema from them.

    With ``recover`` (the default) interrupted commits are finished or dropped first."""
    from ..check.archived import ArchiveReader

    recovered = finish_interrupted(store) if recover else []
    committed = _committed(store)
    reader = ArchiveReader(store, workers)
    objects = [(w, o) for w, objs in committed.items() for o in objs]
    with ThreadPoolExecutor(max(1, workers), "footer") as pool:
        schemas = list(pool.map(lambda wo: reader.footer_schema(wo[1].key, wo[1].size), objects))
    files = [DataFile(w, o.key, o.size, s) for (w, o), s in zip(objects, schemas, strict=True)]
    stored = load_table(store)
    table = dataclasses.replace(stored) if stored else TableSchema(timestamp_field)
    meta = {ID_COLUMN, INDEX_COLUMN, EXTRA_COLUMN, table.timestamp_field}
    for data in files:
        incoming = {f.name: from_arrow(f.type) for f in data.schema if f.name not in meta}
        table.columns = table.evolve(incoming).columns
    return Survey(table, stored, list(committed), files, recovered)


def first_day(store: ObjectStore) -> str | None:
    """The earliest ``dt=`` partition of the archive (one listing of its top level)."""
    import pyarrow.fs as pafs

    fs, base = store.arrow()
    try:
        top = fs.get_file_info(pafs.FileSelector(base, recursive=False, allow_not_found=True))
    except (OSError, pa.ArrowException) as exc:
        raise StorageError(f"list {store.uri}: {exc}") from exc
    days = [i.base_name[3:] for i in top if i.base_name.startswith("dt=")]
    return min(days, default=None)


def ddl_table(store: ObjectStore, timestamp_field: str, workers: int = 16) -> DdlTable:
    """The table schema the archive's DDL is printed from, and the first day.

    The stored table schema when there is one (no file is read); for an archive written
    before it, the schema derived from every committed file (nothing is written)."""
    table = load_table(store)
    if table is not None:
        return DdlTable(table, first_day(store), stored=True)
    found = survey(store, timestamp_field, workers, recover=False)
    if not found.files:
        raise ReconcileError(
            f"no committed window with data files in {store.uri}; "
            "archive at least one window first (reconcile archive)"
        )
    return DdlTable(found.table, found.first_day, False, len(found.files), found.to_rewrite)


@dataclass(slots=True)
class DdlTable:
    table: TableSchema
    first_day: str | None
    stored: bool
    files_read: int = 0
    to_rewrite: dict[Window, list[str]] = field(default_factory=dict)


def seed_table(store: ObjectStore, timestamp_field: str, workers: int = 16) -> TableSchema | None:
    """The first table schema of an archive that has committed windows but none yet (the
    first run after an upgrade): derived from every committed file, so the types its
    history established stay. None when there is nothing committed."""
    found = survey(store, timestamp_field, workers, recover=False)
    if not found.files:
        return None
    log.info(
        "the archive has no table schema yet: deriving it from %d committed file(s) of %d "
        "window(s); %d window(s) differ from it (reconcile schema --rewrite)",
        len(found.files),
        len(found.windows),
        len(found.to_rewrite),
    )
    try:
        return store_table(store, found)
    except ReconcileError:
        return load_table(store)  # another writer stored one first


def store_table(store: ObjectStore, found: Survey) -> TableSchema:
    """Save the derived table schema (compare-and-swap against the one surveyed)."""
    if not found.changed:
        return found.stored or found.table
    base = found.stored or TableSchema(found.table.timestamp_field)
    evo = base.evolve(found.table.columns)
    new = base.successor(evo, "reconcile schema (derived from committed files)")
    if save_table(store, new, found.stored) is None:
        raise ReconcileError(
            "the table schema changed while the archive was surveyed (an archive run?); "
            "run reconcile schema again"
        )
    return new


# -- rewriting one window --------------------------------------------------------------


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
    from .run import recover, roll_forward

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
    from ..check.archived import ArchiveReader

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
    from ..lease import Lease
    from ..schedule.run import LEASE_KEY

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
