"""One table for years: each day's index created and archived in its own run while the
mappings drift; afterwards one DDL's types read every committed file."""

from __future__ import annotations

import threading
from typing import Any

import orjson
import pytest
import sqlglot
from click.testing import CliRunner

from reconcile.archive.run import Archiver
from reconcile.archive.schema import FieldType
from reconcile.archive.table import TABLE_KEY, TableSchema, absorb, load_table, version_key
from reconcile.check.views import archive_dataset
from reconcile.cli import cli
from reconcile.engines.duckdb import DuckDBEngine
from reconcile.storage import ObjectStore
from tests.archive.conftest import manifest, spec_for
from tests.archive.drift import (
    CHANGES,
    NOW,
    assert_every_value_kept,
    assert_files_fit_ddl,
    committed_files,
    create_day,
    day_window,
    read_file,
)

N = 12  # documents a day


def archive_days(es: Any, es_url: str, prefix: str, uri: str) -> dict[int, list[dict[str, Any]]]:
    """Each day: create its index, then archive its hour with a new Archiver (its own run)."""
    docs = {}
    for day in range(len(CHANGES)):
        docs[day] = create_day(es, prefix, day, N)
        result = Archiver(spec_for(es_url, prefix, uri)).archive_window(day_window(day), now=NOW)
        assert result.status == "archived" and result.rows == N, (CHANGES[day], result.message)
        assert result.quarantined == 0
    return docs


def test_drifting_mappings_stay_one_table(
    es: Any, es_url: str, index_prefix: str, archive_uri: str, store: ObjectStore
) -> None:
    docs = archive_days(es, es_url, index_prefix, archive_uri)

    table = load_table(store)
    assert table is not None
    assert {n: t.describe() for n, t in table.columns.items()} == {
        "client": "struct<ip:string,port:int>",
        "doc": "string",
        "latency": "float",
        "region": "string",
        "status": "int",
        "trace": "string",
        "user": "string",
    }
    assert table.version == 2  # created by day 0, "trace" added by day 5; drift changes nothing
    assert [sorted(h["added"]) for h in table.history][1] == ["trace"]
    assert store.get_bytes(version_key(1)) and store.get_bytes(version_key(2))

    # Every committed file, read under the table's types, holds exactly its window's documents.
    keys = committed_files(store)
    assert len(keys) == len(CHANGES)
    for day in range(len(CHANGES)):
        window = day_window(day)
        m = manifest(store, window)
        assert m is not None and m.rows == N and m.quarantined == 0
        assert m.table_schema_version == (2 if day >= 5 else 1)
        rows = []
        for key in keys:
            if key.startswith(window.partition + "/"):
                data = read_file(store, key)
                want = table.arrow
                for f in data.schema:
                    assert want.field(f.name).type == f.type, (CHANGES[day], f.name)
                rows += read_file(store, key, schema=want).to_pylist()
        assert_every_value_kept(rows, docs[day])
    extra = {CHANGES[d]: manifest(store, day_window(d)).extra_counts for d in range(7)}  # type: ignore[union-attr]
    half = N // 2  # "200" stored as 200, "OK" kept in _extra (from day 1 on: changes add up)
    assert extra == {
        "base": {},
        "long->keyword": {"status": half},
        "float->long": {"status": half},  # 3 stored as 3.0
        "object->keyword": {"client": N, "status": half},
        "keyword->object": {"client": N, "status": half, "user": N},
        "field added": {"client": N, "status": half, "user": N},
        "field gone": {"client": N, "status": half, "user": N},
    }
    drift = manifest(store, day_window(1)).schema["drift"]  # type: ignore[union-attr]
    assert drift == [{"path": "status", "table": "int", "window": "string"}]

    # DuckDB over the whole archive sees the table's columns and types, with exact counts.
    with DuckDBEngine({"archive_logs": lambda: archive_dataset(store)}) as duck:
        got = duck.query(
            "SELECT dt, count(*) AS n, count(status) AS status, count(latency) AS latency, "
            "count(trace) AS trace, count(region) AS region, count(_extra) AS extra, "
            "typeof(any_value(status)) AS st, typeof(any_value(latency)) AS lt "
            "FROM archive_logs GROUP BY dt ORDER BY dt"
        ).to_pylist()
        everything = duck.query("SELECT * FROM archive_logs").to_pylist()
    assert [g["n"] for g in got] == [N] * 7
    assert [g["status"] for g in got] == [N] + [half] * 6
    assert [g["latency"] for g in got] == [N] * 7
    assert [g["trace"] for g in got] == [0, 0, 0, 0, 0, N, N]
    assert [g["region"] for g in got] == [N] * 6 + [0]
    assert {(g["st"], g["lt"]) for g in got} == {("BIGINT", "DOUBLE")}
    all_docs = [d for day in docs.values() for d in day]
    assert_every_value_kept(everything, all_docs)

    # One DDL from the table schema; it parses as Athena SQL and names the table's types.
    result = CliRunner().invoke(cli, ["sql", "ddl", "--archive", archive_uri])
    assert result.exit_code == 0, result.stderr
    ddl = result.stdout.split(";\n")[0]
    assert "`status` bigint" in ddl and "`latency` double" in ddl and "`trace` string" in ddl
    assert "`client` struct<ip:string,port:bigint>" in ddl and "`user` string" in ddl
    assert "'projection.dt.range' = '2026-10-05,NOW'" in ddl
    assert sqlglot.parse_one(ddl, read="athena").key == "create"
    assert assert_files_fit_ddl(store, ddl) == len(CHANGES)  # every file, the DDL's types

    # The archive conforms: reconcile schema finds nothing to rewrite.
    result = CliRunner().invoke(cli, ["schema", "--archive", archive_uri, "--format", "json"])
    assert result.exit_code == 0, result.stderr
    assert result.stdout == ""


def test_two_writers_evolving_the_table_lose_nothing(store: ObjectStore) -> None:
    """Concurrent conditional writes (S3 If-Match / local flock): every column any writer
    added is in the table."""
    barrier = threading.Barrier(8)

    def add(i: int) -> None:
        barrier.wait()
        absorb(
            store, {f"f{i}": FieldType("int"), "shared": FieldType("string")}, "@timestamp", f"w{i}"
        )

    threads = [threading.Thread(target=add, args=(i,)) for i in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    table = load_table(store)
    assert table is not None
    assert set(table.columns) == {"shared", *(f"f{i}" for i in range(8))}
    assert table.version == len(table.history) <= 8
    assert orjson.loads(store.get_bytes(TABLE_KEY) or b"{}")["version"] == table.version


def test_an_established_column_never_changes_type() -> None:
    t = TableSchema("@timestamp", {"status": FieldType("int")}, 1)
    evo = t.evolve({"status": FieldType("string"), "new": FieldType("float")})
    assert evo.columns == {"status": FieldType("int"), "new": FieldType("float")}
    assert evo.added == ["new"] and [d.path for d in evo.drift] == ["status"]
    nested = TableSchema("@timestamp", {"c": FieldType("struct", (("a", FieldType("int")),))})
    evo = nested.evolve(
        {"c": FieldType("struct", (("a", FieldType("string")), ("b", FieldType("bool"))))}
    )
    assert evo.columns["c"].describe() == "struct<a:int,b:bool>"
    assert evo.added == ["c.b"] and [d.path for d in evo.drift] == ["c.a"]
    with pytest.raises(ValueError):
        FieldType.from_json({"kind": "nope"})
    assert TableSchema.from_json(nested.to_json()).columns == nested.columns
