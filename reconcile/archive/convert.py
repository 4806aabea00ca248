"""Elasticsearch hits -> Arrow record batches, plus the documents that could not be converted.

Conversion is lossless or loud:

- a value of the wrong shape is coerced when that loses nothing (numbers into a string
  column, ``"200"`` into an int column as Elasticsearch's ``coerce`` does, a one-element
  array into a scalar column);
- values with no column (unmapped or dynamic fields, keys inside objects the mapping does
  not know, several values in a scalar column) are kept as JSON in the ``_extra`` column;
- a value in a column the archive's table schema types differently from this window's
  mapping (the schema's ``lenient`` paths: ``status`` is bigint in the table, keyword in
  today's index) is stored when it converts losslessly and otherwise kept verbatim in
  ``_extra``; objects never become JSON text there. Keys kept in ``_extra`` are counted per
  field in :attr:`WindowSchema.extra`;
- a document that still cannot be converted (``"abc"`` in a long field indexed with
  ``ignore_malformed``), or whose source is larger than ``max_doc_bytes``, is returned as a
  :class:`Reject` with the reason, to be written to the window's quarantine.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import orjson
import pyarrow as pa
import pyarrow.compute as pc

from .normalize import (
    ARROW_NATIVE,
    FITS,
    Plan,
    Unfit,
    apply_plan,
    iso_nanos,
    make_plan,
    norm_timestamp,
    to_json,
)
from .schema import (
    EXTRA_COLUMN,
    ID_COLUMN,
    INDEX_COLUMN,
    FieldType,
    WindowSchema,
    nanos_column,
)


@dataclass(frozen=True, slots=True)
class Reject:
    """A document that goes to quarantine instead of the Parquet files."""

    id: str
    index: str
    reason: str
    source: Any


Check = Callable[[Any], bool]


def _checker(ft: FieldType) -> Check | None:
    """A test that a (non-null) value already fits ``ft`` exactly, so Arrow can take it
    untouched; None when Arrow itself refuses misfits (bool). Conservative: False sends
    the document down the normalising path, never into a wrong column."""
    if ft.repeated:
        if ft.kind not in FITS:
            return lambda v: False
        fits = FITS[ft.kind]
        return lambda v: type(v) is list and all(e is None or type(e) in fits for e in v)
    if ft.kind == "struct":
        kids = [(name, _checker(t)) for name, t in ft.children]
        known = frozenset(name for name, _ in ft.children)

        def check_struct(v: Any) -> bool:
            if type(v) is not dict or not known.issuperset(v):
                return False
            for name, check in kids:
                x = v.get(name)
                if x is not None and check is not None and not check(x):
                    return False
            return True

        return check_struct
    if ft.kind in ARROW_NATIVE:
        return None
    if ft.kind in FITS:
        fits = FITS[ft.kind]
        return lambda v: type(v) in fits
    return lambda v: False  # dates and decimals always need converting


def _expand_dotted(row: dict[str, Any], key: str, known: frozenset[str]) -> bool:
    """Fold a literal ``"a.b": v`` key into ``{"a": {"b": v}}`` when ``a`` is a column."""
    head, _, rest = key.partition(".")
    if not rest or head not in known:
        return False
    node = row.get(head)
    if node is None:
        node = row[head] = {}
    elif not isinstance(node, dict):
        return False
    else:
        node = row[head] = dict(node)
    parts = rest.split(".")
    for part in parts[:-1]:
        child = node.get(part)
        if child is None:
            child = node[part] = {}
        elif not isinstance(child, dict):
            return False
        node = child
    if parts[-1] in node:
        return False
    node[parts[-1]] = row.pop(key)
    return True


def extra_counts(column: pa.Array | pa.ChunkedArray) -> Counter[str]:
    """Per key of the ``_extra`` JSON objects in ``column``: how many rows hold it."""
    counts: Counter[str] = Counter()
    for text in column.drop_null().to_pylist():
        counts.update(orjson.loads(text).keys())
    return counts


class RowConverter:
    """Converts pages of hits for one window schema. Not thread-safe: one per slice."""

    def __init__(self, schema: WindowSchema, max_doc_bytes: int) -> None:
        self.schema = schema
        self.arrow_schema = schema.arrow
        self.struct_type = pa.struct(list(self.arrow_schema))
        self.max_doc_bytes = max_doc_bytes
        self.ts = schema.timestamp_field
        ns = nanos_column(self.ts)
        self.ns = ns if ns in schema.columns else None
        self.known = frozenset(schema.columns)
        self._known_or_ts = self.known | {self.ts}
        self._fast = make_plan(schema.columns.items(), "", False, schema.lenient)
        self._full = make_plan(schema.columns.items(), "", True, schema.lenient)
        self._checks = [
            (n, c) for n, ft in schema.columns.items() if (c := _checker(ft)) is not None
        ]
        source = pa.struct([f for f in self.arrow_schema if f.name in schema.columns])
        self._hit_type = pa.struct(
            [
                pa.field(ID_COLUMN, pa.string()),
                pa.field(INDEX_COLUMN, pa.string()),
                pa.field("_source", source),
                pa.field("fields", pa.struct([pa.field(self.ts, pa.list_(pa.string()))])),
            ]
        )

    def _row(self, hit: dict[str, Any], plan: Plan) -> dict[str, Any]:
        src = hit["_source"]
        row = dict(src)
        extra: dict[str, Any] = {}
        if not self._known_or_ts.issuperset(row):
            for key in sorted(row.keys() - self._known_or_ts):
                if not _expand_dotted(row, key, self.known):
                    extra[key] = row.pop(key)
        apply_plan(plan, row, extra)
        row[ID_COLUMN] = hit["_id"]
        row[INDEX_COLUMN] = hit["_index"]
        row[self.ts] = self._timestamp(hit, src)
        if self.ns is not None:
            row[self.ns] = self._timestamp_ns(hit, src, row[self.ts])
        row[EXTRA_COLUMN] = to_json(extra) if extra else None
        return row

    def _timestamp_ns(self, hit: dict[str, Any], src: dict[str, Any], ms: int) -> int:
        """A date_nanos timestamp in full: from the docvalue (``1795181400123.456789``, as
        Elasticsearch and OpenSearch write epoch_millis for date_nanos), else from the
        source's ISO 8601 text when it agrees with the docvalue to the millisecond."""
        values = hit.get("fields", {}).get(self.ts)
        if values and isinstance(values[0], str) and "." in values[0]:
            whole, frac = values[0].split(".", 1)
            return int(whole) * 1_000_000 + int((frac + "000000")[:6])
        ns = iso_nanos(src.get(self.ts))
        return ns if ns is not None and ns // 1_000_000 == ms else ms * 1_000_000

    def _timestamp(self, hit: dict[str, Any], src: dict[str, Any]) -> int:
        # The docvalue is the timestamp exactly as Elasticsearch indexed (and windowed) it.
        values = hit.get("fields", {}).get(self.ts)
        if values:
            return int(float(values[0])) if isinstance(values[0], str) else int(values[0])
        raw = src.get(self.ts)
        if raw is None:
            raise Unfit(f"field {self.ts}: missing")
        return norm_timestamp(raw, self.ts, {})

    def convert(self, hits: list[dict[str, Any]]) -> tuple[pa.RecordBatch | None, list[Reject]]:
        """One record batch for the convertible hits, and the rejects."""
        direct = self._direct(hits)
        if direct is not None:
            return direct, []
        batch, rejects = self._by_rows(hits)
        if batch is not None:
            self.schema.extra.add(extra_counts(batch.column(EXTRA_COLUMN)))
        return batch, rejects

    def _fits(self, hit: dict[str, Any]) -> bool:
        """True when the hit can go to Arrow as it is: known keys only, every value of its
        column's exact type, the timestamp docvalue present, under the size limit."""
        src = hit.get("_source")
        if type(src) is not dict or not self._known_or_ts.issuperset(src):
            return False
        fields = hit.get("fields")
        if not fields or not fields.get(self.ts) or self.ns is not None:
            return False
        for name, check in self._checks:
            v = src.get(name)
            if v is not None and not check(v):
                return False
        return self._precheck(hit) is None

    def _direct(self, hits: list[dict[str, Any]]) -> pa.RecordBatch | None:
        """The common case without a Python row per document: one Arrow conversion of the
        hits themselves. None when any hit needs the normalising path."""
        if not hits or not all(self._fits(h) for h in hits):
            return None
        try:
            arr = pa.array(hits, type=self._hit_type)
            ts = pc.list_element(arr.field("fields").field(self.ts), 0)
            ts = ts.cast(pa.int64()).cast(self.arrow_schema.field(self.ts).type)
        except (pa.ArrowInvalid, pa.ArrowTypeError, OverflowError):
            return None
        source = arr.field("_source")
        columns = {
            ID_COLUMN: arr.field(ID_COLUMN),
            INDEX_COLUMN: arr.field(INDEX_COLUMN),
            self.ts: ts,
        }
        columns.update({f.name: source.field(f.name) for f in source.type})
        columns[EXTRA_COLUMN] = pa.nulls(len(hits), pa.string())
        return pa.RecordBatch.from_arrays(
            [columns[f.name] for f in self.arrow_schema], schema=self.arrow_schema
        )

    def _by_rows(self, hits: list[dict[str, Any]]) -> tuple[pa.RecordBatch | None, list[Reject]]:
        """Normalise each hit into a row dict (coercions, ``_extra``, rejects), then convert."""
        rows: list[dict[str, Any]] = []
        rejects: list[Reject] = []
        kept: list[dict[str, Any]] = []
        for hit in hits:
            reason = self._precheck(hit)
            if reason:
                rejects.append(Reject(hit["_id"], hit["_index"], reason, hit.get("_source")))
                continue
            try:
                rows.append(self._row(hit, self._fast))
                kept.append(hit)
            except Unfit as exc:
                rejects.append(Reject(hit["_id"], hit["_index"], str(exc), hit["_source"]))
        if not rows:
            return None, rejects
        try:
            arr = pa.array(rows, type=self.struct_type)
        except (pa.ArrowInvalid, pa.ArrowTypeError, OverflowError):
            arr, slow_rejects = self._slow(kept)
            rejects.extend(slow_rejects)
            if arr is None:
                return None, rejects
        return pa.RecordBatch.from_struct_array(arr), rejects

    def _precheck(self, hit: dict[str, Any]) -> str | None:
        src = hit.get("_source")
        if not isinstance(src, dict):
            return "document has no _source (source disabled or filtered)"
        size = len(orjson.dumps(src, option=orjson.OPT_NON_STR_KEYS))
        if size > self.max_doc_bytes:
            return f"document source is {size} bytes, over max_doc_bytes={self.max_doc_bytes}"
        return None

    def _slow(self, hits: list[dict[str, Any]]) -> tuple[pa.StructArray | None, list[Reject]]:
        """Normalise every field of every hit; isolate the documents Arrow still refuses."""
        rows, rejects = [], []
        for hit in hits:
            try:
                row = self._row(hit, self._full)
                pa.array([row], type=self.struct_type)
                rows.append(row)
            except Unfit as exc:
                rejects.append(Reject(hit["_id"], hit["_index"], str(exc), hit["_source"]))
            except (pa.ArrowInvalid, pa.ArrowTypeError, OverflowError) as exc:
                reason = f"cannot convert to Arrow: {exc}"
                rejects.append(Reject(hit["_id"], hit["_index"], reason, hit["_source"]))
        if not rows:
            return None, rejects
        return pa.array(rows, type=self.struct_type), rejects
