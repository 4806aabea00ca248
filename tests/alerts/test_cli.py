"""``reconcile alerts`` and the shared alert flags."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import click
from click.testing import CliRunner

from reconcile.cli import cli
from reconcile.cli.alerts import alert_options, notify_and_echo
from reconcile.cli.common import handle_errors, job_option, resolve_job
from tests.alerts.conftest import SECRET, hour, lf
from tests.alerts.receivers import Receiver, Reply
from tests.servers import free_port


def test_alerts_test_sends_to_flag_and_env_sinks(receiver: Receiver) -> None:
    runner = CliRunner()
    result = runner.invoke(
        cli,
        ["alerts", "test", "--webhook-url", receiver.url + "/hook", "--format", "json"],
        env={
            "RECONCILE_WEBHOOK_SECRET": SECRET,
            "RECONCILE_SLACK_WEBHOOK_URL": receiver.url + "/slack/T0/B0/SECRETTOKEN",
        },
    )
    assert result.exit_code == 0, result.output
    rows = [json.loads(line) for line in result.stdout.splitlines()]
    assert [(r["sink"], r["status"]) for r in rows] == [("webhook", "sent"), ("slack", "sent")]
    assert "SECRETTOKEN" not in result.output
    assert receiver.at("/hook")[0].verified
    assert receiver.at("/slack/T0/B0/SECRETTOKEN")


def test_alerts_test_fails_with_exit_1_when_a_sink_refuses(receiver: Receiver) -> None:
    receiver.reply(Reply(404, "no_service"))
    result = CliRunner().invoke(
        cli, ["alerts", "test", "--slack-webhook-url", receiver.url + "/services/T/B/TOKEN"]
    )
    assert result.exit_code == 1
    assert "HTTP 404: no_service (not retried)" in result.stdout
    assert "TOKEN" not in result.output


def test_alerts_test_without_sinks_is_a_clear_error() -> None:
    result = CliRunner().invoke(cli, ["alerts", "test"], env={})
    assert result.exit_code == 1
    assert "no alert sinks configured" in result.output


def test_alerts_test_dry_run_prints_masked_payloads(receiver: Receiver) -> None:
    key = "0123456789abcdef0123456789abcdef"
    result = CliRunner().invoke(
        cli,
        ["alerts", "test", "--dry-run", "--pagerduty-routing-key", key],
    )
    assert result.exit_code == 0, result.output
    doc = json.loads(result.stdout)
    assert doc["sink"] == "pagerduty" and doc["url"] == "https://events.pagerduty.com/v2/enqueue"
    assert doc["body"]["routing_key"] == "***" and doc["body"]["event_action"] == "trigger"
    assert key not in result.output
    assert receiver.received == []


@click.command("fake-check")
@job_option
@alert_options
@click.option("--state", "set__alerts__state_uri")
@click.pass_context
@handle_errors
def fake_check(ctx: click.Context, job_file: str | None, dry_run: bool, **params: Any) -> None:
    """How check/egress/run use the shared alert flags."""
    spec = resolve_job(ctx, job_file, params)
    report = notify_and_echo(spec, [lf(2, "gap")], dry_run=dry_run, now=hour(3))
    ctx.exit(0 if report.ok else 1)


def test_alert_options_wire_flags_dry_run_and_status(tmp_path: Path, receiver: Receiver) -> None:
    runner = CliRunner()
    args = ["--webhook-url", receiver.url + "/hook", "--state", str(tmp_path / "st")]
    dry = runner.invoke(fake_check, [*args, "--dry-run"])
    assert dry.exit_code == 0, dry.output
    assert '"status":"dry_run"' in dry.stderr and "would send 1" in dry.stderr
    assert receiver.received == []
    real = runner.invoke(fake_check, args)
    assert real.exit_code == 0 and "webhook: sent 1" in real.stderr
    assert len(receiver.at("/hook")) == 1
    status = runner.invoke(
        cli, ["alerts", "status", "--state", str(tmp_path / "st"), "--format", "json"]
    )
    assert status.exit_code == 0, status.output
    (row,) = [json.loads(x) for x in status.stdout.splitlines()]
    assert row["state"] == "firing" and row["status"] == "gap" and row["hours"] == 1
    assert row["sinks"].startswith("webhook:firing@")


def test_alert_failure_exits_1_and_names_the_sink(tmp_path: Path) -> None:
    dead = free_port()
    result = CliRunner().invoke(
        fake_check,
        ["--webhook-url", f"http://127.0.0.1:{dead}/h", "--state", str(tmp_path / "st")],
        env={"RECONCILE_ALERTS_RETRIES": "0"},
    )
    assert result.exit_code == 1
    assert (
        "alerts: webhook: firing NOT delivered: network error: connection refused" in result.stderr
    )
    assert "pending 1" in result.stderr


def test_help_documents_every_alert_flag() -> None:
    out = CliRunner().invoke(cli, ["alerts", "test", "--help"]).output
    for flag, env in [
        ("--webhook-url", "RECONCILE_WEBHOOK_URL"),
        ("--alertmanager-url", "RECONCILE_ALERTMANAGER_URL"),
        ("--slack-webhook-url", "RECONCILE_SLACK_WEBHOOK_URL"),
        ("--pagerduty-routing-key", "RECONCILE_PAGERDUTY_ROUTING_KEY"),
        ("--dry-run", ""),
    ]:
        assert flag in out and env in out
