"""Where the archive's client CPU goes, stage by stage, on pages a real server answered.

    python -m bench.pages                    # 50,000 documents, 10 pages of 5,000
    python -m bench.pages --write-docs       # also replaces the section in docs/benchmarks.md

Loads N synthetic access-log documents (the archive bench's mapping and generator) into a
local noida-db, reads them back through a point in time with reconcile's request body and
keeps each response's bytes; then, with no server running, measures the CPU (process time,
garbage collection on, as in the archive) of every step a page goes through:

- what the raw reader does: ``orjson.loads`` of the whole response into dicts;
- reconcile's direct path: ``decode_page`` (msgspec: metadata typed, each ``_source`` kept
  as raw JSON) and ``PageConverter`` (Arrow's JSON reader with the window's schema);
- the row path it falls back to (``RowConverter`` over dicts), for comparison;
- the zstd Parquet encoding of the converted batches.

This isolates the conversion from the HTTP client, the server and the upload, which
``bench/archive.py`` measures end to end.
"""

from __future__ import annotations

import argparse
import gc
import io
import json
import platform
import shutil
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from bench.docs import replace_section

ROOT = Path(__file__).resolve().parent.parent
DOCS = ROOT / "docs" / "benchmarks.md"
SECTION = "## Archive CPU by stage (`bench/pages.py`)"


def capture(docs: int, page_size: int, work: Path) -> tuple[list[bytes], dict[str, Any]]:
    """Response bodies of every page of one window, and the index mapping."""
    import urllib3

    from bench.archive import INDEX_PREFIX, WINDOW_START, load_index
    from reconcile.demo.es_docs import daily_index
    from reconcile.demo.localstack import elasticsearch_server
    from reconcile.timewin import Window

    index = daily_index(INDEX_PREFIX, WINDOW_START)
    w = Window(WINDOW_START)
    with elasticsearch_server(work) as url:
        load_index(url, index, docs)
        http = urllib3.PoolManager()
        pit = json.loads(http.request("POST", f"{url}/{index}/_pit?keep_alive=5m").data)["id"]
        body: dict[str, Any] = {
            "size": page_size,
            "query": {"range": {"@timestamp": {"gte": w.start_ms, "lt": w.end_ms, "format": "epoch_millis"}}},
            "sort": [{"_shard_doc": "asc"}],
            "docvalue_fields": [{"field": "@timestamp", "format": "epoch_millis"}],
            "pit": {"id": pit, "keep_alive": "5m"},
            "track_total_hits": False,
        }  # fmt: skip
        pages: list[bytes] = []
        while True:
            data = http.request(
                "POST", f"{url}/_search", body=json.dumps(body),
                headers={"content-type": "application/json"},
            ).data  # fmt: skip
            hits = json.loads(data)["hits"]["hits"]
            if not hits:
                break
            pages.append(data)
            body["search_after"] = hits[-1]["sort"]
        mapping = json.loads(http.request("GET", f"{url}/{index}/_mapping").data)
    return pages, {k: v["mappings"] for k, v in mapping.items()}


def measure(pages: list[bytes], mapping: dict[str, Any], rounds: int) -> dict[str, float]:
    """CPU µs per document of each stage, over ``rounds`` passes of every page."""
    import orjson
    import pyarrow as pa
    import pyarrow.parquet as pq

    from reconcile.archive.config import ArchiveConfig
    from reconcile.archive.convert import RowConverter
    from reconcile.archive.direct import PageConverter
    from reconcile.archive.schema import build_schema
    from reconcile.source.page import Page, decode_page

    schema = build_schema(mapping, "@timestamp")
    direct, rows = PageConverter(schema, 1 << 20), RowConverter(schema, 1 << 20)
    spent: dict[str, float] = {}
    docs = 0

    def timed(stage: str, fn: Callable[..., Any], *args: Any) -> Any:
        t0 = time.process_time()
        out = fn(*args)
        spent[stage] = spent.get(stage, 0.0) + time.process_time() - t0
        return out

    def convert_direct(page: Page) -> list[pa.RecordBatch]:
        return [b for b, _ in direct.convert(page) if b is not None]

    def convert_rows(hits: list[dict[str, Any]]) -> list[Any]:
        return [rows.convert(hits[i : i + 1024]) for i in range(0, len(hits), 1024)]

    cfg = ArchiveConfig()

    def encode(table: pa.Table) -> None:  # the archive's codec and level
        pq.write_table(
            table,
            io.BytesIO(),
            compression=cfg.compression,
            compression_level=cfg.compression_level,
            coerce_timestamps="ms",
        )

    for round_no in range(rounds + 1):
        if round_no == 1:  # round 0 warms up (allocator, Arrow's kernels): not counted
            spent.clear()
            docs = 0
        for body in pages:
            timed("raw reader: orjson.loads of the response", orjson.loads, body)
            page = timed("decode_page (msgspec, sources kept raw)", decode_page, body, "bench")
            docs += len(page)
            batches = timed("PageConverter (Arrow JSON reader)", convert_direct, page)
            hits = timed("row path instead: each source to a dict (orjson)", page.dicts)
            timed("row path instead: RowConverter over the dicts", convert_rows, hits)
            timed("Parquet encoding (the archive's codec)", encode, pa.Table.from_batches(batches))
            # One page alive at a time, as in the archive: the collector's work in the next
            # page's stages must not depend on what this one left behind.
            del page, batches, hits
            gc.collect()
    if direct.tally.row_pages:
        raise SystemExit(f"{direct.tally.row_pages} pages took the row path; expected none")
    return {stage: round(s / docs * 1e6, 2) for stage, s in spent.items()}


def _hwm_mb() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return 0.0


def replay(pages_dir: Path, docs: int, slices: int) -> dict[str, float]:
    """In this process: ``docs`` documents of the captured pages (cycled) through the
    archive's convert and Parquet path, ``slices`` writers as in a window read with that
    many slices, files handed to a sink that deletes them; peak RSS and CPU."""
    import pyarrow as pa  # noqa: F401  (imports before the baseline, as in the archive)

    from reconcile.archive.config import ArchiveConfig
    from reconcile.archive.direct import PageConverter
    from reconcile.archive.layout import FileEntry
    from reconcile.archive.schema import build_schema
    from reconcile.archive.writer import ParquetSliceWriter
    from reconcile.source.page import decode_page

    bodies = [p.read_bytes() for p in sorted(pages_dir.glob("page-*.json"))]
    mapping = json.loads((pages_dir / "mapping.json").read_text())
    schema = build_schema(mapping, "@timestamp")
    cfg = ArchiveConfig()
    base = _hwm_mb()
    cpu0 = time.process_time()

    def sink(local: Path, name: str, rows: int) -> FileEntry:
        size = local.stat().st_size
        local.unlink()
        return FileEntry(name, rows, size)

    with tempfile.TemporaryDirectory(prefix="bench-replay-") as tmp:
        buffer = cfg.buffer_mb * 1024 * 1024 // slices
        parts = [
            (PageConverter(schema, cfg.max_doc_bytes),
             ParquetSliceWriter(schema.arrow, cfg, i, Path(tmp), sink, buffer))
            for i in range(slices)
        ]  # fmt: skip
        done = i = 0
        while done < docs:
            conv, writer = parts[i % slices]
            page = decode_page(bodies[i % len(bodies)], "replay")
            for batch, _ in conv.convert(page):
                if batch is not None:
                    writer.write(batch)
            done += len(page)
            i += 1
            del page
        for _, writer in parts:
            writer.close()
    return {
        "docs": done,
        "peak_rss_mb": round(_hwm_mb(), 1),
        "after_imports_mb": round(base, 1),
        "cpu_s_per_mdocs": round((time.process_time() - cpu0) / done * 1e6, 2),
    }


def memory(pages: list[bytes], mapping: dict[str, Any], sizes: list[int], slices: int) -> list[Any]:
    """Each size in a fresh process (so each peak RSS is its own)."""
    import subprocess

    out = []
    with tempfile.TemporaryDirectory(prefix="bench-pages-") as tmp:
        d = Path(tmp)
        for n, body in enumerate(pages):
            (d / f"page-{n:04d}.json").write_bytes(body)
        (d / "mapping.json").write_text(json.dumps(mapping))
        for size in sizes:
            cmd = [sys.executable, "-m", "bench.pages", "--replay", str(d), str(size), str(slices)]
            res = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, check=True)
            out.append(json.loads(res.stdout.strip().splitlines()[-1]))
    return out


def markdown(result: dict[str, Any]) -> str:
    us = result["us_per_doc"]
    raw = us["raw reader: orjson.loads of the response"]
    ours = us["decode_page (msgspec, sources kept raw)"] + us["PageConverter (Arrow JSON reader)"]
    row = (
        us["row path instead: each source to a dict (orjson)"]
        + us["row path instead: RowConverter over the dicts"]
    )
    lines = [
        f"{result['docs']:,} documents in {result['pages']} pages of {result['page_size']:,} "
        f"(about {result['bytes_per_doc']:.0f} bytes of response per document), read from "
        f"noida-db once and then converted {result['rounds']} times (after one warm-up round) "
        f"with no server running; "
        f"{result['machine']}.",
        "",
        "| stage | CPU µs per document |",
        "|---|---:|",
        *(f"| {stage} | {v:.2f} |" for stage, v in us.items()),
        "",
        f"Reconcile decodes and converts a page for {ours:.2f} µs per document, where the raw "
        f"reader only decodes it, for {raw:.2f} µs. Pages that do not fit their columns "
        f"exactly take the row path instead: {row:.2f} µs per document.",
        "",
        *_memory_lines(result.get("memory", [])),
        f"Command: `{result['command']}`.",
    ]
    return "\n".join(lines) + "\n"


def _memory_lines(rows: list[dict[str, Any]]) -> list[str]:
    if not rows:
        return []
    lines = [
        "Memory: the same pages replayed (cycled) through the archive's convert and Parquet "
        f"path, {rows[0].get('slices', 4)} slice writers with the default buffer, files "
        "deleted as they are finished; one fresh process per size, no server, no upload:",
        "",
        "| documents | peak RSS MB | of it, imports MB | CPU s per million documents |",
        "|---:|---:|---:|---:|",
        *(
            f"| {r['docs']:,} | {r['peak_rss_mb']:.0f} | {r['after_imports_mb']:.0f} | "
            f"{r['cpu_s_per_mdocs']:.1f} |"
            for r in rows
        ),
    ]
    first, last = rows[0]["peak_rss_mb"], rows[-1]["peak_rss_mb"]
    lines += [
        "",
        f"Peak RSS growth {rows[0]['docs']:,} → {rows[-1]['docs']:,}: {last / first - 1:+.1%}.",
        "",
    ]
    return lines


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m bench.pages", description=__doc__)
    p.add_argument("--docs", type=int, default=50_000)
    p.add_argument("--page-size", type=int, default=5_000)
    p.add_argument("--rounds", type=int, default=3)
    p.add_argument("--write-docs", action="store_true")
    p.add_argument(
        "--memory",
        type=int,
        nargs="*",
        default=[250_000, 1_000_000],
        help="document counts for the memory replay (none: skip it)",
    )
    p.add_argument("--slices", type=int, default=4)
    p.add_argument("--replay", nargs=3, metavar=("DIR", "DOCS", "SLICES"), help=argparse.SUPPRESS)
    args = sys.argv[1:] if argv is None else argv
    if args[:1] == ["--replay"]:
        d, n, k = args[1:4]
        row = replay(Path(d), int(n), int(k))
        print(json.dumps({**row, "slices": int(k)}))
        return 0
    a = p.parse_args(argv)
    work = Path(tempfile.mkdtemp(prefix="bench-pages-"))
    try:
        pages, mapping = capture(a.docs, a.page_size, work)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    size = sum(map(len, pages))
    result = {
        "docs": a.docs,
        "pages": len(pages),
        "page_size": a.page_size,
        "rounds": a.rounds,
        "bytes_per_doc": size / a.docs,
        "machine": f"{platform.machine()}, Python {platform.python_version()}",
        "command": "python -m bench.pages " + " ".join(argv if argv is not None else sys.argv[1:]),
        "us_per_doc": measure(pages, mapping, a.rounds),
        "memory": memory(pages, mapping, sorted(a.memory), a.slices) if a.memory else [],
    }
    (ROOT / "bench" / "results").mkdir(exist_ok=True)
    (ROOT / "bench" / "results" / "pages-latest.json").write_text(
        json.dumps(result, indent=1) + "\n"
    )
    body = markdown(result)
    print(body)
    if a.write_docs:
        replace_section(SECTION, body, DOCS, create=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
