"""The source interface on both local servers: which one ``auto`` finds, exact point-in-time
reads under timestamp ties across shards and indices, data streams in the manifest, and
what OpenSearch's own order and point-in-time bookkeeping look like."""

from __future__ import annotations

import logging
from collections import Counter
from typing import Any

import pytest

from reconcile.archive.normalize import iso_nanos
from reconcile.archive.run import Archiver
from reconcile.source.base import Slice, backing_from_resolve
from reconcile.source.factory import AutoSource, open_source
from reconcile.storage import open_store
from tests.archive.conftest import NOW, W, gen, load, manifest, read_rows, spec_for
from tests.faultproxy import FaultProxy, Rule, fault_proxy
from tests.test_opensearch_unit import RESOLVE

KIND = {"noida": "elasticsearch", "osmem": "opensearch"}


def tied(es: Any, prefix: str, n: int = 1200) -> list[str]:
    """``n`` documents in two 3-shard indexes, three to a millisecond: ``_doc`` and the
    timestamp alone both tie across shards."""
    names = [f"{prefix}a", f"{prefix}b"]
    for name in names:
        es.indices.create(
            index=name,
            settings={"number_of_shards": 3},
            mappings={"properties": {"@timestamp": {"type": "date"}, "n": {"type": "long"}}},
        )
    from reconcile.demo.es_docs import bulk_index

    base = W.start_ms + 60_000
    bulk_index(es, ((names[i % 2], {"@timestamp": base + i // 3, "n": i}) for i in range(n)))
    return names


@pytest.mark.both_servers
def test_auto_finds_the_server_kind_and_logs_it(
    server: str, es_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="reconcile.source.factory")
    src = open_source(spec_for(es_url, "none-", "unused").source)
    assert isinstance(src, AutoSource)
    assert src.kind == KIND[server]
    assert src.ping()
    assert f"answers as {KIND[server]}" in caplog.text


#: The serializer class each server's everyday client decodes JSON responses with.
DECODER = {
    "noida": ("elastic_transport", "OrjsonSerializer"),
    "osmem": ("opensearchpy.serializer", "JSONSerializer"),
}


@pytest.mark.both_servers
def test_auto_reads_pages_as_raw_json_not_through_the_clients_decoder(
    server: str, es: Any, es_url: str, index_prefix: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Decoding a page into Python objects, then encoding it again for the archive's own
    # decoder, doubled the client CPU on OpenSearch when ``auto`` picked the server.
    import importlib

    names = tied(es, index_prefix, 300)
    module, name = DECODER[server]
    cls = getattr(importlib.import_module(module), name)
    decoded: list[int] = []
    original = cls.loads

    def counting(self: Any, data: Any) -> Any:
        decoded.append(len(data))
        return original(self, data)

    src = open_source(spec_for(es_url, index_prefix, "unused", **{"source.page_size": 100}).source)
    assert isinstance(src, AutoSource) and src.kind == KIND[server]
    with src.point_in_time(names) as pit:
        monkeypatch.setattr(cls, "loads", counting)
        pages = list(pit.pages(W))
        monkeypatch.undo()
    assert sum(len(p) for p in pages) == 300 and len(pages) >= 3
    assert decoded == [], f"{len(decoded)} page responses went through {name}.loads"


@pytest.mark.both_servers
@pytest.mark.parametrize("slices", [1, 3])
def test_point_in_time_reads_are_exact_under_ties_across_shards(
    es: Any, es_url: str, index_prefix: str, slices: int
) -> None:
    names = tied(es, index_prefix)
    src = open_source(spec_for(es_url, index_prefix, "unused", **{"source.page_size": 50}).source)
    totals: dict[int, int] = {}
    seen: list[tuple[str, str]] = []
    with src.point_in_time(names) as pit:
        for i in range(slices):
            for page in pit.pages(W, Slice(i, slices), totals):
                seen += [(h.index, h.id) for h in page.hits]
    assert len(seen) == len(set(seen)) == 1200
    assert sum(totals.values()) == 1200


def read_requests(proxy: FaultProxy) -> Counter[str]:
    """The proxy's requests by kind: point-in-time open and close (either server's API),
    searches and counts."""

    def kind(method: str, path: str) -> str:
        path = path.partition("?")[0]
        if path.endswith(("/_pit", "/_search/point_in_time")):
            return "pit_open" if method == "POST" else "pit_close"
        return path.rsplit("/", 1)[-1]

    return Counter(kind(m, p) for m, p in proxy.sent)


@pytest.mark.both_servers
def test_a_window_of_one_page_is_read_by_one_search_without_a_point_in_time(
    es: Any, es_url: str, index_prefix: str, tmp_path: Any
) -> None:
    # Exactly a page, over two 3-shard indexes with timestamps tied across shards: the
    # boundary case, and a read that must not lose or repeat a hit.
    tied(es, index_prefix, 300)
    uri = str(tmp_path / "a")
    with fault_proxy(es_url) as proxy:
        spec = spec_for(proxy.url, index_prefix, uri, **{"source.page_size": 300})
        result = Archiver(spec).archive_window(W, now=NOW)
    assert result.status == "archived", result.message
    rows = read_rows(open_store(uri))
    assert len({(r["_index"], r["_id"]) for r in rows}) == len(rows) == 300
    m = manifest(open_store(uri))
    assert m is not None and m.source["count"] == m.source["count_live"] == 300
    sent = read_requests(proxy)
    assert sent["pit_open"] == sent["pit_close"] == 0
    # Which indexes the window touches (one aggregation), then the one search of the window.
    assert sent["_search"] == 2


@pytest.mark.both_servers
def test_a_window_grown_past_a_page_since_its_count_is_read_through_a_point_in_time(
    es: Any, es_url: str, index_prefix: str, tmp_path: Any, caplog: pytest.LogCaptureFixture
) -> None:
    # The plan counted 50 (a window still filling when it was counted); the search finds
    # 300, more than its page of 100: the window is read again through a point in time.
    load(es, f"{index_prefix}one", gen(W, 300))
    uri = str(tmp_path / "a")

    def fewer(body: dict[str, Any]) -> dict[str, Any]:
        return {**body, "count": 50}

    caplog.set_level(logging.INFO, logger="reconcile.source.reader")
    with fault_proxy(es_url) as proxy:
        plan = proxy.add(Rule("rewrite", path="/_count", times=1, rewrite=fewer))
        spec = spec_for(proxy.url, index_prefix, uri, **{"source.page_size": 100})
        summary = Archiver(spec).archive(W.start, W.end, now=NOW)
    (result,) = summary.results
    assert plan.fired == 1
    assert result.status == "archived" and result.rows == 300, result.message
    rows = read_rows(open_store(uri))
    assert len({r["_id"] for r in rows}) == len(rows) == 300
    sent = read_requests(proxy)
    assert sent["pit_open"] == sent["pit_close"] == 1
    assert "more than a page of 100 since it was counted" in caplog.text


@pytest.mark.both_servers
def test_data_stream_backing_indices_are_recorded_in_the_manifest(
    es: Any, es_url: str, index_prefix: str, tmp_path: Any
) -> None:
    # Neither local server hosts data streams: the resolution is a recorded answer.
    class RecordedStreams(AutoSource):
        def data_streams(self) -> dict[str, list[str]]:
            return backing_from_resolve(RESOLVE)

    tied(es, index_prefix, 30)
    spec = spec_for(es_url, index_prefix, str(tmp_path / "a"))
    result = Archiver(spec, source=RecordedStreams(spec.source)).archive_window(W, now=NOW)
    assert result.status == "archived", result.message
    m = manifest(open_store(str(tmp_path / "a")))
    assert m is not None
    assert m.source["data_streams"] == backing_from_resolve(RESOLVE)
    assert m.source["indices"] == [f"{index_prefix}a", f"{index_prefix}b"]


@pytest.mark.both_servers
def test_no_data_stream_leaves_the_manifest_as_before(
    es: Any, es_url: str, index_prefix: str, tmp_path: Any
) -> None:
    tied(es, index_prefix, 30)
    spec = spec_for(es_url, index_prefix, str(tmp_path / "a"))
    assert Archiver(spec).archive_window(W, now=NOW).status == "archived"
    m = manifest(open_store(str(tmp_path / "a")))
    assert m is not None and "data_streams" not in m.source


@pytest.mark.parametrize("server", ["osmem"], indirect=True)
def test_a_tiebreak_that_is_not_a_total_order_is_refused_and_nothing_is_committed(
    es: Any, es_url: str, index_prefix: str, tmp_path: Any
) -> None:
    # osmem-server reports 3.8.0 and accepts _shard_doc, but its values are per-shard Lucene
    # doc ids: equal across shards. The order check stops the read instead of skipping.
    tied(es, index_prefix)
    uri = str(tmp_path / "a")
    spec = spec_for(es_url, index_prefix, uri, **{"source.tiebreak": "shard_doc"})
    result = Archiver(spec).archive_window(W, now=NOW)
    assert result.status == "failed"
    assert "not a total order" in result.message
    assert manifest(open_store(uri)) is None
    # The failed read deleted its point in time too.
    assert es.client.transport.perform_request("GET", "/_search/point_in_time/_all") == {"pits": []}
    # ... and with the default order the same window is exact.
    spec = spec_for(es_url, index_prefix, uri)
    result = Archiver(spec).archive_window(W, now=NOW)
    assert result.status == "archived" and result.rows == 1200
    assert len({r["_id"] for r in read_rows(open_store(uri))}) == 1200


@pytest.mark.parametrize("server", ["osmem"], indirect=True)
def test_every_opensearch_point_in_time_is_deleted(
    es: Any, es_url: str, index_prefix: str, tmp_path: Any
) -> None:
    tied(es, index_prefix, 300)
    spec = spec_for(
        es_url,
        index_prefix,
        str(tmp_path / "a"),
        **{"source.slices": 3, "source.slice_min_docs": 50},
    )
    assert Archiver(spec).archive_window(W, now=NOW).status == "archived"
    assert es.client.transport.perform_request("GET", "/_search/point_in_time/_all") == {"pits": []}


@pytest.mark.both_servers
def test_a_date_nanos_timestamp_places_documents_in_windows_exactly(
    es: Any, es_url: str, index_prefix: str, tmp_path: Any
) -> None:
    index = f"{index_prefix}nanos"
    es.indices.create(index=index, mappings={"properties": {"@timestamp": {"type": "date_nanos"}}})
    from reconcile.demo.es_docs import bulk_index

    docs = [
        {"@timestamp": "2026-11-20T12:59:59.999999999Z", "n": 0},  # the hour before
        {"@timestamp": "2026-11-20T13:00:00.000000000Z", "n": 1},
        {"@timestamp": "2026-11-20T13:30:00.123456789Z", "n": 2},
        {"@timestamp": "2026-11-20T13:59:59.999999999Z", "n": 3},
        {"@timestamp": "2026-11-20T14:00:00.000000001Z", "n": 4},  # the hour after
    ]
    bulk_index(es, ((index, d) for d in docs))
    uri = str(tmp_path / "a")
    spec = spec_for(es_url, index_prefix, uri)
    src = open_source(spec.source)
    assert src.count(W) == 3
    hourly = src.hourly_counts(W.start - (W.end - W.start), W.end + (W.end - W.start))
    assert [hourly.counts[k] for k in sorted(hourly.counts)] == [1, 3, 1]
    result = Archiver(spec).archive_window(W, now=NOW)
    assert result.status == "archived" and result.rows == 3, result.message
    rows = sorted(read_rows(open_store(uri)), key=lambda r: r["n"])
    assert [r["n"] for r in rows] == [1, 2, 3]
    # The timestamp column stays milliseconds (Athena's timestamp); the nanoseconds survive,
    # exactly, in the bigint column beside it (docs/opensearch.md, "Nanosecond timestamps").
    assert rows[1]["@timestamp"].microsecond == 123_000
    assert [r["@timestamp_nanos"] for r in rows] == [iso_nanos(d["@timestamp"]) for d in docs[1:4]]
    assert rows[1]["@timestamp_nanos"] % 1_000_000_000 == 123_456_789
