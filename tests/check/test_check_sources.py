"""``reconcile check`` with the other sources and engine: ALB access logs across midnight,
Athena (moto's server) counting them, and a real archive made from Elasticsearch."""

from __future__ import annotations

import uuid
from datetime import timedelta
from typing import Any

import boto3
import orjson
from click.testing import CliRunner

from reconcile.archive.run import Archiver
from reconcile.check.run import check
from reconcile.cli import cli
from reconcile.demo.alb_traffic import DEFAULT_LB, put_request_counts, write_alb_logs
from reconcile.demo.es_docs import bulk_index, daily_index, window_docs
from reconcile.job import load_job
from reconcile.storage import ObjectStore
from reconcile.timewin import Window
from tests.check.conftest import DAY
from tests.check.helpers import write_window
from tests.check.test_athena import column, queue_results, row

EVENING = [Window(DAY + timedelta(hours=h)) for h in (22, 23, 24)]


def json_rows(output: str) -> list[dict[str, Any]]:
    return [orjson.loads(line) for line in output.splitlines() if line.strip()]


def test_alb_logs_across_midnight(archive_uri: str, store: ObjectStore, s3_bucket: str) -> None:
    alb = f"s3://{s3_bucket}/alb"
    hourly = {EVENING[0]: 180, EVENING[1]: 240, EVENING[2]: 90}
    synth = write_alb_logs(alb, hourly, seed=3)
    # Requests made before midnight are delivered in the next day's folder.
    next_day = f"/{EVENING[2].start:%Y/%m/%d}/"
    assert any(next_day in k and "T0000Z" in k for k in synth.keys)
    assert sum(synth.excluded["waf_blocked"].values()) > 0  # WAF-blocked lines are present
    write_window(store, EVENING[1], [200, 40])
    args = ["check", "--archive", archive_uri, "--alb-logs", alb, "--load-balancer", DEFAULT_LB,
            "--region", "us-east-1", "--from", EVENING[1].label, "--to", EVENING[2].label,
            "--format", "json", "--no-results"]  # fmt: skip
    result = CliRunner().invoke(cli, args)
    assert result.exit_code == 0, result.output
    (finding,) = json_rows(result.stdout)
    assert (finding["status"], finding["expected"], finding["archived"]) == ("ok", 240, 240)
    assert finding["detail"]["expected_source"] == "alb_logs"  # --alb-logs implied the source
    # Forcing CloudWatch (which has no data for this load balancer) overrides the implication.
    forced = CliRunner().invoke(cli, [*args, "--expected-source", "cloudwatch"])
    assert forced.exit_code == 3
    assert json_rows(forced.stdout)[0]["status"] == "no_traffic"


def test_athena_engine_counts_alb_logs_and_learns_the_ratio(
    aws_endpoint: str, s3_bucket: str, tmp_path: Any
) -> None:
    athena = boto3.client("athena")
    workgroup = f"wg-{uuid.uuid4().hex[:8]}"
    athena.create_work_group(Name=workgroup, Configuration={})
    archive = str(tmp_path / "archive")
    from reconcile.storage import open_store

    store = open_store(archive)
    target = [Window(DAY + timedelta(days=1, hours=h)) for h in range(2)]
    write_window(store, target[0], [100])
    write_window(store, target[1], [40])
    ts = "%Y-%m-%d %H:%M:%S.000"
    queue_results(
        aws_endpoint,
        {  # 1st query: expected_from_alb_logs
            "rows": [row("window_start", "expected")]
            + [row(w.start.strftime(ts), "200") for w in target],
            "column_info": [column("window_start", "timestamp"), column("expected", "bigint")],
        },
        {  # 2nd query: ratio_history, a day of hours at 0.5
            "rows": [row("window_start", "expected", "archived")]
            + [row((DAY + timedelta(hours=h)).strftime(ts), "200", "100") for h in range(24)],
            "column_info": [
                column("window_start", "timestamp"),
                column("expected", "bigint"),
                column("archived", "bigint"),
            ],
        },
    )
    args = ["check", "--archive", archive, "--alb-logs", f"s3://{s3_bucket}/alb",
            "--load-balancer", DEFAULT_LB, "--region", "us-east-1",
            "--engine", "athena", "--athena-database", "logs", "--athena-workgroup", workgroup,
            "--athena-output", f"s3://{s3_bucket}/athena/", "--learn-ratio", "--ratio-days", "1",
            "--from", target[0].label, "--to", Window(target[1].end).label,
            "--format", "table", "--no-results"]  # fmt: skip
    result = CliRunner().invoke(cli, args)
    assert result.exit_code == 3, result.output
    assert "1 gap, 1 ok" in result.stdout.replace("\n", " ")
    assert "Athena scanned 0 bytes" in result.stdout
    ids = athena.list_query_executions(WorkGroup=workgroup)["QueryExecutionIds"]
    queries = [athena.get_query_execution(QueryExecutionId=q)["QueryExecution"] for q in ids]
    texts = sorted(q["Query"] for q in queries)
    assert len(texts) == 2
    assert any("FROM alb_access_logs" in t and f"'{DEFAULT_LB}'" in t for t in texts)
    assert any("FROM reconcile_results" in t and "job = 'default'" in t for t in texts)
    assert {q["QueryExecutionContext"]["Database"] for q in queries} == {"logs"}


def test_archive_from_elasticsearch_then_check(
    es: Any, es_url: str, index_prefix: str, tmp_path: Any, lb: str
) -> None:
    """The real pipeline: archive ES windows with the Archiver, then check against CloudWatch."""
    wins = [Window(DAY + timedelta(hours=h)) for h in (10, 11)]
    docs = [
        (w, d) for w, n in zip(wins, (300, 200), strict=True) for d in window_docs(w, n, seed=7)
    ]
    bulk_index(es, ((daily_index(index_prefix, w.start), d) for w, d in docs))
    spec = load_job(
        None,
        {
            "name": ("e2e", "test"),
            "source.url": (es_url, "test"),
            "source.index": (f"{index_prefix}*", "test"),
            "archive.uri": (str(tmp_path / "archive"), "test"),
            "expected.load_balancers": ([lb], "test"),
        },
        environ={},
    )
    summary = Archiver(spec).archive(wins[0].start, wins[-1].end)
    assert [r.status for r in summary.results] == ["archived", "archived"], summary.results
    put_request_counts({wins[0]: 300, wins[1]: 250}, lb)  # 50 requests of the 2nd hour unlogged
    report = check(spec, wins[0].start, wins[-1].end)
    assert [(f.status, f.expected, f.archived) for f in report.findings] == [
        ("ok", 300, 300),
        ("gap", 250, 200),
    ]
    assert report.findings[0].detail.source_count == 300
    assert report.object_requests["footer_reads"] == 2
