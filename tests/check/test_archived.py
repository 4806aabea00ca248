"""Archived counts from Parquet footers and manifests, on a local directory and on S3 (moto)."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest

from reconcile.archive.read import ArchiveReader
from reconcile.storage import ObjectStore, open_store
from tests.check.helpers import counting_proxy, hours, part_bytes, write_window

WINS = hours("2026-11-20T22", 4)  # crosses midnight: two day listings


@pytest.fixture(params=["local", "s3"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> ObjectStore:
    if request.param == "local":
        return open_store(str(tmp_path / "archive"))
    bucket = request.getfixturevalue("s3_bucket")
    return open_store(f"s3://{bucket}/archive/hub")


def scan(store: ObjectStore) -> Any:
    return ArchiveReader(store, workers=4).scan(WINS[0].start, WINS[-1].end)


def test_counts_come_from_footers_and_agree_with_manifests(store: ObjectStore) -> None:
    write_window(store, WINS[0], [300, 200])
    write_window(store, WINS[1], [])  # committed, empty
    write_window(store, WINS[2], [50], quarantined=4)
    result = scan(store)
    a = result.windows
    assert [a[w].rows for w in WINS] == [500, 0, 50, 0]
    assert [a[w].committed for w in WINS] == [True, True, True, False]
    assert all(a[w].mismatch() is None for w in WINS)
    assert a[WINS[2]].quarantined == 4 and list(a[WINS[2]].rejects) == [
        "_rejects/part-000.jsonl.gz"
    ]
    assert [f.path for f in a[WINS[0]].files] == [
        "part-000-00000.parquet",
        "part-000-00001.parquet",
    ]
    # Requests: one listing per day, one manifest per committed window, one footer per file.
    assert (result.list_calls, result.manifest_reads, result.footer_reads) == (2, 3, 3)


def test_manifest_and_file_disagreements(store: ObjectStore) -> None:
    write_window(store, WINS[0], [300, 200])
    store.delete([f"{WINS[0].partition}/part-000-00001.parquet"])  # a file lost
    write_window(store, WINS[1], [100])
    store.put_bytes(f"{WINS[1].partition}/part-009-00000.parquet", part_bytes(WINS[1], 100))
    write_window(store, WINS[2], [100])
    store.put_bytes(f"{WINS[2].partition}/part-000-00000.parquet", part_bytes(WINS[2], 90))
    write_window(store, WINS[3], [10], manifest=False)  # files without a commit record
    store.put_bytes(f"{WINS[3].partition}/part-000-00001.parquet", b"not parquet at all")
    a = scan(store).windows

    lost = a[WINS[0]].mismatch()
    assert lost is not None and lost["missing_files"] == ["part-000-00001.parquet"]
    assert (lost["manifest_rows"], lost["file_rows"]) == (500, 300)

    extra = a[WINS[1]].mismatch()
    assert extra is not None and extra["extra_files"] == ["part-009-00000.parquet"]
    assert a[WINS[1]].rows == 200

    changed = a[WINS[2]].mismatch()
    assert changed is not None
    assert changed["rows_differ"] == [
        {"path": "part-000-00000.parquet", "manifest_rows": 100, "file_rows": 90}
    ]
    assert changed["bytes_differ"][0]["path"] == "part-000-00000.parquet"

    uncommitted = a[WINS[3]]
    assert not uncommitted.committed and uncommitted.mismatch() is None
    bad = [f for f in uncommitted.files if f.rows is None]
    assert [f.path for f in bad] == ["part-000-00001.parquet"] and bad[0].error
    assert uncommitted.uncommitted() == {
        "files": ["part-000-00000.parquet", "part-000-00001.parquet"],
        "file_rows": 10,
    }


def test_unreadable_manifest_is_reported(store: ObjectStore) -> None:
    write_window(store, WINS[0], [10])
    store.put_bytes(f"{WINS[0].partition}/_manifest.json", b"{not json")
    a = scan(store).windows[WINS[0]]
    assert a.committed
    mm = a.mismatch()
    assert mm is not None and "manifest_unreadable" in mm


def test_staging_and_underscore_files_are_ignored(store: ObjectStore) -> None:
    write_window(store, WINS[0], [10])
    store.put_bytes(
        f"_staging/run1/{WINS[0].partition}/part-000-00000.parquet", part_bytes(WINS[0], 5)
    )
    store.put_bytes(f"{WINS[0].partition}/_tmp/part.parquet", part_bytes(WINS[0], 5))
    a = scan(store).windows[WINS[0]]
    assert a.rows == 10 and a.mismatch() is None


def test_s3_requests_are_proportional_to_files_not_rows(
    s3_bucket: str, aws_endpoint: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Independent count at the HTTP level: no HEADs, one GET per footer and manifest."""
    store = open_store(f"s3://{s3_bucket}/archive/hub")
    wins = hours("2026-11-20T00", 6)
    for w in wins:
        write_window(store, w, [20_000, 20_000])  # rows do not change the request count
    with counting_proxy(aws_endpoint) as proxy:
        monkeypatch.setitem(os.environ, "AWS_ENDPOINT_URL", proxy.url)
        result = ArchiveReader(open_store(f"s3://{s3_bucket}/archive/hub"), 8).scan(
            wins[0].start, wins[-1].end
        )
    assert sum(result.windows[w].rows for w in wins) == 240_000
    assert proxy.counts["HEAD"] == 0
    assert proxy.counts["LIST"] == 1  # one day, one page
    assert proxy.counts["GET"] == len(wins) * 2 + len(wins)  # footers + manifests
    assert proxy.total == result.requests
