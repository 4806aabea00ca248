"""``reconcile archive``: copy closed hour windows from Elasticsearch to Parquet."""

from __future__ import annotations

import sys
from typing import Any

import click

from ..archive.outcome import ArchiveSummary
from ..archive.run import Archiver
from ..errors import EXIT_FAILED, EXIT_OK
from ..render import Format, render
from .common import (
    ARCHIVE_SETTINGS,
    SOURCE_SETTINGS,
    WRITE_SETTINGS,
    Setting,
    format_option,
    handle_errors,
    job_option,
    parse_range,
    resolve_job,
    settings_options,
    with_time_range,
)
from .progress import progress_for

EXTRA = [
    *WRITE_SETTINGS,
    Setting(
        "--max-doc-bytes", "archive.max_doc_bytes", "Quarantine documents larger than this.", int
    ),
]

COLUMNS = [
    "window",
    "status",
    "rows",
    "quarantined",
    "source_count",
    "revision",
    "late",
    "files",
    "bytes",
    "seconds",
    "docs_per_s",
    "conflicts",
    "message",
]


@click.command("archive")
@job_option
@settings_options(SOURCE_SETTINGS + ARCHIVE_SETTINGS + EXTRA)
@with_time_range
@click.option(
    "--force",
    is_flag=True,
    help="Re-archive committed windows even when Elasticsearch holds no more documents for them.",
)
@format_option
@click.pass_context
@handle_errors
def command(
    ctx: click.Context,
    job_file: str | None,
    start: str,
    end: str,
    force: bool,
    fmt: Format,
    **params: Any,
) -> None:
    """Archive Elasticsearch hour windows to Parquet, verified against Elasticsearch's count.

    Each window [HH:00, HH+1:00) of --from..--to (exclusive) is read from one consistent
    snapshot (a point in time; one search for a window of at most a page), written under
    <archive>/dt=YYYY-MM-DD/hour=HH/ and committed by _manifest.json.
    A window is archived once it has settled (--settle after its end). A committed window
    is archived again, as a new revision, when Elasticsearch now holds more documents for
    it (late arrivals); otherwise it is skipped unless --force. Exit 1 if any window failed.
    """
    spec = resolve_job(ctx, job_file, params)
    t0, t1 = parse_range(start, end)
    with progress_for(t0, t1) as progress:
        summary = Archiver(spec, progress=progress).archive(t0, t1, force=force)
    click.echo(
        render([r.as_dict() for r in summary.results], fmt, COLUMNS, title=_title(summary)),
        nl=False,
    )
    sys.exit(EXIT_FAILED if summary.failed else EXIT_OK)


def _title(summary: ArchiveSummary) -> str:
    late = (
        f" ({summary.rearchived} re-archived with {summary.late:,} late documents)"
        if summary.rearchived
        else ""
    )
    return (
        f"{summary.count('archived')} archived{late}, {summary.count('skipped')} skipped, "
        f"{summary.count('failed')} failed, {summary.count('open')} open, "
        f"{summary.count('settling')} settling; {summary.rows:,} rows"
    )
