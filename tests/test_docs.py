"""The references are generated from the code, so they cannot drift; every command has help."""

from __future__ import annotations

from pathlib import Path

import click

from reconcile.cli import cli
from reconcile.docgen import _walk, cli_md, configuration_md, findings_md

ROOT = Path(__file__).resolve().parents[1]


def test_configuration_reference_is_current() -> None:
    assert (ROOT / "docs" / "configuration.md").read_text() == configuration_md(), (
        "docs/configuration.md is stale: run python -m reconcile.docgen"
    )


def test_cli_reference_is_current() -> None:
    assert (ROOT / "docs" / "cli.md").read_text() == cli_md(), (
        "docs/cli.md is stale: run python -m reconcile.docgen"
    )


def test_findings_reference_is_current() -> None:
    assert (ROOT / "docs" / "findings.md").read_text() == findings_md(), (
        "docs/findings.md is stale: run python -m reconcile.docgen"
    )


def test_every_command_and_option_has_help() -> None:
    for path, cmd, _ctx in _walk(cli, ["reconcile"]):
        assert cmd.help, f"{' '.join(path)} has no help text"
        for p in cmd.params:
            if isinstance(p, click.Option) and p.name not in ("help", "version"):
                assert p.help, f"{' '.join(path)} {p.opts[0]} has no help text"


def test_readme_names_every_top_level_command() -> None:
    readme = (ROOT / "README.md").read_text()
    for name in cli.commands:
        assert f"reconcile {name}" in readme, f"README does not mention reconcile {name}"
