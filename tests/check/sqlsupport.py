"""Test support for the SQL files: sample placeholder values and tables from DDL.

Every file in ``sql/`` must render, parse as Athena SQL and (queries) run in DuckDB. The
values here fill every file's placeholders; a new file whose placeholders are not covered
fails the tests with a message saying where to add them.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pyarrow as pa
import sqlglot
from sqlglot import exp

from reconcile.sqlfiles import Raw, SqlFile, column_list, get_file, render_text
from tests.check.helpers import SCHEMA

START = datetime(2026, 11, 20, tzinfo=UTC)
END = datetime(2026, 11, 21, tzinfo=UTC)

COMMON: dict[str, Any] = {
    "columns": Raw(column_list(SCHEMA)),
    "archive_location": "s3://bucket/archive/hub",
    "results_location": "s3://bucket/archive/hub/_reconcile/results",
    "projection_start": "2026-01-01",
    "start": START,
    "end": END,
    "start_dt": "2026-11-20",
    "end_dt": "2026-11-20",
    "judge_cutoff": datetime(2026, 11, 20, 18, tzinfo=UTC),
    "ratio": 1.0,
    "abs_tolerance": 0,
    "rel_tolerance": 0.001,
    "job": "hub",
    "resource": "app/hub/0123456789abcdef",
    "database": "logs",
}


def sample_params(f: SqlFile) -> dict[str, Any]:
    """Placeholder values for ``f``, from the module that owns it where it has its own."""
    params = dict(COMMON)
    if f.name == "queries/reconcile_hourly":
        params["archived_hourly"] = Raw(get_file("queries/archived_per_hour").render(COMMON))
        params["expected_hourly"] = Raw(
            "SELECT * FROM (VALUES (TIMESTAMP '2026-11-20 00:00:00', CAST(10 AS bigint))) "
            "AS t(window_start, expected)"
        )
    if f.name in ("queries/egress_top_talkers", "queries/egress_top_talkers_v2"):
        from reconcile.egress.flowlogs import query_values

        values = query_values("eni-0123456789abcdef0", START, END, "out", 10)
        params.update({k: Raw(str(v)) for k, v in values.items()})
    if f.name == "ddl/vpc_flow_logs":
        params.update(
            flow_logs_location="s3://bucket/flow/AWSLogs/",
            account_ids="123456789012",
            regions="us-east-1",
        )
    if f.name in ("queries/expected_from_alb_logs", "ddl/alb_access_logs"):
        from reconcile.expected.alb_sql import alb_query_params
        from reconcile.expected.config import ExpectedConfig

        cfg = ExpectedConfig(
            source="alb_logs",
            load_balancers=["app/hub/0123456789abcdef"],
            alb_logs_uri="s3://bucket/alb",
            region="us-east-1",
            account_id="123456789012",
        )
        params.update(alb_query_params(cfg, START, END))
        params.setdefault(
            "alb_logs_location",
            "s3://bucket/alb/AWSLogs/123456789012/elasticloadbalancing/us-east-1",
        )
    missing = set(f.placeholders) - set(params)
    assert not missing, (
        f"sql/{f.name}.sql has placeholders {sorted(missing)} without sample values: "
        "add them in tests/check/sqlsupport.py"
    )
    return params


def render_sample(f: SqlFile) -> str:
    return render_text(f.text, sample_params(f), where=f.name)


def parse(f: SqlFile, sql: str) -> exp.Expression:
    """Parse strictly: DDL in Athena's Hive dialect, queries in Trino; never a raw Command."""
    dialect = "athena" if f.kind == "ddl" else "trino"
    statements = [
        s
        for s in sqlglot.parse(sql, read=dialect, error_level=sqlglot.ErrorLevel.RAISE)
        if s is not None
    ]
    assert len(statements) == 1, f"{f.name}: expected one statement, got {len(statements)}"
    tree = statements[0]
    assert not isinstance(tree, exp.Command), f"{f.name}: sqlglot fell back to a raw command"
    return tree


def _arrow(t: exp.DataType) -> pa.DataType:
    kind = t.this
    T = exp.DataType.Type
    simple = {
        T.TEXT: pa.string(),
        T.VARCHAR: pa.string(),
        T.CHAR: pa.string(),
        T.BIGINT: pa.int64(),
        T.INT: pa.int32(),
        T.SMALLINT: pa.int16(),
        T.TINYINT: pa.int8(),
        T.DOUBLE: pa.float64(),
        T.FLOAT: pa.float32(),
        T.BOOLEAN: pa.bool_(),
        T.TIMESTAMP: pa.timestamp("ms"),
        T.DATE: pa.date32(),
        T.BINARY: pa.binary(),
    }
    if kind in simple:
        return simple[kind]
    if kind == T.DECIMAL:
        p, s = (int(e.this.this) for e in t.expressions)
        return pa.decimal128(p, s)
    if kind == T.ARRAY:
        return pa.list_(_arrow(t.expressions[0]))
    if kind == T.MAP:
        return pa.map_(_arrow(t.expressions[0]), _arrow(t.expressions[1]))
    if kind == T.STRUCT:
        return pa.struct([pa.field(c.name, _arrow(c.args["kind"])) for c in t.expressions])
    raise AssertionError(f"no Arrow type for DDL type {t.sql()}")


def ddl_schema(f: SqlFile) -> tuple[str, pa.Schema]:
    """The table name and Arrow schema (columns, then partition columns) a DDL file creates."""
    tree = parse(f, render_sample(f))
    assert isinstance(tree, exp.Create)
    schema = tree.this
    fields = [pa.field(c.name, _arrow(c.args["kind"])) for c in schema.expressions]
    parts = tree.find(exp.PartitionedByProperty)
    if parts is not None:
        fields += [pa.field(c.name, _arrow(c.args["kind"])) for c in parts.this.expressions]
    return schema.this.name, pa.schema(fields)
