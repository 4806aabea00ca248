"""``reconcile alerts``: test the configured sinks, show alert state; and the alert flags that
check, egress and run share (:func:`alert_options`, :func:`notify_and_echo`)."""

from __future__ import annotations

import sys
from collections.abc import Callable
from datetime import datetime
from typing import TYPE_CHECKING, Any

import click
import orjson

from ..alerts import NotifyReport, notify, send_test
from ..alerts.config import (
    ENV_ALERTMANAGER_URL,
    ENV_PAGERDUTY_ROUTING_KEY,
    ENV_SLACK_WEBHOOK_URL,
    ENV_WEBHOOK_URL,
)
from ..alerts.status import alert_status
from ..errors import EXIT_FAILED, EXIT_FINDINGS, EXIT_OK
from ..render import Format, render
from .common import format_option, handle_errors, job_option, resolve_job

if TYPE_CHECKING:
    from ..findings import Finding
    from ..job import JobSpec

#: (flag, job key, help, environment variable named in the design)
SINK_FLAGS = [
    (
        "--webhook-url",
        "alerts.webhook_url",
        "Generic JSON webhook URL; deliveries are signed with RECONCILE_WEBHOOK_SECRET (whsec_...).",
        ENV_WEBHOOK_URL,
    ),
    (
        "--alertmanager-url",
        "alerts.alertmanager_url",
        "Alertmanager base URL, e.g. http://alertmanager:9093.",
        ENV_ALERTMANAGER_URL,
    ),
    (
        "--slack-webhook-url",
        "alerts.slack_webhook_url",
        "Slack incoming-webhook URL (a secret: prefer the environment).",
        ENV_SLACK_WEBHOOK_URL,
    ),
    (
        "--pagerduty-routing-key",
        "alerts.routing_key",
        "PagerDuty Events API v2 routing key (a secret: prefer the environment).",
        ENV_PAGERDUTY_ROUTING_KEY,
    ),
]

COLUMNS = ["sink", "action", "status", "attempts", "incident", "detail"]


def alert_options(fn: Callable[..., Any]) -> Callable[..., Any]:
    """Add the sink flags and ``--dry-run`` to a command.

    The sink flags become job-spec overrides (collected by ``resolve_job``/``overrides``);
    the command receives ``dry_run: bool``.
    """
    for flag, key, help_text, env in reversed(SINK_FLAGS):
        dest = "set__" + key.replace(".", "__")
        metavar = "KEY" if flag.endswith("-key") else "URL"
        fn = click.option(
            flag, dest, default=None, metavar=metavar, help=f"{help_text} [env: {env}]"
        )(fn)
    return click.option(
        "--dry-run",
        "dry_run",
        is_flag=True,
        help="Send no alert and change no alert state; print what would be sent.",
    )(fn)


def judging_options(fn: Callable[..., Any]) -> Callable[..., Any]:
    """What every judging command (check, egress) takes after its own settings:
    ``--now``, ``--no-results``, the alert sinks with ``--dry-run``, and ``--format``."""
    fn = format_option(fn)
    fn = alert_options(fn)
    fn = click.option(
        "--no-results", is_flag=True, help="Do not write findings to the results dataset."
    )(fn)
    return click.option(
        "--now", "now", help="Judge as if it were this time, UTC (backfills, tests)."
    )(fn)


def echo_report(report: NotifyReport, err: bool = True) -> None:
    """A short account of an alerting pass; dry runs add the rendered payloads as JSON lines."""
    if report.dry_run:
        for d in report.deliveries:
            click.echo(orjson.dumps(d.as_dict()).decode(), err=err)
    for name, s in report.per_sink().items():
        verb = "would send" if report.dry_run else "sent"
        click.echo(
            f"alerts: {name}: {verb} {s.sent}, resolved {s.resolved}, held back {s.suppressed}"
            f" (repeat interval), failed {s.failed}, pending {s.pending}",
            err=err,
        )
    for d in report.failed:
        click.echo(f"alerts: {d.sink}: {d.action} NOT delivered: {d.error}", err=True)


def notify_and_echo(
    spec: JobSpec, findings: list[Finding], dry_run: bool, now: datetime | None = None
) -> NotifyReport:
    """For check/egress/run: notify, print the account to stderr; the caller exits 1 if
    ``not report.ok`` (the undelivered alerts stay pending for the next run)."""
    report = notify(spec, findings, now=now, dry_run=dry_run)
    if report.sinks:
        echo_report(report)
    return report


def alert_and_exit(
    spec: JobSpec,
    findings: list[Finding],
    dry_run: bool,
    now: datetime | None = None,
    failed: bool = False,
) -> None:
    """The end of every judging command: notify, then exit 1 (undelivered, or ``failed``),
    3 (problems) or 0."""
    report = notify_and_echo(spec, findings, dry_run, now=now)
    if not report.ok or failed:
        sys.exit(EXIT_FAILED)
    sys.exit(EXIT_FINDINGS if any(f.is_problem for f in findings) else EXIT_OK)


@click.group("alerts")
def command() -> None:
    """Alert sinks: send a test notification, show firing incidents."""


@command.command("test")
@job_option
@alert_options
@format_option
@click.pass_context
@handle_errors
def test_command(
    ctx: click.Context, job_file: str | None, dry_run: bool, fmt: Format, **params: Any
) -> None:
    """Send a clearly marked test notification to every configured sink.

    Sinks come from the job spec, the flags and the environment (RECONCILE_WEBHOOK_URL,
    RECONCILE_SLACK_WEBHOOK_URL, RECONCILE_ALERTMANAGER_URL, RECONCILE_PAGERDUTY_ROUTING_KEY).
    PagerDuty's test event is resolved right after. Exit 1 if a sink did not accept it.
    """
    spec = resolve_job(ctx, job_file, params)
    report = send_test(spec, dry_run=dry_run)
    if dry_run:
        for d in report.deliveries:
            click.echo(orjson.dumps(d.payload, option=orjson.OPT_INDENT_2).decode())
        sys.exit(EXIT_OK)
    rows = [
        {**r, "detail": r["detail"] if r["status"] != "sent" else d.location}
        for r, d in zip(report.rows(), report.deliveries, strict=False)
    ]
    title = f"test notification: {len(report.deliveries) - len(report.failed)} accepted, {len(report.failed)} failed"
    click.echo(render(rows, fmt, COLUMNS, title=title), nl=False)
    sys.exit(EXIT_OK if report.ok else EXIT_FAILED)


STATUS_COLUMNS = [
    "incident",
    "state",
    "kind",
    "resource",
    "status",
    "severity",
    "since",
    "hours",
    "sinks",
    "pending",
    "summary",
]


@command.command("status")
@job_option
@click.option(
    "--archive", "set__archive__uri", default=None, help="Archive location (state is beside it)."
)
@click.option(
    "--state",
    "set__alerts__state_uri",
    default=None,
    help="Alert state location, if not beside the archive.",
)
@click.option("--all", "show_all", is_flag=True, help="Also list resolved incidents still kept.")
@format_option
@click.pass_context
@handle_errors
def status_command(
    ctx: click.Context, job_file: str | None, show_all: bool, fmt: Format, **params: Any
) -> None:
    """Show the job's alert incidents: firing ones, what each sink was told, what is pending."""
    spec = resolve_job(ctx, job_file, params)
    rows = alert_status(spec, include_resolved=show_all)
    firing = sum(1 for r in rows if r["state"] == "firing")
    click.echo(render(rows, fmt, STATUS_COLUMNS, title=f"{firing} firing"), nl=False)
