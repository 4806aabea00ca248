"""The job spec: one pipeline's configuration, resolved in one place.

Precedence, lowest first: defaults, the job file (TOML), environment variables
(``RECONCILE_<SECTION>_<KEY>``, plus ``ES_URL``), then command-line flags. Errors name the
key and where its value came from. Secrets are never read from the file.
"""

from __future__ import annotations

import json
import os
import re
import tomllib
from collections.abc import Mapping
from datetime import timedelta
from pathlib import Path
from typing import Any, get_origin

from pydantic import BaseModel, ConfigDict, ValidationError, model_validator

from .alerts.config import AlertsConfig
from .archive.config import ArchiveConfig
from .check.config import CheckConfig
from .durations import format_duration
from .egress.config import EgressConfig
from .errors import ConfigError
from .expected.config import ExpectedConfig
from .redact import mask_url
from .schedule.config import RunConfig
from .source.config import SourceConfig

#: Keys that would hold secrets; the file may not set them (they come from the environment).
SECRET_KEYS = {"password", "api_key", "secret", "token", "routing_key", "webhook_secret"}

#: Keys whose values may embed a token (Slack and webhook URLs): never echoed in errors.
SECRET_URL_KEYS = {"webhook_url", "slack_webhook_url"}

#: Environment aliases that people already use, mapped to dotted keys.
ENV_ALIASES = {
    "ES_URL": "source.url",
    "ELASTICSEARCH_URL": "source.url",
    "RECONCILE_ARCHIVE": "archive.uri",
    "RECONCILE_WEBHOOK_URL": "alerts.webhook_url",
    "RECONCILE_SLACK_WEBHOOK_URL": "alerts.slack_webhook_url",
    "RECONCILE_ALERTMANAGER_URL": "alerts.alertmanager_url",
    "RECONCILE_PAGERDUTY_ROUTING_KEY": "alerts.routing_key",
    "RECONCILE_WEBHOOK_SECRET": "alerts.webhook_secret",
    "PUSHGATEWAY_URL": "run.pushgateway_url",
}

_ENV_REF = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)\}")


class JobSpec(BaseModel):
    """One pipeline: which logs, where they are archived, what they are checked against."""

    model_config = ConfigDict(extra="forbid", use_attribute_docstrings=True)

    name: str = "default"
    """Job name; labels results and alerts."""
    source: SourceConfig = SourceConfig()
    """The Elasticsearch source."""
    archive: ArchiveConfig = ArchiveConfig()
    """The Parquet archive."""
    expected: ExpectedConfig = ExpectedConfig()
    """Where the expected request counts come from."""
    check: CheckConfig = CheckConfig()
    """How hours are judged and where results go."""
    egress: EgressConfig = EgressConfig()
    """NAT gateway egress watch."""
    alerts: AlertsConfig = AlertsConfig()
    """Where alerts go and how often they repeat."""
    run: RunConfig = RunConfig()
    """What a scheduled run covers."""

    @model_validator(mode="after")
    def _alb_tally_beside_the_archive(self) -> JobSpec:
        # Delivered access-log objects never change: their counts are kept with the archive.
        e = self.expected
        if e.tally_uri == "none":
            e.tally_uri = ""
        elif not e.tally_uri:
            e.tally_uri = self.beside_archive("alb-tally")
        return self

    # The one place where locations are derived from archive.uri, so that each stage reads
    # only what it declares: results and alert state live in the archive's ``_reconcile/``
    # area unless set (``_`` keeps them out of its readers). Computed on access, so a copy
    # with another archive.uri moves them too.

    @property
    def results_uri(self) -> str:
        """``check.results_uri``, else ``<archive.uri>/_reconcile/results``."""
        return self.check.results_uri or self.beside_archive("results")

    @property
    def egress_results_uri(self) -> str:
        """``egress.results``, else the same results dataset beside the archive."""
        return self.egress.results or self.beside_archive("results")

    @property
    def alerts_state_uri(self) -> str:
        """``alerts.state_uri``, else ``<archive.uri>/_reconcile/alerts``."""
        return self.alerts.state_uri or self.beside_archive("alerts")

    @property
    def retention_warning(self) -> timedelta:
        """How long before Elasticsearch deletes an unarchived hour the check pages
        (``run.retention_warning``, read by the check)."""
        return self.run.retention_warning

    def beside_archive(self, name: str) -> str:
        """``<archive.uri>/_reconcile/<name>``, or "" without an archive."""
        return f"{self.archive.uri.rstrip('/')}/_reconcile/{name}" if self.archive.uri else ""

    @model_validator(mode="after")
    def _grace_covers_settle(self) -> JobSpec:
        # A window judged before it may be archived would read "missing" every hour.
        if self.check.grace < self.archive.settle:
            raise ValueError(
                f"check.grace ({format_duration(self.check.grace)}) is shorter than "
                f"archive.settle ({format_duration(self.archive.settle)}): every hour would be "
                "judged before it is archived; make check.grace at least archive.settle"
            )
        return self


def _sections() -> dict[str, type[BaseModel]]:
    out: dict[str, type[BaseModel]] = {}
    for name, field in JobSpec.model_fields.items():
        ann = field.annotation
        if isinstance(ann, type) and issubclass(ann, BaseModel):
            out[name] = ann
    return out


def env_name(key: str) -> str:
    """``source.page_size`` -> ``RECONCILE_SOURCE_PAGE_SIZE``."""
    return "RECONCILE_" + key.replace(".", "_").upper()


def _is_list(section: str, field: str) -> bool:
    ann = _sections()[section].model_fields[field].annotation
    return get_origin(ann) is list


def env_overrides(environ: Mapping[str, str] | None = None) -> dict[str, tuple[Any, str]]:
    """Dotted key -> (value, origin) for every job setting present in the environment."""
    environ = os.environ if environ is None else environ
    found: dict[str, tuple[Any, str]] = {}
    for var, key in ENV_ALIASES.items():
        if environ.get(var):
            found[key] = (environ[var], f"environment {var}")
    if environ.get("RECONCILE_NAME"):
        found["name"] = (environ["RECONCILE_NAME"], "environment RECONCILE_NAME")
    for section, model in _sections().items():
        for field in model.model_fields:
            key = f"{section}.{field}"
            var = env_name(key)
            if var in environ and environ[var] != "":
                raw: Any = environ[var]
                if _is_list(section, field) and not raw.lstrip().startswith("["):
                    raw = [p.strip() for p in raw.split(",") if p.strip()]
                elif raw.lstrip().startswith(("{", "[")):
                    raw = _json_value(raw, var)
                found[key] = (raw, f"environment {var}")
    return found


def _json_value(raw: str, var: str) -> Any:
    try:
        return json.loads(raw)
    except json.JSONDecodeError as exc:
        raise ConfigError(f"environment {var}: not valid JSON: {exc}") from None


def _substitute(value: Any, where: str) -> Any:
    """Replace ``${VAR}`` in strings of the job file with environment values."""
    if isinstance(value, str):

        def repl(m: re.Match[str]) -> str:
            if m.group(1) not in os.environ:
                raise ConfigError(f"{where}: environment variable {m.group(1)} is not set")
            return os.environ[m.group(1)]

        return _ENV_REF.sub(repl, value)
    if isinstance(value, dict):
        return {k: _substitute(v, f"{where}.{k}") for k, v in value.items()}
    if isinstance(value, list):
        return [_substitute(v, f"{where}[{i}]") for i, v in enumerate(value)]
    return value


def _reject_secrets(data: Mapping[str, Any], path: str, origin: str) -> None:
    for key, value in data.items():
        dotted = f"{path}.{key}" if path else key
        if key in SECRET_KEYS:
            raise ConfigError(
                f"{dotted} (in {origin}): secrets are not read from job files; "
                "set them in the environment (see README, Configuration)"
            )
        if isinstance(value, Mapping) and key != "filter":
            _reject_secrets(value, dotted, origin)


def _set(data: dict[str, Any], dotted: str, value: Any) -> None:
    parts = dotted.split(".")
    node = data
    for part in parts[:-1]:
        node = node.setdefault(part, {})
    node[parts[-1]] = value


def load_job(
    path: str | Path | None = None,
    overrides: Mapping[str, tuple[Any, str]] | None = None,
    environ: Mapping[str, str] | None = None,
) -> JobSpec:
    """Resolve a job spec from file, environment and flag overrides (``key -> (value, origin)``)."""
    data: dict[str, Any] = {}
    origins: dict[str, str] = {}
    if path is not None:
        p = Path(path)
        origin = f"job file {p}"
        try:
            data = tomllib.loads(p.read_text())
        except FileNotFoundError as exc:
            raise ConfigError(f"job file {p} does not exist") from exc
        except tomllib.TOMLDecodeError as exc:
            raise ConfigError(f"job file {p}: not valid TOML: {exc}") from exc
        _reject_secrets(data, "", origin)
        data = _substitute(data, str(p))
        origins = {k: origin for k in _flatten(data)}
    layered = {**env_overrides(environ), **(overrides or {})}
    for key, (value, origin) in layered.items():
        _set(data, key, value)
        origins[key] = origin
    try:
        return JobSpec.model_validate(data)
    except ValidationError as exc:
        raise ConfigError(_explain(exc, origins)) from None


def _flatten(data: Mapping[str, Any], prefix: str = "") -> list[str]:
    keys = []
    for k, v in data.items():
        dotted = f"{prefix}.{k}" if prefix else k
        if isinstance(v, Mapping) and k != "filter":
            keys.extend(_flatten(v, dotted))
        else:
            keys.append(dotted)
    return keys


def _explain(exc: ValidationError, origins: Mapping[str, str]) -> str:
    lines = []
    for err in exc.errors():
        key = ".".join(str(p) for p in err["loc"])
        origin = origins.get(key)
        where = f" (from {origin})" if origin else ""
        msg = err["msg"]
        if err["type"] == "extra_forbidden":
            msg = "unknown key"
        value = err.get("input")
        hidden = str(err["loc"][-1]) in SECRET_KEYS | SECRET_URL_KEYS if err["loc"] else False
        quiet = hidden or isinstance(value, dict) or err["type"] == "extra_forbidden"
        shown = "" if quiet else f", got {value!r}"
        lines.append(f"{key}: {msg}{shown}{where}")
    return "invalid job spec: " + "; ".join(lines)


def describe(spec: JobSpec) -> dict[str, Any]:
    """The resolved spec as plain data, with URL credentials masked (for printing)."""
    out = spec.model_dump(mode="json")
    out["source"]["url"] = mask_url(out["source"]["url"])
    return out
