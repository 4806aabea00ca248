"""What an archive holds, file by file: the table schema its committed files imply.

:func:`survey` finishes what interrupted runs left in ``_staging/``, reads the footer of
every committed data file (oldest window first), derives the table schema from them (the
stored one, when there is one, keeps its columns; files only add columns) and lists the
columns whose type in some window differs from the table's. :func:`seed_table` stores a
first table schema for an archive written before there was one.
"""

from __future__ import annotations

import dataclasses
import logging
from collections import defaultdict
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

import pyarrow as pa

from ..errors import ReconcileError, StorageError
from ..storage import ObjectInfo, ObjectStore
from ..timewin import Window
from .commit import recover
from .layout import MANIFEST, STAGING
from .read import ArchiveReader
from .schema import EXTRA_COLUMN, ID_COLUMN, INDEX_COLUMN, from_arrow
from .table import TableSchema, load_table, save_table

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
