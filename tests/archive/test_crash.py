"""kill -9 in the middle of archiving: the committed state survives, the rerun is exact."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from reconcile.archive.commit import recover
from reconcile.archive.layout import MANIFEST, FileEntry, Manifest, staging_prefix, window_prefix
from reconcile.archive.run import Archiver
from reconcile.storage import LocalStore, ObjectStore
from reconcile.timewin import Window
from tests.archive.conftest import NOW, W, gen, load, manifest, read_rows, spec_for, staging_keys

SLOW = {"source.page_size": 200, "archive.max_file_rows": 1000, "archive.row_group_rows": 1000}


def committed_state_is_readable(store: ObjectStore, expected_rows: int) -> None:
    m = manifest(store)
    assert m is not None
    files = {
        o.key.split("/")[-1]: o.size
        for o in store.list(W.partition + "/")
        if o.key.endswith(".parquet")
    }
    assert sorted(files) == sorted(f.path for f in m.files)
    assert {f.path: f.bytes for f in m.files} == files
    assert len(read_rows(store)) == m.rows == expected_rows


def start_archive(
    es_url: str, prefix: str, uri: str, force: bool = True
) -> subprocess.Popen[bytes]:
    cmd = [
        sys.executable,
        "-m",
        "reconcile",
        "--log-format",
        "json",
        "archive",
        "--es-url",
        es_url,
        "--index",
        f"{prefix}*",
        "--archive",
        uri,
        "--from",
        W.label,
        "--to",
        W.end.strftime("%Y-%m-%dT%H"),
        *(["--force"] if force else []),
        "--page-size",
        "200",
    ]
    env = {
        **os.environ,
        "RECONCILE_ARCHIVE_MAX_FILE_ROWS": "1000",
        "RECONCILE_ARCHIVE_ROW_GROUP_ROWS": "1000",
    }
    return subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)


def kill_when(
    proc: subprocess.Popen[bytes], store: ObjectStore, staged_files: int, timeout: float = 60
) -> int:
    """SIGKILL the archiver once ``staged_files`` files are staged; returns how many were."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and proc.poll() is None:
        n = len(staging_keys(store))
        if n >= staged_files:
            proc.send_signal(signal.SIGKILL)
            proc.wait()
            return n
        time.sleep(0.01)
    err = proc.stderr.read().decode() if proc.stderr else ""
    pytest.fail(
        f"archiver finished or stalled before staging {staged_files} files: rc={proc.poll()} {err[-2000:]}"
    )


@pytest.mark.parametrize("kill_after_files", [1, 4])
def test_sigkill_mid_window_keeps_previous_commit_and_rerun_is_exact(
    es: Any,
    es_url: str,
    index_prefix: str,
    archive_uri: str,
    store: ObjectStore,
    kill_after_files: int,
) -> None:
    index = f"{index_prefix}2026.11.20"
    load(es, index, gen(W, 2000))
    assert (
        Archiver(spec_for(es_url, index_prefix, archive_uri)).archive_window(W, now=NOW).rows
        == 2000
    )
    committed_state_is_readable(store, 2000)
    load(es, index, gen(W, 6000, seed=5))

    proc = start_archive(es_url, index_prefix, archive_uri)
    staged = kill_when(proc, store, kill_after_files)

    assert proc.returncode == -signal.SIGKILL and staged >= kill_after_files
    committed_state_is_readable(store, 2000)  # the crash changed nothing committed
    assert staging_keys(store), "the killed run should have left staged files behind"

    rerun = Archiver(spec_for(es_url, index_prefix, archive_uri, **SLOW)).archive_window(
        W, force=True, now=NOW
    )

    assert rerun.status == "archived" and rerun.rows == 8000
    committed_state_is_readable(store, 8000)
    rows = read_rows(store)
    assert len({r["_id"] for r in rows}) == 8000
    assert staging_keys(store) == []


def test_sigkill_mid_rearchive_of_late_documents_keeps_the_previous_revision(
    es: Any, es_url: str, index_prefix: str, archive_uri: str, store: ObjectStore
) -> None:
    index = f"{index_prefix}2026.11.20"
    load(es, index, gen(W, 2000))
    first = Archiver(spec_for(es_url, index_prefix, archive_uri)).archive_window(W, now=NOW)
    assert (first.rows, first.revision) == (2000, 1)
    load(es, index, gen(W, 4000, seed=9))  # late arrivals: no --force needed to re-archive

    proc = start_archive(es_url, index_prefix, archive_uri, force=False)
    kill_when(proc, store, 2)

    committed_state_is_readable(store, 2000)  # revision 1, intact and readable
    m = manifest(store)
    assert m is not None and m.revision == 1 and m.replaced == []
    rerun = Archiver(spec_for(es_url, index_prefix, archive_uri, **SLOW)).archive_window(W, now=NOW)
    assert (rerun.status, rerun.rows, rerun.revision, rerun.late) == ("archived", 6000, 2, 4000)
    committed_state_is_readable(store, 6000)
    m = manifest(store)
    assert m is not None and [(r["revision"], r["rows"]) for r in m.replaced] == [(1, 2000)]
    assert staging_keys(store) == []


def _staged_commit(store: LocalStore, run: str) -> Manifest:
    stage = staging_prefix(run, W)
    entries = []
    for i in range(3):
        name = f"part-000-{i:05d}.parquet"
        store.put_bytes(stage + name, f"new-{i}".encode())
        entries.append(FileEntry(name, 10, 5))
    m = Manifest(
        W.iso(), W.end.isoformat(), W.partition, run, "test", "now", {"count": 30}, 30, 0, entries
    )
    store.put_bytes(stage + MANIFEST, m.to_json())
    return m


@pytest.mark.parametrize("moved_before_crash", [0, 1, 3])
def test_crash_inside_the_commit_is_rolled_forward(tmp_path: Path, moved_before_crash: int) -> None:
    store = LocalStore(tmp_path)
    final = window_prefix(W)
    for name in (
        "part-000-00000.parquet",
        "part-000-00001.parquet",
        "part-001-00000.parquet",
        MANIFEST,
    ):
        store.put_bytes(final + name, b"old")
    m = _staged_commit(store, "run1")
    stage = staging_prefix("run1", W)
    for f in m.files[:moved_before_crash]:  # the crash struck after some moves
        store.move(stage + f.path, final + f.path)

    recover(store, W)

    present = sorted(o.key[len(final) :] for o in store.list(final))
    assert present == [
        MANIFEST,
        "part-000-00000.parquet",
        "part-000-00001.parquet",
        "part-000-00002.parquet",
    ]
    assert all(
        store.get_bytes(final + f.path) == f"new-{i}".encode() for i, f in enumerate(m.files)
    )
    assert Manifest.from_json(store.get_bytes(final + MANIFEST) or b"").run_id == "run1"
    assert store.list("_staging/") == []


def test_uncommitted_staging_of_a_dead_run_is_discarded(tmp_path: Path) -> None:
    store = LocalStore(tmp_path)
    store.put_bytes(window_prefix(W) + MANIFEST, b"{}")
    store.put_bytes(staging_prefix("dead", W) + "part-000-00000.parquet", b"half")
    recover(store, W)
    assert store.list("_staging/") == []
    assert store.get_bytes(window_prefix(W) + MANIFEST) == b"{}"


class Crash(Exception):
    """The process dies here (not a ReconcileError: nothing catches it)."""


def _crash_at(store: ObjectStore, step: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """Make ``store`` die at one step of a window's roll-forward."""
    final = window_prefix(W)
    if step == "after the first copy":
        place = store.place

        def first_only(moves: Any) -> None:
            place(list(moves)[:1])
            raise Crash(step)

        monkeypatch.setattr(store, "place", first_only)
    elif step == "listing the partition":
        real_list = store.list
        monkeypatch.setattr(
            store, "list", lambda prefix="": _raise(step) if prefix == final else real_list(prefix)
        )
    elif step == "publishing the manifest":
        put = store.put_bytes
        monkeypatch.setattr(
            store,
            "put_bytes",
            lambda key, data: _raise(step) if key == final + MANIFEST else put(key, data),
        )
    else:  # deleting the stage, after the manifest is published
        delete = store.delete

        def fail_on_stage(keys: Any) -> None:
            keys = list(keys)
            if any(k.startswith("_staging/") and k.endswith(MANIFEST) for k in keys):
                raise Crash(step)
            delete(keys)

        monkeypatch.setattr(store, "delete", fail_on_stage)


def _raise(step: str) -> Any:
    raise Crash(step)


@pytest.mark.parametrize(
    "step",
    [
        "after the first copy",
        "listing the partition",
        "publishing the manifest",
        "deleting the stage",
    ],
)
def test_a_crash_at_any_step_of_the_commit_is_rolled_forward_by_the_next_run(
    es: Any,
    es_url: str,
    index_prefix: str,
    archive_uri: str,
    store: ObjectStore,
    step: str,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The commit copies the staged files (S3: server-side, sources kept), lists the
    partition, deletes stale files, publishes the manifest, deletes the stage in one
    request: killed at any of these, the next run ends in the state the commit meant."""
    index = f"{index_prefix}2026.11.20"
    load(es, index, gen(W, 300))
    sliced = {"source.slices": 3, "source.slice_min_docs": 10}  # revision 1: three files
    first = Archiver(spec_for(es_url, index_prefix, archive_uri, **sliced)).archive_window(
        W, now=NOW
    )
    assert (first.files, first.rows) == (3, 300)
    load(es, index, gen(W, 200, seed=3))  # late documents: revision 2, one file

    crashing = Archiver(spec_for(es_url, index_prefix, archive_uri))
    _crash_at(crashing.store, step, monkeypatch)
    with pytest.raises(Crash):
        crashing.archive_window(W, now=NOW)
    assert staging_keys(store), "the crash left the staged commit"

    rerun = Archiver(spec_for(es_url, index_prefix, archive_uri)).archive_window(W, now=NOW)

    assert (rerun.status, rerun.revision) == ("skipped", 2), rerun.message
    committed_state_is_readable(store, 500)  # exactly revision 2's one file, nothing stale
    m = manifest(store)
    assert m is not None and len(m.files) == 1 and m.run_id == crashing.run_id
    assert staging_keys(store) == []


def test_one_listing_of_staging_serves_every_window_of_the_run(
    es: Any, es_url: str, index_prefix: str, tmp_path: Path
) -> None:
    """An archive run lists ``_staging/`` once, and still finishes a crashed commit of
    its second window and drops the uncommitted files of its third."""
    uri = str(tmp_path / "archive")
    store = LocalStore(tmp_path / "archive")
    wins = [Window(W.start + timedelta(hours=h)) for h in range(3)]
    for w in wins:
        load(es, f"{index_prefix}2026.11.20", gen(w, 40, seed=w.start.hour))
    crashed = Archiver(spec_for(es_url, index_prefix, uri))
    real_put = crashed.store.put_bytes
    crashed.store.put_bytes = lambda k, d: (  # type: ignore[method-assign]
        _raise("publish") if k == window_prefix(wins[1]) + MANIFEST else real_put(k, d)
    )
    with pytest.raises(Crash):
        crashed.archive_window(wins[1], now=NOW)
    store.put_bytes(staging_prefix("dead", wins[2]) + "part-000-00000.parquet", b"half")

    archiver = Archiver(spec_for(es_url, index_prefix, uri))
    listings: list[str] = []
    real_list = archiver.store.list
    archiver.store.list = lambda prefix="": (  # type: ignore[method-assign]
        listings.append(prefix) or real_list(prefix)
    )
    summary = archiver.archive(wins[0].start, wins[-1].end, now=NOW)

    assert [r.status for r in summary.results] == ["archived", "skipped", "archived"]
    assert listings.count("_staging/") == 1
    # Besides, only the crashed stage is listed (recovery works from what storage holds).
    stages = [p for p in listings if p.startswith("_staging/") and p != "_staging/"]
    assert stages == [staging_prefix(crashed.run_id, wins[1])]
    assert staging_keys(store) == []
    for w in wins:
        m = manifest(store, w)
        assert m is not None and m.rows == 40


def test_a_stage_finished_since_the_runs_listing_is_left_alone(tmp_path: Path) -> None:
    """The listing a run took at its start may show a stage another process has finished
    since: its manifest is gone, so nothing is rolled forward twice and nothing fails."""
    store = LocalStore(tmp_path)
    _staged_commit(store, "run1")
    listing = store.list("_staging/")
    recover(store, W)  # someone else finishes it
    published = store.get_bytes(window_prefix(W) + MANIFEST)

    recover(store, W, listing)

    assert store.get_bytes(window_prefix(W) + MANIFEST) == published
    assert store.list("_staging/") == []
    assert len([o for o in store.list(window_prefix(W)) if o.key.endswith(".parquet")]) == 3
