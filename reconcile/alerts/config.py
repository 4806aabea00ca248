"""Configuration of the alert sinks, their repeat and retry behaviour, and the alert state.

Secrets never live in job files: ``routing_key`` and ``webhook_secret`` are rejected there by
:mod:`reconcile.job`, and URLs that carry tokens (Slack, some webhooks) are best given by the
environment (``RECONCILE_WEBHOOK_URL``, ``RECONCILE_SLACK_WEBHOOK_URL``) or by naming an
environment variable (``webhook_url_env``). Values holding secrets are :class:`SecretStr`, so
printing the resolved job spec shows ``**********``.
"""

from __future__ import annotations

import base64
import binascii
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import timedelta
from typing import Annotated, Any, Literal, Protocol, cast
from urllib.parse import urlsplit

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, SecretStr, field_validator

from ..durations import Duration
from ..errors import ConfigError
from ..findings import STATUSES

Severity = Literal["critical", "error", "warning", "info"]

#: Default severity per finding status (PagerDuty and Alertmanager share these four levels).
DEFAULT_SEVERITY: dict[str, Severity] = {
    str(status): cast(Severity, info.severity)
    for status, info in STATUSES.items()
    if info.severity != "none"
}

PAGERDUTY_EVENTS_URL = "https://events.pagerduty.com/v2/enqueue"

#: The environment variables named in the design, read when the job spec leaves a sink unset.
ENV_WEBHOOK_URL = "RECONCILE_WEBHOOK_URL"
ENV_WEBHOOK_SECRET = "RECONCILE_WEBHOOK_SECRET"
ENV_SLACK_WEBHOOK_URL = "RECONCILE_SLACK_WEBHOOK_URL"
ENV_ALERTMANAGER_URL = "RECONCILE_ALERTMANAGER_URL"
ENV_PAGERDUTY_ROUTING_KEY = "RECONCILE_PAGERDUTY_ROUTING_KEY"

_LABEL_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


def _parse_pairs(value: Any) -> Any:
    """Accept ``"a=b,c=d"`` (as the environment gives it) for mapping fields."""
    if isinstance(value, str):
        out = {}
        for part in value.split(","):
            if not part.strip():
                continue
            key, sep, val = part.partition("=")
            if not sep:
                raise ValueError(f"expected key=value pairs separated by commas, got {part!r}")
            out[key.strip()] = val.strip()
        return out
    return value


class AlertsConfig(BaseModel):
    """Where alerts go, how often they repeat, and how hard delivery tries."""

    model_config = ConfigDict(extra="forbid", use_attribute_docstrings=True)

    webhook_url: SecretStr | None = None
    """Generic JSON webhook URL. If it carries a token, give it by RECONCILE_WEBHOOK_URL or webhook_url_env."""
    webhook_url_env: str | None = None
    """Name of an environment variable holding the webhook URL (instead of webhook_url)."""
    webhook_secret: SecretStr | None = None
    """Standard Webhooks signing secret, whsec_<base64>. Environment only: RECONCILE_WEBHOOK_SECRET."""
    webhook_secret_env: str | None = None
    """Name of an environment variable holding the webhook signing secret."""
    slack_webhook_url: SecretStr | None = None
    """Slack incoming-webhook URL (a credential): environment RECONCILE_SLACK_WEBHOOK_URL or a flag."""
    slack_webhook_url_env: str | None = None
    """Name of an environment variable holding the Slack incoming-webhook URL."""
    alertmanager_url: str | None = None
    """Alertmanager base URL, e.g. http://alertmanager:9093 (alerts go to /api/v2/alerts)."""
    routing_key: SecretStr | None = None
    """PagerDuty Events API v2 routing key. Environment only: RECONCILE_PAGERDUTY_ROUTING_KEY."""
    routing_key_env: str | None = None
    """Name of an environment variable holding the PagerDuty routing key (one per job)."""
    pagerduty_url: str = PAGERDUTY_EVENTS_URL
    """PagerDuty Events API v2 endpoint; override only for a proxy or a test receiver."""
    runbook_url: str | None = None
    """Link put into every alert (Alertmanager generatorURL and runbook_url, Slack, PagerDuty)."""
    labels: Annotated[dict[str, str], BeforeValidator(_parse_pairs)] = {}
    """Extra labels on every alert, e.g. {team = "sre", env = "prod"} (env: team=sre,env=prod)."""
    severity: Annotated[dict[str, Severity], BeforeValidator(_parse_pairs)] = {}
    """Severity per finding status, merged over the defaults (gap, missing, spike: critical; surplus, no_traffic, stale: warning; a missing or stale hour about to be deleted by Elasticsearch is critical)."""
    repeat_interval: Duration = timedelta(hours=4)
    """A firing incident is sent again to a sink after this long (e.g. "4h", "30m")."""
    send_resolved: bool = True
    """Send a resolved notification once an incident's hours reconcile."""
    alertmanager_ttl: Duration = timedelta(hours=3)
    """endsAt given to firing alerts in Alertmanager: they are re-sent every run and lapse if runs stop."""
    timeout_s: float = Field(10.0, gt=0)
    """Connect and read timeout of one HTTP request to a sink."""
    retries: int = Field(4, ge=0)
    """Retries of one delivery on 429, 5xx, timeouts and network errors (not on other 4xx)."""
    retry_initial_wait_s: float = Field(1.0, ge=0)
    """First backoff wait; it doubles per retry, plus random jitter."""
    retry_max_wait_s: float = Field(30.0, ge=0)
    """Ceiling of one backoff wait; a Retry-After longer than this leaves the alert pending for the next run."""
    state_uri: str = ""
    """Where alert state lives (s3://bucket/prefix or a path); default <archive.uri>/_reconcile/alerts."""
    lease_ttl_s: float = Field(600.0, gt=0)
    """A run holds the job's alert lease this long at most; a crashed run's lease expires after it."""
    lock_wait_s: float = Field(120.0, ge=0)
    """How long a run waits for another run's lease on the same alert state before failing."""

    @field_validator("severity", mode="after")
    @classmethod
    def _known_statuses(cls, value: dict[str, Severity]) -> dict[str, Severity]:
        unknown = sorted(set(value) - set(DEFAULT_SEVERITY))
        if unknown:
            raise ValueError(
                f"unknown status {', '.join(unknown)}; use {', '.join(sorted(DEFAULT_SEVERITY))}"
            )
        return value

    @field_validator("labels", mode="after")
    @classmethod
    def _label_names(cls, value: dict[str, str]) -> dict[str, str]:
        bad = sorted(k for k in value if not _LABEL_NAME.match(k))
        if bad:
            raise ValueError(
                f"invalid label name {', '.join(bad)}: use letters, digits and _ (Alertmanager)"
            )
        return value

    @field_validator("alertmanager_url", "pagerduty_url", "runbook_url", mode="after")
    @classmethod
    def _http_url(cls, value: str | None) -> str | None:
        if value is not None and urlsplit(value).scheme not in ("http", "https"):
            raise ValueError("must be an http:// or https:// URL")
        return value

    def severity_map(self) -> dict[str, Severity]:
        return {**DEFAULT_SEVERITY, **self.severity}


@dataclass(frozen=True, slots=True)
class SinkSecrets:
    """The resolved sink endpoints and secrets of one run. Never logged; see :class:`Redactor`."""

    webhook_url: str | None = None
    webhook_key: bytes | None = None
    slack_url: str | None = None
    alertmanager_url: str | None = None
    routing_key: str | None = None

    def redactor(self) -> Redactor:
        secrets: list[str] = []
        for url in (self.webhook_url, self.slack_url):
            if url:
                secrets.extend(_url_secrets(url))
        if self.routing_key:
            secrets.append(self.routing_key)
        if self.alertmanager_url:
            parts = urlsplit(self.alertmanager_url)
            if parts.password:
                secrets.append(parts.password)
        return Redactor(secrets)


def _url_secrets(url: str) -> list[str]:
    """The parts of a URL that may hold a token: the URL itself, its path and query."""
    parts = urlsplit(url)
    out = [url]
    tail = parts.path + (f"?{parts.query}" if parts.query else "")
    if len(tail) > 1:
        out.append(tail)
    if parts.query:
        out.append(parts.query)
    if parts.password:
        out.append(parts.password)
    return out


def mask_location(url: str, secret: bool = True) -> str:
    """What a person may see of a sink URL: scheme and host, never a path that may be a token."""
    parts = urlsplit(url)
    host = parts.hostname or ""
    if parts.port:
        host = f"{host}:{parts.port}"
    if not secret:
        return f"{parts.scheme}://{host}{parts.path}"
    return f"{parts.scheme}://{host}/***"


class Redactor:
    """Replaces every known secret string in a text with ``***``."""

    def __init__(self, secrets: list[str]) -> None:
        self._secrets = sorted({s for s in secrets if s}, key=len, reverse=True)

    def __call__(self, text: str) -> str:
        for secret in self._secrets:
            text = text.replace(secret, "***")
        return text


def _pick(
    value: SecretStr | str | None,
    env_name: str | None,
    default_env: str,
    environ: Mapping[str, str],
    key: str,
) -> str | None:
    """A field's value, else the variable it names, else the design's environment variable."""
    if isinstance(value, SecretStr):
        value = value.get_secret_value()
    if value:
        return value
    if env_name:
        found = environ.get(env_name)
        if not found:
            raise ConfigError(f"alerts.{key}_env names {env_name}, which is not set")
        return found
    return environ.get(default_env) or None


def decode_webhook_secret(secret: str, origin: str) -> bytes:
    """The HMAC key of a Standard Webhooks secret ``whsec_<base64>`` (the value is never shown)."""
    if not secret.startswith("whsec_"):
        raise ConfigError(f"{origin}: a webhook secret must look like whsec_<base64>")
    try:
        key = base64.b64decode(secret[len("whsec_") :], validate=True)
    except (binascii.Error, ValueError):
        raise ConfigError(f"{origin}: the part after whsec_ is not valid base64") from None
    if len(key) < 24 or len(key) > 64:
        raise ConfigError(f"{origin}: the secret must decode to 24-64 bytes (got {len(key)})")
    return key


def resolve_secrets(cfg: AlertsConfig, environ: Mapping[str, str] | None = None) -> SinkSecrets:
    """Resolve sink endpoints and secrets from the spec and the environment."""
    env = os.environ if environ is None else environ
    webhook = _pick(cfg.webhook_url, cfg.webhook_url_env, ENV_WEBHOOK_URL, env, "webhook_url")
    slack = _pick(
        cfg.slack_webhook_url,
        cfg.slack_webhook_url_env,
        ENV_SLACK_WEBHOOK_URL,
        env,
        "slack_webhook_url",
    )
    routing = _pick(
        cfg.routing_key, cfg.routing_key_env, ENV_PAGERDUTY_ROUTING_KEY, env, "routing_key"
    )
    secret = _pick(
        cfg.webhook_secret, cfg.webhook_secret_env, ENV_WEBHOOK_SECRET, env, "webhook_secret"
    )
    am = cfg.alertmanager_url or env.get(ENV_ALERTMANAGER_URL) or None
    for name, url in (
        ("webhook_url", webhook),
        ("slack_webhook_url", slack),
        ("alertmanager_url", am),
    ):
        if url and (urlsplit(url).scheme not in ("http", "https") or not urlsplit(url).hostname):
            raise ConfigError(f"alerts.{name}: not an http(s) URL (value hidden)")
    key = (
        decode_webhook_secret(secret, "webhook secret (RECONCILE_WEBHOOK_SECRET)")
        if secret
        else None
    )
    if key is not None and not webhook:
        raise ConfigError("a webhook secret is set but no webhook URL (RECONCILE_WEBHOOK_URL)")
    return SinkSecrets(
        webhook_url=webhook,
        webhook_key=key,
        slack_url=slack,
        alertmanager_url=am.rstrip("/") if am else None,
        routing_key=routing,
    )


class AlertsJob(Protocol):
    """What the alert stage reads of a job: its name (labels incidents), its section and
    where the alert state lives."""

    @property
    def name(self) -> str: ...

    @property
    def alerts(self) -> AlertsConfig: ...

    @property
    def alerts_state_uri(self) -> str:
        """Where the alert state lives (the job puts it beside the archive unless set)."""
        ...
