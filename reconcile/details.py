"""The typed extras of a finding, one record per kind, serialised in one place.

A finding's ``detail`` is one of :class:`LogflowDetail`, :class:`EgressDetail` or
:class:`PortErrorDetail`. Producers (the check, egress) fill the record's fields; readers
(report, alerts, demo) read attributes, so a field that moves fails type checking instead
of reading as missing. :func:`detail_to_dict` and :func:`detail_from_dict` are the only
conversions to and from the JSON form stored in the results dataset and the alert state
(``None`` fields are left out, so the JSON carries only what applies to the finding).
"""

from __future__ import annotations

from dataclasses import dataclass, field, fields
from typing import Any

from .talkers import TopTalker, top_talker

PORT_ERRORS = "ErrorPortAllocation"


@dataclass(slots=True, kw_only=True)
class LogflowDetail:
    """How a log-flow hour was judged: sources of the figures, the commit, the retention."""

    expected_source: str = ""
    """``cloudwatch`` or ``alb_logs``."""
    expected_logs: float = 0.0
    """Expected requests times the expected ratio."""
    difference: float = 0.0
    """Archived minus expected log rows."""
    ratio_source: str = ""
    ratio_samples: int = 0
    committed: bool = False
    files: int = 0
    file_bytes: int = 0
    file_rows: int = 0
    quarantined: int = 0
    manifest_rows: int | None = None
    source_count: int | None = None
    """What Elasticsearch counted inside the point in time the hour was archived from."""
    revision: int | None = None
    committed_at: str | None = None
    late_added: int | None = None
    """Documents later revisions added to the first commit (late logs, healed)."""
    first_committed_at: str | None = None
    late: int | None = None
    """Stale hours: what Elasticsearch holds minus what the archive holds."""
    indexed_note: str | None = None
    """Why ``indexed`` is null (index deleted, beyond retention, unreachable)."""
    manifest_mismatch: dict[str, Any] | None = None
    uncommitted: dict[str, Any] | None = None
    judge_after: str | None = None
    deletes_at: str | None = None
    deletes_basis: str | None = None
    severity: str | None = None
    """Set by the retention guard when the hour is about to be deleted: overrides the status's."""


@dataclass(slots=True, kw_only=True)
class EgressDetail:
    """How a NAT gateway hour was judged, and what its flow logs say about a spike."""

    metric: str = ""
    unit: str = ""
    period_s: int = 0
    method: str = ""
    """``seasonal`` or ``static``."""
    crossed: list[str] = field(default_factory=list)
    score: float | None = None
    history_weeks: float | None = None
    level: float | None = None
    note: str | None = None
    port_allocation_errors: int | None = None
    drilldown: dict[str, Any] | None = None
    """As :meth:`reconcile.egress.flowlogs.DrillDown.as_detail` writes it; read it through
    :meth:`top_talker` (the one reader, :mod:`reconcile.talkers`)."""
    drilldown_error: str | None = None
    """Why the flow logs could not be read for this spike."""

    def top_talker(self) -> TopTalker | None:
        return top_talker(self)


@dataclass(slots=True, kw_only=True)
class PortErrorDetail:
    """``ErrorPortAllocation`` above zero: connections refused for lack of source ports."""

    metric: str = PORT_ERRORS
    count: int = 0
    gateway: str = ""


Detail = LogflowDetail | EgressDetail | PortErrorDetail


def detail_to_dict(detail: Detail) -> dict[str, Any]:
    """The JSON form: every field that is set."""
    out: dict[str, Any] = {}
    for f in fields(detail):
        value = getattr(detail, f.name)
        if value is not None and value != []:
            out[f.name] = value
    return out


def detail_type(kind: str, resource: str) -> type[LogflowDetail | EgressDetail | PortErrorDetail]:
    if kind == "logflow":
        return LogflowDetail
    return PortErrorDetail if resource.endswith("/" + PORT_ERRORS) else EgressDetail


def detail_from_dict(kind: str, resource: str, data: dict[str, Any] | None) -> Detail:
    """A typed detail from its JSON form; keys a newer or older version wrote are ignored."""
    cls = detail_type(kind, resource)
    known = {f.name for f in fields(cls)}
    return cls(**{k: v for k, v in (data or {}).items() if k in known})
