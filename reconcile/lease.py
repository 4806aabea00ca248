"""Leases in object storage: at most one holder at a time, even across machines.

A lease is one small JSON object, created with "only if absent" and taken over, once
expired or released, with "only if unchanged" (S3 conditional writes; ``flock`` on local
paths; see :meth:`reconcile.storage.ObjectStore.put_if`). A holder that crashed simply lets
its lease expire. Used to keep two scheduled runs, or two alert senders, from working on
the same job at once.
"""

from __future__ import annotations

import json
import logging
import os
import random
import socket
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from .errors import ReconcileError, StorageError
from .storage import ObjectStore

#: The job's run lease, beside its archive: held by scheduled runs and schema rewrites, so
#: two of them never work on one archive at once.
LEASE_KEY = "_reconcile/run.lease"

log = logging.getLogger(__name__)


class LeaseHeld(ReconcileError):
    """Another holder has the lease."""


class LeaseLost(ReconcileError):
    """The lease expired and someone else took it while we worked."""


@dataclass(slots=True)
class Held:
    """A lease this process holds, until ``expires`` (epoch seconds)."""

    owner: str
    etag: str
    expires: float


def _body(owner: str, ttl_s: float, released: bool = False) -> bytes:
    now = time.time()
    if released:
        return json.dumps(
            {"owner": owner, "released": True, "released_at": now, "expires_at": 0}
        ).encode()
    return json.dumps(
        {"owner": owner, "acquired_at": now, "expires_at": now + ttl_s, "released": False}
    ).encode()


def _parse(data: bytes) -> dict[str, Any]:
    try:
        doc = json.loads(data)
        return doc if isinstance(doc, dict) else {}
    except ValueError:
        return {}


class Lease:
    """The lease stored at ``key`` of ``store``; ``what`` names it in messages."""

    def __init__(
        self,
        store: ObjectStore,
        key: str,
        what: str,
        held_error: type[ReconcileError] = LeaseHeld,
        lost_error: type[ReconcileError] = LeaseLost,
    ) -> None:
        self.store, self.key, self.what = store, key, what
        self.held_error, self.lost_error = held_error, lost_error

    def acquire(self, ttl_s: float, wait_s: float = 0.0) -> Held:
        """Take the lease, waiting up to ``wait_s`` for the holder to release it."""
        owner = f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"
        deadline = time.monotonic() + wait_s
        holder: dict[str, Any] = {}
        while True:
            now = time.time()
            current = self.store.get_versioned(self.key)
            if current is None:
                etag = self.store.put_if(self.key, _body(owner, ttl_s), None)
            else:
                holder = _parse(current[0])
                free = holder.get("released") or float(holder.get("expires_at", 0)) <= now
                if free and not holder.get("released"):
                    log.warning("taking over the expired %s of %s", self.what, holder.get("owner"))
                etag = (
                    self.store.put_if(self.key, _body(owner, ttl_s), current[1]) if free else None
                )
            if etag is not None:
                return Held(owner, etag, now + ttl_s)
            if time.monotonic() >= deadline:
                until = holder.get("expires_at")
                when = (
                    datetime.fromtimestamp(float(until), UTC).strftime("%H:%M:%SZ")
                    if until
                    else "?"
                )
                raise self.held_error(
                    f"another run ({holder.get('owner', '?')}) holds the {self.what} until {when}; "
                    f"waited {wait_s:g}s"
                )
            time.sleep(random.uniform(0.05, 0.25))

    def renew(self, held: Held, ttl_s: float) -> Held:
        """Extend a held lease in place; raises ``lost_error`` if it was taken over."""
        etag = self.store.put_if(self.key, _body(held.owner, ttl_s), held.etag)
        if etag is None:
            raise self.lost_error(f"the {self.what} was taken over by another run")
        held.etag, held.expires = etag, time.time() + ttl_s
        return held

    def release(self, held: Held) -> None:
        try:
            if self.store.put_if(self.key, _body(held.owner, 0, released=True), held.etag) is None:
                log.warning("the %s was taken over before this run released it", self.what)
        except StorageError as exc:  # it expires by itself
            log.warning("could not release the %s: %s", self.what, exc)

    @contextmanager
    def hold(self, ttl_s: float, wait_s: float = 0.0, renew: bool = False) -> Iterator[Held]:
        """Hold the lease for the block; with ``renew``, a thread keeps it alive."""
        held = self.acquire(ttl_s, wait_s)
        stop = threading.Event()
        lost: list[BaseException] = []
        thread = None
        if renew:
            thread = threading.Thread(
                target=self._keep, args=(held, ttl_s, stop, lost.append), daemon=True
            )
            thread.start()
        try:
            yield held
        finally:
            stop.set()
            if thread is not None:
                thread.join()
            if not lost:
                self.release(held)

    def _keep(
        self,
        held: Held,
        ttl_s: float,
        stop: threading.Event,
        on_lost: Callable[[BaseException], None],
    ) -> None:
        while not stop.wait(ttl_s / 3):
            try:
                self.renew(held, ttl_s)
            except ReconcileError as exc:
                log.error("%s", exc)
                on_lost(exc)
                return
