"""Findings: the one record every judging stage produces and every renderer, results
writer and alert sink consumes.

Statuses are one vocabulary everywhere (tables, JSON, results, alerts):

- log flow: ``ok``, ``gap``, ``surplus``, ``missing``, ``no_traffic``, ``pending``, ``stale``
- egress: ``ok``, ``spike``

A log-flow finding carries three figures, one per hop of the pipeline: ``expected``
(requests at the load balancer), ``indexed`` (documents Elasticsearch holds for the window
now; ``None`` once its indexes are deleted) and ``archived`` (rows in object storage), and
``hop`` names where a difference arose: :data:`HOP_INGEST` (before Elasticsearch: shippers,
rejected bulk writes, mapping conflicts) or :data:`HOP_ARCHIVE` (between Elasticsearch and
the archive).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

LOGFLOW = "logflow"
EGRESS = "egress"

LOGFLOW_STATUSES = ("ok", "gap", "surplus", "missing", "no_traffic", "pending", "stale")
EGRESS_STATUSES = ("ok", "spike")

#: The hops of the pipeline a difference can arise at.
HOP_INGEST = "ingest"
"""Load balancer -> Elasticsearch: shippers, rejected bulk writes, mapping conflicts."""
HOP_ARCHIVE = "archive"
"""Elasticsearch -> archive: an archive run that never ran, failed, or committed too early."""
HOP_BOTH = "ingest+archive"
HOPS = (HOP_INGEST, HOP_ARCHIVE, HOP_BOTH)

HOP_WORDS = {
    HOP_INGEST: "before Elasticsearch (shippers, rejected bulk writes, mapping conflicts)",
    HOP_ARCHIVE: "between Elasticsearch and the archive",
    HOP_BOTH: "both before Elasticsearch and between Elasticsearch and the archive",
}

#: Statuses that are not a problem: nothing to alert on, exit code 0.
QUIET = frozenset({"ok", "pending"})


#: The three hops' figures of a log-flow finding, in the order every table shows them.
LOGFLOW_FIGURES = ["expected", "indexed", "archived", "hop", "ratio"]

#: Columns of a findings table that mixes log flow and egress (run, demo).
MIXED_COLUMNS = [
    "window_start",
    "kind",
    "resource",
    "status",
    *LOGFLOW_FIGURES,
    "bytes",
    "baseline",
    "message",
]


def iso(dt: datetime) -> str:
    """ISO 8601 UTC with a ``Z`` suffix, second precision."""
    return dt.strftime("%Y-%m-%dT%H:%M:%SZ")


@dataclass(frozen=True, slots=True)
class Finding:
    """The judgement of one (job, kind, resource, window)."""

    job: str
    kind: str
    """``logflow`` (requests vs archived logs) or ``egress`` (NAT gateway bytes)."""
    resource: str
    """What was judged: the load balancer(s) for log flow, the NAT gateway id for egress."""
    window_start: datetime
    status: str
    expected: int | None = None
    archived: int | None = None
    indexed: int | None = None
    """Documents Elasticsearch holds for the window now; ``None`` when unknown or deleted."""
    hop: str | None = None
    """Where a difference arose (:data:`HOPS`); ``None`` when there is none."""
    ratio: float | None = None
    bytes: int | None = None
    baseline: float | None = None
    threshold: float | None = None
    message: str = ""
    """One sentence a person can act on."""
    detail: dict[str, Any] = field(default_factory=dict)
    """Kind-specific extras (metric, manifest count, top talkers, ...); JSON-serialisable."""

    @property
    def is_problem(self) -> bool:
        return self.status not in QUIET

    def as_dict(self) -> dict[str, Any]:
        """Plain, JSON-ready form; the key names are the public output contract."""
        return {
            "job": self.job,
            "kind": self.kind,
            "resource": self.resource,
            "window_start": iso(self.window_start),
            "status": self.status,
            "expected": self.expected,
            "indexed": self.indexed,
            "archived": self.archived,
            "hop": self.hop,
            "ratio": self.ratio,
            "bytes": self.bytes,
            "baseline": self.baseline,
            "threshold": self.threshold,
            "message": self.message,
            "detail": self.detail,
        }


def problems(findings: list[Finding]) -> list[Finding]:
    return [f for f in findings if f.is_problem]
