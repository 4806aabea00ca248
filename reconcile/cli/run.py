"""``reconcile run``: the scheduled unit for cron or a Kubernetes CronJob."""

from __future__ import annotations

import sys
from typing import Any

import click

from ..findings import MIXED_COLUMNS
from ..render import Format, render
from ..schedule.run import RunReport, run_job
from ..timewin import parse_time
from .alerts import alert_options, echo_report
from .archive import COLUMNS as ARCHIVE_COLUMNS
from .common import Setting, format_option, handle_errors, resolve_job, settings_options

RUN_SETTINGS = [
    Setting(
        "--pushgateway-url",
        "run.pushgateway_url",
        "Push run metrics to this Prometheus Pushgateway.",
    ),
]


@click.command("run")
@click.option(
    "--job",
    "job_file",
    required=True,
    type=click.Path(dir_okay=False),
    envvar="RECONCILE_JOB",
    help="Job spec file (TOML). [env: RECONCILE_JOB]",
)
@click.option(
    "--now", default=None, help="Pretend the clock says this (UTC); for replays and tests."
)
@settings_options(RUN_SETTINGS)
@alert_options
@format_option
@click.pass_context
@handle_errors
def command(
    ctx: click.Context, job_file: str, now: str | None, dry_run: bool, fmt: Format, **params: Any
) -> None:
    """Archive what is due, judge the trailing hours and egress, send and resolve alerts.

    Archives the hours that have settled (archive.settle) and are not yet committed, and
    re-archives committed hours that Elasticsearch now holds more documents for (late
    logs, within run.recheck_lookback_hours). Takes a lease in the archive so two runs
    never overlap. Exit 0: nothing to report; 3: gaps or anomalies found (alerts sent);
    1: something could not run.
    """
    spec = resolve_job(ctx, job_file, params)
    report = run_job(spec, now=parse_time(now, "--now") if now else None, dry_run=dry_run)
    _print(report, fmt)
    sys.exit(report.exit_code)


def _print(report: RunReport, fmt: Format) -> None:
    worked = [r.as_dict() for r in report.archive.results]
    if fmt == "json":
        click.echo(render([f.as_dict() for f in report.findings], "json", MIXED_COLUMNS), nl=False)
    else:
        if worked:
            title = "archive" + (
                f": {report.archive.rearchived} hour(s) re-archived with "
                f"{report.archive.late:,} late documents"
                if report.archive.rearchived
                else ""
            )
            click.echo(render(worked, fmt, ARCHIVE_COLUMNS, title=title), nl=False)
        shown = report.problems if fmt == "table" else report.findings
        title = f"{len(report.findings)} findings, {len(report.problems)} to report"
        click.echo(render([f.as_dict() for f in shown], fmt, MIXED_COLUMNS, title=title), nl=False)
    if report.notify is not None and report.notify.sinks:
        echo_report(report.notify)
    for line in report.skipped:
        click.echo(f"skipped: {line}", err=True)
    for line in report.errors:
        click.echo(f"error: {line}", err=True)
