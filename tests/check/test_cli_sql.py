"""``reconcile sql list | render NAME | ddl``."""

from __future__ import annotations

from pathlib import Path

import sqlglot
from click.testing import CliRunner

from reconcile.cli import cli
from reconcile.demo.alb_traffic import DEFAULT_LB, write_alb_logs
from reconcile.storage import open_store
from tests.check.helpers import hours, write_window


def run(*args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(cli, ["sql", *args])
    return result.exit_code, result.stdout, result.stderr


def test_list_names_every_file_and_its_placeholders() -> None:
    code, out, _ = run("list")
    assert code == 0
    assert "queries/reconcile_hourly" in out and "ddl/archive_logs" in out
    assert "placeholders: results_location, projection_start" in out


def test_render_fills_placeholders_from_the_job_and_range(tmp_path: Path) -> None:
    code, out, _ = run(
        "render", "reconcile_hourly", "--archive", "s3://logs/archive",
        "--from", "2026-11-20", "--to", "2026-11-21", "--now", "2026-11-21T06",
        "--param", "expected_hourly=SELECT window_start, expected FROM my_counts",
    )  # fmt: skip
    assert code == 0, out
    assert "FROM archive_logs" in out and "FROM my_counts" in out
    assert "TIMESTAMP '2026-11-21 04:30:00'" in out  # judge cutoff: now - 30m grace - 1h
    assert "{{" not in out
    sqlglot.parse_one(out.rstrip(";\n"), read="trino")


def test_render_names_missing_placeholders() -> None:
    code, _, err = run("render", "queries/ratio_history", "--archive", "s3://logs/archive")
    assert code == 1
    assert "no value for placeholder(s) end, end_dt, resource, start, start_dt" in err
    code, _, err = run("render", "no_such_query")
    assert code == 1 and "no SQL file 'no_such_query'" in err


def test_render_expected_from_alb_logs_for_a_job(tmp_path: Path) -> None:
    alb = str(tmp_path / "alb")
    write_alb_logs(alb, {hours("2026-11-20T10", 1)[0]: 5})
    code, out, err = run(
        "render", "ddl/alb_access_logs", "--alb-logs", alb, "--archive", "s3://logs/a"
    )
    assert code == 0, err
    assert "alb/AWSLogs/123456789012/elasticloadbalancing/us-east-1" in out
    job = tmp_path / "job.toml"
    job.write_text(
        f'[archive]\nuri = "s3://logs/a"\n[expected]\nsource = "alb_logs"\n'
        f'alb_logs_uri = "{alb}"\nload_balancers = ["{DEFAULT_LB}"]\nregion = "us-east-1"\n'
    )
    code, out, err = run(
        "render",
        "reconcile_hourly",
        "--job",
        str(job),
        "--from",
        "2026-11-20",
        "--to",
        "2026-11-21",
    )
    assert code == 0, err
    assert "FROM alb_access_logs" in out and "FROM archive_logs" in out


def test_ddl_from_the_real_parquet_schema(tmp_path: Path) -> None:
    archive = tmp_path / "archive"
    store = open_store(str(archive))
    for w in hours("2026-11-18T23", 2):
        write_window(store, w, [3])
    (tmp_path / "empty").mkdir()
    code, out, err = run("ddl", "--archive", str(tmp_path / "empty"))
    assert code == 1 and "no committed window with data files" in err
    code, out, err = run("ddl", "--archive", str(archive))
    assert code == 0, err
    statements = [s for s in out.split(";\n") if s.strip()]
    assert statements[0].startswith("-- The archive")
    assert "`@timestamp` timestamp" in statements[0]
    assert "`http` struct<status:bigint,path:string>" in statements[0]
    assert "'projection.dt.range' = '2026-11-18,NOW'" in statements[0]
    assert any("CREATE EXTERNAL TABLE IF NOT EXISTS reconcile_results" in s for s in statements)
    assert "skipped ddl/vpc_flow_logs" in err  # its placeholders are not in this job
    for s in statements:
        tree = sqlglot.parse_one(s.strip().rstrip(";"), read="athena")
        assert tree.key == "create"
