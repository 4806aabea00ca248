"""Backfill: workers, resume after Ctrl-C, Indexed Job sharding."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from typing import Any

from reconcile.archive.layout import Manifest
from reconcile.backfill import Shard, backfill, plan
from reconcile.storage import open_store
from reconcile.timewin import Window, parse_time, windows
from tests.archive.conftest import NOW, gen, load, spec_for

START, END = parse_time("2026-11-20T00"), parse_time("2026-11-20T08")


def test_shards_split_the_range_without_overlap() -> None:
    all_windows = list(windows(START, END))
    parts = [plan(START, END, Shard(i, 3)) for i in range(3)]
    assert sorted(w for p in parts for w in p) == all_windows
    assert [len(p) for p in parts] == [3, 3, 2]


def _load_hours(es: Any, prefix: str, per_hour: int) -> None:
    for w in windows(START, END):
        load(es, f"{prefix}2026.11.20", gen(w, per_hour, seed=w.start.hour))


def _committed(uri: str) -> dict[str, Manifest]:
    store = open_store(uri)
    out = {}
    for obj in store.list(""):
        if obj.key.endswith("_manifest.json") and not obj.key.startswith("_"):
            out[obj.key.rsplit("/", 1)[0]] = Manifest.from_json(store.get_bytes(obj.key) or b"")
    return out


def test_backfill_with_workers_archives_every_window(
    es: Any, es_url: str, index_prefix: str, tmp_path: Any
) -> None:
    _load_hours(es, index_prefix, 300)
    uri = str(tmp_path / "a")
    summary = backfill(spec_for(es_url, index_prefix, uri), START, END, workers=2, now=NOW)
    assert [r.status for r in summary.results] == ["archived"] * 8
    assert [r.window for r in summary.results] == list(windows(START, END))
    assert {m.rows for m in _committed(uri).values()} == {300}

    again = backfill(spec_for(es_url, index_prefix, uri), START, END, workers=2, now=NOW)
    assert [r.status for r in again.results] == ["skipped"] * 8


def test_ctrl_c_lets_running_windows_commit_and_a_rerun_resumes(
    es: Any, es_url: str, index_prefix: str, tmp_path: Any
) -> None:
    _load_hours(es, index_prefix, 3000)
    uri = str(tmp_path / "a")
    cmd = [
        sys.executable,
        "-m",
        "reconcile",
        "--log-format",
        "json",
        "backfill",
        "--es-url",
        es_url,
        "--index",
        f"{index_prefix}*",
        "--archive",
        uri,
        "--from",
        "2026-11-20T00",
        "--to",
        "2026-11-20T08",
        "--workers",
        "2",
        "--page-size",
        "250",
        "--format",
        "json",
    ]
    # A shell without job control starts background commands with SIGINT ignored, and an
    # ignored signal stays ignored across exec: the CLI would never see the Ctrl-C. A handler
    # is reset to the default on exec instead, so the child gets a SIGINT it can receive.
    previous = signal.signal(signal.SIGINT, signal.default_int_handler)
    try:
        proc = subprocess.Popen(
            cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, start_new_session=True
        )
    finally:
        signal.signal(signal.SIGINT, previous)
    deadline = time.monotonic() + 120
    while not _committed(uri) and time.monotonic() < deadline and proc.poll() is None:
        time.sleep(0.05)
    os.killpg(proc.pid, signal.SIGINT)  # what a terminal sends to the whole foreground group
    _out, err = proc.communicate(timeout=120)

    assert proc.returncode == 1, err.decode()[-2000:]
    assert b"windows not started; run the same command to resume" in err
    first = _committed(uri)
    assert 1 <= len(first) < 8
    assert all(m.rows == 3000 for m in first.values())
    assert open_store(uri).list("_staging/") == []

    summary = backfill(spec_for(es_url, index_prefix, uri), START, END, workers=2, now=NOW)
    statuses = {r.window: r.status for r in summary.results}
    assert sum(s == "skipped" for s in statuses.values()) == len(first)
    assert sum(s == "archived" for s in statuses.values()) == 8 - len(first)
    assert {m.rows for m in _committed(uri).values()} == {3000} and len(_committed(uri)) == 8
    assert statuses[Window(START)] == "skipped"
