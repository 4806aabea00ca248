"""``reconcile sql``: the Athena SQL files, listed, rendered for a job, and the generated DDL."""

from __future__ import annotations

import logging
from typing import Any

import click

from ..check.archived import ArchiveReader
from ..errors import ConfigError
from ..job import JobSpec, load_job
from ..sqlfiles import archive_ddl, get_file, job_params, list_files, render_text
from ..storage import open_store
from ..timewin import parse_time
from .common import (
    ARCHIVE_SETTINGS,
    Setting,
    handle_errors,
    job_option,
    overrides,
    settings_options,
)

log = logging.getLogger(__name__)

SQL_SETTINGS = [
    *ARCHIVE_SETTINGS,
    Setting(
        "--results", "check.results_uri", "Results dataset (default <archive>/_reconcile/results)."
    ),
    Setting(
        "--alb-logs", "expected.alb_logs_uri", "ALB access logs location (s3://bucket/prefix)."
    ),
]

param_option = click.option(
    "--param",
    "raw_params",
    multiple=True,
    metavar="NAME=VALUE",
    help="Placeholder value (repeatable); overrides what the job defines. Inserted as given.",
)


def _params(raw: tuple[str, ...]) -> dict[str, Any]:
    from ..sqlfiles import Raw

    out: dict[str, Any] = {}
    for item in raw:
        name, sep, value = item.partition("=")
        if not sep or not name.strip():
            raise click.UsageError(f"--param {item!r}: use NAME=VALUE")
        out[name.strip()] = Raw(value)
    return out


def _spec(ctx: click.Context, job_file: str | None, params: dict[str, Any]) -> JobSpec:
    return load_job(job_file, overrides(ctx, params))


@click.group("sql")
def command() -> None:
    """The Athena SQL files in sql/: DDL for every table and the reconciliation queries.

    Queries run unchanged in DuckDB (on views named like the Athena tables) and Athena.
    Placeholders are {{name}}; Athena's own ${name} is left alone.
    """


@command.command("list")
def list_cmd() -> None:
    """List the SQL files with their placeholders."""
    for f in list_files():
        holes = ", ".join(f.placeholders) or "-"
        click.echo(f"{f.name}\n    {f.description}\n    placeholders: {holes}")


@command.command("render")
@click.argument("name")
@job_option
@settings_options(SQL_SETTINGS)
@click.option("--from", "start", help="Start of the range, UTC (fills start, start_dt, ...).")
@click.option("--to", "end", help="End of the range, UTC, exclusive.")
@click.option("--now", "now", help="Judge as if it were this time (fills judge_cutoff).")
@param_option
@click.pass_context
@handle_errors
def render_cmd(
    ctx: click.Context,
    name: str,
    job_file: str | None,
    start: str | None,
    end: str | None,
    now: str | None,
    raw_params: tuple[str, ...],
    **params: Any,
) -> None:
    """Print sql/NAME.sql with its placeholders filled from the job, the range and --param.

    NAME is e.g. queries/reconcile_hourly (or just reconcile_hourly). A placeholder with
    no value is an error that names it.
    """
    spec = _spec(ctx, job_file, params)
    if bool(start) != bool(end):
        raise click.UsageError("--from and --to go together")
    t0 = parse_time(start, "--from") if start else None
    t1 = parse_time(end, "--to") if end else None
    values = {
        **job_params(spec, t0, t1, parse_time(now, "--now") if now else None),
        **_params(raw_params),
    }
    f = get_file(name)
    click.echo(f.render(values).rstrip() + ";")


@command.command("ddl")
@job_option
@settings_options(SQL_SETTINGS)
@click.option(
    "--sample",
    default=24,
    show_default=True,
    type=click.IntRange(1, 10_000),
    help="Newest committed windows whose Parquet schema is read and merged.",
)
@param_option
@click.pass_context
@handle_errors
def ddl_cmd(
    ctx: click.Context,
    job_file: str | None,
    sample: int,
    raw_params: tuple[str, ...],
    **params: Any,
) -> None:
    """Print the DDL of every table: archive_logs from the real Parquet schema, and the rest.

    The archive's columns come from the footers of the newest committed files (merged over
    --sample windows). Tables whose placeholders the job does not fill are skipped with a
    note on stderr naming what to pass (--param NAME=VALUE).
    """
    spec = _spec(ctx, job_file, params)
    if not spec.archive.uri:
        raise ConfigError("archive.uri is not set (job file [archive] uri, --archive)")
    values = {**job_params(spec), **_params(raw_params)}
    reader = ArchiveReader(open_store(spec.archive.uri), spec.check.read_workers)
    schema, keys, first_day = reader.schema(sample)
    if first_day and "projection_start" not in dict(p.partition("=")[::2] for p in raw_params):
        values["projection_start"] = first_day
    log.info("archive schema read from %d file(s), e.g. %s", len(keys), keys[0])
    out = [archive_ddl(schema, values).rstrip() + ";"]
    for f in list_files():
        if f.kind != "ddl" or f.name == "ddl/archive_logs":
            continue
        try:
            out.append(render_text(f.text, values, where=f"sql/{f.name}.sql").rstrip() + ";")
        except ConfigError as exc:
            click.echo(f"skipped {f.name}: {exc}", err=True)
    click.echo("\n\n".join(out))
