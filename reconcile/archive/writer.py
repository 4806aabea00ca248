"""Streaming Parquet and quarantine writers for one slice of one window.

Batches are buffered up to a row-group budget, written to a local scratch file, and each
finished file is handed to ``on_file`` (which uploads it to staging and deletes the local
copy), so memory is bounded by the buffer and disk by one file per slice. The slices of a
window encode their row groups one at a time (``encoding``): they fill their buffers at
the same pace, and encoding both at once doubled the transient memory of encoding
(dictionaries, pages, compression) at every flush.
"""

from __future__ import annotations

import gzip
import threading
from collections.abc import Callable
from contextlib import AbstractContextManager, nullcontext
from pathlib import Path

import orjson
import pyarrow as pa
import pyarrow.parquet as pq

from .config import ArchiveConfig
from .convert import Reject
from .layout import FileEntry, part_name, reject_name

#: Called with (local file, name relative to the window directory, rows) once a file is complete.
FileSink = Callable[[Path, str, int], FileEntry]


def open_parquet(path: Path, schema: pa.Schema, cfg: ArchiveConfig) -> pq.ParquetWriter:
    """A Parquet writer with the archive's settings (codec, statistics, INT64 millis)."""
    codec = None if cfg.compression == "none" else cfg.compression
    level = cfg.compression_level if codec in ("zstd", "gzip") else None
    return pq.ParquetWriter(
        path,
        schema,
        compression=codec or "none",
        compression_level=level,
        write_statistics=True,
        # Athena/Trino and DuckDB both read INT64 timestamps with UTC adjustment.
        coerce_timestamps="ms",
        allow_truncated_timestamps=False,
    )


def write_file(table: pa.Table, path: Path, cfg: ArchiveConfig) -> None:
    """One whole Parquet file (a rewrite of a committed one), row groups as configured."""
    with open_parquet(path, table.schema, cfg) as writer:
        writer.write_table(table, row_group_size=cfg.row_group_rows)


class ParquetSliceWriter:
    """Writes one slice's batches as ``part-SSS-NNNNN.parquet`` files."""

    def __init__(
        self,
        schema: pa.Schema,
        cfg: ArchiveConfig,
        slice_id: int,
        scratch: Path,
        sink: FileSink,
        buffer_bytes: int,
        encoding: threading.Lock | None = None,
    ) -> None:
        self.schema = schema
        self.cfg = cfg
        self.slice_id = slice_id
        self.scratch = scratch
        self.sink = sink
        self.buffer_bytes = buffer_bytes
        self.files: list[FileEntry] = []
        self._buffer: list[pa.RecordBatch] = []
        self._buffered_rows = 0
        self._buffered_bytes = 0
        self._writer: pq.ParquetWriter | None = None
        self._file_rows = 0
        self._opened = 0  # files opened so far: names are numbered in order
        self._local: Path | None = None
        #: Held while a row group is encoded; shared by the slices of a window.
        self._encoding: AbstractContextManager[object] = encoding or nullcontext()

    def write(self, batch: pa.RecordBatch) -> None:
        self._buffer.append(batch)
        self._buffered_rows += batch.num_rows
        self._buffered_bytes += batch.nbytes
        if (
            self._buffered_rows >= self.cfg.row_group_rows
            or self._buffered_bytes >= self.buffer_bytes
        ):
            self._flush()

    def _open(self) -> pq.ParquetWriter:
        name = part_name(self.slice_id, self._opened)
        self._opened += 1
        self._local = self.scratch / name
        self._writer = open_parquet(self._local, self.schema, self.cfg)
        self._file_rows = 0
        return self._writer

    def _flush(self) -> None:
        if not self._buffer:
            return
        finished: list[tuple[Path, int]] = []
        with self._encoding:
            table = pa.Table.from_batches(self._buffer, schema=self.schema)
            self._buffer.clear()
            self._buffered_rows = self._buffered_bytes = 0
            offset = 0
            while offset < table.num_rows:
                writer = self._writer or self._open()
                room = self.cfg.max_file_rows - self._file_rows
                chunk = table.slice(offset, min(room, self.cfg.row_group_rows))
                writer.write_table(chunk, row_group_size=self.cfg.row_group_rows)
                self._file_rows += chunk.num_rows
                offset += chunk.num_rows
                if self._file_rows >= self.cfg.max_file_rows:
                    finished.append(self._close_file())
            del table
        for local, rows in finished:  # uploads run outside the lock
            self._hand_over(local, rows)

    def _close_file(self) -> tuple[Path, int]:
        assert self._writer is not None and self._local is not None
        self._writer.close()
        done = (self._local, self._file_rows)
        self._writer = None
        self._local = None
        return done

    def _hand_over(self, local: Path, rows: int) -> None:
        self.files.append(self.sink(local, local.name, rows))

    def _finish_file(self) -> None:
        if self._writer is not None and self._local is not None:
            self._hand_over(*self._close_file())

    def close(self) -> list[FileEntry]:
        """Flush what is buffered and hand over the last file."""
        self._flush()
        self._finish_file()
        return self.files

    def abort(self) -> None:
        if self._writer is not None:
            self._writer.close()
        if self._local is not None:
            self._local.unlink(missing_ok=True)
        self._buffer.clear()


class RejectWriter:
    """Writes one slice's quarantined documents as gzipped JSON lines, with the reason."""

    def __init__(self, slice_id: int, scratch: Path, sink: FileSink, window_label: str) -> None:
        self.name = reject_name(slice_id)
        self.local = scratch / f"rejects-{slice_id:03d}.jsonl.gz"
        self.sink = sink
        self.window_label = window_label
        self.rows = 0
        self._fh: gzip.GzipFile | None = None

    def write(self, rejects: list[Reject]) -> None:
        if not rejects:
            return
        if self._fh is None:
            self._fh = gzip.open(self.local, "wb", compresslevel=6)  # noqa: SIM115 (closed in close/abort)
        for r in rejects:
            record = {
                "_id": r.id,
                "_index": r.index,
                "window": self.window_label,
                "reason": r.reason,
                "source": r.source,
            }
            self._fh.write(orjson.dumps(record, option=orjson.OPT_NON_STR_KEYS) + b"\n")
        self.rows += len(rejects)

    def close(self) -> FileEntry | None:
        if self._fh is None:
            return None
        self._fh.close()
        self._fh = None
        return self.sink(self.local, self.name, self.rows)

    def abort(self) -> None:
        if self._fh is not None:
            self._fh.close()
        self.local.unlink(missing_ok=True)
