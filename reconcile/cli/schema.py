"""``reconcile schema``: the archive's table schema, derived from the committed files."""

from __future__ import annotations

import sys
from typing import Any

import click

from ..archive.rewrite import MigrationReport, migrate
from ..archive.run import new_run_id
from ..errors import EXIT_FINDINGS, EXIT_OK, ConfigError
from ..render import Format, render
from ..storage import open_store
from .common import (
    ARCHIVE_SETTINGS,
    SOURCE_SETTINGS,
    format_option,
    handle_errors,
    job_option,
    resolve_job,
    settings_options,
)

COLUMNS = ["column", "table_type", "file_type", "windows", "first", "last", "status"]
TIMESTAMP = [s for s in SOURCE_SETTINGS if s.key == "source.timestamp_field"]


@click.command("schema")
@job_option
@settings_options(ARCHIVE_SETTINGS + TIMESTAMP)
@click.option(
    "--rewrite",
    is_flag=True,
    help="Rewrite the windows whose files differ into the table schema (staged, verified, committed).",
)
@click.option("--dry-run", is_flag=True, help="Only report: store nothing, rewrite nothing.")
@format_option
@click.pass_context
@handle_errors
def command(
    ctx: click.Context,
    job_file: str | None,
    rewrite: bool,
    dry_run: bool,
    fmt: Format,
    **params: Any,
) -> None:
    """Derive the archive's table schema from every committed file and list the drift.

    Reads the footer of every committed data file, oldest window first: the stored table
    schema (<archive>/_schema/table.json) keeps its columns, the files only add columns, and
    the derived schema is stored (compare-and-swap) unless --dry-run. Lists each column whose
    type in some windows differs from the table's. With --rewrite those windows are rewritten
    into the table schema: values that convert losslessly are stored in the column's type,
    the rest kept verbatim in _extra. A rewrite holds the scheduled run's lease (reconcile
    run waits or fails meanwhile) and first finishes or drops what crashed runs left.
    Exit 3 when windows still differ (run with --rewrite), 0 when every file conforms.
    """
    spec = resolve_job(ctx, job_file, params)
    if not spec.archive.uri:
        raise ConfigError("archive.uri is not set (job file [archive] uri, --archive)")
    report = migrate(
        open_store(spec.archive.uri),
        spec.archive,
        spec.source.timestamp_field,
        new_run_id(),
        rewrite=rewrite,
        dry_run=dry_run,
        workers=spec.check.read_workers,
        lease_ttl_s=spec.run.lease_ttl_s,
        lease_wait_s=spec.run.lease_wait_s,
    )
    click.echo(render(_rows(report), fmt, COLUMNS, title=_title(report)), nl=False)
    sys.exit(EXIT_FINDINGS if report.pending else EXIT_OK)


def _rows(report: MigrationReport) -> list[dict[str, Any]]:
    done = {r.window.label for r in report.rewritten}
    rows = []
    for drift in report.survey.drift:
        for file_type, labels in drift.file_types.items():
            rewritten = all(label in done for label in labels)
            rows.append(
                {
                    "column": drift.column,
                    "table_type": drift.table_type,
                    "file_type": file_type,
                    "windows": len(labels),
                    "first": labels[0],
                    "last": labels[-1],
                    "status": "rewritten" if rewritten else "differs",
                }
            )
    return rows


def _title(report: MigrationReport) -> str:
    s = report.survey
    stored = "stored" if report.saved else ("unchanged" if not s.changed else "not stored")
    text = (
        f"table schema v{report.table.version} ({stored}), {len(report.table.columns)} columns; "
        f"{len(s.windows)} committed windows, {len(s.files)} files; "
        f"{len(s.to_rewrite)} windows differ, {len(report.rewritten)} rewritten"
    )
    if s.recovered:
        text += f"; finished interrupted work in {len(s.recovered)} windows"
    return text
