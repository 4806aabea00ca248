"""The table of type changes in docs/schema.md, value by value: stored in the table's type
when that loses nothing, otherwise kept verbatim in ``_extra``; never quarantined."""

from __future__ import annotations

from typing import Any

import orjson
import pyarrow as pa
import pytest

from reconcile.archive.convert import RowConverter
from reconcile.archive.rewrite import conform_table
from reconcile.archive.schema import FieldType, WindowSchema

INT, FLOAT, STR = FieldType("int"), FieldType("float"), FieldType("string")
BOOL, TS, DEC = FieldType("bool"), FieldType("timestamp"), FieldType("decimal")
STRUCT = FieldType("struct", (("ip", STR), ("port", INT)))
INTS = FieldType("int", repeated=True)
MOVED = object()

CASES: list[tuple[FieldType, Any, Any]] = [
    (INT, "200", 200),
    (INT, "OK", MOVED),
    (INT, 3.0, 3),
    (INT, 3.5, MOVED),
    (INT, True, MOVED),
    (INT, 2**63, MOVED),
    (INT, {"code": 200}, MOVED),
    (INT, [7], 7),
    (INT, [1, 2], MOVED),
    (FLOAT, 3, 3.0),
    (FLOAT, 2**53 + 1, MOVED),
    (FLOAT, "1.5", 1.5),
    (FLOAT, "fast", MOVED),
    (STR, 200, "200"),
    (STR, 1.5, "1.5"),
    (STR, True, "true"),
    (STR, {"name": "bob"}, MOVED),
    (STR, ["a", "b"], MOVED),
    (STRUCT, "10.0.0.1", MOVED),
    (STRUCT, {"ip": "10.0.0.1", "port": "443"}, {"ip": "10.0.0.1", "port": 443}),
    (TS, "2026-10-05T10:00:00Z", 1791194400000),
    (TS, 1791194400000, 1791194400000),
    (TS, "yesterday", MOVED),
    (BOOL, "true", True),
    (BOOL, "yes", MOVED),
    (DEC, 42, 42),
    (DEC, -1, MOVED),
    (INTS, 5, [5]),
]


def _convert(ft: FieldType, value: Any) -> tuple[Any, dict[str, Any]]:
    schema = WindowSchema("@timestamp", {"f": ft}, lenient=frozenset({"f"}))
    hit = {
        "_id": "1",
        "_index": "i",
        "_source": {"@timestamp": "2026-10-05T10:00:00Z", "f": value},
        "fields": {"@timestamp": ["1791194400000"]},
    }
    batch, rejects = RowConverter(schema, 10**6).convert([hit])
    assert rejects == [] and batch is not None
    row = batch.to_pylist()[0]
    return row["f"], orjson.loads(row["_extra"]) if row["_extra"] else {}


def _arrow_value(ft: FieldType, want: Any) -> Any:
    return pa.array([want], type=ft.to_arrow()).to_pylist()[0]


@pytest.mark.parametrize(("ft", "value", "want"), CASES, ids=lambda x: repr(x)[:30])
def test_a_drifted_value_is_converted_or_kept_verbatim(
    ft: FieldType, value: Any, want: Any
) -> None:
    got, extra = _convert(ft, value)
    if want is MOVED:
        assert got is None and extra == {"f": value}
    else:
        assert got == _arrow_value(ft, want) and extra == {}


def test_a_struct_keeps_its_fields_types_field_by_field() -> None:
    got, extra = _convert(STRUCT, {"ip": "10.0.0.1", "port": "https"})
    assert got == {"ip": "10.0.0.1", "port": None} and extra == {"f.port": "https"}


def test_rewrite_applies_the_same_rules_to_committed_files() -> None:
    old = pa.table(
        {
            "_id": ["a", "b"],
            "_index": ["i", "i"],
            "@timestamp": pa.array([0, 1], pa.timestamp("ms", tz="UTC")),
            "status": ["200", "OK"],
            "_extra": [None, '{"dyn":1}'],
        }
    )
    target = WindowSchema(
        "@timestamp", {"status": INT, "trace": STR}, lenient=frozenset({"status"})
    )
    new, counts = conform_table(old, target)
    assert new.schema == target.arrow
    assert new.column("status").to_pylist() == [200, None]
    assert new.column("trace").to_pylist() == [None, None]
    assert [orjson.loads(e) if e else None for e in new.column("_extra").to_pylist()] == [
        None,
        {"dyn": 1, "status": "OK"},
    ]
    assert counts == {"status": 1}
