"""Shared pieces of the commands: job loading from flags, time options, error handling."""

from __future__ import annotations

import functools
import sys
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import click
from click.core import ParameterSource

from ..errors import EXIT_FAILED, ConfigError, ReconcileError
from ..job import JobSpec, env_name, load_job
from ..timewin import parse_time


@dataclass(frozen=True)
class Setting:
    """A flag that sets one job-spec key (``--es-url`` -> ``source.url``)."""

    flag: str
    key: str
    help: str
    type: Any = str
    multiple: bool = False
    is_flag: bool = False
    flag_value: Any = True
    """What a flag sets (``False`` for a ``--no-...`` flag)."""


SOURCE_SETTINGS = [
    Setting(
        "--es-url",
        "source.url",
        "Elasticsearch URL (credentials: ES_API_KEY or ES_USERNAME/ES_PASSWORD).",
    ),
    Setting(
        "--source-kind",
        "source.kind",
        "auto (ask the server), elasticsearch or opensearch; see docs/opensearch.md.",
    ),
    Setting("--index", "source.index", "Index pattern holding the logs, e.g. hub-logs-*."),
    Setting(
        "--timestamp-field", "source.timestamp_field", "Event timestamp field (default @timestamp)."
    ),
    Setting("--page-size", "source.page_size", "Documents per search_after page.", int),
    Setting(
        "--slices", "source.slices", "Most point-in-time slices read in parallel per window.", int
    ),
]
ARCHIVE_SETTINGS = [
    Setting(
        "--archive", "archive.uri", "Archive location: s3://bucket/prefix, file:///path or a path."
    ),
]
#: Settings of the commands that write the archive (archive, backfill).
WRITE_SETTINGS = [
    Setting(
        "--settle",
        "archive.settle",
        "Archive a window only this long after it closed (late logs arrive first): 20m, 1h.",
    ),
    Setting(
        "--allow-open",
        "archive.allow_open_windows",
        "Archive windows that have not closed or settled yet.",
        is_flag=True,
    ),
]


def settings_options(settings: list[Setting]) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """Add one click option per setting; values are collected by :func:`overrides`."""

    def decorate(fn: Callable[..., Any]) -> Callable[..., Any]:
        for s in reversed(settings):
            help_text = f"{s.help} [env: {env_name(s.key)}]"
            dest = "set__" + s.key.replace(".", "__")
            if s.is_flag:
                opt = click.option(
                    s.flag, dest, flag_value=s.flag_value, default=None, help=help_text
                )
            else:
                opt = click.option(
                    s.flag, dest, type=s.type, multiple=s.multiple, default=None, help=help_text
                )
            fn = opt(fn)
        return fn

    return decorate


def overrides(ctx: click.Context, params: dict[str, Any]) -> dict[str, tuple[Any, str]]:
    """The job-spec keys set explicitly on the command line, with their flag as origin."""
    found = {}
    for name in list(params):
        if not name.startswith("set__"):
            continue
        value = params.pop(name)
        if ctx.get_parameter_source(name) != ParameterSource.COMMANDLINE or value in (None, ()):
            continue
        key = name[len("set__") :].replace("__", ".")
        flag = next(p.opts[0] for p in ctx.command.params if p.name == name)
        found[key] = (list(value) if isinstance(value, tuple) else value, f"flag {flag}")
    return found


def resolve_job(ctx: click.Context, job_file: str | None, params: dict[str, Any]) -> JobSpec:
    return load_job(job_file, overrides(ctx, params))


job_option = click.option(
    "--job",
    "job_file",
    type=click.Path(dir_okay=False),
    envvar="RECONCILE_JOB",
    help="Job spec file (TOML). [env: RECONCILE_JOB]",
)


def parse_range(start: str, end: str) -> tuple[datetime, datetime]:
    return parse_time(start, "--from"), parse_time(end, "--to")


time_range_options = [
    click.option(
        "--from", "start", required=True, help="Start, UTC: 2026-11-20, 2026-11-20T13 or ISO 8601."
    ),
    click.option("--to", "end", required=True, help="End, UTC, exclusive."),
]


def with_time_range(fn: Callable[..., Any]) -> Callable[..., Any]:
    for opt in reversed(time_range_options):
        fn = opt(fn)
    return fn


format_option = click.option(
    "--format",
    "fmt",
    type=click.Choice(["table", "json", "csv"]),
    default="table",
    show_default=True,
    help="Output format on stdout; json is one object per line.",
)


def handle_errors(fn: Callable[..., Any]) -> Callable[..., Any]:
    """Map library errors to exit code 1 with one clear line on stderr."""

    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return fn(*args, **kwargs)
        except ConfigError as exc:
            click.echo(f"error: {exc}", err=True)
            sys.exit(EXIT_FAILED)
        except ReconcileError as exc:
            click.echo(f"error: {exc}", err=True)
            sys.exit(EXIT_FAILED)

    return wrapper
