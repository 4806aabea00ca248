"""Alert state beside the archive: firing incidents, what each sink was last sent, and the
notifications still to deliver.

One JSON object per job, ``<state_uri>/<job>/state.json``, written by compare-and-swap. A run
first takes the job's lease (``lease.json``, created or taken over by compare-and-swap), so
two runs never plan and send the same notification; the state write itself is conditional
too, so a run whose lease lapsed cannot overwrite a newer run's state.
"""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from ..errors import ConfigError, ReconcileError
from ..findings import iso
from ..lease import Held, Lease
from ..storage import open_store
from ..timewin import parse_time
from .cas import ConditionalStore, conditional
from .model import Incident, Notification

log = logging.getLogger(__name__)

STATE_VERSION = 1


class AlertStateError(ReconcileError):
    """The alert state could not be locked, read or written safely."""


@dataclass(slots=True)
class SinkMark:
    """What one sink last accepted about one incident."""

    last_sent: datetime
    last_action: str
    labels: dict[str, str] | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "last_sent": iso(self.last_sent),
            "last_action": self.last_action,
            "labels": self.labels,
        }

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> SinkMark:
        return cls(parse_time(d["last_sent"]), d["last_action"], d.get("labels"))


@dataclass(slots=True)
class Tracked:
    """An incident and, per sink, what that sink has been told."""

    incident: Incident
    sinks: dict[str, SinkMark] = field(default_factory=dict)


@dataclass(slots=True)
class AlertState:
    """Everything a run needs to decide what to send; serialised as one JSON document."""

    job: str
    incidents: dict[str, Tracked] = field(default_factory=dict)
    pending: list[Notification] = field(default_factory=list)
    updated_at: datetime | None = None
    revision: int = 0
    """Bumped on every save, so two writes never have the same content (or ETag)."""

    def to_json(self) -> bytes:
        doc = {
            "version": STATE_VERSION,
            "job": self.job,
            "updated_at": iso(self.updated_at) if self.updated_at else None,
            "revision": self.revision,
            "incidents": {
                k: {
                    "incident": t.incident.to_dict(),
                    "sinks": {s: m.to_dict() for s, m in sorted(t.sinks.items())},
                }
                for k, t in sorted(self.incidents.items())
            },
            "pending": [n.to_dict() for n in self.pending],
        }
        return json.dumps(doc, indent=1, sort_keys=False).encode()

    @classmethod
    def from_json(cls, data: bytes, job: str) -> AlertState:
        doc = json.loads(data)
        if doc.get("version") != STATE_VERSION:
            raise AlertStateError(f"alert state version {doc.get('version')!r} is not supported")
        incidents = {
            k: Tracked(
                Incident.from_dict(v["incident"]),
                {s: SinkMark.from_dict(m) for s, m in v.get("sinks", {}).items()},
            )
            for k, v in doc.get("incidents", {}).items()
        }
        return cls(
            job=doc.get("job", job),
            incidents=incidents,
            pending=[Notification.from_dict(n) for n in doc.get("pending", [])],
            updated_at=parse_time(doc["updated_at"]) if doc.get("updated_at") else None,
            revision=int(doc.get("revision", 0)),
        )


def _safe(name: str) -> str:
    return re.sub(r"[^A-Za-z0-9._-]", "_", name) or "default"


def state_uri(alerts_state_uri: str) -> str:
    """Where the alert state lives (the job puts it beside the archive unless it is set)."""
    if not alerts_state_uri:
        raise ConfigError(
            "alerts need a place for their state: set alerts.state_uri "
            "(RECONCILE_ALERTS_STATE_URI) or archive.uri"
        )
    return alerts_state_uri


class StateStore:
    """Loads and saves one job's :class:`AlertState` under a lease."""

    def __init__(self, store: ConditionalStore, job: str) -> None:
        self.store = store
        self.job = job
        base = _safe(job)
        self.state_key = f"{base}/state.json"
        self.lease_key = f"{base}/lease.json"

    @classmethod
    def open(cls, uri: str, job: str) -> StateStore:
        return cls(conditional(open_store(uri)), job)

    # -- state ------------------------------------------------------------------------------

    def load(self) -> tuple[AlertState, str | None]:
        """The state and its etag (``None`` before the first save)."""
        found = self.store.get(self.state_key)
        if found is None:
            return AlertState(self.job), None
        data, etag = found
        try:
            return AlertState.from_json(data, self.job), etag
        except (ValueError, KeyError, TypeError) as exc:
            raise AlertStateError(
                f"alert state {self.store.uri}/{self.state_key} is not readable ({exc}); "
                "move it aside to start afresh"
            ) from exc

    def save(self, state: AlertState, etag: str | None, now: datetime | None = None) -> str:
        """Write the state if nobody else wrote since ``etag``; the new etag."""
        state.updated_at = now or datetime.now(UTC)
        state.revision += 1
        data = state.to_json()
        new = (
            self.store.create(self.state_key, data)
            if etag is None
            else self.store.replace(self.state_key, data, etag)
        )
        if new is None:
            raise AlertStateError(
                f"alert state {self.store.uri}/{self.state_key} was changed by another run "
                "while this one held the lease (lease expired?); nothing was overwritten"
            )
        return new

    # -- lease ------------------------------------------------------------------------------

    def _lease(self) -> Lease:
        return Lease(
            self.store.store,
            self.lease_key,
            f"alert lease of job {self.job}",
            held_error=AlertStateError,
            lost_error=AlertStateError,
        )

    @contextmanager
    def lease(self, ttl_s: float, wait_s: float) -> Iterator[Held]:
        """Hold the job's alert lease for the duration of the block."""
        with self._lease().hold(ttl_s, wait_s) as held:
            yield held

    def acquire(self, ttl_s: float, wait_s: float) -> Held:
        return self._lease().acquire(ttl_s, wait_s)

    def renew(self, lease: Held, ttl_s: float) -> Held:
        """Extend a held lease (in place); :class:`AlertStateError` if it was lost."""
        return self._lease().renew(lease, ttl_s)

    def release(self, lease: Held) -> None:
        self._lease().release(lease)
