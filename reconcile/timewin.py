"""UTC hour windows: the unit every stage archives, counts and judges.

A window is ``[start, start + 1h)`` by the event timestamp, never by index name.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from .errors import ConfigError

HOUR = timedelta(hours=1)

_SHORT = re.compile(r"^(\d{4})-(\d{2})-(\d{2})(?:[T ](\d{2}))?$")


def parse_time(text: str, name: str = "time") -> datetime:
    """Parse ``2026-11-20``, ``2026-11-20T13`` or ISO 8601 into an aware UTC datetime.

    Naive values are taken as UTC; offsets are converted to UTC.
    """
    value = text.strip()
    m = _SHORT.match(value)
    try:
        if m:
            y, mo, d, h = m.groups()
            return datetime(int(y), int(mo), int(d), int(h or 0), tzinfo=UTC)
        if value.endswith(("Z", "z")):
            value = value[:-1] + "+00:00"
        dt = datetime.fromisoformat(value)
    except ValueError as exc:
        raise ConfigError(
            f"{name}: cannot parse {text!r}; use 2026-11-20, 2026-11-20T13 or ISO 8601"
        ) from exc
    return dt.replace(tzinfo=UTC) if dt.tzinfo is None else dt.astimezone(UTC)


def floor_hour(dt: datetime) -> datetime:
    """The start of the UTC hour containing ``dt``."""
    return dt.astimezone(UTC).replace(minute=0, second=0, microsecond=0)


@dataclass(frozen=True, order=True, slots=True)
class Window:
    """One UTC hour ``[start, end)``."""

    start: datetime

    def __post_init__(self) -> None:
        if self.start.tzinfo is None or self.start != floor_hour(self.start):
            raise ValueError(f"window start must be a UTC hour boundary, got {self.start}")

    @property
    def end(self) -> datetime:
        return self.start + HOUR

    @property
    def dt(self) -> str:
        """Hive partition value for the day, ``YYYY-MM-DD``."""
        return self.start.strftime("%Y-%m-%d")

    @property
    def hour(self) -> str:
        """Hive partition value for the hour, ``HH``."""
        return self.start.strftime("%H")

    @property
    def partition(self) -> str:
        """Relative Hive path ``dt=YYYY-MM-DD/hour=HH``."""
        return f"dt={self.dt}/hour={self.hour}"

    @property
    def label(self) -> str:
        """Human label, ``2026-11-20T13``."""
        return self.start.strftime("%Y-%m-%dT%H")

    @property
    def start_ms(self) -> int:
        return int(self.start.timestamp() * 1000)

    @property
    def end_ms(self) -> int:
        return self.start_ms + 3_600_000

    def iso(self) -> str:
        """``window_start`` as ISO 8601 UTC with a ``Z`` suffix."""
        return self.start.strftime("%Y-%m-%dT%H:%M:%SZ")

    def is_closed(self, now: datetime, grace: timedelta = timedelta(0)) -> bool:
        """True once ``now`` is past the window's end plus ``grace``."""
        return now >= self.end + grace

    @classmethod
    def from_partition(cls, dt: str, hour: str | int) -> Window:
        day = datetime.strptime(dt, "%Y-%m-%d").replace(tzinfo=UTC)
        return cls(day + timedelta(hours=int(hour)))


def windows(start: datetime, end: datetime) -> Iterator[Window]:
    """Every hour window overlapping ``[start, end)``; ``end`` is exclusive."""
    if end <= start:
        raise ConfigError(f"--to ({end.isoformat()}) must be after --from ({start.isoformat()})")
    cur = floor_hour(start)
    while cur < end:
        yield Window(cur)
        cur += HOUR


def utcnow() -> datetime:
    return datetime.now(UTC)
