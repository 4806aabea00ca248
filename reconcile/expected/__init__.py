"""The expected-counts stage: how many requests each hour window should account for.

Two sources (docs/expected-counts.md compares them): CloudWatch's ``RequestCount`` metric
(:mod:`.cloudwatch`) and the ALB access logs in S3 (:mod:`.alb_logs`). Both return an
:class:`ExpectedCounts` with every window of the range, zero where there was nothing.
"""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING

from .config import ExpectedConfig
from .model import ExpectedCounts, ExpectedSourceError

if TYPE_CHECKING:
    import pyarrow as pa

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
        from .cloudwatch import cloudwatch_counts

        return cloudwatch_counts(cfg, start, end)
    from .alb_logs import alb_log_counts

    return alb_log_counts(cfg, start, end)


def read_alb_logs(cfg: ExpectedConfig, start: datetime, end: datetime) -> pa.Table:
    """Access-log entries created in ``[start, end)``, with the ``alb_access_logs`` columns.

    See :func:`reconcile.expected.alb_logs.read_alb_logs`.
    """
    from .alb_logs import read_alb_logs as _read

    return _read(cfg, start, end)
