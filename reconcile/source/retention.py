"""When Elasticsearch deletes a window's documents: the deadline for saving a missing hour.

A ``missing`` or ``stale`` window can still be archived while Elasticsearch holds it, and is
lost for good once its index is deleted. The deadline comes from ILM where the server has
it: an index managed by a policy with a ``delete`` phase is deleted ``min_age`` after its
lifecycle date (its rollover, or its creation), as ``GET <index>/_ilm/explain`` reports.
Without ILM, ``source.retention`` says how long a window is kept after it ends.

Which index holds a window: the indexes its manifest recorded (stale windows), else the
newest index created before the window ended (the write index of a daily or rollover
pattern at the time).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from ..durations import format_duration
from ..timewin import Window

_ES_TIME = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(nanos|micros|ms|s|m|h|d)\s*$")
_ES_UNITS = {
    "nanos": 1e-9,
    "micros": 1e-6,
    "ms": 1e-3,
    "s": 1.0,
    "m": 60.0,
    "h": 3600.0,
    "d": 86400.0,
}


def es_time(value: str | int | float) -> timedelta:
    """An Elasticsearch time unit value (``30d``, ``12h``, ``0ms``; a number is ms)."""
    if isinstance(value, int | float):
        return timedelta(milliseconds=value)
    m = _ES_TIME.match(value)
    if not m:
        raise ValueError(f"not an Elasticsearch time value: {value!r}")
    return timedelta(seconds=float(m.group(1)) * _ES_UNITS[m.group(2)])


def _ms(value: Any) -> datetime:
    return datetime.fromtimestamp(int(value) / 1000, UTC)


@dataclass(frozen=True, slots=True)
class Deadline:
    """When a window's documents are deleted, and why we think so."""

    at: datetime
    basis: str


@dataclass(frozen=True, slots=True)
class IndexLife:
    """One index: when it was created and, if a policy deletes it, when."""

    name: str
    created: datetime | None
    deletes_at: datetime | None
    basis: str = ""


def lives_from_ilm(explain: Mapping[str, Any], policies: Mapping[str, Any]) -> list[IndexLife]:
    """Index lifetimes from ``_ilm/explain`` ``indices`` and ``_ilm/policy`` answers."""
    out = []
    for name, info in sorted(explain.items()):
        created = info.get("index_creation_date_millis")
        deletes_at, basis = None, ""
        policy = info.get("policy")
        if info.get("managed") and policy:
            phases = policies.get(policy, {}).get("policy", {}).get("phases", {})
            delete = phases.get("delete")
            since = info.get("lifecycle_date_millis") or created
            if delete is not None and since is not None:
                after = es_time(delete.get("min_age", "0ms"))
                deletes_at = _ms(since) + after
                basis = f"ILM policy {policy} deletes {name} {format_duration(after)} after its lifecycle date"
        out.append(IndexLife(name, _ms(created) if created else None, deletes_at, basis))
    return out


class RetentionGuard:
    """Deadlines per window from index lifetimes (ILM) or a configured retention."""

    def __init__(self, lives: list[IndexLife], retention: timedelta | None) -> None:
        self.lives = {life.name: life for life in lives}
        self.retention = retention

    @property
    def known(self) -> bool:
        return self.retention is not None or any(life.deletes_at for life in self.lives.values())

    def deadline(self, window: Window, indices: list[str] | None = None) -> Deadline | None:
        """When the window's documents are deleted; ``None`` when nothing says."""
        chosen = [self.lives[i] for i in indices or [] if i in self.lives]
        if not chosen:
            write_index = self._write_index_at(window.end)
            chosen = [write_index] if write_index else []
        managed = [life for life in chosen if life.deletes_at is not None]
        if managed:
            first = min(managed, key=lambda life: life.deletes_at or window.end)
            assert first.deletes_at is not None
            return Deadline(first.deletes_at, first.basis)
        if self.retention is not None:
            return Deadline(
                window.end + self.retention,
                f"source.retention = {format_duration(self.retention)} after the hour ends",
            )
        return None

    def _write_index_at(self, when: datetime) -> IndexLife | None:
        created = [life for life in self.lives.values() if life.created and life.created < when]
        return max(created, key=lambda life: life.created or when) if created else None
