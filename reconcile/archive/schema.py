"""From Elasticsearch mappings to one Arrow schema per window.

Every index a window touches contributes its mapping. When indexes disagree (``status`` is
``long`` in one daily index and ``keyword`` in the next, the classic auto-mapping accident)
the column gets the narrowest type that holds every value losslessly, and the disagreement
is recorded as a :class:`Conflict` in the manifest.

Across windows the archive's table schema (:mod:`reconcile.archive.table`, docs/schema.md)
fixes every column's type for all time; a window's schema is conformed to it before writing.

Type rules:

- keyword, text, ip, version, wildcard, constant_keyword, binary ... -> string
- long, integer, short, byte, token_count -> int64; unsigned_long -> decimal(20, 0)
- double, float, half_float, scaled_float -> float64; boolean -> bool
- date, date_nanos -> timestamp[ms, UTC] (Parquet INT64 millis, what Athena v3 reads)
- object with properties -> struct; nested -> list<struct>
- anything else (geo_point, flattened, ranges, vectors, disabled objects) -> string (JSON)
- int + float -> float64; struct + anything else, or any other mix -> string
"""

from __future__ import annotations

import hashlib
import threading
from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

import pyarrow as pa

STRING_TYPES = {
    "keyword",
    "text",
    "match_only_text",
    "constant_keyword",
    "wildcard",
    "ip",
    "version",
    "binary",
    "search_as_you_type",
    "semantic_text",
    "completion",
    "annotated_text",
}
INT_TYPES = {"long", "integer", "short", "byte", "token_count"}
FLOAT_TYPES = {"double", "float", "half_float", "scaled_float", "rank_feature"}
DATE_TYPES = {"date", "date_nanos"}
SKIP_TYPES = {"alias"}

#: Metadata columns every archive file carries.
ID_COLUMN, INDEX_COLUMN, EXTRA_COLUMN = "_id", "_index", "_extra"
#: Suffix of the column that keeps a ``date_nanos`` timestamp's full precision.
NANOS_SUFFIX = "_nanos"


def nanos_column(timestamp_field: str) -> str:
    """``@timestamp`` -> ``@timestamp_nanos``: nanoseconds since the epoch, exact (bigint)."""
    return timestamp_field + NANOS_SUFFIX


@dataclass(frozen=True, slots=True)
class FieldType:
    """A column's logical type: a scalar kind, or a struct of children; optionally a list."""

    kind: str  # string | int | float | bool | timestamp | decimal | struct
    children: tuple[tuple[str, FieldType], ...] = ()
    repeated: bool = False

    def to_arrow(self) -> pa.DataType:
        base: pa.DataType
        if self.kind == "struct":
            base = pa.struct([pa.field(n, t.to_arrow()) for n, t in self.children])
        else:
            base = _SCALARS[self.kind]
        return pa.list_(base) if self.repeated else base

    def describe(self) -> str:
        inner = self.kind
        if self.kind == "struct":
            inner = "struct<" + ",".join(f"{n}:{t.describe()}" for n, t in self.children) + ">"
        return f"list<{inner}>" if self.repeated else inner

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {"kind": self.kind}
        if self.children:
            out["fields"] = [[n, t.to_json()] for n, t in self.children]
        if self.repeated:
            out["repeated"] = True
        return out

    @classmethod
    def from_json(cls, raw: Mapping[str, Any]) -> FieldType:
        kind = str(raw["kind"])
        if kind not in _SCALARS and kind != "struct":
            raise ValueError(f"unknown column kind {kind!r}")
        kids = tuple((str(n), cls.from_json(t)) for n, t in raw.get("fields", []))
        return cls(kind, kids, bool(raw.get("repeated", False)))


_SCALARS: dict[str, pa.DataType] = {
    "string": pa.string(),
    "int": pa.int64(),
    "float": pa.float64(),
    "bool": pa.bool_(),
    "timestamp": pa.timestamp("ms", tz="UTC"),
    "decimal": pa.decimal128(20, 0),
}

STRING = FieldType("string")
TIMESTAMP = FieldType("timestamp")


def from_arrow(t: pa.DataType) -> FieldType:
    """The logical type of a column written as Arrow type ``t`` (narrow ints and floats
    widen: int32 reads as int, float32 as float)."""
    if pa.types.is_list(t) or pa.types.is_large_list(t):
        inner = from_arrow(t.value_type)
        return FieldType(inner.kind, inner.children, repeated=True)
    if pa.types.is_struct(t):
        return FieldType("struct", tuple((f.name, from_arrow(f.type)) for f in t))
    if pa.types.is_uint64(t) or pa.types.is_decimal(t):
        return FieldType("decimal")
    if pa.types.is_integer(t):
        return FieldType("int")
    if pa.types.is_floating(t):
        return FieldType("float")
    if pa.types.is_boolean(t):
        return FieldType("bool")
    if pa.types.is_timestamp(t) or pa.types.is_date(t):
        return TIMESTAMP
    return STRING


class ExtraTally:
    """Per field: how many documents of a window kept a value in ``_extra``. Thread-safe:
    the slices of a window add to one tally."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._counts: Counter[str] = Counter()

    def add(self, counts: Mapping[str, int]) -> None:
        with self._lock:
            self._counts.update(counts)

    def as_dict(self) -> dict[str, int]:
        with self._lock:
            return dict(sorted(self._counts.items()))


@dataclass(frozen=True, slots=True)
class Conflict:
    """A field whose mapping differs between the indexes of a window."""

    field: str
    types: dict[str, str]  # index -> Elasticsearch type
    resolved: str  # column type written


@dataclass(frozen=True, slots=True)
class Drift:
    """A field a window maps differently from the archive's table; the table's type is kept."""

    path: str
    table: str
    window: str


@dataclass(slots=True)
class WindowSchema:
    """The columns of one window's archive files, in order, and what had to be resolved."""

    timestamp_field: str
    columns: dict[str, FieldType]
    conflicts: list[Conflict] = field(default_factory=list)
    lenient: frozenset[str] = frozenset()
    """Column paths the table schema types differently from this window's mapping (or that
    the mapping lacks): a value that does not convert losslessly goes to ``_extra``."""
    table_version: int = 0
    """Version of the archive's table schema these columns come from (0: none)."""
    extra: ExtraTally = field(default_factory=ExtraTally)
    """What the window's converters kept in ``_extra``, per field."""
    drift: list[Drift] = field(default_factory=list)
    """Fields this window maps differently from the table (the table's type is written)."""

    @property
    def arrow(self) -> pa.Schema:
        fields = [
            pa.field(ID_COLUMN, pa.string(), nullable=False),
            pa.field(INDEX_COLUMN, pa.string(), nullable=False),
            pa.field(self.timestamp_field, TIMESTAMP.to_arrow(), nullable=False),
        ]
        fields += [pa.field(n, t.to_arrow()) for n, t in self.columns.items()]
        fields.append(pa.field(EXTRA_COLUMN, pa.string()))
        return pa.schema(fields)

    @property
    def fingerprint(self) -> str:
        """Stable hash of the column names and types, to spot schema drift between windows."""
        text = str(self.arrow)
        return "sha256:" + hashlib.sha256(text.encode()).hexdigest()[:16]


def _es_field_type(spec: Mapping[str, Any], path: str, arrays: set[str]) -> FieldType | None:
    es_type = spec.get("type")
    props = spec.get("properties")
    repeated = path in arrays
    if es_type in SKIP_TYPES:
        return None
    if es_type in (None, "object", "nested") and props is not None and spec.get("enabled", True):
        children = _children(props, path, arrays)
        return FieldType("struct", children, repeated=repeated or es_type == "nested")
    if es_type in STRING_TYPES:
        kind = "string"
    elif es_type in INT_TYPES:
        kind = "int"
    elif es_type == "unsigned_long":
        kind = "decimal"
    elif es_type in FLOAT_TYPES:
        kind = "float"
    elif es_type == "boolean":
        kind = "bool"
    elif es_type in DATE_TYPES:
        kind = "timestamp"
    else:
        kind = "string"  # JSON text for geo, flattened, ranges, vectors, disabled objects...
    return FieldType(kind, repeated=repeated)


def _children(
    props: Mapping[str, Any], prefix: str, arrays: set[str]
) -> tuple[tuple[str, FieldType], ...]:
    out = []
    for name in sorted(props):
        path = f"{prefix}.{name}" if prefix else name
        ft = _es_field_type(props[name], path, arrays)
        if ft is not None:
            out.append((name, ft))
    return tuple(out)


def merge(a: FieldType, b: FieldType) -> FieldType:
    """The narrowest type that holds values of both ``a`` and ``b`` losslessly."""
    if a == b:
        return a
    if a.kind == "struct" and b.kind == "struct" and a.repeated == b.repeated:
        kids = dict(a.children)
        for name, t in b.children:
            kids[name] = merge(kids[name], t) if name in kids else t
        return FieldType("struct", tuple(sorted(kids.items())), a.repeated)
    if a.kind == "struct" or b.kind == "struct":
        return FieldType("string", repeated=False)
    repeated = a.repeated or b.repeated
    if {a.kind, b.kind} <= {"int", "float", "decimal"}:
        return FieldType("float", repeated=repeated)
    if a.kind == b.kind:
        return FieldType(a.kind, repeated=repeated)
    return FieldType("string", repeated=repeated)


def _flat_types(props: Mapping[str, Any], prefix: str = "") -> dict[str, str]:
    out: dict[str, str] = {}
    for name, spec in props.items():
        path = f"{prefix}.{name}" if prefix else name
        if "properties" in spec and spec.get("type") in (None, "object", "nested"):
            out[path] = spec.get("type", "object")
            out.update(_flat_types(spec["properties"], path))
        else:
            out[path] = str(spec.get("type", "object"))
    return out


def _conflicts(
    mappings: Mapping[str, Mapping[str, Any]], merged: dict[str, FieldType]
) -> list[Conflict]:
    per_index = {idx: _flat_types(m.get("properties", {})) for idx, m in mappings.items()}
    paths = sorted({p for types in per_index.values() for p in types})
    found = []
    for path in paths:
        types = {idx: t[path] for idx, t in per_index.items() if path in t}
        kinds = {_kind_of(t) for t in types.values()}
        if len(kinds) > 1:
            found.append(Conflict(path, dict(sorted(types.items())), _resolved(merged, path)))
    return found


def _kind_of(es_type: str) -> str:
    if es_type in ("object", "nested"):
        return es_type
    ft = _es_field_type({"type": es_type}, "", set())
    return ft.kind if ft else es_type


def _resolved(merged: dict[str, FieldType], path: str) -> str:
    parts = path.split(".")
    node: FieldType | None = merged.get(parts[0])
    for part in parts[1:]:
        if node is None or node.kind != "struct":
            break
        node = dict(node.children).get(part)
    return node.describe() if node is not None else "string"


def _maps_nanos(mappings: Mapping[str, Mapping[str, Any]], timestamp_field: str) -> bool:
    return any(
        m.get("properties", {}).get(timestamp_field, {}).get("type") == "date_nanos"
        for m in mappings.values()
    )


def build_schema(
    mappings: Mapping[str, Mapping[str, Any]],
    timestamp_field: str,
    array_fields: Iterable[str] = (),
) -> WindowSchema:
    """One schema for the window from the mappings of the indexes it touches."""
    arrays = set(array_fields)
    merged: dict[str, FieldType] = {}
    for index in sorted(mappings):
        props = mappings[index].get("properties", {})
        for name, ft in _children(props, "", arrays):
            merged[name] = merge(merged[name], ft) if name in merged else ft
    ts_type = merged.pop(timestamp_field, None)
    for reserved in (ID_COLUMN, INDEX_COLUMN, EXTRA_COLUMN):
        merged.pop(reserved, None)
    if ts_type is not None and _maps_nanos(mappings, timestamp_field):
        # The timestamp column stays milliseconds (what Athena reads as timestamp); the
        # nanoseconds a date_nanos field holds survive, exactly, in a bigint beside it.
        merged[nanos_column(timestamp_field)] = FieldType("int")
    columns = dict(sorted(merged.items()))
    return WindowSchema(timestamp_field, columns, _conflicts(mappings, columns))
