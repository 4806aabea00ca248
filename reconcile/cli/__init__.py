"""The ``reconcile`` command line: parse, load the job, call the library, render, exit.

Each command lives in its own module and only wires flags to a library call.
"""

from __future__ import annotations

import importlib

import click

from .. import __version__
from ..logs import LogFormat, setup_logging
from ..tuning import bound_malloc, tune_gc

#: Command name -> module exposing ``command``. Modules load only when their command runs,
#: so ``reconcile archive`` does not pay for DuckDB, alert sinks or the report.
COMMANDS = {
    "archive": "archive",
    "backfill": "backfill",
    "check": "check",
    "egress": "egress",
    "alerts": "alerts",
    "run": "run",
    "report": "report",
    "sql": "sql",
    "schema": "schema",
    "demo": "demo",
}


class LazyGroup(click.Group):
    """A group whose subcommands are imported on first use."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted({*COMMANDS, *self.commands})

    def get_command(self, ctx: click.Context, name: str) -> click.Command | None:
        if name not in self.commands and name in COMMANDS:
            module = importlib.import_module(f"{__package__}.{COMMANDS[name]}")
            self.add_command(module.command, name)
        return self.commands.get(name)


@click.group(
    cls=LazyGroup,
    context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 110},
)
@click.version_option(__version__, prog_name="reconcile")
@click.option(
    "--log-level",
    default="INFO",
    envvar="RECONCILE_LOG_LEVEL",
    show_default=True,
    type=click.Choice(["DEBUG", "INFO", "WARNING", "ERROR"], case_sensitive=False),
    help="Log verbosity (logs go to stderr). [env: RECONCILE_LOG_LEVEL]",
)
@click.option(
    "--log-format",
    default="auto",
    envvar="RECONCILE_LOG_FORMAT",
    show_default=True,
    type=click.Choice(["auto", "json", "text"]),
    help="auto: text on a terminal, JSON lines otherwise. [env: RECONCILE_LOG_FORMAT]",
)
def cli(log_level: str, log_format: LogFormat) -> None:
    """Prove that every request your load balancer served was archived as a log line."""
    setup_logging(log_level, log_format)
    tune_gc()
    bound_malloc()


def main() -> None:
    cli(prog_name="reconcile")
