"""The commit protocol of a window, and its crash recovery.

A window's files are staged under ``_staging/<run>/``; writing the staged manifest is the
commit point. Rolling forward copies the files into the partition, deletes stale ones,
publishes ``_manifest.json`` and only then deletes the stage, so it is idempotent: a crash
at any point is finished by the next run (:func:`recover`), and a committed window never
holds duplicates.

In the normal path the archiver passes what it just staged (the manifest's bytes, the
files' keys and sizes), so nothing is read back; recovery reads both from storage.
"""

from __future__ import annotations

import logging

from ..errors import ReconcileError
from ..storage import ObjectInfo, ObjectStore
from ..timewin import Window
from .layout import MANIFEST, STAGING, Manifest, window_prefix

log = logging.getLogger(__name__)


def recover(store: ObjectStore, window: Window, staged: list[ObjectInfo] | None = None) -> None:
    """Finish commits that crashed after their commit point; drop uncommitted staging.

    ``staged``: a listing of ``_staging/`` the caller took (an archive run lists once, at
    its start: whatever a crashed run left is there by then); None lists it now. A stage
    whose manifest the listing showed is rolled forward from the manifest as it is now; one
    without (or whose manifest is gone since: someone finished it) is deleted."""
    suffix = window_prefix(window)
    if staged is None:
        staged = store.list(f"{STAGING}/")
    staged = [o for o in staged if f"/{suffix}" in o.key]
    runs = sorted({o.key[: o.key.index(suffix) + len(suffix)] for o in staged})
    for stage in runs:
        keys = [o.key for o in staged if o.key.startswith(stage)]
        data = store.get_bytes(stage + MANIFEST) if stage + MANIFEST in keys else None
        if data is not None:
            log.warning(
                "window %s: completing the commit of an interrupted run (%s)", window.label, stage
            )
            roll_forward(store, stage, window, data)
        else:
            log.info(
                "window %s: removing uncommitted files of an interrupted run (%s)",
                window.label,
                stage,
            )
            store.delete(keys)


def roll_forward(
    store: ObjectStore,
    stage: str,
    window: Window,
    data: bytes | None = None,
    staged: dict[str, int] | None = None,
) -> None:
    """Make the partition exactly what the staged manifest says, then publish the manifest.

    Idempotent: safe to repeat after a crash at any point inside it. ``data`` is the staged
    manifest and ``staged`` the stage's keys and sizes, when the caller knows them (it just
    wrote them); otherwise they are read back from storage (recovery).

    Every staged file is first copied into the partition (S3: server-side; the staged
    copies stay), the partition is listed (nothing staged may be missing) and stale files
    deleted; then ``_manifest.json`` is published and the stage deleted in one request. A
    crash anywhere before that last delete leaves the staged manifest, so the next run
    does it all again (copying what is still staged) and ends in the same state.
    """
    if data is None:
        data = store.get_bytes(stage + MANIFEST)
        if data is None:
            raise ReconcileError(f"no staged manifest at {stage}")
    manifest = Manifest.from_json(data)
    final = window_prefix(window)
    wanted = {f.path for f in manifest.files + manifest.rejects}
    if staged is None:
        staged = {o.key: o.size for o in store.list(stage)}
    store.place(
        (stage + path, final + path, staged[stage + path])
        for path in sorted(wanted)
        if stage + path in staged
    )
    present = {o.key[len(final) :]: o.size for o in store.list(final)}
    missing = [p for p in wanted if p not in present]
    if missing:
        raise ReconcileError(
            f"window {window.label}: staged files vanished before commit: {missing}"
        )
    stale = [final + p for p in present if p not in wanted and p != MANIFEST]
    if stale:
        store.delete(stale)
    store.put_bytes(final + MANIFEST, data)
    store.delete(sorted({*staged, stage + MANIFEST}))
