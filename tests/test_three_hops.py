"""Three hops on real servers: load balancer (moto CloudWatch) -> Elasticsearch (noida-db)
-> archive, with late logs, losses before Elasticsearch, deleted indexes and settle."""

from __future__ import annotations

import uuid
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from reconcile.archive.run import Archiver
from reconcile.backfill import backfill
from reconcile.check.run import check
from reconcile.cli import cli
from reconcile.demo.alb_traffic import put_request_counts
from reconcile.findings import HOP_ARCHIVE, HOP_INGEST
from reconcile.schedule.run import run_job
from reconcile.storage import open_store
from reconcile.timewin import Window, utcnow
from tests.alerts.conftest import SECRET
from tests.alerts.receivers import Receiver
from tests.archive.conftest import gen, load, manifest, read_rows, spec_for
from tests.check.helpers import counting_proxy
from tests.faultproxy import Rule, fault_proxy
from tests.servers import free_port

# Each test runs against noida-db (Elasticsearch API) and osmem-server (OpenSearch API).
pytestmark = pytest.mark.both_servers

#: Two days ago: CloudWatch still has one-minute data, and the hours are long closed.
DAY = (utcnow() - timedelta(days=2)).replace(hour=0, minute=0, second=0, microsecond=0)
H10 = Window(DAY + timedelta(hours=10))


def hour(h: int) -> Window:
    return Window(DAY + timedelta(hours=h))


def after(window: Window, minutes: int) -> Any:
    return window.end + timedelta(minutes=minutes)


@pytest.fixture
def lb(aws_endpoint: str) -> str:
    return f"app/t{uuid.uuid4().hex[:6]}/{uuid.uuid4().hex[:16]}"


def job(es_url: str, prefix: str, uri: str, lb: str, **extra: Any) -> Any:
    return spec_for(
        es_url,
        prefix,
        uri,
        **{
            "name": "hub",
            "expected.load_balancers": [lb],
            "run.archive_lookback_hours": 3,
            "run.recheck_lookback_hours": 3,
            "run.check_lookback_hours": 3,
            **extra,
        },
    )


def by_window(findings: list[Any]) -> dict[Window, Any]:
    return {Window(f.window_start): f for f in findings}


def test_late_documents_make_the_hour_stale_and_the_next_run_heals_it(
    es: Any, es_url: str, index_prefix: str, tmp_path: Path, lb: str
) -> None:
    index = f"{index_prefix}{DAY:%Y.%m.%d}"
    uri = str(tmp_path / "archive")
    put_request_counts({H10: 230}, lb)
    load(es, index, gen(H10, 200, seed=1))
    spec = job(es_url, index_prefix, uri, lb)

    first = run_job(spec, now=after(H10, 25))  # settled: archived; within grace: pending
    assert [(r.status, r.rows, r.revision) for r in first.archive.results if r.window == H10] == [
        ("archived", 200, 1)
    ]
    late = gen(H10, 30, seed=2)  # backpressure: delivered after the commit
    load(es, index, late)

    stale = by_window(check(spec, H10.start, H10.end, now=after(H10, 40)).findings)[H10]
    assert (stale.status, stale.expected, stale.indexed, stale.archived) == (
        "stale",
        230,
        230,
        200,
    ), stale
    assert stale.hop == HOP_ARCHIVE and stale.detail.late == 30
    assert "30 arrived after the commit" in stale.message

    second = run_job(spec, now=after(H10, 65))
    healed = [r for r in second.archive.results if r.window == H10]
    assert [(r.status, r.revision, r.late, r.rows) for r in healed] == [("archived", 2, 30, 230)]
    assert second.archive.late == 30 and second.archive.rearchived == 1
    ok = by_window(second.findings)[H10]
    assert (ok.status, ok.expected, ok.indexed, ok.archived, ok.hop) == ("ok", 230, 230, 230, None)
    ids = {r["_id"] for r in read_rows(open_store(uri), H10)}
    assert len(ids) == 230 and {d["trace_id"] for d in late} <= {
        r["trace_id"] for r in read_rows(open_store(uri), H10)
    }
    m = manifest(open_store(uri), H10)
    assert m is not None and m.revision == 2
    assert [(r["revision"], r["rows"], r["reason"]) for r in m.replaced] == [
        (1, 200, "30 late documents")
    ]

    third = run_job(spec, now=after(H10, 125))  # nothing new: no third revision
    assert H10 not in {r.window for r in third.archive.results}


def test_a_stale_alert_resolves_once_the_rearchive_commits(
    es: Any, es_url: str, index_prefix: str, tmp_path: Path, lb: str
) -> None:
    index = f"{index_prefix}{DAY:%Y.%m.%d}"
    uri = str(tmp_path / "archive")
    put_request_counts({H10: 120}, lb)
    load(es, index, gen(H10, 100, seed=1))
    rec = Receiver(free_port(), secret=SECRET).start()
    try:
        spec = job(
            es_url,
            index_prefix,
            uri,
            lb,
            **{
                "alerts.webhook_url": rec.url,
                "alerts.webhook_secret": SECRET,
                "alerts.state_uri": str(tmp_path / "state"),
                "run.archive": False,
            },
        )
        Archiver(spec).archive_window(H10, now=after(H10, 25))
        load(es, index, gen(H10, 20, seed=2))
        from reconcile.alerts import notify

        found = check(spec, H10.start, H10.end, now=after(H10, 40)).findings
        notify(spec, found, now=after(H10, 40))
        firing = [r.json() for r in rec.received]
        assert [(d["data"]["action"], d["data"]["labels"]["alertname"]) for d in firing] == [
            ("firing", "LogflowStale")
        ]
        assert firing[0]["data"]["severity"] == "warning"
        assert "20 arrived after the commit" in firing[0]["data"]["summary"]
        assert firing[0]["data"]["hours"][0]["indexed"] == 120

        Archiver(spec).archive_window(H10, now=after(H10, 65))  # the heal
        found = check(spec, H10.start, H10.end, now=after(H10, 66)).findings
        assert found[0].status == "ok"
        notify(spec, found, now=after(H10, 66))
        actions = [r.json()["data"]["action"] for r in rec.received]
        assert actions == ["firing", "resolved"]
        assert all(r.verified for r in rec.received)
    finally:
        rec.stop()


def test_loss_before_elasticsearch_is_a_gap_at_the_ingest_hop(
    es: Any, es_url: str, index_prefix: str, tmp_path: Path, lb: str
) -> None:
    put_request_counts({H10: 300}, lb)  # 50 requests never reached Elasticsearch
    load(es, f"{index_prefix}{DAY:%Y.%m.%d}", gen(H10, 250))
    spec = job(es_url, index_prefix, str(tmp_path / "a"), lb)
    Archiver(spec).archive(H10.start, H10.end, now=after(H10, 25))
    f = check(spec, H10.start, H10.end, now=after(H10, 40)).findings[0]
    assert (f.status, f.expected, f.indexed, f.archived, f.hop) == (
        "gap",
        300,
        250,
        250,
        HOP_INGEST,
    )
    assert "before Elasticsearch" in f.message


def test_a_window_never_archived_is_missing_at_the_archive_hop(
    es: Any, es_url: str, index_prefix: str, tmp_path: Path, lb: str
) -> None:
    put_request_counts({H10: 80}, lb)
    load(es, f"{index_prefix}{DAY:%Y.%m.%d}", gen(H10, 80))
    spec = job(es_url, index_prefix, str(tmp_path / "a"), lb)
    f = check(spec, H10.start, H10.end, now=after(H10, 40)).findings[0]
    assert (f.status, f.expected, f.indexed, f.archived, f.hop) == (
        "missing",
        80,
        80,
        0,
        HOP_ARCHIVE,
    )
    assert "Elasticsearch still holds 80 documents" in f.message


def test_an_index_deleted_after_archiving_leaves_its_windows_ok_with_indexed_null(
    es: Any, es_url: str, index_prefix: str, tmp_path: Path, lb: str
) -> None:
    old, new = f"{index_prefix}{DAY:%Y.%m.%d}", f"{index_prefix}later"
    put_request_counts({H10: 60, hour(11): 40}, lb)
    load(es, old, gen(H10, 60))
    load(es, new, gen(hour(11), 40))
    uri = str(tmp_path / "a")
    spec = job(es_url, index_prefix, uri, lb)
    Archiver(spec).archive(H10.start, hour(11).end, now=after(hour(11), 25))
    es.indices.delete(index=old)  # ILM's delete phase

    found = by_window(check(spec, H10.start, hour(11).end, now=after(hour(11), 40)).findings)
    gone, kept = found[H10], found[hour(11)]
    assert (gone.status, gone.expected, gone.indexed, gone.archived) == ("ok", 60, None, 60)
    assert old in gone.detail.indexed_note
    assert (kept.status, kept.indexed, kept.archived) == ("ok", 40, 40)
    again = Archiver(spec).archive(H10.start, hour(11).end, now=after(hour(11), 45))
    assert [r.status for r in again.results] == ["skipped", "skipped"]  # nothing shrinks
    assert manifest(open_store(uri), H10).rows == 60  # type: ignore[union-attr]


def test_settle_is_honoured_by_archive_backfill_and_run(
    es: Any, es_url: str, index_prefix: str, tmp_path: Path, lb: str
) -> None:
    load(es, f"{index_prefix}{DAY:%Y.%m.%d}", gen(H10, 30))
    uri = str(tmp_path / "a")
    spec = job(es_url, index_prefix, uri, lb, **{"archive.settle": "20m"})
    early = after(H10, 10)
    assert Archiver(spec).archive_window(H10, now=early).status == "settling"
    assert backfill(spec, H10.start, H10.end, workers=1, now=early).results[0].status == "settling"
    ran = run_job(spec, now=early)
    assert H10 not in {r.window for r in ran.archive.results}
    assert manifest(open_store(uri), H10) is None
    cli_args = ["archive", "--es-url", es_url, "--index", f"{index_prefix}*", "--archive", uri,
                "--from", H10.label, "--to", hour(11).label, "--format", "json"]  # fmt: skip
    result = CliRunner().invoke(cli, cli_args)
    assert result.exit_code == 0 and '"status":"archived"' in result.stdout.replace(" ", "")
    forced = Archiver(
        job(es_url, index_prefix, str(tmp_path / "b"), lb, **{"archive.allow_open_windows": True})
    ).archive_window(H10, now=early)
    assert forced.status == "archived" and forced.rows == 30


def test_grace_shorter_than_settle_is_a_configuration_error(tmp_path: Path) -> None:
    from reconcile.errors import ConfigError

    with pytest.raises(ConfigError, match=r"check.grace .* archive.settle"):
        spec_for("http://x", "p", str(tmp_path), **{"check.grace": "10m", "archive.settle": "15m"})


def test_retention_guard_from_a_configured_retention(
    es: Any, es_url: str, index_prefix: str, tmp_path: Path, lb: str
) -> None:
    put_request_counts({H10: 50}, lb)
    load(es, f"{index_prefix}{DAY:%Y.%m.%d}", gen(H10, 50))
    now = after(H10, 60)
    near = job(es_url, index_prefix, str(tmp_path / "a"), lb, **{"source.retention": "1d"})
    f = check(near, H10.start, H10.end, now=now).findings[0]
    assert f.status == "missing" and f.detail.severity == "critical"
    assert f"reconcile backfill --from {H10.label} --to {hour(11).label}" in f.message
    assert f.detail.deletes_at == (H10.end + timedelta(days=1)).strftime("%Y-%m-%dT%H:%M:%SZ")

    far = job(es_url, index_prefix, str(tmp_path / "a"), lb, **{"source.retention": "30d"})
    f = check(far, H10.start, H10.end, now=now).findings[0]
    assert f.status == "missing" and f.detail.severity is None and "URGENT" not in f.message
    assert "source.retention" in f.detail.deletes_basis


def test_indexed_counts_cost_a_handful_of_requests_for_many_windows(
    es: Any, es_url: str, index_prefix: str, tmp_path: Path, lb: str
) -> None:
    load(es, f"{index_prefix}{DAY:%Y.%m.%d}", gen(H10, 20))
    with counting_proxy(es_url) as proxy:
        spec = job(proxy.url, index_prefix, str(tmp_path / "a"), lb)
        start = DAY - timedelta(days=5)
        report = check(spec, start, DAY + timedelta(days=1), now=after(hour(23), 60))
    assert len(report.findings) == 144
    assert report.indexed_requests == 2 and report.indexed_method == "date_histogram"
    assert proxy.total <= 4  # mappings + one histogram (+ ILM explain, refused by noida-db)
    assert by_window(report.findings)[H10].indexed == 20


def test_a_server_that_cannot_aggregate_is_counted_hour_by_hour(
    es: Any, es_url: str, index_prefix: str, tmp_path: Path, lb: str
) -> None:
    load(es, f"{index_prefix}{DAY:%Y.%m.%d}", gen(H10, 20))
    with fault_proxy(es_url) as proxy:
        proxy.add(Rule("status", path="/_search", status=400))  # the histogram is refused
        spec = job(proxy.url, index_prefix, str(tmp_path / "a"), lb)
        report = check(spec, H10.start, hour(13).end, now=after(hour(13), 60))
    assert report.indexed_method == "count" and report.indexed_requests == 2 + 4
    assert [f.indexed for f in report.findings] == [20, 0, 0, 0]


def test_check_fails_loudly_when_elasticsearch_cannot_be_read(tmp_path: Path, lb: str) -> None:
    args = ["check", "--archive", str(tmp_path / "a"), "--load-balancer", lb, "--es-url",
            f"http://127.0.0.1:{free_port()}", "--from", H10.label, "--to", hour(11).label,
            "--no-results", "--format", "json"]  # fmt: skip
    env = {"RECONCILE_SOURCE_MAX_RETRIES": "0"}
    result = CliRunner().invoke(cli, args, env=env)
    assert result.exit_code == 1
    assert "Elasticsearch could not be read" in result.stderr
    assert '"indexed":null' in result.stdout.replace(" ", "")
