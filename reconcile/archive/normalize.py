"""Making a JSON value fit its column: the coercions Elasticsearch itself applies, exactly.

Each column kind has a normalizer: a value that already fits is returned as it is, one that
converts without loss is converted (``"200"`` into an int column, a one-element array into
a scalar one), several values in a scalar column are kept for ``_extra`` (:data:`MOVED`),
and a value that cannot be stored raises :class:`Unfit` naming the field. Lenient paths
(columns the table schema types differently from the window's mapping) move every misfit
to ``_extra`` instead. A :class:`Plan` applies them to a document's known keys.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal, InvalidOperation
from typing import Any

import orjson

from .schema import FieldType

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


def to_json(value: Any) -> str:
    return orjson.dumps(value, option=orjson.OPT_NON_STR_KEYS).decode()


def _scalar_string(v: Any) -> str:
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, int | float):
        return repr(v) if isinstance(v, float) else str(v)
    return to_json(v)


def _norm_string(v: Any, path: str, extra: dict[str, Any]) -> Any:
    if type(v) is str:
        return v
    if isinstance(v, list):
        if not v:
            return None
        if len(v) == 1 and not isinstance(v[0], dict | list):
            return _norm_string(v[0], path, extra)
        return to_json(v)
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


def norm_timestamp(v: Any, path: str, extra: dict[str, Any]) -> Any:
    if isinstance(v, list):
        return _unwrap(v, path, extra, norm_timestamp)
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
    "timestamp": norm_timestamp,
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
ARROW_NATIVE = {"bool"}


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
    elif ft.kind in ARROW_NATIVE and not full:
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
FITS: dict[str, tuple[type, ...]] = {
    "string": (str,),
    "int": (int,),
    "float": (float, int),
    "bool": (bool,),
}


@dataclass(frozen=True, slots=True)
class Plan:
    """How to normalise a dict of known keys: each key with the types that already fit
    (checked inline, the common case stays free of function calls) and its normalizer."""

    known: frozenset[str]
    checks: tuple[tuple[str, str, tuple[type, ...], Normalizer], ...]  # key, path, fits, norm


def make_plan(
    children: Iterable[tuple[str, FieldType]],
    prefix: str,
    full: bool,
    lenient: frozenset[str] = frozenset(),
) -> Plan:
    checks = []
    names = []
    for name, ft in children:
        names.append(name)
        path = f"{prefix}.{name}" if prefix else name
        norm = _normalizer(ft, path, full, lenient)
        if norm is not None:
            fits = () if ft.repeated else FITS.get(ft.kind, ())
            if is_lenient(path, lenient) and ft.kind in ("int", "float"):
                fits = (float,) if ft.kind == "float" else ()  # range and exactness checks
            checks.append((name, path, fits, norm))
    return Plan(frozenset(names), tuple(checks))


def apply_plan(plan: Plan, row: dict[str, Any], extra: dict[str, Any]) -> None:
    """Normalise ``row`` in place (it must be a copy the caller owns)."""
    for name, path, fits, norm in plan.checks:
        value = row.get(name)
        if value is not None and type(value) not in fits:
            fixed = norm(value, path, extra)
            row[name] = None if fixed is MOVED else fixed


def _struct_normalizer(ft: FieldType, path: str, full: bool, lenient: frozenset[str]) -> Normalizer:
    struct_plan = make_plan(ft.children, path, full, lenient)
    known = struct_plan.known

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
        apply_plan(struct_plan, out, extra)
        return out

    return norm_struct


def column_normalizer(ft: FieldType, path: str) -> Normalizer:
    """A lenient normalizer for one whole column: a value that does not convert to ``ft``
    losslessly is put in ``extra[path]`` and :data:`MOVED` returned."""
    norm = _normalizer(ft, path, True, frozenset({path}))
    assert norm is not None  # lenient normalizers always exist
    return norm
