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
from enum import StrEnum
from typing import Any

from .details import Detail, LogflowDetail, detail_from_dict, detail_to_dict


class Kind(StrEnum):
    """What was judged."""

    LOGFLOW = "logflow"
    """Requests at the load balancer vs logs in Elasticsearch and in the archive."""
    EGRESS = "egress"
    """NAT gateway bytes vs a static threshold and a seasonal baseline."""


LOGFLOW = Kind.LOGFLOW
EGRESS = Kind.EGRESS


class Status(StrEnum):
    """The one status vocabulary of tables, JSON, results, alerts and the report."""

    OK = "ok"
    GAP = "gap"
    SURPLUS = "surplus"
    MISSING = "missing"
    STALE = "stale"
    NO_TRAFFIC = "no_traffic"
    PENDING = "pending"
    SPIKE = "spike"


@dataclass(frozen=True, slots=True)
class StatusInfo:
    """What a status means and how every surface shows it."""

    meaning: str
    severity: str
    """Default alert severity (PagerDuty/Alertmanager levels); ``none`` for quiet statuses."""
    colour: str
    """Report colour (bands, dots, pills)."""
    style: str
    """Terminal style (rich)."""
    rank: int
    """Order of problems in the report, worst first."""
    family: str | None = None
    """Alert incident family: consecutive hours of one family are one incident."""


#: One table of meanings, severities and colours, shared by every surface.
STATUSES: dict[Status, StatusInfo] = {
    Status.MISSING: StatusInfo(
        "closed, and nothing committed to the archive", "critical", "#7b1fa2", "bold red", 0, "loss"
    ),
    Status.GAP: StatusInfo(
        "fewer logs than requests beyond tolerance: logs were lost", "critical", "#d32f2f",
        "bold red", 1, "loss",
    ),
    Status.SPIKE: StatusInfo(
        "egress above its threshold or seasonal baseline", "critical", "#d32f2f", "bold red", 2,
        "spike",
    ),
    Status.NO_TRAFFIC: StatusInfo(
        "one side zero, the other not", "warning", "#c79100", "yellow", 3, "no_traffic"
    ),
    Status.SURPLUS: StatusInfo(
        "more logs than requests beyond tolerance: duplicates", "warning", "#ef6c00", "yellow", 4,
        "surplus",
    ),
    Status.STALE: StatusInfo(
        "committed, but Elasticsearch now holds a different count: late logs, re-archived by "
        "the next run", "warning", "#0277bd", "cyan", 5, "stale",
    ),
    Status.PENDING: StatusInfo(
        "not closed, or within the grace period", "none", "#9e9e9e", "dim", 6
    ),
    Status.OK: StatusInfo("within tolerance", "none", "#2e7d32", "green", 7),
}  # fmt: skip


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
QUIET = frozenset({Status.OK, Status.PENDING})


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
    kind: Kind
    """``logflow`` (requests vs archived logs) or ``egress`` (NAT gateway bytes)."""
    resource: str
    """What was judged: the load balancer(s) for log flow, the NAT gateway id for egress."""
    window_start: datetime
    status: Status
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
    detail: Detail = field(default_factory=LogflowDetail)
    """Kind-specific extras, typed (:mod:`reconcile.details`); a dict is converted."""

    def __post_init__(self) -> None:
        # Findings read back from JSON (results, alert state) arrive with plain values.
        object.__setattr__(self, "kind", Kind(self.kind))
        object.__setattr__(self, "status", Status(self.status))
        if isinstance(self.detail, dict):
            object.__setattr__(
                self, "detail", detail_from_dict(self.kind, self.resource, self.detail)
            )

    @property
    def is_problem(self) -> bool:
        return self.status not in QUIET

    @property
    def logflow(self) -> LogflowDetail:
        """The log-flow detail (raises on an egress finding: a caller's mistake)."""
        if not isinstance(self.detail, LogflowDetail):
            raise TypeError(f"{self.kind} finding has no log-flow detail")
        return self.detail

    def detail_dict(self) -> dict[str, Any]:
        return detail_to_dict(self.detail)

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
            "detail": self.detail_dict(),
        }


def problems(findings: list[Finding]) -> list[Finding]:
    return [f for f in findings if f.is_problem]
