"""Reading a window's slices into files staged in object storage.

Each slice of the point in time is read by its own thread into its own Parquet writer and
quarantine writer; finished files are uploaded to the window's staging prefix and deleted
locally, so memory is bounded by ``archive.buffer_mb``, one page per slice and the encoding
of one row group (the slices take turns), and disk by one file per slice.
"""

from __future__ import annotations

import logging
import math
import shutil
import tempfile
import threading
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from ..errors import ReconcileError, SourceError
from ..source.base import Reader, Slice
from ..source.config import SourceConfig
from ..storage import ObjectStore
from ..timewin import Window
from .config import ArchiveConfig
from .convert import Reject
from .direct import PageConverter
from .layout import FileEntry
from .outcome import Progress
from .schema import WindowSchema
from .writer import ParquetSliceWriter, RejectWriter

log = logging.getLogger(__name__)


@dataclass(slots=True)
class _Tally:
    """What the slices of one window share: their exact counts, the source indices, and
    the turn to encode a row group."""

    totals: dict[int, int]
    indices: set[str]
    #: Held by the slice encoding a row group: one at a time per window.
    encoding: threading.Lock = field(default_factory=threading.Lock)


@dataclass(slots=True)
class Stager:
    """Reads windows slice by slice into staged Parquet and quarantine files."""

    store: ObjectStore
    source_cfg: SourceConfig
    archive_cfg: ArchiveConfig
    progress: Progress

    def slices(self, expected: int) -> list[Slice]:
        cfg = self.source_cfg
        n = max(1, min(cfg.slices, math.ceil(expected / cfg.slice_min_docs)))
        return [Slice(i, n) for i in range(n)]

    def read_and_stage(
        self,
        pit: Reader,
        window: Window,
        schema: WindowSchema,
        stage: str,
        expected: int,
        seen: set[str],
    ) -> tuple[list[FileEntry], list[FileEntry], int]:
        """Read every slice into staged files; returns files, rejects and the PIT count.

        ``seen`` collects the indices the documents came from."""
        parts = self.slices(expected)
        tally = _Tally({}, seen)
        buffer_bytes = max(1, self.archive_cfg.buffer_mb * 1024 * 1024 // len(parts))
        with self._scratch() as scratch:
            sink = self._sink(stage)
            if len(parts) == 1:
                outcomes = [
                    self._read_slice(
                        pit, window, schema, parts[0], scratch, sink, buffer_bytes, tally
                    )
                ]
            else:
                with ThreadPoolExecutor(len(parts), thread_name_prefix="slice") as pool:
                    futures = [
                        pool.submit(
                            self._read_slice,
                            pit,
                            window,
                            schema,
                            p,
                            scratch,
                            sink,
                            buffer_bytes,
                            tally,
                        )
                        for p in parts
                    ]
                    outcomes = [f.result() for f in futures]
        files = [f for o in outcomes for f in o[0]]
        rejects = [r for o in outcomes for r in o[1]]
        if len(tally.totals) != len(parts):
            raise SourceError(
                f"window {window.label}: {len(parts) - len(tally.totals)} slices returned no count"
            )
        return files, rejects, sum(tally.totals.values())

    def _read_slice(
        self,
        pit: Reader,
        window: Window,
        schema: WindowSchema,
        part: Slice,
        scratch: Path,
        sink: Callable[[Path, str, int], FileEntry],
        buffer_bytes: int,
        tally: _Tally,
    ) -> tuple[list[FileEntry], list[FileEntry]]:
        converter = PageConverter(schema, self.archive_cfg.max_doc_bytes)
        writer = ParquetSliceWriter(
            converter.arrow_schema,
            self.archive_cfg,
            part.id,
            scratch,
            sink,
            buffer_bytes,
            tally.encoding,
        )
        rejects = RejectWriter(part.id, scratch, sink, window.label)
        try:
            for page in pit.pages(window, part, tally.totals):
                tally.indices.update(page.indices)
                for batch, bad in converter.convert(page):
                    if batch is not None:
                        writer.write(batch)
                    if bad:
                        self._quarantine(window, bad, rejects)
                self.progress.rows_done(window, len(page))
                del page
            paths = converter.tally
            if paths.row_pages:
                log.info(
                    "window %s slice %d: %d of %d pages took the row path (%d hits)",
                    window.label,
                    part.id,
                    paths.row_pages,
                    paths.row_pages + paths.direct_pages,
                    paths.row_hits,
                )
            files = writer.close()
            reject_file = rejects.close()
        except BaseException:
            writer.abort()
            rejects.abort()
            raise
        return files, [reject_file] if reject_file else []

    def _quarantine(self, window: Window, bad: list[Reject], rejects: RejectWriter) -> None:
        for r in bad:
            log.warning("window %s: quarantined %s/%s: %s", window.label, r.index, r.id, r.reason)
        rejects.write(bad)

    @contextmanager
    def _scratch(self) -> Iterator[Path]:
        base = self.archive_cfg.tmp_dir
        path = Path(tempfile.mkdtemp(prefix="reconcile-", dir=base))
        try:
            yield path
        finally:
            shutil.rmtree(path, ignore_errors=True)

    def _sink(self, stage: str) -> Callable[[Path, str, int], FileEntry]:
        def upload(local: Path, name: str, rows: int) -> FileEntry:
            size = local.stat().st_size
            self.store.put_file(local, stage + name)
            local.unlink(missing_ok=True)
            return FileEntry(name, rows, size)

        return upload

    def discard(self, stage: str) -> None:
        try:
            leftovers = [o.key for o in self.store.list(stage)]
            if leftovers:
                self.store.delete(leftovers)
        except ReconcileError as exc:  # never hide the original failure
            log.warning("could not clean staging %s: %s", stage, exc)
