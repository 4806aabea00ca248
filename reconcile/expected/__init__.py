"""The expected-counts stage: how many requests each hour window should account for.

Two sources (docs/expected-counts.md compares them): CloudWatch's ``RequestCount`` metric
(:mod:`.cloudwatch`) and the ALB access logs in S3 (:mod:`.alb_logs`). Both return an
:class:`ExpectedCounts` with every window of the range, zero where there was nothing.
:mod:`.alb_sql` counts the access logs by SQL where an engine holds them (Athena).
"""

from __future__ import annotations

from datetime import datetime

from .alb_logs import alb_log_counts, read_alb_logs
from .cloudwatch import cloudwatch_counts
from .config import ExpectedConfig
from .model import ExpectedCounts, ExpectedSourceError

__all__ = [
    "ExpectedConfig",
    "ExpectedCounts",
    "ExpectedSourceError",
    "expected_counts",
    "read_alb_logs",
]


def expected_counts(cfg: ExpectedConfig, start: datetime, end: datetime) -> ExpectedCounts:
    """Requests per hour window of ``[start, end)`` from the source ``cfg.source`` names."""
    if cfg.source == "cloudwatch":
        return cloudwatch_counts(cfg, start, end)
    return alb_log_counts(cfg, start, end)
