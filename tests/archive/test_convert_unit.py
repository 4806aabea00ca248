"""Unit tests of the schema rules and document conversion (edge cases, no servers)."""

from __future__ import annotations

from typing import Any

import orjson
import pyarrow as pa
import pytest

from reconcile.archive.convert import RowConverter
from reconcile.archive.normalize import parse_timestamp_ms
from reconcile.archive.schema import FieldType, build_schema, merge

TS = "1795179600000"


def hit(i: int, src: dict[str, Any], index: str = "a") -> dict[str, Any]:
    return {"_id": str(i), "_index": index, "_source": src, "fields": {"@timestamp": [TS]}}


def convert(
    mapping: dict[str, Any], docs: list[dict[str, Any]], **kw: Any
) -> tuple[list[dict[str, Any]], list[Any]]:
    schema = build_schema(
        {"a": {"properties": {"@timestamp": {"type": "date"}, **mapping}}},
        "@timestamp",
        kw.get("arrays", ()),
    )
    batch, rejects = RowConverter(schema, kw.get("max_bytes", 10_000)).convert(
        [hit(i, d) for i, d in enumerate(docs)]
    )
    return (batch.to_pylist() if batch is not None else []), rejects


@pytest.mark.parametrize(
    ("a", "b", "out"),
    [
        ("int", "float", "float"),
        ("int", "string", "string"),
        ("bool", "int", "string"),
        ("timestamp", "string", "string"),
        ("decimal", "int", "float"),
    ],
)
def test_merge_of_scalars(a: str, b: str, out: str) -> None:
    assert merge(FieldType(a), FieldType(b)).kind == out


def test_struct_merges_children_and_struct_with_scalar_becomes_string() -> None:
    s1 = FieldType("struct", (("a", FieldType("int")),))
    s2 = FieldType("struct", (("b", FieldType("string")),))
    assert merge(s1, s2) == FieldType(
        "struct", (("a", FieldType("int")), ("b", FieldType("string")))
    )
    assert merge(s1, FieldType("string")) == FieldType("string")


def test_es_types_map_to_arrow_types() -> None:
    schema = build_schema(
        {
            "a": {
                "properties": {
                    "@timestamp": {"type": "date_nanos"},
                    "ip": {"type": "ip"},
                    "n": {"type": "integer"},
                    "u": {"type": "unsigned_long"},
                    "f": {"type": "scaled_float"},
                    "b": {"type": "boolean"},
                    "geo": {"type": "geo_point"},
                    "items": {"type": "nested", "properties": {"k": {"type": "keyword"}}},
                    "off": {"type": "object", "enabled": False},
                    "al": {"type": "alias", "path": "ip"},
                }
            }
        },
        "@timestamp",
    ).arrow
    assert schema.field("@timestamp").type == pa.timestamp("ms", tz="UTC")
    assert schema.field("ip").type == pa.string()
    assert schema.field("n").type == pa.int64()
    assert schema.field("u").type == pa.decimal128(20, 0)
    assert schema.field("f").type == pa.float64()
    assert schema.field("b").type == pa.bool_()
    assert schema.field("geo").type == pa.string()
    assert schema.field("items").type == pa.list_(pa.struct([("k", pa.string())]))
    assert schema.field("off").type == pa.string()
    assert "al" not in schema.names
    assert schema.names[:3] == ["_id", "_index", "@timestamp"] and schema.names[-1] == "_extra"


def test_coercions_that_lose_nothing() -> None:
    rows, rejects = convert(
        {
            "s": {"type": "keyword"},
            "n": {"type": "long"},
            "b": {"type": "boolean"},
            "d": {"type": "date"},
        },
        [
            {"s": 200, "n": "42", "b": "true", "d": "2026-11-20T13:00:01.250+01:00"},
            {"s": True, "n": 7.0, "b": [False], "d": 1795179600123},
            {"s": ["x"], "n": None, "d": "2026-11-20 13:00:00"},
        ],
    )
    assert rejects == []
    assert [r["s"] for r in rows] == ["200", "true", "x"]
    assert [r["n"] for r in rows] == [42, 7, None]
    assert [r["b"] for r in rows] == [True, False, None]
    assert [int(r["d"].timestamp() * 1000) for r in rows] == [
        1795176001250,
        1795179600123,
        1795179600000,
    ]


def test_values_that_do_not_fit_are_kept_in_extra() -> None:
    rows, rejects = convert(
        {"obj": {"properties": {"k": {"type": "keyword"}}}, "n": {"type": "long"}},
        [
            {"obj": "scalar-in-object", "n": [1, 2], "new": 1},
            {"obj": {"k": "v", "deep": {"x": 1}}, "obj.k2": "dotted"},
            {"obj": [{"k": "a"}, {"k": "b"}]},
        ],
    )
    assert rejects == []
    assert orjson.loads(rows[0]["_extra"]) == {"obj": "scalar-in-object", "n": [1, 2], "new": 1}
    assert rows[1]["obj"] == {"k": "v"}
    assert orjson.loads(rows[1]["_extra"]) == {"obj.deep": {"x": 1}, "obj.k2": "dotted"}
    assert rows[2]["obj"] is None and orjson.loads(rows[2]["_extra"]) == {
        "obj": [{"k": "a"}, {"k": "b"}]
    }


def test_string_columns_hold_json_for_composite_values() -> None:
    rows, _ = convert({"s": {"type": "keyword"}}, [{"s": ["a", "b"]}, {"s": {"k": 1}}])
    assert [r["s"] for r in rows] == ['["a","b"]', '{"k":1}']


def test_rejects_name_the_field_and_keep_the_original_source() -> None:
    doc = {"n": "twelve", "s": 5}
    rows, rejects = convert({"n": {"type": "long"}, "s": {"type": "keyword"}}, [doc, {"n": 1}])
    assert [r["n"] for r in rows] == [1]
    assert len(rejects) == 1
    assert rejects[0].reason == "field n: 'twelve' is not an integer"
    assert rejects[0].source == {"n": "twelve", "s": 5}  # not the half-normalised copy


def test_non_integral_float_in_long_is_rejected_not_truncated() -> None:
    _, rejects = convert({"n": {"type": "long"}}, [{"n": 1.5}])
    assert [r.reason for r in rejects] == ["field n: 1.5 is not an integer"]


def test_oversized_document_is_rejected() -> None:
    rows, rejects = convert(
        {"s": {"type": "keyword"}}, [{"s": "x" * 500}, {"s": "ok"}], max_bytes=100
    )
    assert [r["s"] for r in rows] == ["ok"]
    assert "over max_doc_bytes=100" in rejects[0].reason


def test_timestamp_comes_from_the_docvalue_elasticsearch_indexed() -> None:
    schema = build_schema({"a": {"properties": {"@timestamp": {"type": "date"}}}}, "@timestamp")
    h = {
        "_id": "1",
        "_index": "a",
        "_source": {"@timestamp": "20/11/2026 13:00"},
        "fields": {"@timestamp": ["1795179600000.5"]},
    }
    batch, rejects = RowConverter(schema, 1000).convert([h])
    assert rejects == [] and batch is not None
    assert batch.column("@timestamp").cast(pa.int64()).to_pylist() == [1795179600000]


def test_parse_timestamp_ms_forms() -> None:
    assert parse_timestamp_ms("2026-11-20T13:00:00Z", "t") == 1795179600000
    assert parse_timestamp_ms("1795179600000", "t") == 1795179600000
    assert parse_timestamp_ms(1795179600000.9, "t") == 1795179600000


def test_direct_page_conversion_equals_the_row_by_row_path() -> None:
    from reconcile.demo.es_docs import window_docs
    from reconcile.timewin import Window, parse_time

    mapping = {
        "properties": {
            "@timestamp": {"type": "date"},
            "service": {"type": "keyword"},
            "trace_id": {"type": "keyword"},
            "http": {
                "properties": {
                    "method": {"type": "keyword"},
                    "path": {"type": "keyword"},
                    "status": {"type": "long"},
                    "bytes_sent": {"type": "long"},
                    "duration_ms": {"type": "float"},
                }
            },
            "client": {"properties": {"ip": {"type": "ip"}}},
            "user_agent": {"type": "keyword"},
            "host": {"properties": {"name": {"type": "keyword"}}},
            "tags": {"type": "keyword"},
            "message": {"type": "text"},
        }
    }
    schema = build_schema({"a": mapping}, "@timestamp", ["tags"])
    w = Window(parse_time("2026-11-20T13"))
    hits = [
        {
            "_id": str(i),
            "_index": "a",
            "_source": d,
            "fields": {"@timestamp": [str(w.start_ms + i)]},
        }
        for i, d in enumerate(window_docs(w, 300))
    ]
    conv = RowConverter(schema, 10_000)
    direct = conv._direct(hits)
    by_rows, rejects = conv._by_rows(hits)
    assert direct is not None and by_rows is not None and rejects == []
    assert direct.equals(by_rows)
    # One misfit (an int in a string column) sends the whole chunk down the row path, same result.
    hits[7]["_source"]["service"] = 42
    assert conv._direct(hits) is None
    batch, _ = conv.convert(hits)
    assert batch is not None and batch.column("service")[7].as_py() == "42"


def test_iso_nanos_keeps_every_digit_and_honours_offsets() -> None:
    from reconcile.archive.normalize import iso_nanos

    base = 1_795_181_400 * 1_000_000_000  # 2026-11-20T13:30:00Z
    assert iso_nanos("2026-11-20T13:30:00.123456789Z") == base + 123_456_789
    assert iso_nanos("2026-11-20T13:30:00Z") == base
    assert iso_nanos("2026-11-20T13:30:00.5Z") == base + 500_000_000
    assert iso_nanos("2026-11-20T14:30:00.000000001+01:00") == base + 1
    assert iso_nanos("2026-11-20T12:30:00.000000001-0100") == base + 1
    assert iso_nanos("1795181400123") is None and iso_nanos(None) is None
