"""The result of the expected-counts stage and its error type."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from ..errors import ReconcileError
from ..timewin import Window, windows


class ExpectedSourceError(ReconcileError):
    """CloudWatch or the ALB access logs could not be read; the message names the metric or object."""


@dataclass(frozen=True)
class ExpectedCounts:
    """Requests the load balancer(s) served per hour window: what the archive should account for."""

    source: str
    """``cloudwatch`` or ``alb_logs``."""
    resource: str
    """The load balancer(s) counted, comma-joined in sorted order."""
    counts: dict[Window, int]
    """Every window of the requested range, ``0`` where there was no data."""
    detail: dict[str, Any] = field(default_factory=dict)
    """JSON-able extras: per load balancer / target group counts per window label, excluded
    requests by reason, malformed lines, objects and bytes read, API calls made."""

    @property
    def total(self) -> int:
        return sum(self.counts.values())


def window_range(start: datetime, end: datetime) -> list[Window]:
    """The windows overlapping ``[start, end)`` (``ConfigError`` when ``end <= start``)."""
    return list(windows(start, end))


def zero_filled(wins: Iterable[Window], found: Mapping[Window, int]) -> dict[Window, int]:
    """``found`` restricted to ``wins``, with every window present (0 when absent)."""
    return {w: int(found.get(w, 0)) for w in wins}


def by_label(counts: Mapping[Window, int]) -> dict[str, int]:
    """Window-keyed counts as JSON-able ``{"2026-11-20T13": n}``."""
    return {w.label: int(n) for w, n in sorted(counts.items())}


def resource_name(load_balancers: Iterable[str]) -> str:
    return ",".join(sorted(set(load_balancers)))
