"""Expected counts by SQL: ``sql/queries/expected_from_alb_logs`` run where the logs are.

With Athena the access logs are counted in place, on the ``alb_access_logs`` table, rather
than downloaded and parsed here; that query expresses the default exclusions only, so
host and path filters fall back to :func:`reconcile.expected.expected_counts`.
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from ..errors import ConfigError
from ..sqlfiles import Raw, render
from ..timewin import Window, windows
from . import expected_counts
from .config import ExpectedConfig
from .model import ExpectedCounts, resource_name, zero_filled

if TYPE_CHECKING:
    from ..engines import Engine

log = logging.getLogger(__name__)

QUERY = "queries/expected_from_alb_logs"


def alb_query_params(cfg: ExpectedConfig, start: datetime, end: datetime) -> dict[str, Any]:
    """Values for the placeholders of ``sql/queries/expected_from_alb_logs.sql``."""
    if not cfg.load_balancers:
        raise ConfigError("expected.load_balancers: empty; name the load balancer(s) to count")
    lbs = ", ".join("'" + lb.replace("'", "''") + "'" for lb in sorted(cfg.load_balancers))
    return {"start": start, "end": end, "load_balancers": Raw(lbs)}


def alb_sql_applies(cfg: ExpectedConfig) -> bool:
    """``queries/expected_from_alb_logs`` applies the default filters only (no host or path)."""
    return (
        cfg.exclude_waf_blocked
        and cfg.exclude_fixed_response
        and cfg.exclude_redirects
        and not cfg.exclude_not_forwarded
        and not cfg.include_only_hosts
        and not cfg.exclude_hosts
        and not cfg.exclude_path_prefixes
    )


def alb_counts_by_sql(
    cfg: ExpectedConfig, start: datetime, end: datetime, engine: Engine
) -> ExpectedCounts:
    """Requests per window of ``[start, end)`` from the engine's ``alb_access_logs`` table."""
    sql = render(QUERY, alb_query_params(cfg, start, end))
    found: dict[Window, int] = {}
    for row in engine.query(sql).to_pylist():
        ws = row["window_start"]
        ws = ws.replace(tzinfo=UTC) if ws.tzinfo is None else ws.astimezone(UTC)
        found[Window(ws)] = int(row["expected"])
    counts = zero_filled(windows(start, end), found)
    detail = {"engine": engine.name, "query": QUERY}
    return ExpectedCounts("alb_logs", resource_name(cfg.load_balancers), counts, detail)


def expected_for(
    cfg: ExpectedConfig, start: datetime, end: datetime, engine: Engine
) -> ExpectedCounts:
    """Expected requests per window of ``[start, end)``.

    With Athena and ALB access logs, the logs are counted where they are, by
    ``sql/queries/expected_from_alb_logs`` on the ``alb_access_logs`` table; otherwise (and
    when host or path filters are set, which that query cannot express) by
    :func:`reconcile.expected.expected_counts`.
    """
    if engine.name == "athena" and cfg.source == "alb_logs":
        if alb_sql_applies(cfg):
            return alb_counts_by_sql(cfg, start, end, engine)
        log.info("ALB logs are counted locally: host and path filters are not in the SQL file")
    return expected_counts(cfg, start, end)
