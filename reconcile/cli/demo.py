"""``reconcile demo``: the pipeline end to end on the embedded local stack."""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path

import click

from ..demo import run_demo
from ..render import render
from .archive import COLUMNS, _title
from .common import EXIT_FAILED, EXIT_OK, handle_errors


@click.command("demo")
@click.option("--hours", default=6, show_default=True, help="Hours of generated traffic.")
@click.option("--per-hour", default=3000, show_default=True, help="Requests per hour.")
@click.option(
    "--workdir",
    type=click.Path(file_okay=False, path_type=Path),
    default=None,
    help="Keep the servers' data and outputs here (default: a temporary directory).",
)
@handle_errors
def command(hours: int, per_hour: int, workdir: Path | None) -> None:
    """Start local servers, generate traffic, run the real pipeline, print what it found."""
    if workdir is None:
        with tempfile.TemporaryDirectory(prefix="reconcile-demo-") as tmp:
            report = run_demo(Path(tmp), hours, per_hour)
    else:
        report = run_demo(workdir, hours, per_hour)
    click.echo(
        f"Indexed {report.indexed:,} generated request logs for "
        f"{report.start:%Y-%m-%dT%H}..{report.end:%Y-%m-%dT%H} UTC; archived to {report.spec.archive.uri}"
    )
    rows = [r.as_dict() for r in report.archive.results]
    click.echo(render(rows, "table", COLUMNS, title=_title(report.archive)), nl=False)
    sys.exit(EXIT_FAILED if report.archive.failed else EXIT_OK)
