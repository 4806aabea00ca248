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

import re
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal, InvalidOperation
from typing import Any

import orjson
import pyarrow as pa
import pyarrow.compute as pc

from .schema import (
    EXTRA_COLUMN,
    ID_COLUMN,
    INDEX_COLUMN,
    FieldType,
    WindowSchema,
    nanos_column,
)

_ISO_NANOS = re.compile(
    r"^(\d{4}-\d{2}-\d{2})[T ](\d{2}):(\d{2}):(\d{2})(?:[.,](\d{1,9}))?"
    r"(Z|z|[+-]\d{2}:?\d{2})?$"
)


def iso_nanos(value: Any) -> int | None:
    """Nanoseconds since the epoch from ISO 8601 text with up to nine fractional digits."""
    if not isinstance(value, str):
        return None
    m = _ISO_NANOS.match(value.strip())
    if not m:
        return None
    day, hh, mm, ss, frac, zone = m.groups()
    try:
        base = datetime.fromisoformat(f"{day}T{hh}:{mm}:{ss}")
    except ValueError:
        return None
    offset = 0
    if zone and zone not in ("Z", "z"):
        sign = -1 if zone[0] == "-" else 1
        digits = zone[1:].replace(":", "")
        offset = sign * (int(digits[:2]) * 3600 + int(digits[2:]) * 60)
    seconds = int(base.replace(tzinfo=UTC).timestamp()) - offset
    return seconds * 1_000_000_000 + int(((frac or "") + "000000000")[:9])


class Unfit(ValueError):
    """A value cannot be stored in its column; the message names the field."""


class _Moved:
    """Marker: the value does not fit its column but is kept in ``_extra``."""


MOVED = _Moved()

Normalizer = Callable[[Any, str, dict[str, Any]], Any]


@dataclass(frozen=True, slots=True)
class Reject:
    """A document that goes to quarantine instead of the Parquet files."""

    id: str
    index: str
    reason: str
    source: Any


def _json(value: Any) -> str:
    return orjson.dumps(value, option=orjson.OPT_NON_STR_KEYS).decode()


def _scalar_string(v: Any) -> str:
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, int | float):
        return repr(v) if isinstance(v, float) else str(v)
    return _json(v)


def _norm_string(v: Any, path: str, extra: dict[str, Any]) -> Any:
    if type(v) is str:
        return v
    if isinstance(v, list):
        if not v:
            return None
        if len(v) == 1 and not isinstance(v[0], dict | list):
            return _norm_string(v[0], path, extra)
        return _json(v)
    return _scalar_string(v)


INT64_MIN, INT64_MAX = -(2**63), 2**63 - 1


def _norm_int(v: Any, path: str, extra: dict[str, Any]) -> Any:
    if type(v) is int:
        if not INT64_MIN <= v <= INT64_MAX:
            raise Unfit(f"field {path}: {v!r} does not fit a 64-bit integer")
        return v
    if isinstance(v, float) and v.is_integer():
        return _norm_int(int(v), path, extra)
    if isinstance(v, str):
        try:
            return int(v)
        except ValueError:
            try:
                f = float(v)
            except ValueError:
                raise Unfit(f"field {path}: {v!r} is not an integer") from None
            if f.is_integer():
                return _norm_int(int(f), path, extra)
    if isinstance(v, list):
        return _unwrap(v, path, extra, _norm_int)
    raise Unfit(f"field {path}: {v!r} is not an integer")


def _norm_float(v: Any, path: str, extra: dict[str, Any]) -> Any:
    if type(v) is float:
        return v
    if type(v) is int:
        return float(v)
    if isinstance(v, str):
        try:
            return float(v)
        except ValueError:
            raise Unfit(f"field {path}: {v!r} is not a number") from None
    if isinstance(v, list):
        return _unwrap(v, path, extra, _norm_float)
    raise Unfit(f"field {path}: {v!r} is not a number")


def _norm_float_exact(v: Any, path: str, extra: dict[str, Any]) -> Any:
    """Like :func:`_norm_float`, but an integer that a double cannot hold exactly is unfit."""
    if type(v) is int and int(float(v)) != v:
        raise Unfit(f"field {path}: {v!r} is not exactly representable as a double")
    if isinstance(v, list):
        return _unwrap(v, path, extra, _norm_float_exact)
    return _norm_float(v, path, extra)


def _norm_string_scalar(v: Any, path: str, extra: dict[str, Any]) -> Any:
    """Like :func:`_norm_string`, but objects and arrays of several values are unfit
    (they would become JSON text in a column of plain strings)."""
    if isinstance(v, dict):
        raise Unfit(f"field {path}: an object is not a string")
    if isinstance(v, list):
        return _unwrap(v, path, extra, _norm_string_scalar)
    return _norm_string(v, path, extra)


def _norm_bool(v: Any, path: str, extra: dict[str, Any]) -> Any:
    if type(v) is bool:
        return v
    if v in ("true", "false"):
        return v == "true"
    if v == "":
        return False  # Elasticsearch indexes "" as false
    if isinstance(v, list):
        return _unwrap(v, path, extra, _norm_bool)
    raise Unfit(f"field {path}: {v!r} is not a boolean")


def _norm_decimal(v: Any, path: str, extra: dict[str, Any]) -> Any:
    if isinstance(v, list):
        return _unwrap(v, path, extra, _norm_decimal)
    try:
        d = Decimal(str(v))
    except InvalidOperation:
        raise Unfit(f"field {path}: {v!r} is not an unsigned integer") from None
    if d != d.to_integral_value() or d < 0 or d >= 2**64:
        raise Unfit(f"field {path}: {v!r} is not an unsigned 64-bit integer")
    return d


_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_MS = timedelta(milliseconds=1)


def parse_timestamp_ms(v: Any, path: str) -> int:
    """Milliseconds since the epoch from epoch millis or an ISO 8601 string."""
    if type(v) is int:
        return v
    if isinstance(v, float):
        return int(v)
    if isinstance(v, str):
        if v.lstrip("-").isdigit():
            return int(v)
        try:
            dt = datetime.fromisoformat(v)
        except ValueError:
            raise Unfit(f"field {path}: {v!r} is not a date (epoch millis or ISO 8601)") from None
        if dt.tzinfo is None:  # Elasticsearch reads dates without an offset as UTC
            dt = dt.replace(tzinfo=UTC)
        # Integer arithmetic: float seconds * 1000 can land a millisecond short.
        return (dt - _EPOCH) // _MS
    raise Unfit(f"field {path}: {v!r} is not a date")


def _norm_timestamp(v: Any, path: str, extra: dict[str, Any]) -> Any:
    if isinstance(v, list):
        return _unwrap(v, path, extra, _norm_timestamp)
    return parse_timestamp_ms(v, path)


def _unwrap(v: list[Any], path: str, extra: dict[str, Any], norm: Normalizer) -> Any:
    """A one-element array fits a scalar column; several values move to ``_extra``."""
    if not v:
        return None
    if len(v) == 1:
        return norm(v[0], path, extra)
    extra[path] = v
    return MOVED


_SCALAR_NORMALIZERS: dict[str, Normalizer] = {
    "string": _norm_string,
    "int": _norm_int,
    "float": _norm_float,
    "bool": _norm_bool,
    "decimal": _norm_decimal,
    "timestamp": _norm_timestamp,
}

#: Stricter normalizers for lenient paths, where a misfit goes to ``_extra``, not to a column.
_LENIENT_NORMALIZERS: dict[str, Normalizer] = {
    **_SCALAR_NORMALIZERS,
    "string": _norm_string_scalar,
    "float": _norm_float_exact,
}

#: Kinds Arrow takes as they come from JSON and refuses (rather than silently changes) when
#: they are not well formed; they are only normalised on the slow path, after Arrow refused
#: a page. Not int or float: Arrow truncates 1.5 into an int64 and turns true into 1.0.
_ARROW_NATIVE = {"bool"}


def is_lenient(path: str, lenient: frozenset[str]) -> bool:
    """True when ``path`` or one of its parents is a lenient path."""
    if not lenient:
        return False
    if path in lenient:
        return True
    parts = path.split(".")
    return any(".".join(parts[:i]) in lenient for i in range(1, len(parts)))


def _moving(norm: Normalizer) -> Normalizer:
    """``norm``, keeping a value it cannot convert verbatim in ``_extra``."""

    def move_unfit(v: Any, path: str, extra: dict[str, Any]) -> Any:
        try:
            out = norm(v, path, extra)
        except Unfit:
            out = MOVED
        if out is MOVED:
            extra[path] = v
        return out

    return move_unfit


def _normalizer(
    ft: FieldType, path: str, full: bool, lenient: frozenset[str] = frozenset()
) -> Normalizer | None:
    """The function that makes a value fit ``ft``, or None when Arrow can take it as is."""
    if not is_lenient(path, lenient):
        return _plain_normalizer(ft, path, full, lenient)
    norm = _plain_normalizer(ft, path, True, lenient, _LENIENT_NORMALIZERS)
    return _moving(norm) if norm is not None else None


def _plain_normalizer(
    ft: FieldType,
    path: str,
    full: bool,
    lenient: frozenset[str],
    scalars: dict[str, Normalizer] = _SCALAR_NORMALIZERS,
) -> Normalizer | None:
    if ft.kind == "struct":
        base: Normalizer | None = _struct_normalizer(ft, path, full, lenient)
    elif ft.kind in _ARROW_NATIVE and not full:
        base = None
    else:
        base = scalars[ft.kind]
    if not ft.repeated:
        return base
    elem = base
    strict = scalars is not _SCALAR_NORMALIZERS

    def norm_list(v: Any, path: str, extra: dict[str, Any]) -> Any:
        items = v if isinstance(v, list) else [v]
        if elem is None:
            return items
        out: list[Any] = []
        for item in items:
            if item is None:
                out.append(None)
                continue
            n = elem(item, path, extra)
            if n is MOVED and strict:
                raise Unfit(f"field {path}: an element does not fit")
            out.append(None if n is MOVED else n)
        return out

    return norm_list


#: Python types that already fit a scalar column exactly; anything else is normalised.
_FITS: dict[str, tuple[type, ...]] = {
    "string": (str,),
    "int": (int,),
    "float": (float, int),
    "bool": (bool,),
}


@dataclass(frozen=True, slots=True)
class _Plan:
    """How to normalise a dict of known keys: each key with the types that already fit
    (checked inline, the common case stays free of function calls) and its normalizer."""

    known: frozenset[str]
    checks: tuple[tuple[str, str, tuple[type, ...], Normalizer], ...]  # key, path, fits, norm


def _plan(
    children: Iterable[tuple[str, FieldType]],
    prefix: str,
    full: bool,
    lenient: frozenset[str] = frozenset(),
) -> _Plan:
    checks = []
    names = []
    for name, ft in children:
        names.append(name)
        path = f"{prefix}.{name}" if prefix else name
        norm = _normalizer(ft, path, full, lenient)
        if norm is not None:
            fits = () if ft.repeated else _FITS.get(ft.kind, ())
            if is_lenient(path, lenient) and ft.kind in ("int", "float"):
                fits = (float,) if ft.kind == "float" else ()  # range and exactness checks
            checks.append((name, path, fits, norm))
    return _Plan(frozenset(names), tuple(checks))


def _apply(plan: _Plan, row: dict[str, Any], extra: dict[str, Any]) -> None:
    """Normalise ``row`` in place (it must be a copy the caller owns)."""
    for name, path, fits, norm in plan.checks:
        value = row.get(name)
        if value is not None and type(value) not in fits:
            fixed = norm(value, path, extra)
            row[name] = None if fixed is MOVED else fixed


def _struct_normalizer(ft: FieldType, path: str, full: bool, lenient: frozenset[str]) -> Normalizer:
    plan = _plan(ft.children, path, full, lenient)
    known = plan.known

    def norm_struct(v: Any, _path: str, extra: dict[str, Any]) -> Any:
        if type(v) is not dict:
            if isinstance(v, list):
                return _unwrap(v, path, extra, norm_struct)
            extra[path] = v
            return MOVED
        out = dict(v)
        if not known.issuperset(v):
            for key in sorted(v.keys() - known):
                extra[f"{path}.{key}"] = out.pop(key)
        _apply(plan, out, extra)
        return out

    return norm_struct


Check = Callable[[Any], bool]


def _checker(ft: FieldType) -> Check | None:
    """A test that a (non-null) value already fits ``ft`` exactly, so Arrow can take it
    untouched; None when Arrow itself refuses misfits (bool). Conservative: False sends
    the document down the normalising path, never into a wrong column."""
    if ft.repeated:
        if ft.kind not in _FITS:
            return lambda v: False
        fits = _FITS[ft.kind]
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
    if ft.kind in _ARROW_NATIVE:
        return None
    if ft.kind in _FITS:
        fits = _FITS[ft.kind]
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


def column_normalizer(ft: FieldType, path: str) -> Normalizer:
    """A lenient normalizer for one whole column: a value that does not convert to ``ft``
    losslessly is put in ``extra[path]`` and :data:`MOVED` returned."""
    norm = _normalizer(ft, path, True, frozenset({path}))
    assert norm is not None  # lenient normalizers always exist
    return norm


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
        self._fast = _plan(schema.columns.items(), "", False, schema.lenient)
        self._full = _plan(schema.columns.items(), "", True, schema.lenient)
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

    def _row(self, hit: dict[str, Any], plan: _Plan) -> dict[str, Any]:
        src = hit["_source"]
        row = dict(src)
        extra: dict[str, Any] = {}
        if not self._known_or_ts.issuperset(row):
            for key in sorted(row.keys() - self._known_or_ts):
                if not _expand_dotted(row, key, self.known):
                    extra[key] = row.pop(key)
        _apply(plan, row, extra)
        row[ID_COLUMN] = hit["_id"]
        row[INDEX_COLUMN] = hit["_index"]
        row[self.ts] = self._timestamp(hit, src)
        if self.ns is not None:
            row[self.ns] = self._timestamp_ns(hit, src, row[self.ts])
        row[EXTRA_COLUMN] = _json(extra) if extra else None
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
        return _norm_timestamp(raw, self.ts, {})

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
