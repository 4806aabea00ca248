"""``reconcile check``: judge hour windows of archived logs against load-balancer requests."""

from __future__ import annotations

from typing import Any

import click

from ..check.run import CheckReport, check
from ..findings import LOGFLOW_FIGURES
from ..job import load_job
from ..render import Format, render
from ..timewin import parse_time
from .alerts import alert_and_exit, judging_options
from .common import (
    ARCHIVE_SETTINGS,
    Setting,
    handle_errors,
    job_option,
    overrides,
    parse_range,
    settings_options,
    with_time_range,
)

EXPECTED_SETTINGS = [
    Setting(
        "--load-balancer",
        "expected.load_balancers",
        "Load balancer to reconcile (app/<name>/<id> or ARN); repeat for several. With "
        "--alb-logs and none given: the only one whose logs the bucket holds.",
        multiple=True,
    ),
    Setting(
        "--target-group",
        "expected.target_groups",
        "CloudWatch only: count requests of this target group (repeatable).",
        multiple=True,
    ),
    Setting(
        "--alb-logs",
        "expected.alb_logs_uri",
        "ALB access logs location (s3://bucket/prefix); implies --expected-source alb_logs.",
    ),
    Setting(
        "--expected-source",
        "expected.source",
        "Where expected requests come from.",
        click.Choice(["cloudwatch", "alb_logs"]),
    ),
    Setting("--region", "expected.region", "AWS region of the load balancers."),
]
CHECK_SETTINGS = [
    Setting(
        "--es-url",
        "source.url",
        "Elasticsearch URL, for the indexed figure (credentials: ES_API_KEY or ES_USERNAME/ES_PASSWORD).",
    ),
    Setting("--index", "source.index", "Index pattern holding the logs, e.g. hub-logs-*."),
    Setting(
        "--no-indexed",
        "check.read_indexed",
        "Do not read what Elasticsearch holds (no indexed figure, no stale windows).",
        is_flag=True,
        flag_value=False,
    ),
    Setting("--engine", "check.engine", "SQL engine.", click.Choice(["duckdb", "athena"])),
    Setting("--grace", "check.grace", "Wait after a window closes before judging it: 30m, 2h."),
    Setting("--abs-tolerance", "check.abs_tolerance", "Rows an hour may be off and be ok.", int),
    Setting(
        "--rel-tolerance", "check.rel_tolerance", "Fraction an hour may be off and be ok.", float
    ),
    Setting(
        "--expected-ratio",
        "check.expected_ratio",
        "Log rows per request when not learned (0.5 if the app logs half).",
        float,
    ),
    Setting(
        "--learn-ratio",
        "check.learn_ratio",
        "Learn the ratio as the trailing median of complete hours.",
        is_flag=True,
    ),
    Setting("--ratio-days", "check.ratio_days", "Days a learned ratio looks back.", int),
    Setting(
        "--results", "check.results_uri", "Results dataset (default <archive>/_reconcile/results)."
    ),
    Setting("--athena-database", "check.athena_database", "Athena database holding the tables."),
    Setting("--athena-workgroup", "check.athena_workgroup", "Athena workgroup."),
    Setting("--athena-output", "check.athena_output_location", "s3:// prefix for Athena results."),
]

TABLE_COLUMNS = ["window_start", "status", *LOGFLOW_FIGURES, "baseline", "message"]
CSV_COLUMNS = [
    "job",
    "kind",
    "resource",
    "window_start",
    "status",
    *LOGFLOW_FIGURES,
    "baseline",
    "threshold",
    "message",
    "detail",
]


@click.command("check")
@job_option
@settings_options(ARCHIVE_SETTINGS + EXPECTED_SETTINGS + CHECK_SETTINGS)
@with_time_range
@judging_options
@click.pass_context
@handle_errors
def command(
    ctx: click.Context,
    job_file: str | None,
    start: str,
    end: str,
    now: str | None,
    no_results: bool,
    dry_run: bool,
    fmt: Format,
    **params: Any,
) -> None:
    """Reconcile load-balancer requests with archived log rows, one finding per hour.

    Each window [HH:00, HH+1:00) of --from..--to (exclusive) gets three figures, expected
    (load balancer), indexed (what Elasticsearch holds now) and archived, and a status: ok,
    gap (fewer logs than requests), surplus (duplicates), missing (closed, no committed
    archive), stale (Elasticsearch now holds a different count than the archive: late
    logs), no_traffic (one side zero) or pending (not closed, or within --grace); a gap or
    surplus names the hop it arose at (ingest or archive). Findings are also merged into the
    results dataset. Exit 3 when any window is not ok or pending; 1 when Elasticsearch or a
    sink could not be reached.
    """
    flags = overrides(ctx, params)
    if "expected.alb_logs_uri" in flags and "expected.source" not in flags:
        flags["expected.source"] = ("alb_logs", "flag --alb-logs")
    spec = load_job(job_file, flags)
    t0, t1 = parse_range(start, end)
    report = check(
        spec,
        t0,
        t1,
        now=parse_time(now, "--now") if now else None,
        write_results=not no_results,
    )
    rows = [f.as_dict() for f in report.findings]
    columns = CSV_COLUMNS if fmt == "csv" else TABLE_COLUMNS
    click.echo(render(rows, fmt, columns, title=_title(report)), nl=False)
    for error in report.errors:
        click.echo(f"error: {error}", err=True)
    alert_and_exit(spec, report.findings, dry_run, now=report.now, failed=bool(report.errors))


def _title(report: CheckReport) -> str:
    title = f"{report.job} {report.resource}: {report.summary}"
    if report.engine == "athena":
        title += f"; Athena scanned {report.bytes_scanned:,} bytes"
    return title
