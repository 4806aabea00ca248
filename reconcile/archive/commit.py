"""The commit protocol of a window, and its crash recovery.

A window's files are staged under ``_staging/<run>/``; writing the staged manifest is the
commit point. Rolling forward moves the files into the partition, deletes stale ones and
publishes ``_manifest.json`` last, so it is idempotent: a crash at any point is finished
by the next run (:func:`recover`), and a committed window never holds duplicates.
"""

from __future__ import annotations

import logging

from ..errors import ReconcileError
from ..storage import ObjectStore
from ..timewin import Window
from .layout import MANIFEST, STAGING, Manifest, window_prefix

log = logging.getLogger(__name__)


def recover(store: ObjectStore, window: Window) -> None:
    """Finish commits that crashed after their commit point; drop uncommitted staging."""
    suffix = window_prefix(window)
    staged = [o for o in store.list(f"{STAGING}/") if f"/{suffix}" in o.key]
    runs = sorted({o.key[: o.key.index(suffix) + len(suffix)] for o in staged})
    for stage in runs:
        if any(o.key == stage + MANIFEST for o in staged):
            log.warning(
                "window %s: completing the commit of an interrupted run (%s)", window.label, stage
            )
            roll_forward(store, stage, window)
        else:
            log.info(
                "window %s: removing uncommitted files of an interrupted run (%s)",
                window.label,
                stage,
            )
            store.delete([o.key for o in staged if o.key.startswith(stage)])


def roll_forward(store: ObjectStore, stage: str, window: Window) -> None:
    """Make the partition exactly what the staged manifest says, then publish the manifest.

    Idempotent: safe to repeat after a crash at any point inside it.
    """
    data = store.get_bytes(stage + MANIFEST)
    if data is None:
        raise ReconcileError(f"no staged manifest at {stage}")
    manifest = Manifest.from_json(data)
    final = window_prefix(window)
    wanted = {f.path for f in manifest.files + manifest.rejects}
    staged = {o.key for o in store.list(stage)}
    for path in sorted(wanted):
        if stage + path in staged:
            store.move(stage + path, final + path)
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
    store.delete([o.key for o in store.list(stage)])
