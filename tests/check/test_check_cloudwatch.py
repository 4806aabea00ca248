"""``reconcile check`` end to end: CloudWatch RequestCount on moto's server, archives on a
local directory and on S3, findings on stdout and in the results dataset."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import orjson
from click.testing import CliRunner

from reconcile.check.run import check
from reconcile.cli import cli
from reconcile.demo.alb_traffic import put_request_counts
from reconcile.results import read_results
from reconcile.storage import ObjectStore, open_store
from reconcile.timewin import Window
from tests.check.conftest import DAY, at
from tests.check.helpers import check_spec, write_window

WINS = [Window(DAY + timedelta(hours=h)) for h in range(8)]
NOW = WINS[7].start + timedelta(minutes=40)  # WINS[6] past the 30m grace, WINS[7] open


def run_cli(*args: str) -> tuple[int, list[dict[str, Any]], str]:
    result = CliRunner().invoke(cli, ["check", *args, "--format", "json"])
    rows = [orjson.loads(line) for line in result.stdout.splitlines() if line.strip()]
    return result.exit_code, rows, result.stderr


def every_status_archive(store: ObjectStore, lb: str) -> None:
    put_request_counts(
        {WINS[0]: 100, WINS[1]: 100, WINS[2]: 100, WINS[3]: 100, WINS[5]: 100, WINS[7]: 100}, lb
    )
    write_window(store, WINS[0], [60, 40])  # ok
    write_window(store, WINS[1], [80])  # gap
    write_window(store, WINS[2], [100, 30])  # surplus (a duplicated batch)
    # WINS[3]: never archived -> missing
    write_window(store, WINS[4], [50])  # no requests -> no_traffic
    write_window(store, WINS[5], [])  # requests, committed empty -> no_traffic
    write_window(store, WINS[6], [])  # quiet hour -> ok
    write_window(store, WINS[7], [10])  # still open -> pending


def test_every_status_in_one_run(archive_uri: str, store: ObjectStore, lb: str) -> None:
    every_status_archive(store, lb)
    code, rows, _ = run_cli(
        "--archive", archive_uri, "--load-balancer", lb,
        "--from", WINS[0].label, "--to", Window(WINS[7].end).label,
        "--now", NOW.isoformat(),
    )  # fmt: skip
    assert code == 3
    assert [r["status"] for r in rows] == [
        "ok", "gap", "surplus", "missing", "no_traffic", "no_traffic", "ok", "pending",
    ]  # fmt: skip
    assert [r["window_start"] for r in rows] == [w.iso() for w in WINS]
    assert [r["expected"] for r in rows] == [100, 100, 100, 100, 0, 100, 0, 100]
    assert [r["archived"] for r in rows] == [100, 80, 130, 0, 50, 0, 0, 10]
    assert [r["ratio"] for r in rows][:3] == [1.0, 0.8, 1.3]
    assert rows[0]["resource"] == lb and rows[0]["kind"] == "logflow"
    assert "reconcile archive" in rows[3]["message"]
    # Every finding is in the results dataset, next to the archive.
    results = read_results(open_store(archive_uri.rstrip("/") + "/_reconcile/results"), "logflow")
    assert sorted(results.column("status").to_pylist()) == sorted(r["status"] for r in rows)


def test_exit_zero_when_all_ok_and_csv_output(
    archive_uri: str, store: ObjectStore, lb: str
) -> None:
    put_request_counts({WINS[0]: 100}, lb)
    write_window(store, WINS[0], [100])
    args = ["check", "--archive", archive_uri, "--load-balancer", lb, "--from", WINS[0].label,
            "--to", WINS[1].label, "--format", "csv", "--no-results"]  # fmt: skip
    result = CliRunner().invoke(cli, args)
    assert result.exit_code == 0, result.output
    header, line = result.stdout.splitlines()
    assert header.startswith(
        "job,kind,resource,window_start,status,expected,indexed,archived,hop,ratio"
    )
    assert f",{WINS[0].iso()},ok,100,,100,,1.0," in line  # no indexed figure asked
    assert store.list("_reconcile/") == []  # --no-results wrote nothing


def test_results_rerun_replaces_the_same_hours(
    archive_uri: str, store: ObjectStore, lb: str
) -> None:
    every_status_archive(store, lb)
    spec = check_spec(archive_uri, **{"expected.load_balancers": [lb]})
    first = check(spec, WINS[0].start, WINS[7].end, now=NOW)
    assert first.count("missing") == 1
    write_window(store, WINS[3], [100])  # the archive job catches up
    second = check(spec, WINS[3].start, WINS[3].end, now=NOW)  # re-check one hour
    assert [f.status for f in second.findings] == ["ok"]
    results = read_results(open_store(first.results_uri or ""), "logflow")
    by_hour = dict(
        zip(
            results.column("window_start").to_pylist(),
            results.column("status").to_pylist(),
            strict=True,
        )
    )
    assert len(by_hour) == results.num_rows == 8  # replaced, not appended
    assert by_hour[WINS[3].start] == "ok" and by_hour[WINS[1].start] == "gap"
    # Re-checking every hour replaces every row.
    check(spec, WINS[0].start, WINS[7].end, now=NOW)
    assert read_results(open_store(first.results_uri or ""), "logflow").num_rows == 8


def test_grace_period_delays_judgement(archive_uri: str, store: ObjectStore, lb: str) -> None:
    put_request_counts({WINS[0]: 100}, lb)
    just_closed = (WINS[0].end + timedelta(minutes=25)).isoformat()
    common = ["--archive", archive_uri, "--load-balancer", lb, "--from", WINS[0].label,
              "--to", WINS[1].label, "--now", just_closed, "--no-results"]  # fmt: skip
    code, rows, _ = run_cli(*common, "--grace", "30m")
    assert (code, rows[0]["status"]) == (0, "pending")
    assert rows[0]["detail"]["judge_after"] == (WINS[0].end + timedelta(minutes=30)).strftime(
        "%Y-%m-%dT%H:%M:%SZ"
    )
    code, rows, _ = run_cli(*common, "--grace", "20m")
    assert (code, rows[0]["status"]) == (3, "missing")
    # A grace shorter than the archive's settle would judge hours before they are archived.
    code, _, err = run_cli(*common, "--grace", "5m")
    assert code == 1 and "check.grace" in err and "archive.settle" in err


def test_configured_ratio(archive_uri: str, store: ObjectStore, lb: str) -> None:
    put_request_counts({WINS[0]: 200, WINS[1]: 200}, lb)
    write_window(store, WINS[0], [100])
    write_window(store, WINS[1], [70])
    common = ["--archive", archive_uri, "--load-balancer", lb, "--from", WINS[0].label,
              "--to", WINS[2].label, "--no-results"]  # fmt: skip
    _, rows, _ = run_cli(*common)
    assert [r["status"] for r in rows] == ["gap", "gap"]
    _, rows, _ = run_cli(*common, "--expected-ratio", "0.5")
    assert [r["status"] for r in rows] == ["ok", "gap"]
    assert rows[0]["baseline"] == 0.5 and rows[0]["ratio"] == 0.5
    assert rows[0]["detail"]["ratio_source"] == "configured"


def test_learned_ratio_from_the_results_history(tmp_path: Any, lb: str, aws_endpoint: str) -> None:
    store = open_store(str(tmp_path / "archive"))
    day1 = [Window(DAY + timedelta(hours=h)) for h in range(24)]
    day2 = [Window(DAY + timedelta(days=1, hours=h)) for h in range(3)]
    put_request_counts(dict.fromkeys(day1 + day2, 200), lb)
    for w in day1:
        write_window(store, w, [100 if w != day1[5] else 20])  # one bad hour in the history
    write_window(store, day2[0], [100])
    write_window(store, day2[1], [60])
    write_window(store, day2[2], [260])
    base = {"expected.load_balancers": [lb]}
    # Day 1 judged with the configured ratio: the results history now holds it.
    history = check(
        check_spec(str(tmp_path / "archive"), **base, **{"check.expected_ratio": 0.5}),
        day1[0].start,
        day1[-1].end,
    )
    assert history.count("ok") == 23 and history.count("gap") == 1
    # Day 2, ratio learned: the median of day 1 (0.5) despite its bad hour.
    spec = check_spec(
        str(tmp_path / "archive"), **base, **{"check.learn_ratio": True, "check.ratio_days": 1}
    )
    report = check(spec, day2[0].start, day2[-1].end)
    assert report.ratio_history == "results history: 24 hours"
    assert [f.status for f in report.findings] == ["ok", "gap", "surplus"]
    first = report.findings[0]
    assert (first.baseline, first.detail.ratio_source, first.detail.ratio_samples) == (
        0.5,
        "learned",
        24,
    )
    # The next hour's trailing window includes the hour just judged.
    assert report.findings[1].detail.ratio_samples == 24


def test_learned_ratio_computed_without_history(tmp_path: Any, lb: str, aws_endpoint: str) -> None:
    day1 = [Window(DAY + timedelta(hours=h)) for h in range(24)]
    target = Window(DAY + timedelta(days=1))
    put_request_counts(dict.fromkeys([*day1, target], 300), lb)
    store = open_store(str(tmp_path / "archive"))
    for w in [*day1, target]:
        write_window(store, w, [100])
    spec = check_spec(
        str(tmp_path / "archive"),
        **{"expected.load_balancers": [lb], "check.learn_ratio": True, "check.ratio_days": 1,
           "check.results_uri": str(tmp_path / "elsewhere")},
    )  # fmt: skip
    report = check(spec, target.start, target.end)
    assert report.ratio_history.startswith("computed from the archive and cloudwatch: 24 hours")
    (f,) = report.findings
    assert (f.status, f.baseline) == ("ok", round(1 / 3, 6))
    # Too few hours: the configured ratio applies, and says so.
    strict = spec.model_copy(
        update={"check": spec.check.model_copy(update={"ratio_min_samples": 48})}
    )
    (g,) = check(strict, target.start, target.end, write_results=False).findings
    assert g.status == "gap" and g.detail.ratio_source == "configured (not enough history)"


def test_manifest_disagreement_is_a_finding(archive_uri: str, store: ObjectStore, lb: str) -> None:
    from tests.check.helpers import part_bytes

    put_request_counts({WINS[0]: 100, WINS[1]: 100}, lb)
    write_window(store, WINS[0], [100])
    # A stray copy of a part file: Athena would count it twice.
    store.put_bytes(f"{WINS[0].partition}/part-001-00000.parquet", part_bytes(WINS[0], 100))
    write_window(store, WINS[1], [50, 50])
    store.delete([f"{WINS[1].partition}/part-000-00001.parquet"])
    code, rows, _ = run_cli(
        "--archive", archive_uri, "--load-balancer", lb, "--from", WINS[0].label,
        "--to", WINS[2].label, "--no-results", "--abs-tolerance", "500",
    )  # fmt: skip
    assert code == 3
    # Within the (huge) tolerance by counts, yet never ok: the archive contradicts its manifest.
    assert [r["status"] for r in rows] == ["surplus", "gap"]
    assert rows[0]["detail"]["manifest_mismatch"]["extra_files"] == ["part-001-00000.parquet"]
    assert rows[1]["detail"]["manifest_mismatch"]["missing_files"] == ["part-000-00001.parquet"]
    assert "disagrees with its manifest" in rows[0]["message"]


def test_bad_configuration_exits_one(tmp_path: Any) -> None:
    result = CliRunner().invoke(
        cli,
        [
            "check",
            "--archive",
            str(tmp_path),
            "--from",
            at(0).isoformat(),
            "--to",
            at(1).isoformat(),
        ],
    )
    assert result.exit_code == 1
    assert "expected.load_balancers" in result.stderr
    result = CliRunner().invoke(
        cli,
        [
            "check",
            "--load-balancer",
            "app/x/0123456789abcdef",
            "--from",
            "2026-11-20",
            "--to",
            "2026-11-21",
        ],
    )
    assert result.exit_code == 1 and "archive.uri is not set" in result.stderr
