"""Archive integration tests against the real local Elasticsearch-compatible server and
S3 (moto over HTTP) or a local directory."""

from __future__ import annotations

import gzip
from typing import Any

import orjson
import pytest

from reconcile.archive.run import Archiver
from reconcile.storage import ObjectStore
from reconcile.timewin import Window
from tests.archive.conftest import (
    NOW,
    W,
    gen,
    load,
    manifest,
    parquet_keys,
    read_rows,
    spec_for,
    staging_keys,
)

# Each test runs against noida-db (Elasticsearch API) and osmem-server (OpenSearch API).
pytestmark = pytest.mark.both_servers


def test_multi_index_window_is_archived_exactly(
    es: Any, es_url: str, index_prefix: str, archive_uri: str, store: ObjectStore
) -> None:
    # Late events land in the next day's index: the window spans two indexes.
    load(es, f"{index_prefix}2026.11.20", gen(W, 700, seed=1))
    load(es, f"{index_prefix}2026.11.21", gen(W, 300, seed=2))
    load(es, f"{index_prefix}2026.11.21", gen(Window(W.end), 50, seed=3))  # next hour, not ours
    spec = spec_for(
        es_url, index_prefix, archive_uri, **{"source.slices": 2, "source.slice_min_docs": 200}
    )

    result = Archiver(spec).archive_window(W, now=NOW)

    assert result.status == "archived", result.message
    assert (result.rows, result.quarantined, result.source_count) == (1000, 0, 1000)
    m = manifest(store)
    assert m is not None
    assert m.rows == 1000 and m.source_count == 1000
    assert m.source["indices"] == [f"{index_prefix}2026.11.20", f"{index_prefix}2026.11.21"]
    assert sorted(f.path for f in m.files) == sorted(k.split("/")[-1] for k in parquet_keys(store))
    rows = read_rows(store)
    assert len(rows) == 1000
    assert len({r["_id"] for r in rows}) == 1000
    assert {r["_index"] for r in rows} == {f"{index_prefix}2026.11.20", f"{index_prefix}2026.11.21"}
    assert all(W.start <= r["@timestamp"] < W.end for r in rows)
    assert staging_keys(store) == []


def test_mapping_conflict_gets_one_column_type_and_is_recorded(
    es: Any, es_url: str, index_prefix: str, archive_uri: str, store: ObjectStore
) -> None:
    a, b = f"{index_prefix}2026.11.20", f"{index_prefix}2026.11.21"
    es.indices.create(
        index=a,
        mappings={"properties": {"@timestamp": {"type": "date"}, "status": {"type": "long"}}},
    )
    es.indices.create(
        index=b,
        mappings={"properties": {"@timestamp": {"type": "date"}, "status": {"type": "keyword"}}},
    )
    load(es, a, [{"@timestamp": "2026-11-20T13:01:00Z", "status": 200}])
    load(es, b, [{"@timestamp": "2026-11-20T13:02:00Z", "status": "OK"}])

    result = Archiver(spec_for(es_url, index_prefix, archive_uri)).archive_window(W, now=NOW)

    assert result.status == "archived" and result.rows == 2 and result.conflicts == 1
    m = manifest(store)
    assert m is not None
    assert m.conflicts == [
        {"field": "status", "types": {a: "long", b: "keyword"}, "resolved": "string"}
    ]
    assert m.schema["columns"]["status"] == "string"
    assert sorted(r["status"] for r in read_rows(store)) == ["200", "OK"]


def test_unconvertible_and_oversized_documents_are_quarantined_not_dropped(
    es: Any, es_url: str, index_prefix: str, archive_uri: str, store: ObjectStore
) -> None:
    index = f"{index_prefix}2026.11.20"
    es.indices.create(
        index=index,
        mappings={
            "properties": {
                "@timestamp": {"type": "date"},
                "latency": {"type": "long", "ignore_malformed": True},
                "note": {"type": "keyword"},
            }
        },
    )
    docs = gen(W, 40)
    docs.append({"@timestamp": "2026-11-20T13:30:00Z", "latency": "slow", "note": "malformed"})
    docs.append({"@timestamp": "2026-11-20T13:31:00Z", "latency": 5, "note": "x" * 5000})
    load(es, index, docs)
    spec = spec_for(es_url, index_prefix, archive_uri, **{"archive.max_doc_bytes": 2000})

    result = Archiver(spec).archive_window(W, now=NOW)

    assert result.status == "archived", result.message
    assert (result.rows, result.quarantined, result.source_count) == (40, 2, 42)
    m = manifest(store)
    assert m is not None and m.rows + m.quarantined == m.source_count == 42
    assert [r.path for r in m.rejects] == ["_rejects/part-000.jsonl.gz"]
    raw = store.get_bytes(f"{W.partition}/_rejects/part-000.jsonl.gz")
    assert raw is not None
    rejects = [orjson.loads(line) for line in gzip.decompress(raw).splitlines()]
    reasons = sorted(r["reason"] for r in rejects)
    assert reasons[0].startswith("document source is") and "max_doc_bytes=2000" in reasons[0]
    assert reasons[1] == "field latency: 'slow' is not an integer"
    assert {r["source"]["note"][:9] for r in rejects} == {"malformed", "xxxxxxxxx"}
    assert all(r["_id"] and r["_index"] == index for r in rejects)


def test_documents_without_timestamp_are_reported_and_in_no_window(
    es: Any, es_url: str, index_prefix: str, archive_uri: str, store: ObjectStore
) -> None:
    index = f"{index_prefix}2026.11.20"
    load(
        es,
        index,
        [*gen(W, 10), {"message": "no time"}, {"message": "nor this", "@timestamp": None}],
    )

    result = Archiver(spec_for(es_url, index_prefix, archive_uri)).archive_window(W, now=NOW)

    assert result.status == "archived" and result.rows == 10
    m = manifest(store)
    assert m is not None and m.source["untimed_in_indices"] == 2


def test_objects_arrays_nulls_and_unmapped_fields(
    es: Any, es_url: str, index_prefix: str, archive_uri: str, store: ObjectStore
) -> None:
    index = f"{index_prefix}2026.11.20"
    es.indices.create(
        index=index,
        mappings={
            "dynamic": False,
            "properties": {
                "@timestamp": {"type": "date"},
                "http": {"properties": {"status": {"type": "long"}, "path": {"type": "keyword"}}},
                "tags": {"type": "keyword"},
                "ports": {"type": "long"},
            },
        },
    )
    load(
        es,
        index,
        [
            {
                "@timestamp": "2026-11-20T13:00:01Z",
                "http": {"status": 200, "path": "/a", "extra": 1},
                "tags": ["a", "b"],
                "ports": [80, 443],
                "unmapped": {"k": "v"},
            },
            {"@timestamp": "2026-11-20T13:00:02Z", "http": None, "tags": "solo", "ports": [8080]},
        ],
    )
    spec = spec_for(es_url, index_prefix, archive_uri, **{"archive.array_fields": ["tags"]})

    assert Archiver(spec).archive_window(W, now=NOW).status == "archived"

    rows = sorted(read_rows(store), key=lambda r: r["@timestamp"])
    first, second = rows
    assert first["http"] == {"status": 200, "path": "/a"}
    assert first["tags"] == ["a", "b"]
    assert first["ports"] is None  # several values in a scalar column move to _extra
    assert orjson.loads(first["_extra"]) == {
        "http.extra": 1,
        "ports": [80, 443],
        "unmapped": {"k": "v"},
    }
    assert second["http"] is None and second["tags"] == ["solo"] and second["ports"] == 8080
    assert second["_extra"] is None


def test_rerun_skips_then_force_replaces_without_stale_files(
    es: Any, es_url: str, index_prefix: str, archive_uri: str, store: ObjectStore
) -> None:
    index = f"{index_prefix}2026.11.20"
    load(es, index, gen(W, 3000))
    small_files = spec_for(
        es_url,
        index_prefix,
        archive_uri,
        **{"archive.max_file_rows": 1000, "archive.row_group_rows": 1000},
    )
    first = Archiver(small_files).archive_window(W, now=NOW)
    assert first.status == "archived" and first.files == 3
    before = manifest(store)

    again = Archiver(small_files).archive_window(W, now=NOW)
    assert again.status == "skipped"
    assert manifest(store) == before

    load(es, index, gen(W, 500, seed=9))  # late arrivals, then a forced re-archive into fewer files
    forced = Archiver(spec_for(es_url, index_prefix, archive_uri)).archive_window(
        W, force=True, now=NOW
    )
    assert forced.status == "archived" and forced.rows == 3500 and forced.files == 1
    after = manifest(store)
    assert after is not None and after.run_id != before.run_id  # type: ignore[union-attr]
    assert [k.split("/")[-1] for k in parquet_keys(store)] == ["part-000-00000.parquet"]
    rows = read_rows(store)
    assert len(rows) == 3500 and len({r["_id"] for r in rows}) == 3500
    assert staging_keys(store) == []


def test_open_window_is_refused(
    es: Any, es_url: str, index_prefix: str, archive_uri: str, store: ObjectStore
) -> None:
    load(es, f"{index_prefix}2026.11.20", gen(W, 5))
    result = Archiver(spec_for(es_url, index_prefix, archive_uri)).archive_window(W, now=W.start)
    assert result.status == "open"
    assert store.list("") == []


def test_empty_window_is_committed_with_zero_rows(
    es: Any, es_url: str, index_prefix: str, archive_uri: str, store: ObjectStore
) -> None:
    load(es, f"{index_prefix}2026.11.20", gen(Window(W.end), 5))
    result = Archiver(spec_for(es_url, index_prefix, archive_uri)).archive_window(W, now=NOW)
    assert result.status == "archived" and result.rows == 0
    m = manifest(store)
    assert m is not None and m.rows == 0 and m.files == [] and m.source_count == 0
