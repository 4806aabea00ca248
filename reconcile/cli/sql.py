"""``reconcile sql``: the Athena SQL files, listed, rendered for a job, and the generated DDL."""

from __future__ import annotations

import logging
from typing import Any

import click

from ..archive.survey import DdlTable, ddl_table
from ..check.run import athena_settings
from ..check.sqlparams import sql_params
from ..engines.registry import open_engine
from ..errors import ConfigError
from ..job import JobSpec, load_job
from ..sqlfiles import (
    Raw,
    archive_columns,
    archive_ddl,
    get_file,
    list_files,
    render_text,
)
from ..storage import open_store
from ..timewin import parse_time
from .common import (
    ARCHIVE_SETTINGS,
    SOURCE_SETTINGS,
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

TIMESTAMP = [s for s in SOURCE_SETTINGS if s.key == "source.timestamp_field"]
ATHENA_SETTINGS = [
    Setting(
        "--engine", "check.engine", "Engine --apply runs the DDL in.", click.Choice(["athena"])
    ),
    Setting("--athena-database", "check.athena_database", "Athena database holding the tables."),
    Setting("--athena-workgroup", "check.athena_workgroup", "Athena workgroup."),
    Setting("--athena-output", "check.athena_output_location", "s3:// prefix for Athena results."),
]

param_option = click.option(
    "--param",
    "raw_params",
    multiple=True,
    metavar="NAME=VALUE",
    help="Placeholder value (repeatable); overrides what the job defines. Inserted as given.",
)


def _params(raw: tuple[str, ...]) -> dict[str, Any]:
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
        **sql_params(
            spec.name,
            spec.archive.uri,
            spec.check,
            spec.expected,
            t0,
            t1,
            parse_time(now, "--now") if now else None,
        ),
        **_params(raw_params),
    }
    f = get_file(name)
    click.echo(f.render(values).rstrip() + ";")


@command.command("ddl")
@job_option
@settings_options(SQL_SETTINGS + TIMESTAMP + ATHENA_SETTINGS)
@click.option(
    "--apply",
    is_flag=True,
    help="Create or update the tables in the Glue catalog through the engine (--engine athena).",
)
@param_option
@click.pass_context
@handle_errors
def ddl_cmd(
    ctx: click.Context,
    job_file: str | None,
    apply: bool,
    raw_params: tuple[str, ...],
    **params: Any,
) -> None:
    """Print the DDL of every table: archive_logs from the archive's table schema, and the rest.

    The archive's columns are those of its table schema (<archive>/_schema/table.json), so
    one DDL reads every committed file; an archive written before it had one gets the
    schema derived from every committed file (see reconcile schema, which stores it and
    rewrites windows that differ). Tables whose placeholders the job does not fill are
    skipped with a note on stderr naming what to pass (--param NAME=VALUE).

    With --apply --engine athena the database and tables are created in the Glue catalog
    through Athena; an archive_logs table that lacks new columns gets ALTER TABLE ADD
    COLUMNS, one that differs otherwise is dropped and created again (external: the data
    stays). The DDL is printed either way; what was done goes to stderr.
    """
    spec = _spec(ctx, job_file, params)
    if not spec.archive.uri:
        raise ConfigError("archive.uri is not set (job file [archive] uri, --archive)")
    if apply and spec.check.engine != "athena":
        raise click.UsageError("--apply creates Athena tables: add --engine athena")
    values = {
        **sql_params(spec.name, spec.archive.uri, spec.check, spec.expected),
        **_params(raw_params),
    }
    found = ddl_table(
        open_store(spec.archive.uri), spec.source.timestamp_field, spec.check.read_workers
    )
    if found.first_day and "projection_start" not in dict(
        p.partition("=")[::2] for p in raw_params
    ):
        values["projection_start"] = found.first_day
    _note_schema(found)
    schema = found.table.arrow
    tables: list[tuple[str, str, list[tuple[str, str]] | None]] = [
        ("archive_logs", archive_ddl(schema, values).rstrip(), archive_columns(schema))
    ]
    for f in list_files():
        if f.kind != "ddl" or f.name == "ddl/archive_logs":
            continue
        try:
            sql = render_text(f.text, values, where=f"sql/{f.name}.sql").rstrip()
        except ConfigError as exc:
            click.echo(f"skipped {f.name}: {exc}", err=True)
            continue
        tables.append((f.name.removeprefix("ddl/"), sql, None))
    click.echo("\n\n".join(sql + ";" for _, sql, _ in tables))
    if apply:
        from ..engines.athena import AthenaEngine, apply_tables

        engine = open_engine("athena", athena=athena_settings(spec.check))
        assert isinstance(engine, AthenaEngine)
        for name, action, ids in apply_tables(engine, tables):
            click.echo(f"{engine.database}.{name}: {action} {' '.join(ids)}".rstrip(), err=True)


def _note_schema(found: DdlTable) -> None:
    if found.stored:
        log.info("archive_logs from table schema v%d", found.table.version)
        return
    log.warning(
        "the archive has no table schema yet: archive_logs derived from %d committed file(s); "
        "run reconcile schema to store it",
        found.files_read,
    )
    if found.to_rewrite:
        labels = sorted(w.label for w in found.to_rewrite)
        log.warning(
            "%d window(s) hold files in other column types (%s ...): Athena cannot read them "
            "under this DDL until reconcile schema --rewrite",
            len(labels),
            ", ".join(labels[:3]),
        )
