"""Elasticsearch misbehaving mid-read: throttling, 5xx, dropped connections, expired point in
time, counts that move. Through a fault-injecting proxy in front of the real server."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from reconcile.archive.run import Archiver
from reconcile.storage import open_store
from tests.archive.conftest import NOW, W, gen, load, manifest, read_rows, spec_for, staging_keys
from tests.faultproxy import FaultProxy, Rule, fault_proxy

# Each test runs against noida-db (Elasticsearch API) and osmem-server (OpenSearch API).
pytestmark = pytest.mark.both_servers

FAST_RETRY = {"source.retry_max_wait_s": 0.2, "source.max_retries": 4}


@pytest.fixture
def proxy(es_url: str) -> Iterator[FaultProxy]:
    with fault_proxy(es_url) as p:
        yield p


@pytest.fixture
def loaded(es: Any, index_prefix: str) -> str:
    load(es, f"{index_prefix}2026.11.20", gen(W, 2500))
    return index_prefix


def test_throttling_5xx_and_dropped_connections_are_retried_to_an_exact_archive(
    proxy: FaultProxy, loaded: str, tmp_path: Any
) -> None:
    uri = str(tmp_path / "a")
    throttle = proxy.add(Rule("status", status=429, retry_after="0", every=2, times=2))
    unavailable = proxy.add(Rule("status", status=503, every=3, times=2))
    dropped = proxy.add(Rule("drop", every=2, times=2))
    spec = spec_for(proxy.url, loaded, uri, **FAST_RETRY)

    result = Archiver(spec).archive_window(W, now=NOW)

    assert result.status == "archived", result.message
    assert (throttle.fired, unavailable.fired, dropped.fired) == (2, 2, 2)
    store = open_store(uri)
    rows = read_rows(store)
    assert len(rows) == 2500 and len({r["_id"] for r in rows}) == 2500


def test_persistent_failure_fails_the_window_and_commits_nothing(
    proxy: FaultProxy, loaded: str, tmp_path: Any
) -> None:
    uri = str(tmp_path / "a")
    proxy.add(Rule("status", status=503, every=1, times=10_000, path="/_search"))
    spec = spec_for(proxy.url, loaded, uri, **FAST_RETRY)

    result = Archiver(spec).archive_window(W, now=NOW)

    assert result.status == "failed"
    assert "gave up after 5 attempts" in result.message and "503" in result.message
    store = open_store(uri)
    assert manifest(store) is None and staging_keys(store) == []


def test_expired_point_in_time_restarts_the_window(
    proxy: FaultProxy, loaded: str, tmp_path: Any
) -> None:
    uri = str(tmp_path / "a")
    expired = proxy.add(Rule("pit_expired", every=3, times=1))
    result = Archiver(spec_for(proxy.url, loaded, uri, **FAST_RETRY)).archive_window(W, now=NOW)

    assert expired.fired == 1
    assert result.status == "archived" and result.rows == 2500
    rows = read_rows(open_store(uri))
    assert len(rows) == 2500 and len({r["_id"] for r in rows}) == 2500


def test_count_mismatch_refuses_to_commit(proxy: FaultProxy, loaded: str, tmp_path: Any) -> None:
    uri = str(tmp_path / "a")

    def one_more(body: dict[str, Any]) -> dict[str, Any]:
        body["count"] = int(body["count"]) + 1  # a document arrived after the snapshot
        return body

    proxy.add(Rule("rewrite", path="/_count", every=1, times=100, rewrite=one_more))
    result = Archiver(spec_for(proxy.url, loaded, uri)).archive_window(W, now=NOW)

    assert result.status == "failed"
    assert "2026-11-20T13" in result.message
    assert "Elasticsearch now counts 2501" in result.message and "2500" in result.message
    store = open_store(uri)
    assert manifest(store) is None and staging_keys(store) == []
