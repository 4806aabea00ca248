"""``reconcile egress``: judge NAT gateway egress per hour; drill into spikes with flow logs."""

from __future__ import annotations

from typing import Any

import click

from ..egress.run import EgressReport, judge_egress
from ..render import Format, render
from ..timewin import parse_time
from .alerts import alert_and_exit, judging_options
from .common import (
    ARCHIVE_SETTINGS,
    Setting,
    handle_errors,
    job_option,
    parse_range,
    resolve_job,
    settings_options,
    with_time_range,
)

EGRESS_SETTINGS = [
    Setting(
        "--nat-gateway",
        "egress.nat_gateways",
        "NAT gateway id (nat-...) to judge; repeat for several.",
        multiple=True,
    ),
    Setting(
        "--flow-logs",
        "egress.flow_logs_uri",
        "VPC flow log destination (s3://bucket/prefix, Parquet, Hive-compatible, hourly).",
    ),
    Setting("--region", "egress.region", "AWS region of the gateways."),
    Setting(
        "--metric",
        "egress.metric",
        "AWS/NATGateway metric judged (Sum per period), default BytesOutToDestination.",
    ),
    Setting(
        "--static-threshold",
        "egress.static_threshold",
        "Static threshold per period for every gateway, e.g. 50GiB.",
    ),
    Setting("--history-weeks", "egress.history_weeks", "Weeks of seasonal history.", int),
    Setting("--z-threshold", "egress.z_threshold", "Robust score a spike must reach.", float),
    Setting(
        "--min-increase",
        "egress.min_relative_increase",
        "Fraction above the baseline a spike must reach (1.0 = double).",
        float,
    ),
    Setting(
        "--min-excess", "egress.min_excess_bytes", "Absolute excess a spike must reach, e.g. 1GiB."
    ),
    Setting(
        "--results", "egress.results", "Results dataset (default <archive>/_reconcile/results)."
    ),
]

TABLE_COLUMNS = ["window_start", "resource", "status", "bytes", "baseline", "threshold", "message"]
CSV_COLUMNS = [
    "job",
    "kind",
    "resource",
    "window_start",
    "status",
    "bytes",
    "baseline",
    "threshold",
    "ratio",
    "message",
    "detail",
]


@click.command("egress")
@job_option
@settings_options(EGRESS_SETTINGS + ARCHIVE_SETTINGS)
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
    """Judge NAT gateway egress per hour: ok or spike, with the top talkers of each spike.

    Each hour of --from..--to (exclusive) of each gateway is compared with a static
    threshold (if set) and a seasonal baseline: the same hour of the week over the trailing
    weeks (median and MAD). ErrorPortAllocation > 0 is reported as its own finding
    (resource <nat-id>/ErrorPortAllocation). With --flow-logs, every spike lists the top
    sources, destinations and AWS services, and names S3/DynamoDB traffic that a gateway
    endpoint would carry. Exit 3 on any spike, 1 if it could not run.
    """
    spec = resolve_job(ctx, job_file, params)
    t0, t1 = parse_range(start, end)
    report = judge_egress(
        spec, t0, t1, now=parse_time(now, "--now") if now else None, write_results=not no_results
    )
    rows = [f.as_dict() for f in report.findings]
    columns = CSV_COLUMNS if fmt == "csv" else TABLE_COLUMNS
    click.echo(render(rows, fmt, columns, title=_title(report)), nl=False)
    alert_and_exit(spec, report.findings, dry_run, now=report.now)


def _title(report: EgressReport) -> str:
    title = (
        f"{report.job} egress ({report.metric}): {report.judged} periods judged, "
        f"{len(report.spikes)} spikes, {len(report.port_errors)} with port allocation errors"
    )
    if report.unsettled:
        title += f", {report.unsettled} not settled yet"
    return title
