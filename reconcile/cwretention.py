"""CloudWatch metric retention: which period each age of data can still be read at.

CloudWatch keeps one-minute datapoints for 15 days, five-minute aggregates for 63 days and
hourly ones for 455 days (sub-minute, high-resolution data only 3 hours; this tool never
asks for it). A ``GetMetricData`` query whose period is finer than what is still kept for
its ``StartTime`` returns no datapoints at all, so a range is split by age and each part is
read at a period that age still serves. Both the expected counts (``AWS/ApplicationELB``)
and the egress watch (``AWS/NATGateway``) plan their reads here.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from .timewin import HOUR, floor_hour

#: (age limit, finest period kept until then), finest first.
RETENTION: tuple[tuple[timedelta, int], ...] = (
    (timedelta(days=15), 60),
    (timedelta(days=63), 300),
    (timedelta(days=455), 3600),
)
#: Step a boundary this far towards the present so data aging out mid-run is never asked for.
MARGIN = timedelta(hours=1)


@dataclass(frozen=True, slots=True)
class Segment:
    """Part of a range read at one period."""

    start: datetime
    end: datetime
    period: int
    """The finest period CloudWatch still keeps for this part (seconds)."""


def ceil_hour(dt: datetime) -> datetime:
    floor = floor_hour(dt)
    return floor if floor == dt else floor + HOUR


def plan_periods(start: datetime, end: datetime, now: datetime) -> list[Segment]:
    """Split ``[start, end)`` into segments read at the finest period kept, oldest first.

    Boundaries fall on whole hours; what is older than the last retention tier is left out.
    """
    segments: list[Segment] = []
    newer_than = end
    for age, period in RETENTION:
        cut = ceil_hour(now - age + MARGIN)
        lo, hi = max(start, cut), newer_than
        if lo < hi:
            segments.append(Segment(lo, hi, period))
        newer_than = min(newer_than, max(cut, start))
        if newer_than <= start:
            break
    return sorted(segments, key=lambda s: s.start)


def kept_for(period_s: int) -> timedelta:
    """How far back CloudWatch still serves datapoints at ``period_s`` (a multiple of 60)."""
    return max((age for age, finest in RETENTION if period_s % finest == 0), default=timedelta(0))
