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
import os
import random
import re
import socket
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from ..errors import ConfigError, ReconcileError, StorageError
from ..findings import iso
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


def state_uri(alerts_state_uri: str, archive_uri: str) -> str:
    """``alerts.state_uri``, else ``<archive.uri>/_reconcile/alerts``."""
    if alerts_state_uri:
        return alerts_state_uri
    if not archive_uri:
        raise ConfigError(
            "alerts need a place for their state: set alerts.state_uri "
            "(RECONCILE_ALERTS_STATE_URI) or archive.uri"
        )
    return archive_uri.rstrip("/") + "/_reconcile/alerts"


@dataclass(slots=True)
class Lease:
    """The right to plan and send this job's notifications, until ``expires``."""

    owner: str
    etag: str
    expires: float


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

    @contextmanager
    def lease(self, ttl_s: float, wait_s: float) -> Iterator[Lease]:
        """Hold the job's alert lease for the duration of the block."""
        held = self.acquire(ttl_s, wait_s)
        try:
            yield held
        finally:
            self.release(held)

    def acquire(self, ttl_s: float, wait_s: float) -> Lease:
        owner = f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"
        deadline = time.monotonic() + wait_s
        holder: dict[str, Any] = {}
        while True:
            now = time.time()
            body = json.dumps(
                {
                    "owner": owner,
                    "acquired_at": now,
                    "expires_at": now + ttl_s,
                    "released": False,
                }
            ).encode()
            current = self.store.get(self.lease_key)
            if current is None:
                etag = self.store.create(self.lease_key, body)
            else:
                holder = _parse_lease(current[0])
                free = holder.get("released") or float(holder.get("expires_at", 0)) <= now
                if free and not holder.get("released"):
                    log.warning(
                        "alerts: taking over the expired alert lease of %s", holder.get("owner")
                    )
                etag = self.store.replace(self.lease_key, body, current[1]) if free else None
            if etag is not None:
                return Lease(owner, etag, now + ttl_s)
            if time.monotonic() >= deadline:
                until = holder.get("expires_at")
                when = (
                    datetime.fromtimestamp(float(until), UTC).strftime("%H:%M:%SZ")
                    if until
                    else "?"
                )
                raise AlertStateError(
                    f"another run ({holder.get('owner', '?')}) holds the alert lease of job "
                    f"{self.job} until {when}; waited {wait_s:g}s (alerts.lock_wait_s)"
                )
            time.sleep(random.uniform(0.05, 0.25))

    def renew(self, lease: Lease, ttl_s: float) -> Lease:
        """Extend a held lease (in place); :class:`AlertStateError` if it was lost."""
        now = time.time()
        body = json.dumps(
            {"owner": lease.owner, "acquired_at": now, "expires_at": now + ttl_s, "released": False}
        ).encode()
        etag = self.store.replace(self.lease_key, body, lease.etag)
        if etag is None:
            raise AlertStateError(
                f"the alert lease of job {self.job} was taken over by another run"
            )
        lease.etag, lease.expires = etag, now + ttl_s
        return lease

    def release(self, lease: Lease) -> None:
        body = json.dumps(
            {"owner": lease.owner, "released": True, "released_at": time.time(), "expires_at": 0}
        ).encode()
        try:
            if self.store.replace(self.lease_key, body, lease.etag) is None:
                log.warning("alerts: the alert lease was taken over before this run released it")
        except StorageError as exc:  # the lease expires by itself
            log.warning("alerts: could not release the alert lease: %s", exc)


def _parse_lease(data: bytes) -> dict[str, Any]:
    try:
        doc = json.loads(data)
        return doc if isinstance(doc, dict) else {}
    except ValueError:
        return {}
