"""``reconcile backfill``: archive a date range with several workers, resumably."""

from __future__ import annotations

import sys
from typing import Any

import click

from ..backfill import Shard, backfill
from ..errors import EXIT_FAILED, EXIT_OK
from ..render import Format, render
from .archive import COLUMNS, _title
from .common import (
    ARCHIVE_SETTINGS,
    SOURCE_SETTINGS,
    WRITE_SETTINGS,
    format_option,
    handle_errors,
    job_option,
    parse_range,
    resolve_job,
    settings_options,
    with_time_range,
)
from .progress import progress_for


@click.command("backfill")
@job_option
@settings_options(SOURCE_SETTINGS + ARCHIVE_SETTINGS + WRITE_SETTINGS)
@with_time_range
@click.option(
    "--workers", default=2, show_default=True, type=click.IntRange(1, 64), help="Worker processes."
)
@click.option(
    "--force",
    is_flag=True,
    help="Re-archive committed windows even when Elasticsearch holds no more documents for them.",
)
@click.option(
    "--shard-index",
    type=int,
    default=0,
    envvar="JOB_COMPLETION_INDEX",
    show_default=True,
    help="This pod's index in a Kubernetes Indexed Job. [env: JOB_COMPLETION_INDEX]",
)
@click.option(
    "--shard-count",
    type=int,
    default=1,
    envvar="RECONCILE_SHARD_COUNT",
    show_default=True,
    help="How many pods split the range. [env: RECONCILE_SHARD_COUNT]",
)
@format_option
@click.pass_context
@handle_errors
def command(
    ctx: click.Context,
    job_file: str | None,
    start: str,
    end: str,
    workers: int,
    force: bool,
    shard_index: int,
    shard_count: int,
    fmt: Format,
    **params: Any,
) -> None:
    """Archive every window of --from..--to; committed windows are skipped, so it resumes.

    Ctrl-C once lets running windows commit and starts no more; twice aborts (the next run
    cleans up). Exit 1 if any window failed.
    """
    spec = resolve_job(ctx, job_file, params)
    t0, t1 = parse_range(start, end)
    with progress_for(t0, t1) as progress:
        summary = backfill(
            spec,
            t0,
            t1,
            workers=workers,
            force=force,
            shard=Shard(shard_index, shard_count),
            progress=progress,
        )
    click.echo(
        render([r.as_dict() for r in summary.results], fmt, COLUMNS, title=_title(summary)),
        nl=False,
    )
    if summary.not_started:
        click.echo(
            f"interrupted: {summary.not_started} windows not started; run the same command to resume",
            err=True,
        )
    sys.exit(EXIT_FAILED if summary.failed or summary.not_started else EXIT_OK)
