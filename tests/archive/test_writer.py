"""Unit tests of the slice writer: the slices of a window take turns to encode a row
group, and finished files are handed over (uploaded) outside that turn."""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from reconcile.archive.config import ArchiveConfig
from reconcile.archive.layout import FileEntry
from reconcile.archive.writer import ParquetSliceWriter

SCHEMA = pa.schema([pa.field("n", pa.int64()), pa.field("s", pa.string())])


def batch(lo: int, hi: int) -> pa.RecordBatch:
    return pa.record_batch(
        [pa.array(range(lo, hi), pa.int64()), pa.array([f"v{i % 7}" for i in range(lo, hi)])],
        schema=SCHEMA,
    )


class Overlap:
    """Wraps ``ParquetWriter.write_table``: each call waits (up to ``wait_s``) for a second
    one to be inside at the same time, and records the most seen at once."""

    def __init__(self, real: Any, wait_s: float) -> None:
        self.real = real
        self.wait_s = wait_s
        self.inside = 0
        self.most = 0
        self.lock = threading.Lock()
        self.both = threading.Event()

    def __call__(self, writer: Any, table: pa.Table, **kw: Any) -> None:
        with self.lock:
            self.inside += 1
            self.most = max(self.most, self.inside)
            if self.inside == 2:
                self.both.set()
        self.both.wait(self.wait_s)
        try:
            self.real(writer, table, **kw)
        finally:
            with self.lock:
                self.inside -= 1


def keep(tmp: Path) -> tuple[list[Path], Any]:
    kept: list[Path] = []

    def sink(local: Path, name: str, rows: int) -> FileEntry:
        dest = tmp / "out" / name
        dest.parent.mkdir(exist_ok=True)
        local.rename(dest)
        kept.append(dest)
        return FileEntry(name, rows, dest.stat().st_size)

    return kept, sink


@pytest.mark.parametrize("shared", [True, False])
def test_slices_encode_one_row_group_at_a_time(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, shared: bool
) -> None:
    overlap = Overlap(pq.ParquetWriter.write_table, wait_s=0.5)
    monkeypatch.setattr(
        pq.ParquetWriter, "write_table", lambda w, table, **kw: overlap(w, table, **kw)
    )
    kept, sink = keep(tmp_path)
    turn = threading.Lock() if shared else None
    cfg = ArchiveConfig()
    writers = [ParquetSliceWriter(SCHEMA, cfg, i, tmp_path, sink, 1 << 20, turn) for i in range(2)]
    start = threading.Barrier(2)

    def run(i: int) -> None:
        w = writers[i]
        w.write(batch(i * 5000, i * 5000 + 5000))
        start.wait()
        w.close()  # both flush at once, as slices filling at the same pace do

    threads = [threading.Thread(target=run, args=(i,)) for i in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    # Without the shared turn the two encodings overlap: the check can fail.
    assert overlap.most == (1 if shared else 2)
    got = sorted(n for p in kept for n in pq.read_table(p).column("n").to_pylist())
    assert got == list(range(10_000))


def test_files_are_handed_over_outside_the_turn(tmp_path: Path) -> None:
    turn = threading.Lock()
    seen: list[tuple[str, int, bool]] = []

    def sink(local: Path, name: str, rows: int) -> FileEntry:
        seen.append((name, pq.read_metadata(local).num_rows, turn.locked()))
        return FileEntry(name, rows, local.stat().st_size)

    cfg = ArchiveConfig(max_file_rows=1_000, row_group_rows=1_000)
    w = ParquetSliceWriter(SCHEMA, cfg, 3, tmp_path, sink, 1 << 20, turn)
    w.write(batch(0, 2_500))
    files = w.close()
    assert [(f.path, f.rows) for f in files] == [
        ("part-003-00000.parquet", 1_000),
        ("part-003-00001.parquet", 1_000),
        ("part-003-00002.parquet", 500),
    ]
    assert [(n, rows) for n, rows, _ in seen] == [(f.path, f.rows) for f in files]
    assert not any(held for _, _, held in seen)
