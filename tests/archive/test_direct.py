"""The direct (Arrow JSON) page path against the row path: same batch, or it declines.

Pages are decoded from search-response text by the real decoder (``decode_page``); the
documents are built to disagree with their columns in every way the row path handles.
The servers' own pages go through both paths in ``tests/archive/test_archive_es.py``.
"""

from __future__ import annotations

from typing import Any

import orjson
import pyarrow as pa
import pytest

from reconcile.archive.convert import RowConverter
from reconcile.archive.direct import PageConverter
from reconcile.archive.schema import build_schema
from reconcile.source.page import decode_page

TS_MS = 1795179600000

MAPPING: dict[str, Any] = {
    "@timestamp": {"type": "date"},
    "service": {"type": "keyword"},
    "tags": {"type": "keyword"},
    "labels": {"type": "keyword"},
    "seen": {"type": "date"},
    "ok": {"type": "boolean"},
    "big": {"type": "unsigned_long"},
    "http": {
        "properties": {
            "status": {"type": "short"},
            "took": {"type": "float"},
            "path": {"type": "keyword"},
        }
    },
    "ports": {"type": "long"},
}

BASE: dict[str, Any] = {
    "@timestamp": "2026-11-19T12:00:00.000Z",
    "service": "api",
    "http": {"status": 200, "took": 1.5, "path": "/a"},
}


def schema(arrays: tuple[str, ...] = ("ports",)) -> Any:
    return build_schema({"logs-a": {"properties": MAPPING}}, "@timestamp", arrays)


def response(docs: list[Any], raw: bool = False, fields: list[str] | None = None) -> bytes:
    """A search response holding ``docs`` as the sources of its hits (and ``fields`` as
    their docvalue texts, if given)."""
    hits = []
    for i, d in enumerate(docs):
        src = d if raw else orjson.dumps(d).decode()
        docvalue = fields[i] if fields else f'{{"@timestamp":["{TS_MS + i}"]}}'
        hits.append(
            f'{{"_index":"logs-a","_id":"id{i}","_score":null,"_source":{src},'
            f'"fields":{docvalue},"sort":[{i}]}}'
        )
    return ('{"took":1,"timed_out":false,"hits":{"hits":[' + ",".join(hits) + "]}}").encode()


def both(
    docs: list[Any], raw: bool = False, fields: list[str] | None = None, **kw: Any
) -> tuple[PageConverter, pa.Table, pa.Table]:
    """The page through the page converter and, separately, through the row path."""
    sch = schema(**kw)
    page = decode_page(response(docs, raw, fields), "test")
    conv = PageConverter(sch, 10_000)
    direct = [b for b, _ in conv.convert(page) if b is not None]
    rows, _ = RowConverter(sch, 10_000).convert(page.dicts())
    assert rows is not None
    return (
        conv,
        pa.Table.from_batches(direct, schema=conv.arrow_schema),
        pa.Table.from_batches([rows]),
    )


def assert_direct(
    docs: list[Any], raw: bool = False, fields: list[str] | None = None, **kw: Any
) -> None:
    conv, direct, rows = both(docs, raw, fields, **kw)
    assert conv.tally.direct_pages == 1, "expected the direct path"
    assert direct.equals(rows), (direct.to_pylist(), rows.to_pylist())


def assert_declines(docs: list[Any], raw: bool = False) -> None:
    conv, direct, rows = both(docs, raw)
    assert conv.tally.row_pages == 1 and conv.tally.direct_pages == 0
    assert direct.equals(rows)  # it fell back to the very same conversion


@pytest.mark.parametrize(
    "docs",
    [
        [BASE, {**BASE, "service": None}, {"@timestamp": BASE["@timestamp"]}],
        [{**BASE, "http": None}, {**BASE, "http": {}}, {**BASE, "http": {"status": 404}}],
        [{**BASE, "http": {"took": 3}}],  # an integer in a float column
        [{**BASE, "tags": ["alb", "hub"]}, {**BASE, "tags": ["one"]}, {**BASE, "tags": []}],
        [{**BASE, "tags": ["é/ü", "\x7f", "a b"]}, {**BASE, "tags": None}],
        [
            {**BASE, "seen": "2026-11-19T13:00:00.123+01:00"},
            {**BASE, "seen": "2026-11-19T12:00:00Z"},
        ],
        [{**BASE, "ok": True}, {**BASE, "ok": False}],
        [{**BASE, "ports": [80, 443]}, {**BASE, "ports": []}],
        [{**BASE, "@timestamp": 1795179600000}],  # the source's own timestamp as a number
        [{**BASE, "big": None}],
    ],
    ids=[
        "nulls",
        "struct-null-empty-partial",
        "int-in-float",
        "arrays-in-string",
        "unicode-arrays",
        "dates-with-offsets",
        "bools",
        "repeated",
        "numeric-source-ts",
        "null-decimal",
    ],
)
def test_fitting_pages_take_the_direct_path_and_match_the_row_path(docs: list[Any]) -> None:
    assert_direct(docs)


def test_plain_docvalues_skip_the_json_parse(monkeypatch: pytest.MonkeyPatch) -> None:
    import pyarrow.json as pj

    calls: list[int] = []
    real = pj.read_json
    monkeypatch.setattr(pj, "read_json", lambda *a, **k: calls.append(1) or real(*a, **k))
    assert_direct([BASE, BASE, BASE])
    assert len(calls) == 1  # the sources only: the docvalues were read without a parse


@pytest.mark.parametrize(
    "docvalue",
    [
        '{ "@timestamp" : [ "%d" ] }',  # spaced out
        '{"@timestamp":["\\u0031%d"]}',  # an escaped digit (the value gains a leading 1)
        '{"@timestamp":["%d","1"]}',  # two values: the first counts
        '{"@timestamp":[%d]}',  # a number, not text
        '{"@timestamp":["-%d"]}',  # before 1970
        '{"@timestamp":["%d"],"other":["x"]}',  # another docvalue beside it
    ],
    ids=["spaces", "escape", "two-values", "number", "negative", "other-field"],
)
def test_other_docvalue_shapes_are_parsed_as_the_row_path_reads_them(docvalue: str) -> None:
    texts = [docvalue.replace("%d", str(TS_MS + i)) for i in range(3)]
    conv, direct, rows = both([BASE, BASE, BASE], fields=texts)
    assert direct.equals(rows), (direct.to_pylist(), rows.to_pylist())
    assert conv.tally.direct_pages + conv.tally.row_pages == 1


def test_pretty_printed_sources_are_parsed_directly() -> None:
    pretty = orjson.dumps(BASE, option=orjson.OPT_INDENT_2).decode()
    assert "\n" in pretty
    assert_direct([pretty, orjson.dumps(BASE).decode()], raw=True)


@pytest.mark.parametrize(
    "doc",
    [
        {**BASE, "service": 7},  # number into a string column
        {**BASE, "http": {"status": "200"}},  # Elasticsearch's coerce
        {**BASE, "http": {"status": 1.5}},
        {**BASE, "http": {"status": [404]}},
        {**BASE, "http": {"status": 2**63}},
        {**BASE, "ok": "true"},
        {**BASE, "unmapped": 1},  # goes to _extra
        {**BASE, "http.path": "/dotted"},
        {**BASE, "http": {"path": "/a", "extra": 1}},
        {**BASE, "http": "flat"},
        {**BASE, "tags": ["a", None]},
        {**BASE, "tags": ['say "hi"', "x"]},  # an element orjson escapes
        {**BASE, "tags": [["nested"], "x"]},
        {**BASE, "seen": "2026-11-19"},  # no offset: read as UTC by the row path
        {**BASE, "seen": "1795179600000"},
        {**BASE, "big": 18446744073709551615},
        {**BASE, "_id": "in-source"},
    ],
)
def test_misfits_take_the_row_path(doc: dict[str, Any]) -> None:
    assert_declines([BASE, doc])


def test_a_column_mixing_arrays_and_strings_within_a_page_takes_the_row_path() -> None:
    assert_declines([{**BASE, "tags": ["a", "b"]}, {**BASE, "tags": "c"}])


def test_a_source_over_the_size_limit_goes_to_the_row_path_and_is_quarantined() -> None:
    sch = schema()
    page = decode_page(response([BASE, {**BASE, "service": "x" * 20_000}]), "test")
    conv = PageConverter(sch, 10_000)
    out = list(conv.convert(page))
    assert conv.tally.row_pages == 1
    assert sum(b.num_rows for b, _ in out if b is not None) == 1
    assert [r.id for _, bad in out for r in bad] == ["id1"]


def test_a_hit_without_source_is_quarantined_not_dropped() -> None:
    body = response([BASE]).replace(b',"_source":' + orjson.dumps(BASE), b"")
    conv = PageConverter(schema(), 10_000)
    out = list(conv.convert(decode_page(body, "test")))
    assert [r.reason for _, bad in out for r in bad] == [
        "document has no _source (source disabled or filtered)"
    ]


def test_learned_array_columns_stay_learned_across_pages() -> None:
    conv = PageConverter(schema(), 10_000)
    for _ in range(3):
        list(conv.convert(decode_page(response([{**BASE, "tags": ["a", "b"]}]), "t")))
    assert conv.tally.direct_pages == 3


def test_partial_answers_are_refused() -> None:
    from reconcile.errors import SourceError

    failed = b'{"_shards":{"total":2,"failed":1,"failures":[{"reason":"boom"}]},"hits":{"hits":[]}}'
    with pytest.raises(SourceError, match=r"1 shards failed: .*boom"):
        decode_page(failed, "read w page 0")
    with pytest.raises(SourceError, match="timed out"):
        decode_page(b'{"timed_out":true,"hits":{"hits":[]}}', "read w page 0")
