"""What the alert state holds, for people: firing incidents, sinks told, pending messages."""

from __future__ import annotations

from typing import Any

from ..findings import iso
from .config import AlertsJob
from .state import StateStore, state_uri


def alert_status(spec: AlertsJob, include_resolved: bool = False) -> list[dict[str, Any]]:
    """One row per incident kept in the job's alert state (read-only, no lease)."""
    store = StateStore.open(state_uri(spec.alerts_state_uri), spec.name)
    state, _ = store.load()
    pending: dict[str, list[str]] = {}
    for note in state.pending:
        pending.setdefault(note.incident.key, []).append(f"{note.sink}:{note.action}")
    rows = []
    for key, tracked in sorted(
        state.incidents.items(), key=lambda kv: (not kv[1].incident.firing, kv[1].incident.since)
    ):
        inc = tracked.incident
        if not inc.firing and not include_resolved:
            continue
        rows.append(
            {
                "incident": key,
                "state": inc.state,
                "kind": inc.kind,
                "resource": inc.resource,
                "status": inc.status,
                "severity": inc.severity,
                "since": iso(inc.since),
                "hours": inc.hours,
                "sinks": ", ".join(
                    f"{s}:{m.last_action}@{m.last_sent:%m-%dT%H:%M}"
                    for s, m in sorted(tracked.sinks.items())
                ),
                "pending": ", ".join(pending.get(key, [])),
                "summary": inc.summary(),
            }
        )
    return rows
