"""What a check puts into the SQL files' placeholders: locations, tolerances, ratio, range.

Wired here, by the check that runs the files, so :mod:`reconcile.sqlfiles` only loads and
renders and never reaches into the check's or the expected side's settings.
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime, timedelta
from typing import Any

from ..errors import ConfigError, ReconcileError
from ..expected.alb_keys import alb_logs_location
from ..expected.alb_sql import alb_query_params
from ..expected.config import ExpectedConfig
from ..sqlfiles import Raw, render, time_params
from .config import CheckConfig, default_results_uri

log = logging.getLogger(__name__)

#: The earliest ``dt`` partition projection enumerates when nothing better is known.
DEFAULT_PROJECTION_START = "2024-01-01"
#: Sub-queries of ``queries/reconcile_hourly``, rendered when their placeholders are known.
SUBQUERIES = (
    ("queries/archived_per_hour", "archived_hourly"),
    ("queries/expected_from_alb_logs", "expected_hourly"),
)


def sql_params(
    job: str,
    archive_uri: str,
    check: CheckConfig,
    expected: ExpectedConfig,
    start: datetime | None = None,
    end: datetime | None = None,
    now: datetime | None = None,
) -> dict[str, Any]:
    """Placeholder values a job defines (locations, tolerances, ratio, and the range if given).

    Sub-queries of ``queries/reconcile_hourly`` are included when they can be rendered:
    ``archived_hourly`` from ``queries/archived_per_hour``, ``expected_hourly`` from
    ``queries/expected_from_alb_logs`` when the job reads ALB access logs.
    """
    params = _settings_params(job, archive_uri, check)
    if expected.alb_logs_uri:
        try:  # may list the bucket to find the account
            params["alb_logs_location"] = alb_logs_location(expected)
        except ReconcileError as exc:
            log.warning("alb_logs_location left unset: %s", exc)
    if start is not None and end is not None:
        params.update(time_params(start, end))
        if expected.load_balancers:
            params.update(alb_query_params(expected, start, end))
        cutoff = (now or datetime.now(UTC)) - check.grace - timedelta(hours=1)
        params["judge_cutoff"] = cutoff
        for name, key in SUBQUERIES:
            try:
                params[key] = Raw(render(name, params))
            except ConfigError:
                continue  # missing file or placeholders: the caller must pass it
    return params


def _settings_params(job: str, archive_uri: str, check: CheckConfig) -> dict[str, Any]:
    """The job's name, the check's tolerances and ratio, the archive and results locations."""
    params: dict[str, Any] = {
        "job": job,
        "projection_start": DEFAULT_PROJECTION_START,
        "ratio": check.expected_ratio,
        "abs_tolerance": check.abs_tolerance,
        "rel_tolerance": check.rel_tolerance,
        "database": check.athena_database,
    }
    if archive_uri:
        params["archive_location"] = archive_uri.rstrip("/")
        results = check.results_uri or default_results_uri(archive_uri)
        params["results_location"] = results.rstrip("/")
    elif check.results_uri:
        params["results_location"] = check.results_uri.rstrip("/")
    return params
