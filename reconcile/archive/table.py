"""The archive's table schema: one set of column types for every window, for all time.

Stored beside the data as ``<archive>/_schema/table.json`` (``_`` keeps it out of Athena's
and pyarrow's view of the data), versioned, and replaced only by a conditional write
(:meth:`ObjectStore.put_if`), so two writers that evolve it at once cannot lose each
other's change: the loser re-reads and evolves the newer version. Each version is also kept
as ``_schema/v000001.json``, ``v000002.json``, ... for the record.

Evolution rules (docs/schema.md has the table of type changes):

- a field the table does not know adds a nullable column (also inside a struct);
- a column's type never changes once established. Elasticsearch's narrow types are
  widened from the start (integer/short/byte -> bigint, float/half_float -> double), so
  ``integer`` -> ``long`` or ``float`` -> ``double`` is no change at all;
- when a window maps a field differently from the table, the window's files still use the
  table's type: values that convert losslessly are stored in it (``"200"`` into a bigint
  column, ``3`` into a double one), the rest stay verbatim in ``_extra`` and are counted
  per field in the window's manifest (``extra_counts``). Nothing is dropped, nothing is
  quarantined for it, nothing is retyped.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import orjson
import pyarrow as pa

from .. import __version__
from ..errors import ConfigError, ReconcileError, StorageError
from ..storage import ObjectStore
from .schema import Drift, FieldType, WindowSchema

log = logging.getLogger(__name__)

SCHEMA_DIR = "_schema"
TABLE_KEY = f"{SCHEMA_DIR}/table.json"
FORMAT_VERSION = 1
CAS_ATTEMPTS = 20


def version_key(version: int) -> str:
    return f"{SCHEMA_DIR}/v{version:06d}.json"


@dataclass(slots=True)
class Evolution:
    """What a set of incoming column types does to the table."""

    columns: dict[str, FieldType]
    added: list[str] = field(default_factory=list)
    drift: list[Drift] = field(default_factory=list)


def _evolve(
    have: FieldType, new: FieldType, path: str, added: list[str], drift: list[Drift]
) -> FieldType:
    if have == new:
        return have
    if have.kind == "struct" and new.kind == "struct":
        kids = dict(have.children)
        order = [n for n, _ in have.children]
        for name, t in new.children:
            sub = f"{path}.{name}"
            if name in kids:
                kids[name] = _evolve(kids[name], t, sub, added, drift)
            else:
                kids[name] = t
                order.append(name)
                added.append(sub)
        if have.repeated != new.repeated:
            drift.append(Drift(path, have.describe(), new.describe()))
        return FieldType("struct", tuple((n, kids[n]) for n in order), have.repeated)
    drift.append(Drift(path, have.describe(), new.describe()))
    return have


def _absent(have: Mapping[str, FieldType], new: Mapping[str, FieldType], prefix: str) -> set[str]:
    """Paths of the table that the incoming types do not name."""
    out: set[str] = set()
    for name, t in have.items():
        path = f"{prefix}{name}"
        if name not in new:
            out.add(path)
        elif t.kind == "struct" and new[name].kind == "struct":
            out |= _absent(dict(t.children), dict(new[name].children), path + ".")
    return out


@dataclass(slots=True)
class TableSchema:
    """The archive's columns (besides ``_id``, ``_index``, the timestamp and ``_extra``)."""

    timestamp_field: str
    columns: dict[str, FieldType] = field(default_factory=dict)
    version: int = 0
    history: list[dict[str, Any]] = field(default_factory=list)
    etag: str | None = None
    """Storage version it was read at (not serialised): the condition of the next write."""

    def evolve(self, incoming: Mapping[str, FieldType]) -> Evolution:
        """The columns after ``incoming`` is absorbed, what was added and what drifted."""
        columns = dict(self.columns)
        added: list[str] = []
        drift: list[Drift] = []
        for name, t in incoming.items():
            if name in columns:
                columns[name] = _evolve(columns[name], t, name, added, drift)
            else:
                columns[name] = t
                added.append(name)
        return Evolution(columns, added, drift)

    def successor(self, evo: Evolution, by: str) -> TableSchema:
        """The next version, with ``evo``'s columns and a history entry."""
        entry = {
            "version": self.version + 1,
            "at": datetime.now(UTC).isoformat(timespec="seconds").replace("+00:00", "Z"),
            "by": by,
            "added": {p: _type_at(evo.columns, p).describe() for p in evo.added},
            "tool_version": __version__,
        }
        return TableSchema(
            self.timestamp_field, evo.columns, self.version + 1, [*self.history, entry]
        )

    @property
    def window_schema(self) -> WindowSchema:
        return WindowSchema(self.timestamp_field, dict(self.columns), table_version=self.version)

    @property
    def arrow(self) -> pa.Schema:
        """The schema every committed file conforms to (files may lack later columns)."""
        return self.window_schema.arrow

    @property
    def fingerprint(self) -> str:
        return "sha256:" + hashlib.sha256(str(self.arrow).encode()).hexdigest()[:16]

    def conform(self, window: WindowSchema, evo: Evolution) -> WindowSchema:
        """``window`` written in the table's types: every table column, the table's type."""
        lenient = {d.path for d in evo.drift} | _absent(self.columns, window.columns, "")
        lenient |= {c.field for c in window.conflicts}  # the window's indexes disagree
        return WindowSchema(
            self.timestamp_field,
            dict(self.columns),
            list(window.conflicts),
            lenient=frozenset(lenient),
            table_version=self.version,
            drift=list(evo.drift),
        )

    def to_json(self) -> bytes:
        doc = {
            "format_version": FORMAT_VERSION,
            "version": self.version,
            "timestamp_field": self.timestamp_field,
            "fingerprint": self.fingerprint,
            "columns": [
                {"name": n, "type": t.to_json(), "describe": t.describe()}
                for n, t in self.columns.items()
            ],
            "history": self.history,
        }
        return orjson.dumps(doc, option=orjson.OPT_INDENT_2)

    @classmethod
    def from_json(cls, data: bytes, etag: str | None = None) -> TableSchema:
        raw = orjson.loads(data)
        if int(raw.get("format_version", 0)) > FORMAT_VERSION:
            raise ReconcileError(
                f"{TABLE_KEY} has format {raw['format_version']}; this tool reads up to "
                f"{FORMAT_VERSION} (upgrade reconcile)"
            )
        columns = {str(c["name"]): FieldType.from_json(c["type"]) for c in raw["columns"]}
        return cls(
            str(raw["timestamp_field"]),
            columns,
            int(raw["version"]),
            list(raw.get("history", [])),
            etag,
        )


def _type_at(columns: Mapping[str, FieldType], path: str) -> FieldType:
    head, *rest = path.split(".")
    node = columns[head]
    for part in rest:
        node = dict(node.children)[part]
    return node


def load_table(store: ObjectStore) -> TableSchema | None:
    """The archive's current table schema, or None before the first window."""
    found = store.get_versioned(TABLE_KEY)
    if found is None:
        return None
    data, etag = found
    try:
        return TableSchema.from_json(data, etag)
    except (ValueError, KeyError, TypeError) as exc:
        raise ReconcileError(f"{store.uri}/{TABLE_KEY} cannot be read: {exc}") from exc


def save_table(store: ObjectStore, table: TableSchema, base: TableSchema | None) -> str | None:
    """Write ``table`` if the stored schema is still ``base`` (None: still absent).

    Returns the new storage version, or None when another writer got there first."""
    etag = store.put_if(TABLE_KEY, table.to_json(), base.etag if base else None)
    if etag is not None:
        table.etag = etag
        store.put_bytes(version_key(table.version), table.to_json())
    return etag


def absorb(
    store: ObjectStore,
    incoming: Mapping[str, FieldType],
    timestamp_field: str,
    by: str,
    seed: Callable[[], TableSchema | None] | None = None,
) -> tuple[TableSchema, Evolution]:
    """Evolve the stored table schema with ``incoming`` (compare-and-swap, retried on a
    lost race); returns the table the caller must write under, and the evolution.

    ``seed`` is called once when there is no table schema yet, to store a first one (from
    the archive's committed files) before ``incoming`` is absorbed."""
    for _ in range(CAS_ATTEMPTS):
        current = load_table(store)
        if current is None and seed is not None:
            first, seed = seed, None
            if first() is not None:
                continue
        base = current or TableSchema(timestamp_field)
        if base.timestamp_field != timestamp_field:
            raise ConfigError(
                f"the archive's table schema uses timestamp field {base.timestamp_field!r}, "
                f"this job {timestamp_field!r} (source.timestamp_field)"
            )
        evo = base.evolve(incoming)
        if current is not None and not evo.added:
            return current, evo
        new = base.successor(evo, by)
        if save_table(store, new, current) is not None:
            if evo.added:
                log.info(
                    "table schema v%d: added %s (%s)",
                    new.version,
                    ", ".join(evo.added),
                    by,
                    extra={"event": "table_schema", "version": new.version, "added": evo.added},
                )
            return new, evo
        log.info("table schema changed under us; re-reading it (%s)", by)
    raise StorageError(f"{TABLE_KEY}: {CAS_ATTEMPTS} conditional writes lost in a row; giving up")


class TableView:
    """The table schema as one archive run sees it: read at the run's first window, read
    again only when a window brings a column it lacks (then evolved by compare-and-swap).

    The table only ever gains columns and never retypes one, so a window adding nothing to
    the version held is written in it without asking storage again; if another writer added
    columns since, this window's files simply lack them, as every earlier file does."""

    def __init__(
        self, store: ObjectStore, seed: Callable[[], TableSchema | None] | None = None
    ) -> None:
        self.store = store
        self.seed = seed
        self.table: TableSchema | None = None

    def absorb(self, window: WindowSchema, by: str) -> tuple[TableSchema, Evolution]:
        if self.table is not None:
            evo = self.table.evolve(window.columns)
            if not evo.added:
                return self.table, evo
        table, evo = absorb(self.store, window.columns, window.timestamp_field, by, self.seed)
        self.table = table
        return table, evo


def conform_window(
    store: ObjectStore | TableView,
    window: WindowSchema,
    by: str,
    seed: Callable[[], TableSchema | None] | None = None,
) -> WindowSchema:
    """The schema ``window``'s files are written in: the table's, evolved first if needed.

    ``store``: the archive, or a run's :class:`TableView` of its table (which reads it once).
    ``seed`` derives a first table schema when the archive has none (from its committed
    files, :func:`reconcile.archive.survey.seed_table`)."""
    view = store if isinstance(store, TableView) else TableView(store, seed)
    table, evo = view.absorb(window, by)
    for d in evo.drift:
        log.warning(
            "%s: field %s is %s in this window's mapping but %s in the archive's table; "
            "stored as %s, values that do not convert kept in _extra",
            by,
            d.path,
            d.window,
            d.table,
            d.table,
            extra={
                "event": "schema_drift",
                "field": d.path,
                "table_type": d.table,
                "window_type": d.window,
            },
        )
    return table.conform(window, evo)
