"""Alert state in object storage: conditional writes, the lease, and concurrent runs."""

from __future__ import annotations

import json
import threading
import time
from pathlib import Path

import boto3
import pytest

from reconcile.alerts import AlertStateError, notify
from reconcile.alerts.cas import LocalConditionalStore, conditional
from reconcile.alerts.state import AlertState, StateStore
from reconcile.storage import open_store
from tests.alerts.conftest import SECRET, hour, lf, spec_for
from tests.alerts.receivers import Receiver, Reply


def stores(tmp_path: Path, bucket: str) -> list[str]:
    return [str(tmp_path / "local"), f"s3://{bucket}/alerts-state"]


@pytest.mark.integration
def test_conditional_writes_on_local_and_s3(tmp_path: Path, s3_bucket: str) -> None:
    for uri in stores(tmp_path, s3_bucket):
        cas = conditional(open_store(uri))
        assert cas.get("a/x.json") is None
        etag = cas.create("a/x.json", b"one")
        assert etag is not None
        assert cas.create("a/x.json", b"two") is None, uri  # exists: create loses
        assert cas.get("a/x.json") == (b"one", etag)
        assert cas.replace("a/x.json", b"three", '"not-the-etag"') is None, uri
        new = cas.replace("a/x.json", b"three", etag)
        assert new is not None and new != etag
        assert cas.replace("a/x.json", b"four", etag) is None, uri  # stale etag loses
        assert cas.get("a/x.json") == (b"three", new)
        assert cas.replace("a/missing.json", b"x", new) is None


def _race(uri: str, key: str, racers: int = 4) -> list[int]:
    """``racers`` threads create ``key`` at once; the indexes of those that won."""
    wins: list[int] = []
    barrier = threading.Barrier(racers)

    def go(i: int) -> None:
        cas = conditional(open_store(uri))
        barrier.wait()
        if cas.create(key, str(i).encode()) is not None:
            wins.append(i)

    threads = [threading.Thread(target=go, args=(i,)) for i in range(racers)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return wins


@pytest.mark.integration
def test_create_race_has_one_winner(tmp_path: Path, s3_bucket: str) -> None:
    for uri in stores(tmp_path, s3_bucket):
        for trial in range(5):
            wins = _race(uri, f"race/{trial}.json")
            assert len(wins) == 1, (uri, trial, wins)


def test_lease_blocks_a_second_holder_and_expires(tmp_path: Path) -> None:
    store = StateStore(LocalConditionalStore(tmp_path), "hub")
    first = store.acquire(ttl_s=0.6, wait_s=0)
    with pytest.raises(
        AlertStateError, match=r"another run \(.*\) holds the alert lease of job hub"
    ):
        store.acquire(ttl_s=5, wait_s=0.2)
    time.sleep(0.7)
    second = store.acquire(ttl_s=5, wait_s=0)  # the first run "crashed": its lease expired
    assert second.owner != first.owner
    store.release(first)  # too late: it must not free the second run's lease
    with pytest.raises(AlertStateError):
        store.acquire(ttl_s=5, wait_s=0.2)
    store.release(second)
    store.release(store.acquire(ttl_s=5, wait_s=0))


def test_state_write_fails_if_someone_else_wrote(tmp_path: Path) -> None:
    store = StateStore(LocalConditionalStore(tmp_path), "hub")
    state, etag = store.load()
    assert etag is None
    etag = store.save(state, etag)
    other, other_etag = store.load()
    store.save(other, other_etag)
    with pytest.raises(AlertStateError, match="changed by another run"):
        store.save(state, etag)


def test_state_lives_beside_the_archive_by_default(tmp_path: Path, receiver: Receiver) -> None:
    archive = tmp_path / "archive"
    spec = spec_for("", webhook_url=receiver.url + "/hook", webhook_secret=SECRET)
    spec = spec.model_copy(
        update={"archive": spec.archive.model_copy(update={"uri": str(archive)})}
    )
    assert notify(spec, [lf(2, "gap")], now=hour(3)).ok
    doc = json.loads((archive / "_reconcile" / "alerts" / "hub" / "state.json").read_bytes())
    assert doc["version"] == 1 and doc["pending"] == []
    (inc,) = doc["incidents"].values()
    assert (
        inc["incident"]["state"] == "firing" and inc["sinks"]["webhook"]["last_action"] == "firing"
    )
    lease = json.loads((archive / "_reconcile" / "alerts" / "hub" / "lease.json").read_bytes())
    assert lease["released"] is True


@pytest.mark.integration
@pytest.mark.parametrize("where", ["local", "s3"])
def test_concurrent_runs_send_once(
    where: str, tmp_path: Path, s3_bucket: str, receiver: Receiver
) -> None:
    uri = str(tmp_path / "state") if where == "local" else f"s3://{s3_bucket}/alerts"
    spec = spec_for(uri, webhook_url=receiver.url + "/hook", webhook_secret=SECRET)
    # Slow receiver: the runs overlap for the whole delivery.
    receiver.reply(Reply(200, "ok", delay=0.5), Reply(200, "ok", delay=0.5))
    findings = [lf(2, "gap"), lf(3, "gap"), lf(2, "surplus", resource="app/other/9")]
    barrier = threading.Barrier(4)
    reports = []

    def run() -> None:
        barrier.wait()
        reports.append(notify(spec, findings, now=hour(4)))

    threads = [threading.Thread(target=run) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert all(r.ok for r in reports)
    got = receiver.at("/hook")
    assert len(got) == 2, [g.json()["data"]["summary"] for g in got]
    assert len({g.json()["data"]["incident"]["key"] for g in got}) == 2
    assert sum(len(r.deliveries) for r in reports) == 2
    assert sum(len(r.suppressed) for r in reports) == 6  # the 3 later runs held both back
    if where == "s3":
        keys = [o["Key"] for o in boto3.client("s3").list_objects_v2(Bucket=s3_bucket)["Contents"]]
        assert sorted(keys) == ["alerts/hub/lease.json", "alerts/hub/state.json"]


def test_unreadable_state_is_a_clear_error(tmp_path: Path) -> None:
    (tmp_path / "hub").mkdir()
    (tmp_path / "hub" / "state.json").write_text("{not json")
    with pytest.raises(AlertStateError, match="not readable"):
        StateStore(LocalConditionalStore(tmp_path), "hub").load()
    assert AlertState("hub").to_json()
