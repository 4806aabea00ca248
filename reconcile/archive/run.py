"""Archive hour windows: read, convert, stage, verify, commit.

One window is the unit of work and of commit:

1. finish or clean what a crashed run left for the window (see :func:`recover`);
2. skip it when already committed (unless forced);
3. open a point in time over the indexes it touches, count the window inside it, read it
   in slices, write Parquet and quarantine files to ``_staging/<run>/`` (a window counted
   at no more than a page is read and counted by one search instead);
4. verify: rows + quarantined must equal the point-in-time count, and Elasticsearch's
   live ``_count`` must still agree; otherwise nothing is committed;
5. commit: write the manifest to staging (the commit point), then copy the files into the
   partition, delete stale files, write ``_manifest.json``, and delete the stage.

A crash before step 5 leaves the previous state untouched; a crash after its first write
is rolled forward by the next run, so a committed window never holds duplicates.
"""

from __future__ import annotations

import logging
import secrets
import threading
import time
from contextlib import AbstractContextManager
from dataclasses import asdict
from datetime import UTC, datetime
from enum import Enum
from typing import Any, Literal

from .. import __version__
from ..durations import format_duration
from ..errors import ConfigError, ReconcileError, SourceError, VerificationError
from ..redact import mask_url
from ..source.base import PitExpired, Reader, Source
from ..source.factory import open_source
from ..storage import ObjectInfo, ObjectStore, UploadOptions, open_store
from ..timewin import Window, utcnow, windows
from .commit import recover, roll_forward
from .config import ArchiveConfig, ArchiveJob
from .layout import (
    MANIFEST,
    STAGING,
    FileEntry,
    Manifest,
    staging_prefix,
    window_prefix,
)
from .outcome import ArchiveSummary, Progress, WindowResult
from .schema import WindowSchema, build_schema
from .stage import Stager
from .survey import seed_table
from .table import TableView, conform_window

log = logging.getLogger(__name__)

PIT_RESTARTS = 2


class _Unread(Enum):
    UNREAD = "unread"


#: ``archive_window(previous=...)`` when the caller has not read the committed manifest.
UNREAD = _Unread.UNREAD


def new_run_id(now: datetime | None = None) -> str:
    stamp = (now or utcnow()).strftime("%Y%m%dT%H%M%SZ")
    return f"{stamp}-{secrets.token_hex(3)}"


def upload_options(a: ArchiveConfig) -> UploadOptions:
    """The object-store upload settings of the archive section."""
    return UploadOptions(
        sse=a.sse, sse_kms_key_id=a.sse_kms_key_id, multipart_chunk_mb=a.multipart_chunk_mb
    )


class Archiver:
    """Archives windows of one job. Reusable from the CLI, a scheduler or a test."""

    def __init__(
        self,
        spec: ArchiveJob,
        source: Source | None = None,
        store: ObjectStore | None = None,
        progress: Progress | None = None,
    ) -> None:
        if not spec.archive.uri and store is None:
            raise ConfigError(
                "archive.uri is not set (job file [archive] uri, --archive or RECONCILE_ARCHIVE_URI)"
            )
        self.spec = spec
        self.source = source or open_source(spec.source)
        self.store = store or open_store(spec.archive.uri, upload_options(spec.archive))
        self.progress = progress or Progress()
        self.stager = Stager(self.store, spec.source, spec.archive, self.progress)
        self.run_id = new_run_id()
        self._mappings: dict[str, dict[str, Any]] | None = None
        self._streams: dict[str, list[str]] | None = None
        self._untimed: dict[str, int] = {}
        self._cannot_narrow = False
        self._staging: list[ObjectInfo] | None = None
        ts = spec.source.timestamp_field
        self.table = TableView(self.store, seed=lambda: seed_table(self.store, ts))

    # -- public -------------------------------------------------------------------------

    def archive(
        self,
        start: datetime,
        end: datetime,
        force: bool = False,
        now: datetime | None = None,
        stop: threading.Event | None = None,
    ) -> ArchiveSummary:
        """Archive every window in ``[start, end)``; failures are collected, not raised."""
        summary = ArchiveSummary()
        now = now or utcnow()
        live = self.live_counts(start, end)
        for window in windows(start, end):
            if stop is not None and stop.is_set():
                break
            summary.results.append(
                self.archive_window(window, force=force, now=now, indexed=live.get(window))
            )
        return summary

    def live_counts(self, start: datetime, end: datetime) -> dict[Window, int]:
        """What Elasticsearch holds per window now, in one request: a ``_count`` for a
        single window (the cheapest question on any server; a histogram of one bucket
        answers no more), one aggregation for more. Empty if it cannot say."""
        wins = list(windows(start, end))
        try:
            if len(wins) == 1:
                return {wins[0]: self.source.count(wins[0])}
            hourly = self.source.hourly_counts(start, end)
        except ReconcileError as exc:
            log.warning("could not count the range in one request (%s): counting per window", exc)
            return {}
        return {w: hourly.get(w) for w in wins}

    def archive_window(
        self,
        window: Window,
        force: bool = False,
        now: datetime | None = None,
        indexed: int | None = None,
        previous: Manifest | Literal[_Unread.UNREAD] | None = UNREAD,
    ) -> WindowResult:
        """Archive one window; returns a result whose status says what happened.

        A committed window is archived again, as a new revision, when Elasticsearch now holds
        more documents for it (``indexed``, counted here when not given): late arrivals.
        ``previous``: the window's committed manifest (None: none) when the caller has just
        read it; it is read again if an interrupted run's commit of the window is finished.
        """
        now = now or utcnow()
        waiting = self.not_ready(window, now)
        if waiting is not None:
            return self._done(waiting)
        started = time.monotonic()
        try:
            if self._recover(window) or previous is UNREAD:
                previous = self.committed(window)
            reason = "forced (--force)" if force else None
            if previous is not None and not force:
                reason, why_not = self._late_reason(window, previous, indexed)
                if reason is None:
                    return self._done(
                        WindowResult(window, "skipped", revision=previous.revision, message=why_not)
                    )
            result = self._archive_with_restarts(window, previous, reason or "", indexed)
        except ReconcileError as exc:
            result = WindowResult(window, "failed", message=str(exc))
        result.seconds = round(time.monotonic() - started, 3)
        return self._done(result)

    def not_ready(self, window: Window, now: datetime) -> WindowResult | None:
        """An ``open`` or ``settling`` result when the window may not be archived yet."""
        cfg = self.spec.archive
        if cfg.allow_open_windows:
            return None
        if not window.is_closed(now):
            msg = "window has not closed yet (allow_open_windows / --allow-open to archive anyway)"
            return WindowResult(window, "open", message=msg)
        settles = window.end + cfg.settle
        if now < settles:
            msg = (
                f"window closed {format_duration(now - window.end)} ago; archived once it "
                f"settles at {settles:%Y-%m-%dT%H:%M:%SZ} (archive.settle = "
                f"{format_duration(cfg.settle)}; --allow-open to archive anyway)"
            )
            return WindowResult(window, "settling", message=msg)
        return None

    def late_documents(self, previous: Manifest, live: int) -> int:
        """Documents Elasticsearch holds beyond a commit, when re-archiving would add them.

        0 when it holds as many or fewer (deletions never shrink the archive by themselves),
        or when an index the commit read from is gone (re-reading would lose its documents).
        """
        if live <= previous.held:
            return 0
        existing = set(self.mappings())
        if any(i not in existing for i in previous.indices):
            return 0
        return live - previous.held

    def _late_reason(
        self, window: Window, previous: Manifest, indexed: int | None
    ) -> tuple[str | None, str]:
        live = self.source.count(window) if indexed is None else indexed
        late = self.late_documents(previous, live)
        if late:
            return f"{late} late documents", ""
        if live < previous.held:
            return None, (
                f"already committed (revision {previous.revision}); Elasticsearch now holds "
                f"{live} documents, fewer than the {previous.held} archived: kept (--force to "
                "replace)"
            )
        return None, f"already committed (revision {previous.revision})"

    def committed(self, window: Window) -> Manifest | None:
        """The window's committed manifest, if any."""
        data = self.store.get_bytes(window_prefix(window) + MANIFEST)
        return Manifest.from_json(data) if data else None

    def _recover(self, window: Window) -> bool:
        """Finish or drop what interrupted runs left staged for ``window``; True if anything.

        ``_staging/`` is listed once per archiver, before its first window: what a crashed
        run left is there by then, and this run's own stages are cleaned by this run."""
        if self._staging is None:
            self._staging = self.store.list(f"{STAGING}/")
        suffix = f"/{window_prefix(window)}"
        mine = [o for o in self._staging if suffix in o.key]
        if not mine:
            return False
        recover(self.store, window, mine)
        self._staging = [o for o in self._staging if suffix not in o.key]
        return True

    # -- steps --------------------------------------------------------------------------

    def _done(self, result: WindowResult) -> WindowResult:
        level = logging.ERROR if result.status == "failed" else logging.INFO
        facts = result.as_dict()
        facts["reason"] = facts.pop("message")
        text = f"window {result.window.label} {result.status}"
        if result.status == "archived":
            text += f": {result.rows} rows, {result.quarantined} quarantined, {result.docs_per_s:,.0f} docs/s"
        elif result.message:
            text += f": {result.message}"
        log.log(level, text, extra={"event": "window", **facts})
        self.progress.window_finished(result)
        return result

    def mappings(self) -> dict[str, dict[str, Any]]:
        if self._mappings is None:
            self._mappings = self.source.mappings()
        return self._mappings

    def data_streams(self) -> dict[str, list[str]]:
        """Data streams ``source.index`` names and their backing indices (asked once)."""
        if self._streams is None:
            self._streams = self.source.data_streams()
        return self._streams

    def _archive_with_restarts(
        self, window: Window, previous: Manifest | None, reason: str, indexed: int | None = None
    ) -> WindowResult:
        if previous is not None:
            log.info(
                "window %s: re-archiving revision %d (%s)",
                window.label,
                previous.revision,
                reason,
                extra={"event": "rearchive", "window": window.iso(), "reason": reason},
            )
        for attempt in range(PIT_RESTARTS + 1):
            try:
                return self._archive_once(window, previous, reason, indexed)
            except PitExpired as exc:
                if attempt == PIT_RESTARTS:
                    raise SourceError(
                        f"window {window.label}: {exc}; gave up after {attempt + 1} attempts"
                    ) from exc
                log.warning(
                    "window %s: %s; restarting the window on a new point in time", window.label, exc
                )
        raise AssertionError("unreachable")

    def _touched(
        self, window: Window, mappings: dict[str, Any], indexed: int | None
    ) -> tuple[list[str], int]:
        """The indexes holding the window's documents, and about how many there are.

        Asked once per window; once the server has shown it cannot say (no ``terms`` on
        ``_index``), and when the range's histogram already counted the window, the request
        is skipped: every index is read, and the count only sizes the slices. So is it when
        the histogram found the window empty: nothing to narrow (a document arriving since
        fails the live count's verification, as with a single index)."""
        if not mappings:
            return [], 0
        names = sorted(mappings)
        if indexed is not None and (self._cannot_narrow or len(names) == 1 or not indexed):
            return (names if indexed else []), indexed
        touched, approx = self.source.touched_indices(window, names)
        if touched is None:  # the server could not say which indices: read them all
            self._cannot_narrow = True
            return (names if approx else []), approx
        return touched, approx

    def _archive_once(
        self, window: Window, previous: Manifest | None, reason: str, indexed: int | None = None
    ) -> WindowResult:
        mappings = self.mappings()
        touched, approx = self._touched(window, mappings, indexed)
        schema = build_schema(
            {i: mappings[i] for i in touched},
            self.spec.source.timestamp_field,
            self.spec.archive.array_fields,
        )
        for c in schema.conflicts:
            log.warning(
                "window %s: field %s mapped differently %s; archived as %s",
                window.label,
                c.field,
                c.types,
                c.resolved,
            )
        schema = conform_window(self.table, schema, f"window {window.label}")
        untimed = sum(self._untimed_in(i) for i in touched)
        seen: set[str] = set()
        stage = staging_prefix(self.run_id, window)
        timings: dict[str, float] = {}
        t0 = time.monotonic()
        try:
            if touched:
                with self._reader(touched, approx) as pit:
                    self.progress.window_started(window, approx)
                    files, rejects, expected = self.stager.read_and_stage(
                        pit, window, schema, stage, approx, seen
                    )
            else:
                expected, files, rejects = 0, [], []
                self.progress.window_started(window, 0)
            timings["read_write_s"] = round(time.monotonic() - t0, 3)
            rows = sum(f.rows for f in files)
            quarantined = sum(f.rows for f in rejects)
            live = self.source.count(window)
            self._verify(window, expected, live, rows, quarantined)
            manifest = self._manifest(
                window, schema, sorted(seen), expected, live, untimed, files, rejects, timings
            )
            if previous is not None:
                manifest.revision = previous.revision + 1
                manifest.replaced = [*previous.replaced, previous.successor_record(reason)]
            data = manifest.to_json()
            self.store.put_bytes(stage + MANIFEST, data)  # commit point
        except BaseException:
            self.stager.discard(stage)
            raise
        # What was just staged is known: no read-back of the manifest, no listing of the stage.
        staged = {stage + f.path: f.bytes for f in files + rejects}
        roll_forward(self.store, stage, window, data, staged)
        return WindowResult(
            window,
            "archived",
            rows=rows,
            quarantined=quarantined,
            source_count=expected,
            files=len(files),
            bytes=sum(f.bytes for f in files),
            conflicts=len(schema.conflicts),
            revision=manifest.revision,
            late=max(0, rows + quarantined - previous.held) if previous is not None else 0,
            message=f"revision {manifest.revision}: {reason}" if previous is not None else "",
        )

    def _reader(self, touched: list[str], approx: int) -> AbstractContextManager[Reader]:
        """One search for a window counted at no more than a page and read as one slice;
        a point in time otherwise (the open and close cost as much as the page)."""
        if approx <= self.spec.source.page_size and len(self.stager.slices(approx)) == 1:
            return self.source.one_search(touched)
        return self.source.point_in_time(touched)

    def _untimed_in(self, index: str) -> int:
        if index not in self._untimed:
            n = self.source.untimed(index)
            self._untimed[index] = n
            if n:
                log.warning(
                    "index %s holds %d documents without %s: they belong to no window and are not archived",
                    index,
                    n,
                    self.spec.source.timestamp_field,
                    extra={"event": "untimed", "index": index, "count": n},
                )
        return self._untimed[index]

    def _verify(
        self, window: Window, expected: int, live: int, rows: int, quarantined: int
    ) -> None:
        if rows + quarantined != expected:
            raise VerificationError(
                f"window {window.label}: read {rows} rows + {quarantined} quarantined, "
                f"but the point in time counts {expected}; not committed"
            )
        if live != expected:
            raise VerificationError(
                f"window {window.label}: Elasticsearch now counts {live} documents, archived "
                f"{rows} + {quarantined} quarantined = {rows + quarantined}; not committed "
                "(documents still arriving or being deleted; rerun later)"
            )

    def _manifest(
        self,
        window: Window,
        schema: WindowSchema,
        touched: list[str],
        expected: int,
        live: int,
        untimed: int,
        files: list[FileEntry],
        rejects: list[FileEntry],
        timings: dict[str, float],
    ) -> Manifest:
        cfg = self.spec.source
        streams = self.data_streams()
        return Manifest(
            window_start=window.iso(),
            window_end=window.end.strftime("%Y-%m-%dT%H:%M:%SZ"),
            partition=window.partition,
            run_id=self.run_id,
            tool_version=__version__,
            committed_at=datetime.now(UTC).isoformat(timespec="seconds").replace("+00:00", "Z"),
            source={
                "url": mask_url(cfg.url),
                "index": cfg.index,
                "indices": touched,
                "timestamp_field": cfg.timestamp_field,
                "filter": cfg.filter,
                "count": expected,
                "count_live": live,
                "untimed_in_indices": untimed,
                # A data stream's backing indices as resolved now (the hits name the indices).
                **({"data_streams": streams} if streams else {}),
            },
            rows=sum(f.rows for f in files),
            quarantined=sum(f.rows for f in rejects),
            files=files,
            rejects=rejects,
            schema={
                "fingerprint": schema.fingerprint,
                "columns": {f.name: str(f.type) for f in schema.arrow},
                "drift": [asdict(d) for d in schema.drift],
            },
            conflicts=[asdict(c) for c in schema.conflicts],
            timings=timings,
            table_schema_version=schema.table_version,
            extra_counts=schema.extra.as_dict(),
        )
