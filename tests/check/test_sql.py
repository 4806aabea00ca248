"""The SQL files: every one renders, parses as Athena SQL, and every query runs in DuckDB."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pyarrow as pa
import pytest

from reconcile.archive.read import ArchiveReader
from reconcile.archive.survey import ddl_table
from reconcile.check.config import CheckConfig
from reconcile.check.judge import Baseline, judge
from reconcile.check.views import archive_dataset, results_dataset
from reconcile.engines.duckdb import DuckDBEngine
from reconcile.errors import ConfigError
from reconcile.findings import Finding
from reconcile.results import FILE_SCHEMA, write_findings
from reconcile.sqlfiles import (
    Raw,
    archive_ddl,
    athena_type,
    column_list,
    get_file,
    list_files,
    literal,
    render_text,
    time_params,
)
from reconcile.storage import open_store
from tests.check.helpers import SCHEMA, hours, write_window
from tests.check.sqlsupport import COMMON, ddl_schema, parse, render_sample

FILES = list_files()
QUERIES = [f for f in FILES if f.kind == "queries"]
DDLS = [f for f in FILES if f.kind == "ddl"]


def test_the_files_this_stage_needs_exist() -> None:
    names = {f.name for f in FILES}
    assert {
        "ddl/archive_logs",
        "ddl/reconcile_results",
        "queries/archived_per_hour",
        "queries/reconcile_hourly",
        "queries/ratio_history",
        "queries/problem_hours",
    } <= names
    assert all(f.description for f in FILES), "every SQL file starts with a -- comment"


@pytest.mark.parametrize("f", FILES, ids=lambda f: f.name)
def test_every_file_parses_as_athena_sql(f) -> None:  # type: ignore[no-untyped-def]
    sql = render_sample(f)
    assert "{{" not in sql
    tree = parse(f, sql)
    assert tree.key == ("create" if f.kind == "ddl" else tree.key)


def test_athena_dollar_placeholders_are_left_alone() -> None:
    sql = render_sample(get_file("ddl/archive_logs"))
    assert "'storage.location.template' = 's3://bucket/archive/hub/dt=${dt}/hour=${hour}'" in sql
    assert "'projection.hour.digits' = '2'" in sql
    assert "'projection.dt.format' = 'yyyy-MM-dd'" in sql
    assert "PARTITIONED BY (dt string, hour int)" in sql


def test_missing_placeholders_fail_loudly_and_values_are_escaped() -> None:
    with pytest.raises(ConfigError, match="archive_location, projection_start"):
        render_text(get_file("ddl/archive_logs").text, {"columns": Raw("x int")}, "archive")
    assert literal("it's") == "it''s"
    assert literal(Raw("a'b")) == "a'b"
    assert literal(datetime(2026, 11, 20, 13, tzinfo=UTC)) == "2026-11-20 13:00:00"
    assert literal(0.5) == "0.5" and literal(3) == "3" and literal(True) == "true"
    assert (
        time_params(datetime(2026, 11, 20, tzinfo=UTC), datetime(2026, 11, 22, tzinfo=UTC))[
            "end_dt"
        ]
        == "2026-11-21"
    )


def test_athena_types_from_arrow() -> None:
    assert athena_type(pa.uint64()) == "decimal(20,0)"
    assert athena_type(pa.timestamp("ms", tz="UTC")) == "timestamp"
    assert athena_type(pa.dictionary(pa.int32(), pa.string())) == "string"
    assert athena_type(pa.large_list(pa.int64())) == "array<bigint>"
    assert athena_type(pa.map_(pa.string(), pa.float64())) == "map<string,double>"
    nested = pa.struct([("Status", pa.int32()), ("@odd", pa.list_(pa.bool_()))])
    assert athena_type(nested) == "struct<`Status`:int,`@odd`:array<boolean>>"
    lines = column_list(SCHEMA)
    assert "  `@timestamp` timestamp," in lines
    assert "  `http` struct<status:bigint,path:string>," in lines
    with pytest.raises(ConfigError, match="clash"):
        column_list(pa.schema([("hour", pa.int64())]))


def test_results_ddl_matches_the_results_writer() -> None:
    _, schema = ddl_schema(get_file("ddl/reconcile_results"))
    declared = [(f.name, f.type) for f in schema if f.name not in ("kind", "dt")]
    assert [n for n, _ in declared] == FILE_SCHEMA.names
    assert column_list(FILE_SCHEMA) in render_sample(get_file("ddl/reconcile_results"))


def test_archive_ddl_from_a_real_parquet_schema(tmp_path: Path) -> None:
    store = open_store(str(tmp_path / "a"))
    for w in hours("2026-11-19T22", 3):
        write_window(store, w, [5])
    found = ddl_table(store, "@timestamp")
    assert found.files_read == 3 and found.first_day == "2026-11-19" and not found.stored
    ddl = archive_ddl(found.table.arrow, {**COMMON, "projection_start": found.first_day})
    assert "`@timestamp` timestamp" in ddl and "`tags` array<string>" in ddl
    assert "'projection.dt.range' = '2026-11-19,NOW'" in ddl
    parse(get_file("ddl/archive_logs"), ddl)


@pytest.fixture
def engine(tmp_path: Path):  # type: ignore[no-untyped-def]
    """DuckDB with every table of sql/ddl: real archive and results, others empty from DDL."""
    archive = open_store(str(tmp_path / "archive"))
    results = open_store(str(tmp_path / "archive" / "_reconcile" / "results"))
    for i, w in enumerate(hours("2026-11-20T00", 6)):
        write_window(archive, w, [10 * (i + 1), 5])
    findings = [
        Finding("hub", "logflow", COMMON["resource"], w.start, s, expected=100, archived=a)
        for w, s, a in zip(
            hours("2026-11-20T00", 4), ["ok", "gap", "ok", "pending"], [100, 50, 99, 3], strict=True
        )
    ]
    write_findings(results, findings)
    tables = {
        "archive_logs": lambda: archive_dataset(archive),
        "reconcile_results": lambda: results_dataset(results),
    }
    for f in DDLS:
        name, schema = ddl_schema(f)
        tables.setdefault(name, lambda s=schema: s.empty_table())
    with DuckDBEngine(tables) as e:
        yield e


@pytest.mark.parametrize("f", QUERIES, ids=lambda f: f.name)
def test_every_query_runs_in_duckdb(engine, f) -> None:  # type: ignore[no-untyped-def]
    table = engine.query(render_sample(f))
    assert isinstance(table, pa.Table) and table.num_columns > 0


def test_archived_per_hour_counts_what_the_footers_count(engine) -> None:  # type: ignore[no-untyped-def]
    rows = engine.query(render_sample(get_file("queries/archived_per_hour"))).to_pylist()
    assert [r["archived"] for r in rows] == [15, 25, 35, 45, 55, 65]
    assert rows[0]["window_start"] == datetime(2026, 11, 20, 0)


def test_ratio_history_keeps_complete_hours_of_the_job(engine) -> None:  # type: ignore[no-untyped-def]
    rows = engine.query(render_sample(get_file("queries/ratio_history"))).to_pylist()
    assert [(r["archived"], r["expected"]) for r in rows] == [(100, 100), (50, 100), (99, 100)]
    other = {**COMMON, "job": "other"}
    assert engine.query(get_file("queries/ratio_history").render(other)).num_rows == 0


def test_problem_hours_lists_only_problems(engine) -> None:  # type: ignore[no-untyped-def]
    rows = engine.query(render_sample(get_file("queries/problem_hours"))).to_pylist()
    assert [r["status"] for r in rows] == ["gap"]


def test_reconcile_hourly_sql_agrees_with_the_python_judgement(tmp_path: Path) -> None:
    """The SQL status logic and reconcile.check.judge give the same status per hour."""
    store = open_store(str(tmp_path / "a"))
    wins = hours("2026-11-20T00", 8)
    # (expected, archived rows or None for no archive at all)
    cases = [
        (100, 100),
        (1000, 999),
        (1000, 900),
        (1000, 1100),
        (0, 40),
        (50, None),
        (100, 7),
        (100, 100),
    ]
    for w, (_, rows) in zip(wins, cases, strict=True):
        if rows is not None:
            write_window(store, w, [rows])
    cfg = CheckConfig(rel_tolerance=0.001, abs_tolerance=2, expected_ratio=1.0)
    now = wins[-1].start + timedelta(minutes=40)  # the last hour is still open
    expected = {w: e for w, (e, _) in zip(wins, cases, strict=True)}
    values = ", ".join(
        f"(TIMESTAMP '{w.start:%Y-%m-%d %H:%M:%S}', CAST({e} AS bigint))"
        for w, e in expected.items()
    )
    params = {
        **COMMON,
        "abs_tolerance": 2,
        "judge_cutoff": now - cfg.grace - timedelta(hours=1),
        "expected_hourly": Raw(f"SELECT * FROM (VALUES {values}) AS t(window_start, expected)"),
    }
    params["archived_hourly"] = Raw(get_file("queries/archived_per_hour").render(params))
    with DuckDBEngine({"archive_logs": lambda: archive_dataset(store)}) as e:
        sql_rows = e.query(get_file("queries/reconcile_hourly").render(params)).to_pylist()
    scan = ArchiveReader(store).scan(wins[0].start, wins[-1].end)
    py = judge(
        job="hub",
        resource="lb",
        expected=expected,
        archives=scan.windows,
        baselines=dict.fromkeys(wins, Baseline(1.0, "configured")),
        cfg=cfg,
        now=now,
    )
    sql_status = [r["status"] for r in sql_rows]
    assert sql_status == [f.status for f in py]
    assert sql_status == ["ok", "ok", "gap", "surplus", "no_traffic", "missing", "gap", "pending"]
    assert [r["ratio"] for r in sql_rows][:2] == [f.ratio for f in py][:2]
