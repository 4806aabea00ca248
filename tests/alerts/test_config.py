"""Alert configuration: secrets only from the environment, masking, parsing."""

from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path

import pytest

from reconcile.alerts.config import AlertsConfig, resolve_secrets
from reconcile.errors import ConfigError
from reconcile.job import describe, load_job
from tests.alerts.conftest import SECRET


@pytest.mark.parametrize("key", ["routing_key", "webhook_secret"])
def test_job_files_may_not_hold_secrets(tmp_path: Path, key: str) -> None:
    job = tmp_path / "job.toml"
    job.write_text(f'name = "hub"\n[alerts]\n{key} = "s3cr3t-value"\n')
    with pytest.raises(
        ConfigError, match=f"alerts.{key}.*secrets are not read from job files"
    ) as err:
        load_job(job, environ={})
    assert "s3cr3t-value" not in str(err.value)


def test_sinks_from_the_design_environment_variables() -> None:
    env = {
        "RECONCILE_WEBHOOK_URL": "https://hooks.example.com/in/abc",
        "RECONCILE_WEBHOOK_SECRET": SECRET,
        "RECONCILE_SLACK_WEBHOOK_URL": "https://hooks.slack.com/services/T/B/X",
        "RECONCILE_ALERTMANAGER_URL": "http://alertmanager:9093/",
        "RECONCILE_PAGERDUTY_ROUTING_KEY": "R" * 32,
    }
    got = resolve_secrets(AlertsConfig(), env)
    assert got.webhook_url == env["RECONCILE_WEBHOOK_URL"]
    assert got.webhook_key == b"0123456789abcdef0123456789abcdef"
    assert got.slack_url == env["RECONCILE_SLACK_WEBHOOK_URL"]
    assert got.alertmanager_url == "http://alertmanager:9093"
    assert got.routing_key == "R" * 32
    redact = got.redactor()
    line = f"POST {env['RECONCILE_SLACK_WEBHOOK_URL']} key={'R' * 32} path=/services/T/B/X"
    assert redact(line) == "POST *** key=*** path=***"


def test_url_env_names_a_variable_and_must_be_set() -> None:
    cfg = AlertsConfig(webhook_url_env="HUB_HOOK", routing_key_env="HUB_PD")
    got = resolve_secrets(cfg, {"HUB_HOOK": "https://x/y", "HUB_PD": "k" * 32})
    assert got.webhook_url == "https://x/y" and got.routing_key == "k" * 32
    with pytest.raises(
        ConfigError, match=r"alerts\.webhook_url_env names HUB_HOOK, which is not set"
    ):
        resolve_secrets(cfg, {})


def test_flags_and_spec_values_win_over_the_design_variables() -> None:
    cfg = AlertsConfig.model_validate({"webhook_url": "https://flag/hook"})
    got = resolve_secrets(cfg, {"RECONCILE_WEBHOOK_URL": "https://env/hook"})
    assert got.webhook_url == "https://flag/hook"


@pytest.mark.parametrize(
    ("secret", "why"),
    [
        ("plainsecretvalue", "whsec_<base64>"),
        ("whsec_not*base64!", "not valid base64"),
        ("whsec_c2hvcnQ=", "24-64 bytes"),
    ],
)
def test_bad_webhook_secret_is_explained_without_showing_it(secret: str, why: str) -> None:
    env = {"RECONCILE_WEBHOOK_URL": "https://x/y", "RECONCILE_WEBHOOK_SECRET": secret}
    with pytest.raises(ConfigError, match=why) as err:
        resolve_secrets(AlertsConfig(), env)
    assert secret not in str(err.value)


def test_bad_url_is_rejected_without_showing_it() -> None:
    with pytest.raises(ConfigError, match="slack_webhook_url: not an http") as err:
        resolve_secrets(AlertsConfig(), {"RECONCILE_SLACK_WEBHOOK_URL": "hooks.slack.com/T/B/X"})
    assert "T/B/X" not in str(err.value)


def test_resolved_spec_masks_secret_values() -> None:
    env = {
        "RECONCILE_ALERTS_ROUTING_KEY": "R" * 32,
        "RECONCILE_ALERTS_LABELS": "team=sre,env=prod",
        "RECONCILE_ALERTS_REPEAT_INTERVAL": "30m",
    }
    spec = load_job(
        None,
        {"alerts.slack_webhook_url": ("https://hooks.slack.com/services/T/B/X", "flag")},
        environ=env,
    )
    assert spec.alerts.labels == {"team": "sre", "env": "prod"}
    assert spec.alerts.repeat_interval == timedelta(minutes=30)
    text = json.dumps(describe(spec)) + repr(spec)
    assert "R" * 32 not in text and "T/B/X" not in text
    assert spec.alerts.routing_key is not None
    assert spec.alerts.routing_key.get_secret_value() == "R" * 32


def test_durations_and_mappings_parse() -> None:
    cfg = AlertsConfig.model_validate(
        {"repeat_interval": "1h30m", "alertmanager_ttl": 7200, "severity": {"surplus": "info"}}
    )
    assert cfg.repeat_interval == timedelta(minutes=90)
    assert cfg.alertmanager_ttl == timedelta(hours=2)
    with pytest.raises(ValueError, match="unknown status"):
        AlertsConfig.model_validate({"severity": {"gapp": "info"}})
    with pytest.raises(ValueError, match="key=value"):
        AlertsConfig.model_validate({"labels": "team"})
    with pytest.raises(ValueError, match="label name"):
        AlertsConfig.model_validate({"labels": {"bad-name": "x"}})
