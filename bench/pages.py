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

    def encode(table: pa.Table) -> None:
        pq.write_table(
            table, io.BytesIO(), compression="zstd", compression_level=3, coerce_timestamps="ms"
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
            timed("zstd Parquet encoding", encode, pa.Table.from_batches(batches))
            # One page alive at a time, as in the archive: the collector's work in the next
            # page's stages must not depend on what this one left behind.
            del page, batches, hits
            gc.collect()
    if direct.tally.row_pages:
        raise SystemExit(f"{direct.tally.row_pages} pages took the row path; expected none")
    return {stage: round(s / docs * 1e6, 2) for stage, s in spent.items()}


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
        f"Command: `{result['command']}`.",
    ]
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m bench.pages", description=__doc__)
    p.add_argument("--docs", type=int, default=50_000)
    p.add_argument("--page-size", type=int, default=5_000)
    p.add_argument("--rounds", type=int, default=3)
    p.add_argument("--write-docs", action="store_true")
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
