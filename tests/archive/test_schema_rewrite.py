"""An archive written before the table schema: derive it, list the drift, rewrite the windows
(kill -9 in the middle, then rerun), and read every file under one table."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from typing import Any

import orjson
import pytest
from click.testing import CliRunner

from reconcile.archive import run
from reconcile.archive.read import ArchiveReader
from reconcile.archive.run import Archiver
from reconcile.archive.survey import survey
from reconcile.archive.table import load_table
from reconcile.check.views import archive_dataset
from reconcile.cli import cli
from reconcile.engines.duckdb import DuckDBEngine
from reconcile.storage import ObjectStore
from tests.archive.conftest import manifest, spec_for, staging_keys
from tests.archive.drift import (
    NOW,
    assert_every_value_kept,
    assert_files_fit_ddl,
    committed_files,
    create_day,
    day_window,
    read_file,
)

DAYS, N = 5, 100
SLICED = {"source.slices": 8, "source.slice_min_docs": 10}  # a file per slice


def old_archive(
    es: Any, es_url: str, prefix: str, uri: str, monkeypatch: pytest.MonkeyPatch
) -> list[Any]:
    """Each day archived in its own run by the archiver as it was before the table schema:
    every window's files have that window's own types."""
    with monkeypatch.context() as m:
        m.setattr(run, "conform_window", lambda store, schema, by: schema)
        docs = []
        for day in range(DAYS):
            docs += create_day(es, prefix, day, N)
            spec = spec_for(es_url, prefix, uri, **SLICED)
            result = Archiver(spec).archive_window(day_window(day), now=NOW)
            assert result.status == "archived" and result.rows == N, result.message
    return docs


def schema_cmd(uri: str, *args: str) -> tuple[int, list[dict[str, Any]], str]:
    result = CliRunner().invoke(cli, ["schema", "--archive", uri, "--format", "json", *args])
    rows = [orjson.loads(line) for line in result.stdout.splitlines() if line.strip()]
    return result.exit_code, rows, result.stderr


def every_window_consistent(store: ObjectStore) -> None:
    """Each committed window holds exactly its manifest's files, with N rows in footers."""
    reader = ArchiveReader(store, 4)
    for day in range(DAYS):
        w = day_window(day)
        m = manifest(store, w)
        assert m is not None and m.rows == N
        present = {
            o.key.rsplit("/", 1)[1]: o
            for o in store.list(w.partition + "/")
            if o.key.endswith(".parquet") and "/_" not in o.key
        }
        assert sorted(present) == sorted(f.path for f in m.files)
        assert sum(reader.footer_rows(o.key, o.size) for o in present.values()) == N


#: The killed rewrite's lease expires quickly; the rerun waits for it.
LEASE = {"RECONCILE_RUN_LEASE_TTL_S": "3", "RECONCILE_RUN_LEASE_WAIT_S": "30"}


def start_rewrite(uri: str) -> subprocess.Popen[bytes]:
    cmd = [sys.executable, "-m", "reconcile", "--log-format", "json", "schema"]
    cmd += ["--archive", uri, "--rewrite"]
    return subprocess.Popen(
        cmd, env={**os.environ, **LEASE}, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE
    )


def _rewritten(store: ObjectStore, day: int) -> bool:
    m = manifest(store, day_window(day))
    return bool(m and m.schema.get("rewritten"))


#: When to kill: while staging the first window's files; between a window's commit point
#: (its manifest in staging) and the end of its roll-forward; after a window is committed
#: and while the next one is being staged.
KILL_POINTS: dict[str, Callable[[ObjectStore, list[str]], bool]] = {
    "staging": lambda store, staged: len(staged) >= 2,
    "commit-point": lambda store, staged: any(k.endswith("/_manifest.json") for k in staged),
    "next-window": lambda store, staged: (
        any(day_window(2).partition in k for k in staged) and _rewritten(store, 1)
    ),
}


def kill_when(proc: subprocess.Popen[bytes], store: ObjectStore, point: str) -> list[str]:
    """SIGKILL the rewrite at ``point``; returns the staged keys seen then."""
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and proc.poll() is None:
        staged = staging_keys(store)
        if KILL_POINTS[point](store, staged):
            proc.send_signal(signal.SIGKILL)
            proc.wait()
            return staged
        time.sleep(0.002)
    err = proc.stderr.read().decode() if proc.stderr else ""
    pytest.fail(f"rewrite ended before the kill point {point}: rc={proc.poll()} {err[-2000:]}")


@pytest.mark.parametrize("archive_uri", ["s3"], indirect=True)
@pytest.mark.parametrize("kill_at", list(KILL_POINTS))
def test_rewrite_of_an_old_mixed_archive_survives_kill_9(
    es: Any,
    es_url: str,
    index_prefix: str,
    archive_uri: str,
    store: ObjectStore,
    kill_at: str,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    docs = old_archive(es, es_url, index_prefix, archive_uri, monkeypatch)
    assert load_table(store) is None

    # Derived from the files, oldest window first; the drift is listed, nothing written.
    code, rows, err = schema_cmd(archive_uri, "--dry-run")
    assert code == 3, err
    status = [r for r in rows if r["column"] == "status"]
    assert status and status[0]["table_type"] == "int64" and status[0]["file_type"] == "string"
    assert status[0]["windows"] == DAYS - 1 and status[0]["first"] == day_window(1).label
    assert {r["column"] for r in rows} >= {"status", "client"}
    assert load_table(store) is None
    old_ddl = CliRunner().invoke(cli, ["sql", "ddl", "--archive", archive_uri])
    assert old_ddl.exit_code == 0 and "`status` bigint" in old_ddl.stdout  # derived, not stored
    assert "until reconcile schema --rewrite" in old_ddl.stderr
    found = survey(store, "@timestamp")
    assert len(found.to_rewrite) == DAYS - 1 and len(found.files) > 3 * DAYS

    proc = start_rewrite(archive_uri)
    staged = kill_when(proc, store, kill_at)
    assert proc.returncode == -signal.SIGKILL and staged
    every_window_consistent(store)  # old or new files, never a mix that counts wrong
    table = load_table(store)
    assert table is not None  # stored before the first window was rewritten

    for name, value in LEASE.items():
        monkeypatch.setenv(name, value)
    code, rows, err = schema_cmd(archive_uri, "--rewrite")  # waits out the dead run's lease
    assert code == 0, err
    assert rows and all(r["status"] == "rewritten" for r in rows)
    assert staging_keys(store) == []
    every_window_consistent(store)
    code, rows, err = schema_cmd(archive_uri)
    assert (code, rows) == (0, []), err
    ddl = CliRunner().invoke(cli, ["sql", "ddl", "--archive", archive_uri])
    assert ddl.exit_code == 0, ddl.stderr
    assert assert_files_fit_ddl(store, ddl.stdout.split(";\n")[0]) == len(found.files)

    # Every committed file is in the table's types; every value converted or in _extra.
    want = load_table(store).arrow  # type: ignore[union-attr]
    everything = []
    for key in committed_files(store):
        data = read_file(store, key)
        assert all(want.field(f.name).type == f.type for f in data.schema), key
        everything += data.to_pylist()
    # The old archiver wrote objects that met a string column as JSON text: same type, nothing
    # lost, so the rewrite leaves them.
    assert_every_value_kept(everything, docs, json_text=True)
    for day in range(1, DAYS):
        m = manifest(store, day_window(day))
        assert m is not None and m.extra_counts.get("status") == N // 2
        assert "status" in m.schema["rewritten"]["columns"]
    with DuckDBEngine({"archive_logs": lambda: archive_dataset(store)}) as duck:
        got = duck.query(
            "SELECT dt, count(*) AS n, count(status) AS s, typeof(any_value(status)) AS t "
            "FROM archive_logs GROUP BY dt ORDER BY dt"
        ).to_pylist()
    assert [(g["n"], g["s"], g["t"]) for g in got] == [(N, N, "BIGINT")] + [
        (N, N // 2, "BIGINT")
    ] * (DAYS - 1)


def test_first_run_after_the_upgrade_keeps_the_types_history_established(
    es: Any,
    es_url: str,
    index_prefix: str,
    archive_uri: str,
    store: ObjectStore,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    old_archive(es, es_url, index_prefix, archive_uri, monkeypatch)  # status int, then string
    assert load_table(store) is None
    docs = create_day(es, index_prefix, DAYS, N)  # still keyword

    result = Archiver(spec_for(es_url, index_prefix, archive_uri)).archive_window(
        day_window(DAYS), now=NOW
    )

    assert result.status == "archived" and result.rows == N
    table = load_table(store)
    assert table is not None and table.columns["status"].describe() == "int"  # day 0's type
    assert "derived from committed files" in table.history[0]["by"]
    m = manifest(store, day_window(DAYS))
    assert m is not None and m.extra_counts["status"] == N // 2
    assert m.table_schema_version == 2 and table.history[1]["added"] == {"trace": "string"}
    assert len(survey(store, "@timestamp").to_rewrite) == DAYS - 1  # the old ones, not the new
    new = [k for k in committed_files(store) if k.startswith(day_window(DAYS).partition)]
    assert_every_value_kept([r for k in new for r in read_file(store, k).to_pylist()], docs)
