"""Archived counts: what is really in object storage, hour partition by hour partition.

For each window the partition is listed (one paginated listing per day), every data file's
Parquet footer is read (one ranged GET per file: its size comes from the listing, so no
HEAD) and the ``_manifest.json`` commit record is read. Rows are counted from the footers,
never from the data, and the footers are compared with the manifest: a missing, extra,
unreadable or changed file is a disagreement the judgement reports.

Object requests: ``days x list pages + windows with a manifest + data files``; never
proportional to rows.
"""

from __future__ import annotations

import logging
import threading
from collections import defaultdict
from collections.abc import Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import pyarrow as pa
import pyarrow.dataset as ds
import pyarrow.fs as pafs

from ..errors import StorageError
from ..storage import ObjectInfo, ObjectStore
from ..timewin import Window, windows
from .layout import MANIFEST, REJECTS, Manifest

log = logging.getLogger(__name__)

_PARQUET = ds.ParquetFileFormat()


@dataclass(frozen=True, slots=True)
class PartFile:
    """A data file found in a partition, with its row count from the Parquet footer."""

    path: str
    """Relative to the partition directory, e.g. ``part-000-00000.parquet``."""
    bytes: int
    rows: int | None
    """``None`` when the footer could not be read."""
    error: str | None = None


@dataclass(slots=True)
class WindowArchive:
    """What one hour partition holds, and how it compares with its manifest."""

    window: Window
    files: list[PartFile] = field(default_factory=list)
    rejects: dict[str, int] = field(default_factory=dict)
    """Quarantine files present under ``_rejects/``: path -> bytes."""
    manifest: Manifest | None = None
    manifest_error: str | None = None
    """Set when ``_manifest.json`` exists but cannot be parsed."""

    @property
    def committed(self) -> bool:
        """A commit record exists (even one that cannot be parsed)."""
        return self.manifest is not None or self.manifest_error is not None

    @property
    def rows(self) -> int:
        """Rows in the partition's data files, from their footers."""
        return sum(f.rows or 0 for f in self.files)

    @property
    def bytes(self) -> int:
        return sum(f.bytes for f in self.files)

    @property
    def quarantined(self) -> int:
        """Documents the manifest says were quarantined to ``_rejects/``."""
        return self.manifest.quarantined if self.manifest else 0

    def mismatch(self) -> dict[str, Any] | None:
        """How the files disagree with the manifest; ``None`` when they agree.

        Only meaningful for a committed window: an uncommitted one has no record to
        disagree with (see :meth:`uncommitted`).
        """
        if self.manifest_error is not None:
            return {"manifest_unreadable": self.manifest_error, "file_rows": self.rows}
        if self.manifest is None:
            return None
        listed = {f.path: f for f in self.manifest.files}
        found = {f.path: f for f in self.files}
        out: dict[str, Any] = {}
        missing = sorted(set(listed) - set(found))
        extra = sorted(set(found) - set(listed))
        unreadable = [{"path": f.path, "error": f.error} for f in self.files if f.rows is None]
        rows_differ = [
            {"path": p, "manifest_rows": listed[p].rows, "file_rows": found[p].rows}
            for p in sorted(set(listed) & set(found))
            if found[p].rows is not None and found[p].rows != listed[p].rows
        ]
        bytes_differ = [
            {"path": p, "manifest_bytes": listed[p].bytes, "file_bytes": found[p].bytes}
            for p in sorted(set(listed) & set(found))
            if found[p].bytes != listed[p].bytes
        ]
        rejects_missing = sorted({r.path for r in self.manifest.rejects} - set(self.rejects))
        for key, value in (
            ("missing_files", missing),
            ("extra_files", extra),
            ("unreadable_files", unreadable),
            ("rows_differ", rows_differ),
            ("bytes_differ", bytes_differ),
            ("missing_rejects", rejects_missing),
        ):
            if value:
                out[key] = value
        if not out:
            return None
        out["manifest_rows"] = self.manifest.rows
        out["file_rows"] = self.rows
        return out

    def uncommitted(self) -> dict[str, Any] | None:
        """Data files present in a partition that has no manifest (an interrupted run)."""
        if self.committed or not self.files:
            return None
        return {"files": [f.path for f in self.files], "file_rows": self.rows}


@dataclass(slots=True)
class ArchiveScan:
    """Every window of a range, plus the object requests it took."""

    windows: dict[Window, WindowArchive]
    list_calls: int = 0
    """Listings started (one per day; S3 pages them per 1,000 keys)."""
    manifest_reads: int = 0
    footer_reads: int = 0

    @property
    def requests(self) -> int:
        return self.list_calls + self.manifest_reads + self.footer_reads


def _is_data(rel: str) -> bool:
    """Athena/Hive read every file whose path parts do not start with ``_`` or ``.``."""
    return not any(part.startswith(("_", ".")) for part in rel.split("/"))


def _group(objects: Iterable[ObjectInfo], wanted: set[Window]) -> dict[Window, list[ObjectInfo]]:
    out: dict[Window, list[ObjectInfo]] = defaultdict(list)
    for obj in objects:
        parts = obj.key.split("/", 2)
        if len(parts) < 3 or not parts[0].startswith("dt=") or not parts[1].startswith("hour="):
            continue
        try:
            window = Window.from_partition(parts[0][3:], parts[1][5:])
        except ValueError:
            log.warning("ignoring %s: not a dt=YYYY-MM-DD/hour=HH partition", obj.key)
            continue
        if window in wanted:
            out[window].append(obj)
    return out


class ArchiveReader:
    """Reads partitions of one archive; thread-safe, reusable across ranges."""

    def __init__(self, store: ObjectStore, workers: int = 16) -> None:
        self.store = store
        self.workers = workers
        self._fs: pafs.FileSystem | None = None
        self._base = ""
        self._lock = threading.Lock()

    def _arrow(self) -> tuple[pafs.FileSystem, str]:
        with self._lock:
            if self._fs is None:
                self._fs, self._base = self.store.arrow()
            return self._fs, self._base

    def _fragment(self, key: str, size: int) -> ds.ParquetFileFragment:
        # The size from the listing spares a HEAD: one ranged GET of the footer per file.
        fs, base = self._arrow()
        return _PARQUET.make_fragment(f"{base}/{key}", filesystem=fs, file_size=size)

    def footer_rows(self, key: str, size: int) -> int:
        """Row count from one file's Parquet footer."""
        return int(self._fragment(key, size).metadata.num_rows)

    def footer_schema(self, key: str, size: int) -> pa.Schema:
        """Arrow schema from one file's Parquet footer."""
        return self._fragment(key, size).physical_schema

    def scan(self, start: datetime, end: datetime) -> ArchiveScan:
        """Every window of ``[start, end)``: files with footer rows, rejects, manifest."""
        wanted = list(windows(start, end))
        days = sorted({w.dt for w in wanted})
        scan = ArchiveScan({w: WindowArchive(w) for w in wanted})
        with ThreadPoolExecutor(min(self.workers, max(1, len(days))), "list") as pool:
            listings = list(pool.map(lambda d: self.store.list(f"dt={d}/"), days))
        scan.list_calls = len(days)
        grouped = _group((o for listing in listings for o in listing), set(wanted))
        tasks: list[tuple[str, WindowArchive, ObjectInfo]] = []
        for window, objects in grouped.items():
            record = scan.windows[window]
            prefix = f"{window.partition}/"
            for obj in objects:
                rel = obj.key[len(prefix) :]
                if rel == MANIFEST:
                    tasks.append(("manifest", record, obj))
                elif rel.startswith(REJECTS + "/"):
                    record.rejects[rel] = obj.size
                elif _is_data(rel):
                    tasks.append(("footer", record, obj))
        with ThreadPoolExecutor(self.workers, "footer") as pool:
            for _ in pool.map(lambda t: self._read(*t), tasks):
                pass
        for record in scan.windows.values():
            record.files.sort(key=lambda f: f.path)
        scan.manifest_reads = sum(1 for t in tasks if t[0] == "manifest")
        scan.footer_reads = len(tasks) - scan.manifest_reads
        return scan

    def _read(self, what: str, record: WindowArchive, obj: ObjectInfo) -> None:
        rel = obj.key[len(record.window.partition) + 1 :]
        if what == "manifest":
            data = self.store.get_bytes(obj.key)
            if data is None:  # deleted between listing and reading
                return
            try:
                record.manifest = Manifest.from_json(data)
            except (ValueError, TypeError, KeyError) as exc:
                record.manifest_error = f"{type(exc).__name__}: {exc}"
            return
        try:
            rows: int | None = self.footer_rows(obj.key, obj.size)
            error = None
        except FileNotFoundError:
            return  # deleted between listing and reading: not in the partition any more
        except (pa.ArrowInvalid, ValueError) as exc:  # not Parquet, truncated, corrupt footer
            rows, error = None, f"{type(exc).__name__}: {exc}"
        except OSError as exc:  # the store itself failed: the check cannot run
            raise StorageError(f"read footer of {obj.key} on {self.store.uri}: {exc}") from exc
        with self._lock:
            record.files.append(PartFile(rel, obj.size, rows, error))
