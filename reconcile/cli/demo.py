"""``reconcile demo``: the pipeline end to end on the embedded local stack."""

from __future__ import annotations

import sys
import tempfile
import time
from pathlib import Path

import click

from ..demo.run import DemoReport, run_demo
from ..errors import EXIT_FAILED, EXIT_OK
from ..findings import MIXED_COLUMNS
from ..render import render
from .common import handle_errors


@click.command("demo")
@click.option(
    "--out",
    "out_dir",
    type=click.Path(file_okay=False, path_type=Path),
    default=Path("demo-out"),
    show_default=True,
    help="Where the HTML report is written.",
)
@click.option(
    "--hours",
    default=48,
    show_default=True,
    type=click.IntRange(36, 24 * 14),
    help="Hours of generated traffic.",
)
@click.option(
    "--per-hour",
    default=400,
    show_default=True,
    type=click.IntRange(200, 100_000),
    help="Mean requests per hour.",
)
@click.option(
    "--workdir",
    type=click.Path(file_okay=False, path_type=Path),
    default=None,
    help="Keep the local servers' data here (default: a temporary directory).",
)
@handle_errors
def command(out_dir: Path, hours: int, per_hour: int, workdir: Path | None) -> None:
    """Start local servers, break a pipeline on purpose, and watch reconcile find it.

    Generates two days of load-balancer traffic and request logs with five incidents
    (Elasticsearch backpressure, an archive run that never happened, a replay that
    duplicated logs, an hour whose logs arrived after its archive, a NAT spike that is S3
    traffic avoiding the gateway endpoint), runs archive, check, egress and alerts (to a
    local webhook receiver that checks the signatures), then the next scheduled run, which
    re-archives the late hour; prints the findings and writes an HTML report. Exit 0 when
    every incident was found (the late hour healed) and nothing else; 1 otherwise.
    """
    t0 = time.monotonic()
    if workdir is None:
        with tempfile.TemporaryDirectory(prefix="reconcile-demo-") as tmp:
            report = run_demo(Path(tmp), out_dir, hours=hours, per_hour=per_hour)
    else:
        report = run_demo(workdir, out_dir, hours=hours, per_hour=per_hour)
    _print(report, time.monotonic() - t0)
    sys.exit(EXIT_OK if report.success else EXIT_FAILED)


def _print(r: DemoReport, seconds: float) -> None:
    p = r.plan
    archived = r.archive.count("archived")
    click.echo(
        f"\nGenerated {len(p.requests)} hours of traffic ({sum(p.requests.values()):,} requests), "
        f"{p.start:%Y-%m-%d %H:00}..{p.end:%Y-%m-%d %H:00} UTC; archived {archived} hours "
        f"({r.archive.rows:,} rows) to {r.spec.archive.uri}.\n"
    )
    problems = [f.as_dict() for f in r.findings if f.is_problem]
    title = f"{len(r.findings)} hours judged, {len(problems)} to report"
    click.echo(render(problems, "table", MIXED_COLUMNS, title=title), nl=False)
    click.echo(f"\nAlerts delivered to the local webhook (signatures verified): {len(r.alerts)}")
    for a in r.alerts:
        click.echo(f"  - {a['data']['action']}: {a['data']['summary']}")
    click.echo("\nInjected incidents:")
    for inc in p.incidents:
        mark = "found " if inc in r.found else "MISSED"
        hours = ", ".join(w.label for w in inc.hours)
        click.echo(f"  [{mark}] {inc.name}: {inc.status} at {hours}")
    for f in r.unexpected:
        click.echo(
            f"  [UNEXPECTED] {f.kind} {f.resource} {f.window_start:%Y-%m-%dT%H} {f.status}: {f.message}"
        )
    if r.report_path:
        click.echo(f"\nReport: {r.report_path.resolve()}")
    verdict = (
        "every incident found, nothing else"
        if r.success
        else "the demo did not find exactly the incidents"
    )
    click.echo(f"Done in {seconds:.0f}s: {verdict}.")
