"""Backfills: archive a date range with several worker processes, resumably.

Committed windows are skipped (unless forced), so a backfill can be stopped and started
again at will. Workers are processes, not threads: conversion is CPU-bound Python.

Ctrl-C once: no new windows start, running ones finish and commit. Twice: workers are
terminated; what they staged is uncommitted and is cleaned (or rolled forward) by the
next run, so the archive stays consistent either way.

Large backfills scale out as a Kubernetes Indexed Job: each pod takes the windows whose
ordinal modulo ``shard_count`` equals its ``JOB_COMPLETION_INDEX``.
"""

from __future__ import annotations

import logging
import signal
import threading
from collections.abc import Callable
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from .archive.outcome import ArchiveSummary, Progress, WindowResult
from .archive.run import Archiver
from .errors import ConfigError
from .job import JobSpec
from .timewin import Window, utcnow, windows

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class Shard:
    """This worker's share of a range split across ``count`` pods."""

    index: int = 0
    count: int = 1

    def __post_init__(self) -> None:
        if self.count < 1 or not 0 <= self.index < self.count:
            raise ConfigError(f"shard index {self.index} is not in [0, {self.count})")

    def take(self, ws: list[Window]) -> list[Window]:
        """Round-robin, so busy and quiet hours are spread evenly over the pods."""
        return ws[self.index :: self.count]


def plan(start: datetime, end: datetime, shard: Shard = Shard()) -> list[Window]:
    return shard.take(list(windows(start, end)))


_worker_archiver: Archiver | None = None


def _init_worker(spec_data: dict[str, Any]) -> None:
    # The parent decides what Ctrl-C means; workers finish their window.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    global _worker_archiver
    _worker_archiver = Archiver(JobSpec.model_validate(spec_data))


def _archive_in_worker(
    window: Window, force: bool, now: datetime, indexed: int | None
) -> WindowResult:
    assert _worker_archiver is not None
    return _worker_archiver.archive_window(window, force=force, now=now, indexed=indexed)


def backfill(
    spec: JobSpec,
    start: datetime,
    end: datetime,
    workers: int = 2,
    force: bool = False,
    now: datetime | None = None,
    shard: Shard = Shard(),
    progress: Progress | None = None,
    stop: threading.Event | None = None,
) -> ArchiveSummary:
    """Archive every window of ``[start, end)`` in this shard; results in window order."""
    todo = plan(start, end, shard)
    now = now or utcnow()
    progress = progress or Progress()
    stop = stop or threading.Event()
    summary = ArchiveSummary()
    if not todo:
        return summary
    archiver = Archiver(spec, progress=progress)
    # One aggregation counts the whole range: workers skip a count per window with it.
    live = archiver.live_counts(todo[0].start, todo[-1].end)
    if workers <= 1:
        for i, w in enumerate(todo):
            if stop.is_set():
                summary.not_started = len(todo) - i
                break
            summary.results.append(
                archiver.archive_window(w, force=force, now=now, indexed=live.get(w))
            )
        return summary
    with ProcessPoolExecutor(
        workers, initializer=_init_worker, initargs=(spec.model_dump(),)
    ) as pool:
        _drain(
            pool,
            todo,
            workers,
            lambda w: pool.submit(_archive_in_worker, w, force, now, live.get(w)),
            summary,
            progress,
            stop,
        )
    summary.results.sort(key=lambda r: r.window)
    return summary


def _drain(
    pool: ProcessPoolExecutor,
    todo: list[Window],
    workers: int,
    submit: Callable[[Window], Future[WindowResult]],
    summary: ArchiveSummary,
    progress: Progress,
    stop: threading.Event,
) -> None:
    pending = list(reversed(todo))
    running: set[Future[WindowResult]] = set()
    while pending or running:
        try:
            while pending and len(running) < workers and not stop.is_set():
                running.add(submit(pending.pop()))
            if not running:
                break
            done, running = wait(running, return_when=FIRST_COMPLETED)
        except KeyboardInterrupt:
            if stop.is_set():
                log.warning(
                    "interrupted again: terminating workers; the next run cleans what they staged"
                )
                for proc in list(getattr(pool, "_processes", {}).values()):
                    proc.terminate()
                raise
            stop.set()
            log.warning(
                "interrupted: finishing %d running windows, starting no new ones "
                "(Ctrl-C again to abort)",
                len(running),
            )
            continue
        for fut in done:
            result = fut.result()
            summary.results.append(result)
            progress.window_finished(result)
    summary.not_started = len(pending)
    if pending:
        log.warning(
            "stopped with %d windows not started; run the same backfill again to resume",
            len(pending),
        )
