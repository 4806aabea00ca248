"""The ALB access-log SQL: parses as Athena SQL, and in DuckDB over :func:`read_alb_logs`
gives the same hourly counts as :func:`expected_counts`."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import duckdb
import pytest
import sqlglot
from sqlglot import exp

from reconcile.demo.alb_traffic import DEFAULT_LB, write_alb_logs
from reconcile.expected import ExpectedConfig, expected_counts, read_alb_logs
from reconcile.expected.alb_sql import alb_query_params
from reconcile.sqlfiles import render_text
from reconcile.timewin import Window

SQL = Path(__file__).resolve().parents[2] / "sql"
DDL = SQL / "ddl" / "alb_access_logs.sql"
QUERY = SQL / "queries" / "expected_from_alb_logs.sql"
OTHER_LB = "app/admin-prod/0123456789abcdef"
DAY = datetime(2026, 11, 20, tzinfo=UTC)


def _fill(text: str, start: str, end: str, lbs: list[str]) -> str:
    listed = ", ".join(f"'{lb}'" for lb in lbs)
    return (
        text.replace("{{start}}", start)
        .replace("{{end}}", end)
        .replace("{{load_balancers}}", listed)
    )


def test_ddl_parses_as_athena() -> None:
    text = DDL.read_text().replace(
        "{{alb_logs_location}}", "s3://logs/AWSLogs/1/elasticloadbalancing/eu-west-1"
    )
    tree = sqlglot.parse_one(text, read="athena")
    assert isinstance(tree, exp.Create)
    assert tree.find(exp.Command) is None
    props = {p.name: p.text("value") for p in tree.find_all(exp.Property) if p.name}
    assert props["projection.day.format"] == "yyyy/MM/dd"
    assert props["storage.location.template"].endswith("/${day}")


@pytest.mark.parametrize("dialect", ["trino", "athena", "duckdb"])
def test_query_parses(dialect: str) -> None:
    text = _fill(QUERY.read_text(), "2026-11-20 00:00:00", "2026-11-21 00:00:00", [DEFAULT_LB])
    tree = sqlglot.parse_one(text, read=dialect)
    assert isinstance(tree, exp.Select)
    assert tree.find(exp.Command) is None
    assert {t.name for t in tree.find_all(exp.Table)} == {"alb_access_logs"}


@pytest.mark.integration
def test_duckdb_query_matches_expected_counts(s3_bucket: str) -> None:
    uri = f"s3://{s3_bucket}/alb"
    hourly = {Window(DAY + timedelta(hours=h)): n for h, n in [(22, 240), (23, 310), (24, 55)]}
    write_alb_logs(uri, hourly, malformed_lines=3, seed=21)
    write_alb_logs(uri, {Window(DAY + timedelta(hours=23)): 40}, load_balancer=OTHER_LB, seed=22)
    cfg = ExpectedConfig(
        source="alb_logs", alb_logs_uri=uri, load_balancers=[DEFAULT_LB], region="us-east-1"
    )
    start, end = DAY + timedelta(hours=22), DAY + timedelta(hours=25)

    python = expected_counts(cfg, start, end)
    both = cfg.model_copy(update={"load_balancers": [DEFAULT_LB, OTHER_LB]})
    table = read_alb_logs(both, start, end)
    con = duckdb.connect()
    con.register("alb_access_logs", table)

    def run(sql: str) -> dict[Window, int]:
        return {Window(ts.replace(tzinfo=UTC)): n for ts, n in con.sql(sql).fetchall()}

    rendered = render_text(QUERY.read_text(), alb_query_params(cfg, start, end))
    iso = _fill(QUERY.read_text(), start.isoformat(), end.isoformat(), [DEFAULT_LB])
    all_lbs = _fill(
        QUERY.read_text(), "2026-11-20 22:00:00", "2026-11-21 01:00:00", [DEFAULT_LB, OTHER_LB]
    )

    assert python.counts == hourly
    assert run(rendered) == hourly
    assert run(iso) == hourly
    assert run(all_lbs) == {**hourly, Window(DAY + timedelta(hours=23)): 310 + 40}
