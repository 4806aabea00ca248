"""One alerting pass: findings in, notifications out, state kept; and the test notification."""

from __future__ import annotations

import logging
import time
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from ..errors import ConfigError
from ..findings import Finding, iso
from ..timewin import utcnow
from .config import AlertsConfig, AlertsJob, Redactor, resolve_secrets
from .deliver import RetryPolicy, Transport, send
from .model import Notification, test_incident
from .plan import (
    KEEP_ORPHANED,
    Suppressed,
    apply_findings,
    mark_delivered,
    new_message_id,
    plan,
    prune,
    resolution_after,
)
from .sinks import Sink, build_sinks
from .state import AlertState, StateStore, state_uri

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class DeliveryResult:
    """One notification for one sink, as this run left it."""

    sink: str
    location: str
    """The sink's address with secrets masked."""
    message_id: str
    incident: str
    action: str
    """``firing``, ``resolved`` or ``test``."""
    repeat: bool
    status: str
    """``sent``, ``failed`` (stays pending), ``waiting`` (sink not configured in this run),
    or ``dry_run``."""
    summary: str
    attempts: int = 0
    http_status: int | None = None
    error: str | None = None
    payload: dict[str, Any] | None = None
    """Dry runs only: the rendered request, secrets masked."""

    def as_dict(self) -> dict[str, Any]:
        return {
            "sink": self.sink,
            "location": self.location,
            "message_id": self.message_id,
            "incident": self.incident,
            "action": self.action,
            "repeat": self.repeat,
            "status": self.status,
            "attempts": self.attempts,
            "http_status": self.http_status,
            "error": self.error,
            "summary": self.summary,
            "payload": self.payload,
        }


@dataclass(frozen=True, slots=True)
class SinkSummary:
    """Per sink: what this run sent, resolved, held back, and left pending."""

    sent: int = 0
    resolved: int = 0
    suppressed: int = 0
    pending: int = 0
    failed: int = 0


@dataclass(slots=True)
class NotifyReport:
    """What an alerting pass did (or, for a dry run, would do)."""

    deliveries: list[DeliveryResult] = field(default_factory=list)
    suppressed: list[Suppressed] = field(default_factory=list)
    pending: list[DeliveryResult] = field(default_factory=list)
    """Notifications still owed after this run (failed now, or for sinks not configured)."""
    firing: list[str] = field(default_factory=list)
    """Summaries of the incidents firing after this run."""
    dry_run: bool = False
    sinks: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        """False when a notification could not be delivered (the CLI exits 1)."""
        return not self.failed

    @property
    def failed(self) -> list[DeliveryResult]:
        return [d for d in self.deliveries if d.status == "failed"]

    def per_sink(self) -> dict[str, SinkSummary]:
        out: dict[str, SinkSummary] = {}
        names = sorted(
            {*self.sinks, *(d.sink for d in self.deliveries), *(p.sink for p in self.pending)}
        )
        supp = Counter(s.sink for s in self.suppressed)
        pend = Counter(p.sink for p in self.pending)
        for name in names:
            mine = [d for d in self.deliveries if d.sink == name]
            out[name] = SinkSummary(
                sent=sum(
                    1 for d in mine if d.status in ("sent", "dry_run") and d.action != "resolved"
                ),
                resolved=sum(
                    1 for d in mine if d.status in ("sent", "dry_run") and d.action == "resolved"
                ),
                suppressed=supp[name],
                pending=pend[name],
                failed=sum(1 for d in mine if d.status == "failed"),
            )
        return out

    def rows(self) -> list[dict[str, Any]]:
        """One row per delivery and per suppressed incident, for the table renderers."""
        rows = [
            {
                "sink": d.sink,
                "action": d.action + (" (repeat)" if d.repeat else ""),
                "status": d.status,
                "attempts": d.attempts,
                "incident": d.incident,
                "detail": d.error or d.summary,
            }
            for d in self.deliveries
        ]
        rows += [
            {
                "sink": s.sink,
                "action": "firing",
                "status": "suppressed",
                "attempts": 0,
                "incident": s.incident,
                "detail": f"sent {iso(s.last_sent)}; next reminder {iso(s.next_due)}",
            }
            for s in self.suppressed
        ]
        return rows

    def as_dict(self) -> dict[str, Any]:
        return {
            "ok": self.ok,
            "dry_run": self.dry_run,
            "sinks": {k: vars_(v) for k, v in self.per_sink().items()},
            "deliveries": [d.as_dict() for d in self.deliveries],
            "suppressed": [
                {
                    "sink": s.sink,
                    "incident": s.incident,
                    "summary": s.summary,
                    "last_sent": iso(s.last_sent),
                    "next_due": iso(s.next_due),
                }
                for s in self.suppressed
            ],
            "pending": [p.as_dict() for p in self.pending],
            "firing": list(self.firing),
        }


def vars_(summary: SinkSummary) -> dict[str, int]:
    return {k: getattr(summary, k) for k in SinkSummary.__dataclass_fields__}


def _policy(cfg: AlertsConfig) -> RetryPolicy:
    return RetryPolicy(cfg.timeout_s, cfg.retries, cfg.retry_initial_wait_s, cfg.retry_max_wait_s)


def _result(sink: Sink | None, note: Notification, status: str, **kw: Any) -> DeliveryResult:
    return DeliveryResult(
        sink=note.sink,
        location=sink.location if sink else "(not configured in this run)",
        message_id=note.id,
        incident=note.incident.key,
        action=note.action,
        repeat=note.repeat,
        status=status,
        summary=note.incident.summary(),
        **kw,
    )


@dataclass(slots=True)
class _Run:
    """The configured sinks of one pass, with what it needs to send safely."""

    cfg: AlertsConfig
    sinks: list[Sink]
    redact: Redactor
    transport: Transport = field(default_factory=Transport)

    @classmethod
    def from_spec(cls, spec: AlertsJob) -> _Run:
        secrets = resolve_secrets(spec.alerts)
        sinks = build_sinks(spec.alerts, secrets)
        if any(s.name == "webhook" for s in sinks) and secrets.webhook_key is None:
            log.warning(
                "alerts: webhook deliveries are not signed; set RECONCILE_WEBHOOK_SECRET "
                "(whsec_<base64>) so receivers can verify them"
            )
        return cls(spec.alerts, sinks, secrets.redactor())

    @property
    def by_name(self) -> dict[str, Sink]:
        return {s.name: s for s in self.sinks}

    def deliver(self, sink: Sink, note: Notification) -> DeliveryResult:
        outcome = send(
            sink.name,
            lambda: sink.request(note, datetime.now(UTC)),
            _policy(self.cfg),
            self.redact,
            self.transport,
        )
        if outcome.ok:
            log.info(
                "alerts: %s %s%s for incident %s delivered to %s (%d attempt%s)",
                note.action,
                "reminder " if note.repeat else "",
                note.id,
                note.incident.key,
                sink.name,
                outcome.attempts,
                "" if outcome.attempts == 1 else "s",
            )
            return _result(
                sink, note, "sent", attempts=outcome.attempts, http_status=outcome.status
            )
        log.error(
            "alerts: %s for incident %s NOT delivered to %s: %s",
            note.action,
            note.incident.key,
            sink.name,
            outcome.error,
        )
        return _result(
            sink,
            note,
            "failed",
            attempts=outcome.attempts,
            http_status=outcome.status,
            error=outcome.error,
        )


def notify(
    spec: AlertsJob,
    findings: list[Finding],
    now: datetime | None = None,
    dry_run: bool = False,
) -> NotifyReport:
    """Turn findings into notifications for every configured sink, keeping alert state.

    New incidents are sent at once, firing ones again after ``alerts.repeat_interval``, and
    a resolution once. Undelivered notifications stay pending in the state and are retried
    by the next run; ``report.ok`` is False when one could not be delivered. A dry run reads
    the state but changes nothing and sends nothing: the report carries the rendered
    payloads, secrets masked.
    """
    now = now or utcnow()
    run = _Run.from_spec(spec)
    report = NotifyReport(dry_run=dry_run, sinks=[s.name for s in run.sinks])
    if not run.sinks:
        log.debug("alerts: no sinks configured; nothing to notify")
        return report
    store = StateStore.open(state_uri(spec.alerts_state_uri), spec.name)
    if dry_run:
        state, _ = store.load()
        _fold(run, state, findings, now, report)
        for note in state.pending:
            sink = run.by_name.get(note.sink)
            if sink is None:
                report.pending.append(_result(None, note, "waiting"))
                continue
            report.deliveries.append(
                _result(sink, note, "dry_run", payload=sink.preview(note, datetime.now(UTC)))
            )
        report.firing = _firing(state)
        return report
    cfg = spec.alerts
    with store.lease(cfg.lease_ttl_s, cfg.lock_wait_s) as lease:
        state, etag = store.load()
        _fold(run, state, findings, now, report)
        # Outbox: the notifications are recorded before any is sent.
        etag = store.save(state, etag)
        queue = list(state.pending)
        for note in queue:
            sink = run.by_name.get(note.sink)
            if sink is None:
                continue
            if lease.expires - time.time() < cfg.lease_ttl_s / 2:
                store.renew(lease, cfg.lease_ttl_s)
            result = run.deliver(sink, note)
            report.deliveries.append(result)
            if result.status == "sent":
                mark_delivered(state, note, now, sink.sent_labels(note))
                follow = resolution_after(state, note, now, cfg.send_resolved)
                if follow is not None:
                    queue.append(follow)
            else:
                note.attempts += result.attempts
                note.last_error = result.error
            etag = store.save(state, etag)
        dropped = prune(state, now, {s.name for s in run.sinks})
        for note in dropped:
            log.warning(
                "alerts: dropped a %s notification for sink %s, not configured for %s",
                note.action,
                note.sink,
                KEEP_ORPHANED,
            )
        store.save(state, etag)
    for note in state.pending:
        sink = run.by_name.get(note.sink)
        report.pending.append(
            _result(sink, note, "failed" if sink else "waiting", error=note.last_error)
        )
    report.firing = _firing(state)
    return report


def _fold(
    run: _Run, state: AlertState, findings: list[Finding], now: datetime, report: NotifyReport
) -> None:
    cfg = run.cfg
    apply_findings(state, findings, cfg.severity_map(), now)
    report.suppressed = plan(
        state,
        [s.name for s in run.sinks],
        now,
        cfg.repeat_interval,
        every_run={s.name for s in run.sinks if s.every_run},
        send_resolved=cfg.send_resolved,
    )


def _firing(state: AlertState) -> list[str]:
    return [t.incident.summary() for _, t in sorted(state.incidents.items()) if t.incident.firing]


def send_test(spec: AlertsJob, dry_run: bool = False) -> NotifyReport:
    """Send a clearly marked test notification to every configured sink (no state is kept).

    PagerDuty gets the test event resolved right after, so no incident stays open.
    """
    run = _Run.from_spec(spec)
    if not run.sinks:
        raise ConfigError(
            "no alert sinks configured: set --webhook-url, --slack-webhook-url, "
            "--alertmanager-url or --pagerduty-routing-key (or RECONCILE_WEBHOOK_URL, "
            "RECONCILE_SLACK_WEBHOOK_URL, RECONCILE_ALERTMANAGER_URL, "
            "RECONCILE_PAGERDUTY_ROUTING_KEY)"
        )
    now = utcnow()
    report = NotifyReport(dry_run=dry_run, sinks=[s.name for s in run.sinks])
    inc = test_incident(spec.name, now)
    for sink in run.sinks:
        note = Notification(new_message_id(), sink.name, "test", inc, now)
        if dry_run:
            report.deliveries.append(
                _result(sink, note, "dry_run", payload=sink.preview(note, now))
            )
            continue
        result = run.deliver(sink, note)
        report.deliveries.append(result)
        follow = sink.follow_up(note)
        if follow is not None and result.status == "sent":
            report.deliveries.append(run.deliver(sink, follow))
    return report
