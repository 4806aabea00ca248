"""From findings to alerts and incidents (their words are in :mod:`reconcile.alerts.wording`).

- An :class:`Alert` is one bad hour: a non-ok finding with a stable fingerprint over
  (job, kind, resource, window).
- An :class:`Incident` groups consecutive bad hours of one (job, kind, resource, status
  family) into one notification. Its key is fixed when it opens, so every later message
  about it (repeats, resolution) reaches sinks as the same alert (Alertmanager labels,
  PagerDuty ``dedup_key``, webhook ``incident.key``).
- A :class:`Notification` is one message about an incident for one sink; it is kept in the
  alert state until the sink accepted it.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from typing import Any, Literal

from ..details import LogflowDetail
from ..findings import EGRESS, LOGFLOW, STATUSES, Finding, iso
from ..timewin import HOUR, parse_time
from .wording import description, endpoint_note, next_step, summary, top_talker

#: Statuses grouped into one incident when consecutive (a gap that becomes "missing" is one loss).
FAMILY = {str(status): info.family for status, info in STATUSES.items() if info.family}

ALERTNAME: dict[tuple[str, str], str] = {
    (LOGFLOW, "loss"): "LogflowLoss",
    (LOGFLOW, "surplus"): "LogflowSurplus",
    (LOGFLOW, "no_traffic"): "LogflowNoTraffic",
    (LOGFLOW, "stale"): "LogflowStale",
    (EGRESS, "spike"): "EgressSpike",
}
TEST_ALERTNAME = "ReconcileTestNotification"

SEVERITY_ORDER = ("info", "warning", "error", "critical")

#: Kinds whose incident is over as soon as a later hour of the same resource is ok (a spike ends);
#: log-flow incidents end only when their own hours reconcile (lost logs stay lost until backfilled).
RESOLVE_ON_RECOVERY = frozenset({EGRESS})

Action = Literal["firing", "resolved", "test"]


def _digest(*parts: str) -> str:
    return hashlib.sha256("\x1f".join(parts).encode()).hexdigest()[:16]


def _severity(f: Finding, by_status: Mapping[str, str]) -> str:
    """The status's severity, unless the retention guard raised the finding's own."""
    own = f.detail.severity if isinstance(f.detail, LogflowDetail) else None
    return own or by_status.get(f.status, "info")


def fingerprint(job: str, kind: str, resource: str, window_start: datetime) -> str:
    """Stable id of one (job, kind, resource, window)."""
    return _digest(job, kind, resource, iso(window_start))


def incident_key(job: str, kind: str, resource: str, family: str, first: datetime) -> str:
    """Stable id of an incident: its (job, kind, resource, family) and the hour it opened with."""
    return _digest(job, kind, resource, family, iso(first))


@dataclass(frozen=True, slots=True)
class Alert:
    """One judged hour of an incident, with the figures a person needs."""

    fingerprint: str
    job: str
    kind: str
    resource: str
    window_start: datetime
    status: str
    severity: str
    expected: int | None = None
    archived: int | None = None
    ratio: float | None = None
    bytes: int | None = None
    baseline: float | None = None
    threshold: float | None = None
    message: str = ""
    detail: dict[str, Any] = field(default_factory=dict)
    """The finding's detail in its JSON form (:func:`reconcile.details.detail_to_dict`):
    alerts outlive the run in the alert state."""
    indexed: int | None = None
    hop: str | None = None

    @property
    def family(self) -> str | None:
        return FAMILY.get(self.status)

    @property
    def window_end(self) -> datetime:
        return self.window_start + HOUR

    @classmethod
    def from_finding(cls, f: Finding, severity: Mapping[str, str]) -> Alert:
        return cls(
            fingerprint=fingerprint(f.job, f.kind, f.resource, f.window_start),
            job=f.job,
            kind=f.kind,
            resource=f.resource,
            window_start=f.window_start,
            status=f.status,
            # The retention guard raises a finding whose documents are about to be deleted.
            severity=_severity(f, severity),
            expected=f.expected,
            archived=f.archived,
            indexed=f.indexed,
            hop=f.hop,
            ratio=f.ratio,
            bytes=f.bytes,
            baseline=f.baseline,
            threshold=f.threshold,
            message=f.message,
            detail=f.detail_dict(),
        )

    def to_dict(self) -> dict[str, Any]:
        return {
            "fingerprint": self.fingerprint,
            "job": self.job,
            "kind": self.kind,
            "resource": self.resource,
            "window_start": iso(self.window_start),
            "window_end": iso(self.window_end),
            "status": self.status,
            "severity": self.severity,
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

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> Alert:
        data = {k: v for k, v in d.items() if k in cls.__dataclass_fields__}
        data["window_start"] = parse_time(d["window_start"])
        return cls(**data)


@dataclass(slots=True)
class Incident:
    """Consecutive bad hours of one (job, kind, resource, status family)."""

    key: str
    job: str
    kind: str
    resource: str
    family: str
    opened_at: datetime
    severity: str = "warning"
    """The highest severity any of its hours had (kept, so labels stay stable once resolved)."""
    last_status: str = ""
    """Status of the latest bad hour (``gap``, ``missing``, ``spike``, ...)."""
    alerts: dict[str, Alert] = field(default_factory=dict)
    """The hours still bad, by window start (ISO)."""
    cleared: dict[str, Alert] = field(default_factory=dict)
    """Hours of this incident that were judged again and are fine now (e.g. after a backfill)."""
    state: Literal["firing", "resolved"] = "firing"
    resolved_at: datetime | None = None
    resolution: Literal["reconciled", "recovered"] | None = None
    recovered_by: Alert | None = None
    """For kinds that end on recovery: the first fine hour after the incident."""

    # -- membership -------------------------------------------------------------------------

    @classmethod
    def open(cls, alert: Alert, now: datetime) -> Incident:
        family = alert.family or "unknown"
        key = incident_key(alert.job, alert.kind, alert.resource, family, alert.window_start)
        inc = cls(
            key,
            alert.job,
            alert.kind,
            alert.resource,
            family,
            opened_at=now,
            severity=alert.severity,
        )
        inc.add(alert)
        return inc

    def add(self, alert: Alert) -> None:
        """Put a bad hour into the incident (or update its figures)."""
        k = iso(alert.window_start)
        self.alerts[k] = alert
        self.cleared.pop(k, None)
        if SEVERITY_ORDER.index(alert.severity) > SEVERITY_ORDER.index(self.severity):
            self.severity = alert.severity
        if k == max(self.alerts):
            self.last_status = alert.status

    def clear(self, judged: Alert) -> None:
        """An hour of the incident was judged again and is no longer part of the problem."""
        k = iso(judged.window_start)
        self.alerts.pop(k, None)
        self.cleared[k] = judged
        if self.alerts:
            self.last_status = self.alerts[max(self.alerts)].status

    def same_series(self, job: str, kind: str, resource: str) -> bool:
        return (self.job, self.kind, self.resource) == (job, kind, resource)

    def accepts(self, alert: Alert) -> bool:
        """True if ``alert`` is an hour of this incident: same series and family, and inside or
        right next to its bad hours."""
        if not self.same_series(alert.job, alert.kind, alert.resource):
            return False
        if alert.family != self.family or not self.alerts:
            return False
        return self.first - HOUR <= alert.window_start <= self.last + HOUR

    # -- figures ----------------------------------------------------------------------------

    @property
    def firing(self) -> bool:
        return self.state == "firing"

    def timeline(self) -> list[Alert]:
        """The incident's hours in time order: bad ones, or all once it is resolved."""
        pool = dict(self.alerts)
        if not self.firing or not pool:
            pool = {**self.cleared, **self.alerts}
        return [pool[k] for k in sorted(pool)]

    @property
    def first(self) -> datetime:
        return min(a.window_start for a in self.timeline())

    @property
    def last(self) -> datetime:
        return max(a.window_start for a in self.timeline())

    @property
    def since(self) -> datetime:
        return self.first

    @property
    def until(self) -> datetime:
        """End of the last bad hour (exclusive)."""
        return self.last + HOUR

    @property
    def hours(self) -> int:
        """Bad hours (while firing) or hours the incident spanned (once resolved)."""
        return len(self.alerts) if self.firing and self.alerts else len(self.timeline())

    @property
    def latest(self) -> Alert:
        return self.timeline()[-1]

    @property
    def peak(self) -> Alert:
        """The bad hour with the most bytes (egress); the latest hour for other kinds."""
        bad = [self.alerts[k] for k in sorted(self.alerts)] or self.timeline()
        return max(reversed(bad), key=lambda a: a.bytes or 0)

    @property
    def status(self) -> str:
        """The status of the latest bad hour (``gap``, ``missing``, ``spike``, ...)."""
        return self.last_status or self.family

    @property
    def alertname(self) -> str:
        if self.family == "test":
            return TEST_ALERTNAME
        return ALERTNAME.get((self.kind, self.family), f"Reconcile{self.family.title()}")

    def totals(self) -> dict[str, Any]:
        """Sums over the bad hours (or, once resolved, over the incident's hours now)."""
        hours = (
            self.timeline() if not self.alerts else [self.alerts[k] for k in sorted(self.alerts)]
        )
        out: dict[str, Any] = {"hours": len(hours)}
        if self.kind == EGRESS:
            byts = [a.bytes for a in hours if a.bytes is not None]
            out["bytes"] = sum(byts) if byts else None
            out["peak_bytes"] = max(byts) if byts else None
            base = [a.baseline for a in hours if a.baseline is not None]
            out["baseline"] = max(base) if base else None
            thr = [a.threshold for a in hours if a.threshold is not None]
            out["threshold"] = min(thr) if thr else None
        else:
            exp = [a.expected for a in hours if a.expected is not None]
            arc = [a.archived for a in hours if a.archived is not None]
            idx = [a.indexed for a in hours if a.indexed is not None]
            out["expected"] = sum(exp) if exp else None
            out["archived"] = sum(arc) if arc else None
            out["indexed"] = sum(idx) if idx else None
            out["hops"] = sorted({a.hop for a in hours if a.hop})
            out["ratio"] = (
                round(out["archived"] / out["expected"], 6)
                if out["expected"] and out["archived"] is not None
                else None
            )
        return out

    def labels(self, extra: Mapping[str, str] | None = None) -> dict[str, str]:
        """Identity labels (Alertmanager): stable for the incident's life."""
        return {
            **(extra or {}),
            "alertname": self.alertname,
            "job": self.job,
            "kind": self.kind,
            "resource": self.resource,
            "severity": self.severity,
            "incident": self.key,
        }

    # -- words ------------------------------------------------------------------------------

    def summary(self) -> str:
        """One line a person can act on: what, where, how much, how long, since when."""
        return summary(self)

    def description(self) -> str:
        """Per-hour figures and the next step, several lines."""
        return description(self)

    def next_step(self) -> str:
        return next_step(self)

    # -- serialisation ----------------------------------------------------------------------

    def to_dict(self) -> dict[str, Any]:
        return {
            "key": self.key,
            "job": self.job,
            "kind": self.kind,
            "resource": self.resource,
            "family": self.family,
            "severity": self.severity,
            "last_status": self.last_status,
            "state": self.state,
            "opened_at": iso(self.opened_at),
            "resolved_at": iso(self.resolved_at) if self.resolved_at else None,
            "resolution": self.resolution,
            "alerts": [a.to_dict() for _, a in sorted(self.alerts.items())],
            "cleared": [a.to_dict() for _, a in sorted(self.cleared.items())],
            "recovered_by": self.recovered_by.to_dict() if self.recovered_by else None,
        }

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> Incident:
        alerts = [Alert.from_dict(a) for a in d.get("alerts", [])]
        cleared = [Alert.from_dict(a) for a in d.get("cleared", [])]
        return cls(
            key=d["key"],
            job=d["job"],
            kind=d["kind"],
            resource=d["resource"],
            family=d["family"],
            opened_at=parse_time(d["opened_at"]),
            severity=d.get("severity", "warning"),
            last_status=d.get("last_status", ""),
            alerts={iso(a.window_start): a for a in alerts},
            cleared={iso(a.window_start): a for a in cleared},
            state=d.get("state", "firing"),
            resolved_at=parse_time(d["resolved_at"]) if d.get("resolved_at") else None,
            resolution=d.get("resolution"),
            recovered_by=Alert.from_dict(d["recovered_by"]) if d.get("recovered_by") else None,
        )

    def snapshot(self) -> Incident:
        """An independent copy (notifications keep the incident as it was when planned)."""
        return replace(self, alerts=dict(self.alerts), cleared=dict(self.cleared))

    def as_first_seen(self) -> Incident:
        """A spike that recovered before any sink heard of it, as its first (firing) message
        shows it: its bad hours and peak, with ``recovered_by`` saying it is over already."""
        return replace(self.snapshot(), state="firing", resolved_at=None, resolution=None)

    def public(self) -> dict[str, Any]:
        """The incident as sinks and reports show it (the webhook ``data.incident`` object)."""
        return {
            "key": self.key,
            "state": self.state,
            "job": self.job,
            "kind": self.kind,
            "resource": self.resource,
            "family": self.family,
            "status": self.status,
            "severity": self.severity,
            "since": iso(self.since),
            "until": iso(self.until),
            "hours": self.hours,
            "opened_at": iso(self.opened_at),
            "resolved_at": iso(self.resolved_at) if self.resolved_at else None,
            "resolution": self.resolution,
            "totals": self.totals(),
            "top_talker": top_talker(self.peak) if self.kind == EGRESS else None,
            "peak_at": iso(self.peak.window_start) if self.kind == EGRESS else None,
            "endpoint_note": endpoint_note(self.peak) if self.kind == EGRESS else None,
            "next_step": self.next_step(),
        }


def group(alerts: Iterable[Alert], now: datetime) -> list[Incident]:
    """Group alerts into incidents: consecutive hours of one (job, kind, resource, family)."""
    incidents: list[Incident] = []
    for alert in sorted(alerts, key=lambda a: (a.job, a.kind, a.resource, a.window_start)):
        if alert.family is None:
            continue
        home = next((i for i in reversed(incidents) if i.accepts(alert)), None)
        if home is None:
            incidents.append(Incident.open(alert, now))
        else:
            home.add(alert)
    return incidents


@dataclass(slots=True)
class Notification:
    """One message about an incident for one sink, kept pending until the sink accepts it."""

    id: str
    """Message id (Standard Webhooks ``webhook-id``): the same across retries and runs."""
    sink: str
    action: Action
    incident: Incident
    created_at: datetime
    repeat: bool = False
    """A reminder of a firing incident already sent to this sink."""
    previous_labels: dict[str, str] | None = None
    """Labels this sink last got for the incident, when they differ (Alertmanager re-keys)."""
    attempts: int = 0
    last_error: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "sink": self.sink,
            "action": self.action,
            "repeat": self.repeat,
            "created_at": iso(self.created_at),
            "previous_labels": self.previous_labels,
            "attempts": self.attempts,
            "last_error": self.last_error,
            "incident": self.incident.to_dict(),
        }

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> Notification:
        return cls(
            id=d["id"],
            sink=d["sink"],
            action=d["action"],
            incident=Incident.from_dict(d["incident"]),
            created_at=parse_time(d["created_at"]),
            repeat=bool(d.get("repeat")),
            previous_labels=d.get("previous_labels"),
            attempts=int(d.get("attempts", 0)),
            last_error=d.get("last_error"),
        )


def test_incident(job: str, now: datetime) -> Incident:
    """A clearly marked incident for ``reconcile alerts test``."""
    start = now.replace(minute=0, second=0, microsecond=0) - timedelta(hours=1)
    alert = Alert(
        fingerprint=fingerprint(job, "test", "test", start),
        job=job,
        kind="test",
        resource="reconcile-alerts-test",
        window_start=start,
        status="test",
        severity="info",
        message="Test notification sent by `reconcile alerts test`; no action needed.",
    )
    inc = Incident(
        key=_digest(job, "test", iso(now)),
        job=job,
        kind="test",
        resource="reconcile-alerts-test",
        family="test",
        opened_at=now,
        severity="info",
    )
    inc.add(alert)
    return inc
