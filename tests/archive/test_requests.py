"""What archiving costs in requests: counted on the wire (botocore's send hook for S3, a
counting proxy for Elasticsearch), so a repeated or avoidable request shows as a failure."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from datetime import timedelta
from typing import Any
from urllib.parse import unquote, urlsplit

import boto3
import pytest

from reconcile.archive.run import Archiver
from reconcile.schedule.run import run_job
from reconcile.storage import open_store
from reconcile.timewin import Window, parse_time, windows
from tests.archive.conftest import NOW, gen, load, manifest, staging_keys
from tests.archive.conftest import spec_for as _spec_for
from tests.faultproxy import Rule, fault_proxy

FIRST = parse_time("2026-11-20T02")
SLICED = {"source.slices": 3, "source.slice_min_docs": 10}  # three files per window


def spec_for(es_url: str, prefix: str, uri: str, **extra: Any) -> Any:
    return _spec_for(es_url, prefix, uri, **{**SLICED, **extra})


class S3Requests:
    """Every S3 request any boto3 client of this process sends, by kind and key."""

    def __init__(self) -> None:
        self.sent: list[tuple[str, str]] = []

    def record(self, request: Any, **_: Any) -> None:
        parts = urlsplit(request.url)
        key = unquote(parts.path.lstrip("/").partition("/")[2])
        method = request.method
        if method == "GET":
            kind = "LIST" if not key or "list-type=" in parts.query else "GET"
        elif method == "PUT":
            kind = "COPY" if "x-amz-copy-source" in request.headers else "PUT"
        elif method == "POST" and "delete" in parts.query:
            kind = "DELETE"
        else:
            kind = method
        self.sent.append((kind, key))

    def counts(self) -> Counter[str]:
        return Counter(kind for kind, _ in self.sent)

    def reset(self) -> None:
        self.sent.clear()


@pytest.fixture
def s3_requests(monkeypatch: pytest.MonkeyPatch, aws_endpoint: str) -> Iterator[S3Requests]:
    rec = S3Requests()
    original = boto3.session.Session.client

    def client(self: Any, *args: Any, **kwargs: Any) -> Any:
        c = original(self, *args, **kwargs)
        c.meta.events.register("before-send.s3", rec.record)
        return c

    monkeypatch.setattr(boto3.session.Session, "client", client)
    yield rec


def hours(n: int) -> list[Window]:
    return list(windows(FIRST, FIRST + timedelta(hours=n)))


def load_hours(es: Any, prefix: str, n: int, docs: int = 60) -> list[Window]:
    wins = hours(n)
    for w in wins:
        load(es, f"{prefix}2026.11.20", gen(w, docs, seed=w.start.hour))
    return wins


def per_window_object_requests(files: int) -> Counter[str]:
    """What one window costs in S3 once its run has listed staging and read the table:
    its committed manifest (GET), the files and the staged manifest (PUT), one copy per
    file, one listing of the partition, the published manifest (PUT), one delete."""
    return Counter({"GET": 1, "PUT": files + 2, "COPY": files, "LIST": 1, "DELETE": 1})


def test_object_requests_per_window_are_what_the_commit_needs(
    es: Any, es_url: str, index_prefix: str, s3_bucket: str, s3_requests: S3Requests
) -> None:
    wins = load_hours(es, index_prefix, 3)
    uri = f"s3://{s3_bucket}/a"
    Archiver(spec_for(es_url, index_prefix, uri)).archive_window(wins[0], now=NOW)  # the table
    s3_requests.reset()

    summary = Archiver(spec_for(es_url, index_prefix, uri)).archive(
        wins[1].start, wins[-1].end, now=NOW
    )

    assert [r.status for r in summary.results] == ["archived", "archived"]
    assert {r.files for r in summary.results} == {3}
    # Per run: one listing of _staging/, one read of the table schema; then per window.
    run_fixed = Counter({"LIST": 1, "GET": 1})
    assert s3_requests.counts() == run_fixed + per_window_object_requests(3) + (
        per_window_object_requests(3)
    )
    keys = [k for kind, k in s3_requests.sent if kind == "GET"]
    assert not any("_staging/" in k for k in keys)  # the staged manifest is never read back
    store = open_store(uri)
    assert staging_keys(store) == []
    for w in wins[1:]:
        m = manifest(store, w)
        assert m is not None and m.rows == 60 and len(m.files) == 3


def test_elasticsearch_requests_per_window(
    es: Any, es_url: str, index_prefix: str, tmp_path: Any
) -> None:
    """Mappings, data streams, untimed counts once per run; per window a point in time
    (open, a page per slice, close) and the live count that verifies it."""
    wins = load_hours(es, index_prefix, 3)
    with fault_proxy(es_url) as proxy:
        count = {
            name: proxy.add(Rule("status", path=path, method=method, times=0))
            for name, path, method in (
                ("pit_open", "/_pit", "POST"),
                ("pit_close", "/_pit", "DELETE"),
                ("search", "/_search", "POST"),
                ("count", "/_count", "POST"),
                ("mapping", "/_mapping", "GET"),
            )
        }
        summary = Archiver(spec_for(proxy.url, index_prefix, str(tmp_path / "a"))).archive(
            wins[0].start, wins[-1].end, now=NOW
        )
    assert [r.status for r in summary.results] == ["archived"] * 3
    seen = {name: rule.seen for name, rule in count.items()}
    # search: one histogram for the range, then one page per slice (3) per window.
    # count: the index's untimed documents once, then each window's live count.
    assert seen == {
        "pit_open": 3,
        "pit_close": 3,
        "search": 1 + 3 * 3,
        "count": 1 + 3,
        "mapping": 1,
    }


def test_one_window_is_planned_with_a_count_not_a_histogram(
    es: Any, es_url: str, index_prefix: str, tmp_path: Any
) -> None:
    """An ad-hoc run of one hour asks ``_count`` where a range asks one histogram: on the
    local servers a histogram costs 1.5x (noida-db) to 7x (osmem-server) a count."""
    (win,) = load_hours(es, index_prefix, 1)
    with fault_proxy(es_url) as proxy:
        search = proxy.add(Rule("status", path="/_search", method="POST", times=0))
        count = proxy.add(Rule("status", path="/_count", method="POST", times=0))
        summary = Archiver(spec_for(proxy.url, index_prefix, str(tmp_path / "a"))).archive(
            win.start, win.end, now=NOW
        )
    (result,) = summary.results
    assert result.status == "archived" and result.rows == 60
    # search: only the pages (one per slice); count: untimed, the plan, the verification.
    assert (search.seen, count.seen) == (3, 3)


def test_the_scheduled_run_reads_each_manifest_once(
    es: Any, es_url: str, index_prefix: str, s3_bucket: str, s3_requests: S3Requests
) -> None:
    wins = load_hours(es, index_prefix, 3)
    now = wins[-1].end + timedelta(minutes=30)
    spec = spec_for(
        es_url,
        index_prefix,
        f"s3://{s3_bucket}/run",
        **{"run.archive_lookback_hours": 3, "run.recheck_lookback_hours": 3},
    )
    report = run_job(spec, now=now)
    assert [r.status for r in report.archive.results] == ["archived"] * 3
    manifests = Counter(
        k for kind, k in s3_requests.sent if kind == "GET" and k.endswith("_manifest.json")
    )
    assert sorted(manifests) == sorted(f"run/{w.partition}/_manifest.json" for w in wins)
    assert set(manifests.values()) == {1}
    assert s3_requests.counts()["HEAD"] == 0

    s3_requests.reset()
    again = run_job(spec, now=now)  # everything committed: one read of each manifest
    assert again.archive.results == []
    manifests = Counter(
        k for kind, k in s3_requests.sent if kind == "GET" and k.endswith("_manifest.json")
    )
    assert set(manifests.values()) == {1} and len(manifests) == 3
