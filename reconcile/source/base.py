"""The one interface every log store sits behind (Elasticsearch, OpenSearch).

The archive and the check need only these operations from a source: who it is, the index
mappings, live counts of a window, what it holds per hour over a range, which indices a
window touches, a consistent snapshot (point in time) read slice by slice in pages, and
how long its indices live (ILM on Elasticsearch, ISM on OpenSearch). Everything else (the
client library, the point-in-time API's shape, the total order of ``search_after``, the
lifecycle API) is the implementation's business; see :mod:`.elastic` and
:mod:`.opensearch`, and :func:`.factory.open_source` for how one is chosen.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, Protocol

from ..errors import SourceError
from ..timewin import Window
from .retention import IndexLife

if TYPE_CHECKING:
    from .page import Page

#: Most hours one histogram request covers (Elasticsearch's search.max_buckets is 65,536).
HISTOGRAM_HOURS = 24 * 366


@dataclass(slots=True)
class HourlyCounts:
    """What the source holds per hour (epoch ms of the hour's start -> documents)."""

    counts: dict[int, int] = field(default_factory=dict)
    earliest_ms: int | None = None
    """The oldest timestamp the pattern still holds (before it, everything was deleted)."""
    horizon_known: bool = True
    """False when counted hour by hour: the oldest timestamp was not asked."""
    requests: int = 0
    method: str = "date_histogram"
    """``date_histogram`` (one request per range) or ``count`` (one per hour)."""

    def get(self, window: Window) -> int:
        return self.counts.get(window.start_ms, 0)

    @property
    def earliest(self) -> datetime | None:
        if self.earliest_ms is None:
            return None
        return datetime.fromtimestamp(self.earliest_ms / 1000, UTC)


def cannot_aggregate(exc: SourceError) -> bool:
    """The server refused the request's shape (a stand-in or a restricted endpoint)."""
    return re.search(r"answered (400|405|501)\b", str(exc)) is not None


class PitExpired(SourceError):
    """The point in time vanished mid-read (keep-alive lapsed or node restarted)."""


@dataclass(frozen=True, slots=True)
class Slice:
    """One slice of a window's point in time."""

    id: int
    max: int


class Reader(Protocol):
    """A point in time: a consistent snapshot of some indices, read in slices."""

    def pages(
        self, window: Window, part: Slice | None = None, totals: dict[int, int] | None = None
    ) -> Iterator[Page]:
        """Pages of hits of one slice; the first request stores the slice's exact count in
        ``totals[slice id]``."""
        ...

    def close(self) -> None: ...


class Source(Protocol):
    """What the archive and the check ask of a log store."""

    @property
    def kind(self) -> str:
        """``elasticsearch`` or ``opensearch``."""
        ...

    def ping(self) -> str:
        """The server's version number (raises :class:`SourceError` when unreachable)."""
        ...

    def mappings(self) -> dict[str, dict[str, Any]]:
        """Index name -> mapping for every index of the pattern."""
        ...

    def count(self, window: Window, index: str | None = None) -> int:
        """Live count of a window."""
        ...

    def hourly_counts(self, start: datetime, end: datetime) -> HourlyCounts:
        """Documents per hour of ``[start, end)`` now and the oldest timestamp held."""
        ...

    def touched_indices(self, window: Window, indices: list[str]) -> tuple[list[str] | None, int]:
        """The indices holding documents of the window (``None``: cannot tell), and their total."""
        ...

    def untimed(self, index: str) -> int:
        """Documents of ``index`` without the timestamp field."""
        ...

    def point_in_time(self, indices: list[str]) -> AbstractContextManager[Reader]:
        """A point in time over ``indices``, closed on exit."""
        ...

    def one_search(self, indices: list[str]) -> AbstractContextManager[Reader]:
        """A read of a window counted at no more than a page: one search request (consistent
        by itself), or a point in time if the window has outgrown the page; closed on exit."""
        ...

    def index_lives(self) -> list[IndexLife] | None:
        """When each index of the pattern was created and is deleted by a lifecycle policy;
        ``None`` when the server has no lifecycle information."""
        ...

    def data_streams(self) -> dict[str, list[str]]:
        """Data streams the pattern names -> their backing indices (empty when none)."""
        ...


def backing_from_resolve(answer: dict[str, Any]) -> dict[str, list[str]]:
    """Data stream -> backing indices from a ``GET _resolve/index/<pattern>`` answer."""
    out: dict[str, list[str]] = {}
    for ds in answer.get("data_streams", []) or []:
        out[str(ds["name"])] = sorted(str(i) for i in ds.get("backing_indices", []))
    return out


def backing_from_data_stream(answer: dict[str, Any]) -> dict[str, list[str]]:
    """Data stream -> backing indices from a ``GET _data_stream/<name>`` answer."""
    out: dict[str, list[str]] = {}
    for ds in answer.get("data_streams", []) or []:
        out[str(ds["name"])] = sorted(str(i["index_name"]) for i in ds.get("indices", []))
    return out
