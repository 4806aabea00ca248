"""Deciding what to send: fold a run's findings into the alert state, then plan notifications.

Rules (documented in docs/alerts.md):

- A bad hour joins the firing incident of its (job, kind, resource, family) it touches
  (inside it or the hour before/after); otherwise it opens a new incident.
- An hour judged again as ``ok`` leaves its incident; an incident left without bad hours is
  **resolved** ("reconciled", e.g. after a backfill). Egress incidents also resolve once a
  later hour of the same NAT gateway is ``ok`` ("recovered"): a spike is over when traffic is
  normal again, while lost logs stay lost until they are archived.
- ``pending`` findings change nothing.
- Per sink: a new (or reopened) incident is sent at once; a firing one again after
  ``repeat_interval`` (Alertmanager: every run, it keeps its own timers); a resolved one once,
  if the sink had been told it was firing.
- A notification that could not be delivered stays pending and is retried by later runs with
  the same message id; a newer message about the same incident for the same sink replaces it.
"""

from __future__ import annotations

import uuid
from collections.abc import Collection, Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta

from ..findings import Finding, iso
from .model import RESOLVE_ON_RECOVERY, Action, Alert, Incident, Notification, incident_key
from .state import AlertState, SinkMark, Tracked

#: Resolved incidents are forgotten this long after every sink heard of the resolution.
KEEP_RESOLVED = timedelta(days=7)
#: Pending notifications for sinks no longer configured are dropped after this long.
KEEP_ORPHANED = timedelta(days=7)


def new_message_id() -> str:
    return f"msg_{uuid.uuid4().hex}"


def apply_findings(
    state: AlertState, findings: Iterable[Finding], severity: Mapping[str, str], now: datetime
) -> None:
    """Fold findings into the state's incidents (opening, extending, clearing, resolving)."""
    ordered = sorted(findings, key=lambda f: (f.job, f.kind, f.resource, f.window_start))
    touched: set[str] = set()
    for f in ordered:
        if f.status == "pending":
            continue
        judged = Alert.from_finding(f, severity)
        wkey = iso(f.window_start)
        series = [
            t.incident
            for t in state.incidents.values()
            if t.incident.firing and t.incident.same_series(f.job, f.kind, f.resource)
        ]
        # An hour that is no longer (or no longer the same kind of) problem leaves its incident.
        for inc in series:
            if wkey in inc.alerts and inc.family != judged.family:
                inc.clear(judged)
                touched.add(inc.key)
        if judged.family is None:
            if f.kind in RESOLVE_ON_RECOVERY and f.status == "ok":
                for inc in series:
                    if inc.alerts and inc.last < f.window_start:
                        inc.state, inc.resolved_at = "resolved", now
                        inc.resolution, inc.recovered_by = "recovered", judged
            continue
        home = next((i for i in series if i.firing and i.accepts(judged)), None)
        if home is not None:
            home.add(judged)
            touched.add(home.key)
            continue
        opened = Incident.open(judged, now)
        while opened.key in state.incidents and state.incidents[opened.key].incident.firing:
            # Its first hour belongs to an incident that moved on (earlier hours reconciled).
            opened.key = incident_key(opened.key, "", "", "", f.window_start)
        known = state.incidents.get(opened.key)
        if known is not None:  # the same hours went bad again after a resolution: reopen
            known.incident = Incident.open(judged, now)
            known.incident.key = opened.key
        else:
            state.incidents[opened.key] = Tracked(opened)
        touched.add(opened.key)
    for key in touched:
        inc = state.incidents[key].incident
        if inc.firing and not inc.alerts:
            inc.state, inc.resolved_at, inc.resolution = "resolved", now, "reconciled"


@dataclass(frozen=True, slots=True)
class Suppressed:
    """A firing incident not sent to a sink this run, because it was sent recently."""

    sink: str
    incident: str
    summary: str
    last_sent: datetime
    next_due: datetime


def plan(
    state: AlertState,
    sinks: Collection[str],
    now: datetime,
    repeat_interval: timedelta,
    every_run: Collection[str] = (),
    send_resolved: bool = True,
) -> list[Suppressed]:
    """Queue the notifications this run owes each sink in ``state.pending``; return what was
    held back by the repeat interval."""
    suppressed: list[Suppressed] = []
    pending = {(n.sink, n.incident.key): n for n in state.pending}
    for key, tracked in sorted(state.incidents.items()):
        inc = tracked.incident
        for sink in sinks:
            mark = tracked.sinks.get(sink)
            queued = pending.get((sink, key))
            action: Action | None = None
            repeat = False
            # A spike seen only after it ended (a late run, a re-check) still happened: say so once.
            over_unseen = inc.resolution == "recovered" and mark is None and queued is None
            if over_unseen:
                action = "firing"
            elif inc.firing:
                if (
                    mark is None
                    or mark.last_action != "firing"
                    or (queued is not None and queued.action != "firing")
                ):
                    action = "firing"
                elif sink in every_run or now - mark.last_sent >= repeat_interval:
                    action, repeat = "firing", True
                elif queued is None:
                    suppressed.append(
                        Suppressed(
                            sink,
                            key,
                            inc.summary(),
                            mark.last_sent,
                            mark.last_sent + repeat_interval,
                        )
                    )
            elif send_resolved and (
                (mark is not None and mark.last_action == "firing")
                or (queued is not None and queued.action == "firing")
            ):
                action = "resolved"
            if action is None:
                continue
            previous = mark.labels if mark is not None else None
            if queued is not None and queued.action == action:
                # Same message not delivered yet: keep its id (receivers dedupe on it), refresh it.
                queued.incident = inc.as_first_seen() if over_unseen else inc.snapshot()
                queued.previous_labels = previous
                continue
            note = Notification(
                id=new_message_id(),
                sink=sink,
                action=action,
                incident=inc.as_first_seen() if over_unseen else inc.snapshot(),
                created_at=now,
                repeat=repeat,
                previous_labels=previous,
            )
            if queued is not None:
                state.pending.remove(queued)
            state.pending.append(note)
            pending[(sink, key)] = note
    return suppressed


def resolution_after(
    state: AlertState, note: Notification, now: datetime, send_resolved: bool = True
) -> Notification | None:
    """The resolution that follows, in the same run, the first message of a spike that was
    already over when first seen (once the sink accepted it); queued in ``state.pending``."""
    tracked = state.incidents.get(note.incident.key)
    late = note.action == "firing" and note.incident.recovered_by is not None
    if not send_resolved or not late or tracked is None or tracked.incident.firing:
        return None
    follow = Notification(
        id=new_message_id(),
        sink=note.sink,
        action="resolved",
        incident=tracked.incident.snapshot(),
        created_at=now,
    )
    mark = tracked.sinks.get(note.sink)
    follow.previous_labels = mark.labels if mark is not None else None
    state.pending.append(follow)
    return follow


def mark_delivered(
    state: AlertState, note: Notification, when: datetime, labels: dict[str, str] | None
) -> None:
    """Record that ``note.sink`` accepted ``note``; it leaves the pending list."""
    state.pending = [n for n in state.pending if n.id != note.id]
    tracked = state.incidents.get(note.incident.key)
    if tracked is not None:
        tracked.sinks[note.sink] = SinkMark(when, note.action, labels)


def prune(state: AlertState, now: datetime, configured: Collection[str]) -> list[Notification]:
    """Forget long-resolved incidents; drop stale pending notes of unconfigured sinks."""
    dropped = [
        n for n in state.pending if n.sink not in configured and now - n.created_at > KEEP_ORPHANED
    ]
    state.pending = [n for n in state.pending if n not in dropped]
    waiting = {n.incident.key for n in state.pending}
    for key in list(state.incidents):
        inc = state.incidents[key].incident
        if (
            not inc.firing
            and key not in waiting
            and inc.resolved_at is not None
            and now - inc.resolved_at > KEEP_RESOLVED
        ):
            del state.incidents[key]
    return dropped
