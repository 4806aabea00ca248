"""The middle figure: what Elasticsearch holds per hour now, and until when it holds it.

``indexed`` costs a handful of requests per check whatever the number of hours: one
``date_histogram`` over the range (see :meth:`.elastic.ElasticSource.hourly_counts`) and one listing
of the pattern's indexes. A window has ``indexed = None`` (with a note saying why) when
Elasticsearch can no longer say what it held: an index its manifest recorded is gone, or
the pattern holds nothing as old as the window (retention deleted it).

The retention guard turns ``missing`` and ``stale`` findings whose documents will soon be
deleted into critical ones that say by when, and what to run.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta

from ..archive.read import WindowArchive
from ..errors import ReconcileError
from ..findings import Finding, iso
from ..source.base import Source
from ..source.retention import RetentionGuard
from ..timewin import Window

log = logging.getLogger(__name__)

#: Statuses whose documents still need Elasticsearch: lost for good once it deletes them.
AT_RISK = frozenset({"missing", "stale"})


@dataclass(slots=True)
class IndexedCounts:
    """``indexed`` per window, why it is ``None`` where it is, and what it cost."""

    counts: dict[Window, int | None] = field(default_factory=dict)
    notes: dict[Window, str] = field(default_factory=dict)
    requests: int = 0
    seconds: float = 0.0
    method: str = ""
    error: str | None = None
    """Set when Elasticsearch could not be read: every window's ``indexed`` is ``None``."""


def read_indexed(source: Source, archives: Mapping[Window, WindowArchive]) -> IndexedCounts:
    """What Elasticsearch holds for every window of ``archives`` now."""
    wins = sorted(archives)
    out = IndexedCounts()
    t0 = time.perf_counter()
    try:
        existing = set(source.mappings())
        hourly = source.hourly_counts(wins[0].start, wins[-1].end)
    except ReconcileError as exc:
        out.error = f"Elasticsearch could not be read: {exc}"
        out.counts = dict.fromkeys(wins)
        out.notes = dict.fromkeys(wins, out.error)
        return out
    finally:
        out.seconds = round(time.perf_counter() - t0, 4)
    out.requests, out.method = hourly.requests + 1, hourly.method
    earliest = hourly.earliest
    for w in wins:
        note = _gone(archives[w], existing, earliest, w, hourly.horizon_known)
        out.counts[w] = None if note else hourly.get(w)
        if note:
            out.notes[w] = note
    return out


def _gone(
    archive: WindowArchive,
    existing: set[str],
    earliest: datetime | None,
    window: Window,
    horizon_known: bool = True,
) -> str | None:
    """Why Elasticsearch cannot say what it held for the window, if it cannot."""
    recorded = archive.manifest.indices if archive.manifest else []
    deleted = sorted(i for i in recorded if i not in existing)
    if deleted:
        return f"index {', '.join(deleted)} was deleted after the commit"
    if not existing:
        return "no index of the pattern exists"
    if horizon_known and (earliest is None or window.end <= earliest):
        held = f"since {iso(earliest)}" if earliest else "nothing"
        return f"Elasticsearch holds documents of the pattern {held} only (retention)"
    return None


def retention_guard(source: Source, retention: timedelta | None) -> RetentionGuard:
    """Index lifetimes from ILM (Elasticsearch) or ISM (OpenSearch), else the configured retention."""
    return RetentionGuard(source.index_lives() or [], retention)


def guard_findings(
    findings: list[Finding],
    guard: RetentionGuard,
    archives: Mapping[Window, WindowArchive],
    now: datetime,
    warning: timedelta,
) -> list[Finding]:
    """Findings with the deletion deadline of at-risk windows; critical when it is near."""
    out = []
    for f in findings:
        window = Window(f.window_start)
        if f.status not in AT_RISK or f.indexed is None:
            out.append(f)
            continue
        manifest = archives[window].manifest if window in archives else None
        deadline = guard.deadline(window, manifest.indices if manifest else None)
        if deadline is None:
            out.append(f)
            continue
        detail = replace(f.logflow, deletes_at=iso(deadline.at), deletes_basis=deadline.basis)
        message = f.message
        if deadline.at - now <= warning:
            detail.severity = "critical"
            verb = "was due to be deleted" if deadline.at <= now else "will be deleted"
            message += (
                f". URGENT: Elasticsearch {verb} by {iso(deadline.at)} ({deadline.basis}); "
                f"archive it before then: reconcile backfill --from {window.label} "
                f"--to {Window(window.end).label}"
            )
        out.append(replace(f, detail=detail, message=message))
    return out
