"""Daily indexes whose mappings drift, one change a day, and checks that nothing was lost.

Day 0 maps ``status`` long, ``latency`` float, ``client`` an object, ``user`` keyword and
has ``region``; each later day makes one change (each day's index is created that day):

1. ``status`` long -> keyword ("200" converts, "OK" does not)
2. ``latency`` float -> long
3. ``client`` object -> keyword
4. ``user`` keyword -> object
5. ``trace`` added
6. ``region`` gone
"""

from __future__ import annotations

import copy
import re
from datetime import timedelta
from typing import Any

import orjson
import pyarrow as pa
import pyarrow.parquet as pq

from reconcile.sqlfiles import athena_type
from reconcile.storage import ObjectStore
from reconcile.timewin import Window, parse_time
from tests.archive.conftest import load

KW, LONG, FLOAT = {"type": "keyword"}, {"type": "long"}, {"type": "float"}
BASE: dict[str, Any] = {
    "@timestamp": {"type": "date"},
    "doc": KW,
    "status": LONG,
    "latency": FLOAT,
    "client": {"properties": {"ip": KW, "port": LONG}},
    "user": KW,
    "region": KW,
}
CHANGES = [
    "base",
    "long->keyword",
    "float->long",
    "object->keyword",
    "keyword->object",
    "field added",
    "field gone",
]
FIRST = parse_time("2026-10-05T10")
NOW = parse_time("2026-11-01")


def day_window(day: int) -> Window:
    return Window(FIRST + timedelta(days=day))


def day_index(prefix: str, day: int) -> str:
    return prefix + day_window(day).start.strftime("%Y.%m.%d")


def mapping(day: int) -> dict[str, Any]:
    """Day ``day``'s mapping: every change up to that day applied."""
    m = copy.deepcopy(BASE)
    if day >= 1:
        m["status"] = KW
    if day >= 2:
        m["latency"] = LONG
    if day >= 3:
        m["client"] = KW
    if day >= 4:
        m["user"] = {"properties": {"name": KW, "id": LONG}}
    if day >= 5:
        m["trace"] = KW
    if day >= 6:
        del m["region"]
    return m


def doc(day: int, i: int, window: Window) -> dict[str, Any]:
    m = mapping(day)
    ts = window.start + timedelta(seconds=17 * i)
    d: dict[str, Any] = {
        "@timestamp": ts.strftime("%Y-%m-%dT%H:%M:%S.000Z"),
        "doc": f"d{day}-{i}",
        "status": (200 if i % 2 else 404) if m["status"] == LONG else ("200" if i % 2 else "OK"),
        "latency": 0.25 * (i + 1) if m["latency"] == FLOAT else i + 3,
        "client": {"ip": f"10.0.{day}.{i}", "port": 443}
        if "properties" in m["client"]
        else f"10.9.{day}.{i}",
        "user": {"name": f"u{i}", "id": i} if "properties" in m["user"] else f"user-{i}",
    }
    if "region" in m:
        d["region"] = "eu-west-1"
    if "trace" in m:
        d["trace"] = f"t-{day}-{i}"
    return d


def create_day(es: Any, prefix: str, day: int, n: int) -> list[dict[str, Any]]:
    """Create day ``day``'s index with its mapping and index ``n`` documents into it."""
    index = day_index(prefix, day)
    es.indices.create(index=index, mappings={"properties": mapping(day)})
    window = day_window(day)
    docs = [doc(day, i, window) for i in range(n)]
    load(es, index, docs)
    return docs


def committed_files(store: ObjectStore) -> list[str]:
    return [o.key for o in store.list("dt=") if o.key.endswith(".parquet") and "/_" not in o.key]


def read_file(store: ObjectStore, key: str, schema: pa.Schema | None = None) -> pa.Table:
    fs, base = store.arrow()
    with fs.open_input_file(f"{base}/{key}") as fh:
        return pq.read_table(fh, schema=schema)


def _same(got: Any, want: Any) -> bool:
    """``got`` (from the column) holds ``want`` (from the document) without loss."""
    if isinstance(want, dict):
        return isinstance(got, dict) and all(_same(got.get(k), v) for k, v in want.items())
    if isinstance(want, bool) or isinstance(got, bool):
        return got == want
    if isinstance(want, int | float) and isinstance(got, int | float):
        return float(got) == float(want)
    if isinstance(want, str) and isinstance(got, int | float):
        return float(want) == float(got)
    return got == want


def assert_every_value_kept(
    rows: list[dict[str, Any]], docs: list[dict[str, Any]], json_text: bool = False
) -> None:
    """Each document is one row, every field converted in its column or verbatim in _extra
    (with ``json_text``, an object may also be JSON text in a string column)."""
    by_doc = {r["doc"]: r for r in rows}
    assert len(by_doc) == len(rows) == len(docs)
    for d in docs:
        row = by_doc[d["doc"]]
        extra = orjson.loads(row["_extra"]) if row["_extra"] else {}
        for name, value in d.items():
            if name in ("@timestamp", "doc"):
                continue
            if name in extra:
                assert extra[name] == value, (d["doc"], name, extra[name], value)
            elif json_text and isinstance(value, dict) and isinstance(row[name], str):
                assert orjson.loads(row[name]) == value, (d["doc"], name, row[name])
            else:
                assert _same(row[name], value), (d["doc"], name, row[name], value)


def ddl_columns(ddl: str) -> dict[str, str]:
    """``name -> type`` of the column lines of a printed CREATE TABLE."""
    body = ddl[ddl.index("(") : ddl.index("PARTITIONED BY")]
    return dict(re.findall(r"^  `((?:[^`]|``)+)` (.+?),?$", body, flags=re.M))


def assert_files_fit_ddl(store: ObjectStore, ddl: str) -> int:
    """Every committed file's every column has the DDL's Athena type; returns files read."""
    declared = ddl_columns(ddl)
    keys = committed_files(store)
    for key in keys:
        for f in read_file(store, key).schema:
            assert athena_type(f.type) == declared[f.name], (key, f.name, f.type)
    return len(keys)
