"""Configuration of the expected request counts: which load balancers, from which source."""

from __future__ import annotations

import re
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

#: ``app/<name>/<id>``: the ``LoadBalancer`` dimension of CloudWatch and the ``elb`` log field.
LB_ID = re.compile(r"^app/[A-Za-z0-9-]{1,32}/[0-9a-f]{16}$")
#: ``targetgroup/<name>/<id>``: the ``TargetGroup`` dimension of CloudWatch.
TG_ID = re.compile(r"^targetgroup/[A-Za-z0-9-]{1,32}/[0-9a-f]{16}$")
_ARN = re.compile(
    r"^arn:aws[a-z-]*:elasticloadbalancing:[^:]*:[0-9]*:(?:loadbalancer/)?(?P<id>.+)$"
)


def _resource_id(value: str) -> str:
    """An ARN's resource part (``app/name/id``, ``targetgroup/name/id``); other values as given."""
    value = value.strip()
    m = _ARN.match(value)
    return m.group("id") if m else value


class ExpectedConfig(BaseModel):
    """Where the expected request counts come from, and what of them the application never logs."""

    model_config = ConfigDict(extra="forbid", use_attribute_docstrings=True)

    source: Literal["cloudwatch", "alb_logs"] = "cloudwatch"
    """cloudwatch (RequestCount metric) or alb_logs (access logs in S3); docs/expected-counts.md says which to pick."""
    load_balancers: list[str] = []
    """Load balancers to reconcile: app/<name>/<id> (the CloudWatch LoadBalancer dimension) or their ARNs."""
    target_groups: list[str] = []
    """CloudWatch only: narrow RequestCount to these target groups (targetgroup/<name>/<id> or ARNs)."""
    alb_logs_uri: str = ""
    """s3://bucket/prefix (or a local path) holding AWSLogs/<account>/elasticloadbalancing/<region>/yyyy/mm/dd/."""
    region: str | None = None
    """AWS region of the load balancers (CloudWatch and the log path); None takes it from the AWS chain."""
    account_id: str | None = None
    """Account in the log path; None discovers it by listing AWSLogs/ (every account found is searched)."""
    exclude_waf_blocked: bool = True
    """ALB logs: leave out requests AWS WAF rejected (last action "waf", no target); they never reach the app."""
    exclude_fixed_response: bool = True
    """ALB logs: leave out requests answered by a fixed-response rule (last action "fixed-response")."""
    exclude_redirects: bool = True
    """ALB logs: leave out requests answered by a redirect rule (last action "redirect")."""
    exclude_not_forwarded: bool = False
    """ALB logs: also leave out every other request no target received (target "-": malformed, 460, 503 without targets)."""
    include_only_hosts: list[str] = []
    """ALB logs: when set, count only requests whose URL host is one of these (case-insensitive)."""
    exclude_hosts: list[str] = []
    """ALB logs: leave out requests whose URL host is one of these (case-insensitive)."""
    exclude_path_prefixes: list[str] = []
    """ALB logs: leave out requests whose URL path starts with one of these, e.g. /health."""
    spill_minutes: int = Field(60, ge=0, le=24 * 60)
    """ALB logs: how long after a window ends its requests may still arrive in log files (long requests, late delivery)."""
    read_workers: int = Field(4, ge=1, le=64)
    """ALB logs: log objects downloaded and parsed in parallel."""
    tally_uri: str = ""
    """ALB logs: where each object's counts are kept so it is parsed once (default <archive uri>/_reconcile/alb-tally; "none" parses every object on every run)."""

    @field_validator("load_balancers", mode="after")
    @classmethod
    def _load_balancers(cls, values: list[str]) -> list[str]:
        out = [_resource_id(v) for v in values if v.strip()]
        for v in out:
            if not LB_ID.match(v):
                raise ValueError(
                    f"{v!r} is not an Application Load Balancer id; "
                    "use app/<name>/<16 hex digits> (e.g. app/hub-prod/50dc6c495c0c9188) or its ARN"
                )
        return list(dict.fromkeys(out))

    @field_validator("target_groups", mode="after")
    @classmethod
    def _target_groups(cls, values: list[str]) -> list[str]:
        out = [_resource_id(v) for v in values if v.strip()]
        for v in out:
            if not TG_ID.match(v):
                raise ValueError(
                    f"{v!r} is not a target group id; use targetgroup/<name>/<16 hex digits> or its ARN"
                )
        return list(dict.fromkeys(out))

    @field_validator("account_id", mode="after")
    @classmethod
    def _account(cls, value: str | None) -> str | None:
        if value is not None and not re.fullmatch(r"\d{12}", value):
            raise ValueError(f"{value!r} is not a 12-digit AWS account id")
        return value

    @field_validator("exclude_path_prefixes", mode="after")
    @classmethod
    def _paths(cls, values: list[str]) -> list[str]:
        for v in values:
            if not v.startswith("/"):
                raise ValueError(f"{v!r} must start with /")
        return values

    @field_validator("include_only_hosts", "exclude_hosts", mode="after")
    @classmethod
    def _hosts(cls, values: list[str]) -> list[str]:
        return [v.strip().lower() for v in values if v.strip()]
