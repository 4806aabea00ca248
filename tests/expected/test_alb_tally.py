"""ALB access logs parsed once: the per-object tally on moto's S3 and local disk."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from reconcile.demo.alb_traffic import DEFAULT_LB, write_alb_logs
from reconcile.expected import ExpectedConfig, expected_counts
from reconcile.expected.tally import fingerprint
from reconcile.job import load_job
from reconcile.storage import open_store
from reconcile.timewin import Window

pytestmark = pytest.mark.integration

REGION = "us-east-1"
DAY = datetime(2026, 11, 20, tzinfo=UTC)
START, END = DAY + timedelta(hours=20), DAY + timedelta(hours=24)


def hours(*spec: tuple[int, int]) -> dict[Window, int]:
    return {Window(DAY + timedelta(hours=h)): n for h, n in spec}


def cfg(uri: str, tally: str, **kw: object) -> ExpectedConfig:
    base = {
        "source": "alb_logs",
        "alb_logs_uri": uri,
        "load_balancers": [DEFAULT_LB],
        "region": REGION,
        "tally_uri": tally,
    }
    return ExpectedConfig(**{**base, **kw})


@pytest.fixture(params=["local", "s3"])
def tally_uri(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "local":
        return str(tmp_path / "tally")
    return f"s3://{request.getfixturevalue('s3_bucket')}/archive/_reconcile/alb-tally"


def test_a_second_run_parses_nothing_and_counts_the_same(s3_bucket: str, tally_uri: str) -> None:
    uri = f"s3://{s3_bucket}/alb"
    hourly = hours((20, 150), (21, 220), (22, 90), (23, 40))
    written = write_alb_logs(uri, hourly, malformed_lines=3, seed=5)
    c = cfg(uri, tally_uri)

    first = expected_counts(c, START, END)
    second = expected_counts(c, START, END)

    assert first.counts == second.counts == hourly
    assert first.detail["objects_parsed"] == len(written.keys) > 0
    assert first.detail["objects_from_tally"] == 0
    assert second.detail["objects_parsed"] == 0
    assert second.detail["objects_from_tally"] == len(written.keys)
    for key in ("excluded", "malformed", "lines", "outside_range", "load_balancers"):
        assert first.detail[key] == second.detail[key], key
    assert second.detail["malformed"]["count"] == 3  # still reported, with where they are
    # A narrower range reads the same tallies: per-hour counts are kept, not range totals.
    narrow = expected_counts(c, DAY + timedelta(hours=21), DAY + timedelta(hours=22))
    assert narrow.counts == hours((21, 220)) and narrow.detail["objects_parsed"] == 0


def test_only_new_objects_are_parsed_and_a_changed_object_again(
    s3_bucket: str, tally_uri: str
) -> None:
    uri = f"s3://{s3_bucket}/alb"
    write_alb_logs(uri, hours((20, 100), (21, 100)), seed=6)
    c = cfg(uri, tally_uri)
    expected_counts(c, START, END)
    later = write_alb_logs(uri, hours((22, 70)), seed=7)  # the next hour's deliveries
    got = expected_counts(c, START, END)
    assert got.counts == hours((20, 100), (21, 100), (22, 70), (23, 0))
    assert got.detail["objects_parsed"] == len(later.keys)

    # Another exclusion rule counts differently: a tally of its own, everything parsed again.
    other = cfg(uri, tally_uri, exclude_redirects=False)
    assert fingerprint(other) != fingerprint(c)
    again = expected_counts(other, START, END)
    assert again.detail["objects_from_tally"] == 0
    assert sum(again.counts.values()) >= sum(got.counts.values())


def test_an_unreadable_tally_costs_a_parse_never_a_wrong_count(
    s3_bucket: str, tmp_path: Path
) -> None:
    uri = f"s3://{s3_bucket}/alb"
    hourly = hours((20, 80), (21, 60), (22, 0), (23, 0))
    write_alb_logs(uri, hourly, seed=8)
    c = cfg(uri, str(tmp_path / "tally"))
    expected_counts(c, START, END)
    store = open_store(c.tally_uri)
    for obj in store.list():
        store.put_bytes(obj.key, b'{"format": 1, "objects": {"half-writ')  # torn by hand
    got = expected_counts(c, START, END)
    assert got.counts == hourly and got.detail["objects_from_tally"] == 0
    assert expected_counts(c, START, END).detail["objects_parsed"] == 0  # rewritten whole


def test_concurrent_runs_merge_their_tallies(s3_bucket: str) -> None:
    uri = f"s3://{s3_bucket}/alb"
    hourly = hours((20, 120), (21, 120), (22, 120), (23, 120))
    written = write_alb_logs(uri, hourly, seed=9)
    tally = f"s3://{s3_bucket}/archive/_reconcile/alb-tally"
    results: list[dict[Window, int]] = []
    # Each run sees a different half of the hours, so their writes must merge, not replace.
    ranges = [(START, START + timedelta(hours=2)), (START + timedelta(hours=2), END)] * 3

    def run(lo: datetime, hi: datetime) -> None:
        results.append(dict(expected_counts(cfg(uri, tally), lo, hi).counts))

    threads = [threading.Thread(target=run, args=r) for r in ranges]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(results) == 6
    whole = expected_counts(cfg(uri, tally), START, END)
    assert whole.counts == hourly
    assert whole.detail["objects_parsed"] == 0
    assert whole.detail["objects_from_tally"] == len(written.keys)


def test_the_job_keeps_the_tally_beside_the_archive(tmp_path: Path) -> None:
    archive = str(tmp_path / "archive")
    spec = load_job(None, {"archive.uri": (archive, "test")}, environ={})
    assert spec.expected.tally_uri == archive + "/_reconcile/alb-tally"
    off = load_job(
        None, {"archive.uri": (archive, "test"), "expected.tally_uri": ("none", "test")}, environ={}
    )
    assert off.expected.tally_uri == ""
