"""The expected section of a job: ids in either form, errors that name the key."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from reconcile.errors import ConfigError
from reconcile.expected import ExpectedConfig
from reconcile.job import load_job

LB = "app/hub-prod/50dc6c495c0c9188"
LB_ARN = f"arn:aws:elasticloadbalancing:eu-west-1:123456789012:loadbalancer/{LB}"
TG = "targetgroup/hub-web/73e2d6bc24d8a067"
TG_ARN = f"arn:aws:elasticloadbalancing:eu-west-1:123456789012:{TG}"


def test_defaults_exclude_what_the_application_never_sees() -> None:
    cfg = ExpectedConfig()
    assert cfg.source == "cloudwatch"
    assert (cfg.exclude_waf_blocked, cfg.exclude_fixed_response, cfg.exclude_redirects) == (
        True,
        True,
        True,
    )
    assert cfg.exclude_not_forwarded is False


def test_arns_become_dimension_values() -> None:
    cfg = ExpectedConfig(load_balancers=[LB_ARN, LB], target_groups=[TG_ARN])
    assert cfg.load_balancers == [LB]
    assert cfg.target_groups == [TG]


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("load_balancers", ["hub-prod"]),
        ("load_balancers", ["net/hub/50dc6c495c0c9188"]),
        ("target_groups", ["hub-web"]),
        ("account_id", "1234"),
        ("exclude_path_prefixes", ["health"]),
    ],
)
def test_bad_values_are_rejected(field: str, value: object) -> None:
    with pytest.raises(ValidationError, match=field):
        ExpectedConfig(**{field: value})


def test_hosts_are_lower_cased() -> None:
    assert ExpectedConfig(exclude_hosts=[" Admin.Example.com "]).exclude_hosts == [
        "admin.example.com"
    ]


def test_job_file_env_and_flags(tmp_path, monkeypatch) -> None:
    job = tmp_path / "job.toml"
    job.write_text(
        '[expected]\nsource = "alb_logs"\nalb_logs_uri = "s3://logs/alb"\n'
        f'load_balancers = ["{LB}"]\n'
    )
    monkeypatch.setenv("RECONCILE_EXPECTED_EXCLUDE_PATH_PREFIXES", "/health, /metrics")
    spec = load_job(job, overrides={"expected.region": ("eu-west-1", "flag --region")})
    assert spec.expected.source == "alb_logs"
    assert spec.expected.load_balancers == [LB]
    assert spec.expected.exclude_path_prefixes == ["/health", "/metrics"]
    assert spec.expected.region == "eu-west-1"


def test_errors_name_the_key_and_origin() -> None:
    with pytest.raises(ConfigError, match=r"expected\.load_balancers.*flag --load-balancer"):
        load_job(overrides={"expected.load_balancers": (["hub"], "flag --load-balancer")})
    with pytest.raises(ConfigError, match=r"expected\.sourse: unknown key"):
        load_job(overrides={"expected.sourse": ("alb_logs", "flag")})
