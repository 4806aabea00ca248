"""The scheduled run: catch-up after downtime, the lease, exit codes, pushed metrics."""

from __future__ import annotations

import time
import urllib.request
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from reconcile.lease import Lease, LeaseHeld
from reconcile.schedule.run import LEASE_KEY, run_job
from reconcile.storage import open_store
from reconcile.timewin import Window, parse_time, windows
from tests.archive.conftest import gen, load, spec_for
from tests.servers import pushgateway_server

# Each test runs against noida-db (Elasticsearch API) and osmem-server (OpenSearch API).
pytestmark = pytest.mark.both_servers

NOW = parse_time("2026-11-20T10:25")  # hour 09 closed and settled (archive.settle 20m)
HOUR = parse_time("2026-11-20T10")


@pytest.fixture
def six_hours(es: Any, index_prefix: str) -> str:
    for w in windows(HOUR - timedelta(hours=6), HOUR):
        load(es, f"{index_prefix}2026.11.20", gen(w, 50, seed=w.start.hour))
    return index_prefix


def _spec(es_url: str, prefix: str, uri: str, **extra: Any) -> Any:
    return spec_for(
        es_url,
        prefix,
        uri,
        **{"run.archive_lookback_hours": 4, "run.max_windows_per_run": 3, **extra},
    )


def test_run_catches_up_oldest_first_and_bounded(
    es_url: str, six_hours: str, tmp_path: Path
) -> None:
    uri = str(tmp_path / "a")
    first = run_job(_spec(es_url, six_hours, uri), now=NOW)
    assert [r.window.label for r in first.archive.results] == [
        "2026-11-20T06",
        "2026-11-20T07",
        "2026-11-20T08",
    ]
    assert first.exit_code == 0
    assert any("check (no expected" in s for s in first.skipped)

    second = run_job(_spec(es_url, six_hours, uri), now=NOW)
    assert [r.window.label for r in second.archive.results] == ["2026-11-20T09"]
    third = run_job(_spec(es_url, six_hours, uri), now=NOW + timedelta(hours=1))
    assert [r.window.label for r in third.archive.results] == ["2026-11-20T10"]
    store = open_store(uri)
    assert (
        store.get_bytes(Window(parse_time("2026-11-20T05")).partition + "/_manifest.json") is None
    )  # outside the lookback
    assert store.get_versioned(LEASE_KEY) is not None  # released, not deleted


def test_a_second_run_does_not_start_while_the_lease_is_held(
    es_url: str, six_hours: str, tmp_path: Path
) -> None:
    uri = str(tmp_path / "a")
    lease = Lease(open_store(uri), LEASE_KEY, "run lease of job default")
    held = lease.acquire(ttl_s=60)
    with pytest.raises(LeaseHeld, match="holds the run lease of job default"):
        run_job(_spec(es_url, six_hours, uri), now=NOW)
    assert open_store(uri).list("dt=") == []  # the second run archived nothing
    lease.release(held)
    assert run_job(_spec(es_url, six_hours, uri), now=NOW).archive.count("archived") == 3


def test_an_expired_lease_of_a_crashed_run_is_taken_over(
    es_url: str, six_hours: str, tmp_path: Path
) -> None:
    uri = str(tmp_path / "a")
    Lease(open_store(uri), LEASE_KEY, "run lease").acquire(ttl_s=0.01)
    time.sleep(0.05)  # never released: the holder "died"
    report = run_job(_spec(es_url, six_hours, uri), now=NOW)
    assert report.archive.count("archived") == 3


@pytest.fixture
def pushgateway(tmp_path: Path) -> Iterator[str]:
    with pushgateway_server(tmp_path) as url:
        yield url


def test_run_metrics_are_pushed(
    es_url: str, six_hours: str, tmp_path: Path, pushgateway: str
) -> None:
    spec = _spec(
        es_url,
        six_hours,
        str(tmp_path / "a"),
        **{"run.pushgateway_url": pushgateway, "name": "hub"},
    )
    assert run_job(spec, now=NOW).exit_code == 0
    with urllib.request.urlopen(pushgateway + "/metrics") as resp:
        text = resp.read().decode()
    lines = [line for line in text.splitlines() if 'reconcile_job="hub"' in line]
    assert any(
        line.startswith("reconcile_windows_archived{") and line.endswith(" 3") for line in lines
    ), lines
    assert any(
        line.startswith("reconcile_documents_archived{") and line.endswith(" 150") for line in lines
    )
    assert any(line.startswith("reconcile_last_success_timestamp_seconds{") for line in lines)
    assert any(
        line.startswith("reconcile_last_run_exit_code{") and line.endswith(" 0") for line in lines
    )
