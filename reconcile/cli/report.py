"""``reconcile report``: one self-contained HTML page from the stored results."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import click

from ..errors import ReconcileError, StorageError
from ..job import JobSpec
from ..report import build_report, load_findings
from ..storage import open_store
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

log = logging.getLogger(__name__)

SETTINGS = [
    Setting("--name", "name", "Job name whose results are reported."),
    *ARCHIVE_SETTINGS,
    Setting(
        "--results", "check.results_uri", "Results dataset (default <archive>/_reconcile/results)."
    ),
]


def results_locations(spec: JobSpec) -> tuple[str, str]:
    """Where the log-flow and the egress findings of ``spec`` are stored."""
    if not spec.results_uri:
        raise ReconcileError(
            "no results location: set archive.uri (--archive) or check.results_uri (--results)"
        )
    return spec.results_uri, spec.egress_results_uri or spec.results_uri


@click.command("report")
@job_option
@settings_options(SETTINGS)
@with_time_range
@click.option(
    "--output",
    "-o",
    required=True,
    type=click.Path(dir_okay=False, allow_dash=True, path_type=Path),
    help="HTML file to write ('-' for stdout).",
)
@click.pass_context
@handle_errors
def command(
    ctx: click.Context,
    job_file: str | None,
    start: str,
    end: str,
    output: Path,
    **params: Any,
) -> None:
    """Write one self-contained HTML report (charts and findings) for --from..--to.

    Reads the findings that check and egress stored in the results dataset; the page
    fetches nothing and opens offline. Exit 1 when nothing is stored for the range.
    """
    spec = resolve_job(ctx, job_file, params)
    t0, t1 = parse_range(start, end)
    logflow_uri, egress_uri = results_locations(spec)
    logflow, egress = load_findings(open_store(logflow_uri), spec.name, t0, t1)
    if egress_uri != logflow_uri:
        egress = load_findings(open_store(egress_uri), spec.name, t0, t1)[1]
    if not logflow and not egress:
        raise ReconcileError(
            f"no stored findings for job {spec.name!r} in {t0:%Y-%m-%dT%H}..{t1:%Y-%m-%dT%H} "
            f"under {logflow_uri}; run `reconcile check` (or `reconcile run`) first"
        )
    page = build_report(logflow, egress, spec.name, t0, t1, source=logflow_uri)
    if str(output) == "-":
        click.echo(page, nl=False)
        return
    try:
        output.write_text(page, encoding="utf-8")
    except OSError as exc:
        raise StorageError(f"cannot write {output}: {exc}") from exc
    log.info(
        "report written to %s: %d log-flow and %d egress findings",
        output,
        len(logflow),
        len(egress),
    )
