"""The ``reconcile`` command line: parse, load the job, call the library, render, exit.

Each command lives in its own module and only wires flags to a library call.
"""

from __future__ import annotations

import importlib

import click

from .. import __version__
from ..logs import setup_logging


@click.group(context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 110})
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
def cli(log_level: str, log_format: str) -> None:
    """Prove that every request your load balancer served was archived as a log line."""
    setup_logging(log_level, log_format)  # type: ignore[arg-type]


#: Command modules, each exposing ``command``; one line per command.
COMMANDS = [
    "archive",
    "demo",
]


def _register() -> None:
    for name in COMMANDS:
        module = importlib.import_module(f"{__name__}.{name}")
        cli.add_command(module.command)


_register()


def main() -> None:
    cli(prog_name="reconcile")
