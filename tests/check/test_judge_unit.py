"""Unit tests of the judgement rules (no storage): statuses, tolerances, ratio, grace, manifests."""

from __future__ import annotations

from datetime import timedelta

import pytest

from reconcile.archive.layout import FileEntry, Manifest
from reconcile.archive.read import PartFile, WindowArchive
from reconcile.check.baseline import baselines, sample
from reconcile.check.config import CheckConfig
from reconcile.check.judge import Baseline, count_status, judge_window, tolerance
from reconcile.timewin import Window, parse_time

W = Window(parse_time("2026-11-20T13"))
LATE = W.end + timedelta(hours=3)
ONE = Baseline(1.0, "configured")


def archive(
    rows: list[int],
    *,
    manifest_rows: list[int] | None = None,
    quarantined: int = 0,
    committed: bool = True,
) -> WindowArchive:
    files = [PartFile(f"part-000-{i:05d}.parquet", 100 + i, n) for i, n in enumerate(rows)]
    listed = rows if manifest_rows is None else manifest_rows
    m = None
    if committed:
        m = Manifest(
            window_start=W.iso(),
            window_end="",
            partition=W.partition,
            run_id="r",
            tool_version="t",
            committed_at="",
            source={"count": sum(listed)},
            rows=sum(listed),
            quarantined=quarantined,
            files=[
                FileEntry(f"part-000-{i:05d}.parquet", n, 100 + i) for i, n in enumerate(listed)
            ],
        )
    return WindowArchive(W, files=files, manifest=m)


def judged(
    expected: int,
    arch: WindowArchive,
    cfg: CheckConfig | None = None,
    baseline: Baseline = ONE,
    now=LATE,
):  # type: ignore[no-untyped-def]
    return judge_window(
        job="hub",
        resource="app/a/0123456789abcdef",
        window=W,
        expected=expected,
        archive=arch,
        baseline=baseline,
        cfg=cfg or CheckConfig(),
        now=now,
        expected_source="cloudwatch",
    )


@pytest.mark.parametrize(
    ("expected", "archived", "status"),
    [
        (1000, 1000, "ok"),
        (1000, 999, "ok"),  # 0.1% relative tolerance by default
        (1000, 990, "gap"),
        (1000, 1010, "surplus"),
        (1000, 0, "no_traffic"),
        (0, 25, "no_traffic"),
        (0, 0, "ok"),
    ],
)
def test_every_count_status(expected: int, archived: int, status: str) -> None:
    f = judged(expected, archive([archived] if archived else []))
    assert f.status == status
    assert f.expected == expected and f.archived == archived
    assert f.kind == "logflow" and f.window_start == W.start
    assert f.ratio == (round(archived / expected, 6) if expected else None)
    assert f.message


def test_tolerance_is_the_larger_of_absolute_and_relative() -> None:
    cfg = CheckConfig(abs_tolerance=5, rel_tolerance=0.01)
    assert tolerance(cfg, 100) == 5
    assert tolerance(cfg, 10_000) == 100
    assert count_status(100, 95, 100, 5) == "ok"
    assert count_status(100, 94, 100, 5) == "gap"
    assert judged(10_000, archive([9_900]), cfg).status == "ok"
    assert judged(10_000, archive([9_899]), cfg).status == "gap"
    # A tiny hour within the absolute tolerance is ok even with one side zero.
    assert judged(3, archive([]), cfg).status == "ok"


def test_expected_ratio_scales_the_expected_log_count() -> None:
    half = Baseline(0.5, "configured")
    ok = judged(1000, archive([500]), baseline=half)
    assert ok.status == "ok" and ok.baseline == 0.5 and ok.ratio == 0.5
    assert ok.detail.expected_logs == 500
    assert judged(1000, archive([400]), baseline=half).status == "gap"
    assert judged(1000, archive([600]), baseline=half).status == "surplus"
    # Without the ratio, the same hour is a gap.
    assert judged(1000, archive([500])).status == "gap"


def test_pending_while_open_and_within_grace() -> None:
    cfg = CheckConfig(grace="45m")
    inside = judged(1000, archive([10]), cfg, now=W.start + timedelta(minutes=30))
    assert inside.status == "pending" and "still open" in inside.message
    grace = judged(1000, archive([10]), cfg, now=W.end + timedelta(minutes=44))
    assert grace.status == "pending" and "grace" in grace.message
    assert grace.detail.judge_after == "2026-11-20T14:45:00Z"
    after = judged(1000, archive([10]), cfg, now=W.end + timedelta(minutes=45))
    assert after.status == "gap"
    # Pending even without any archive: the archive job may not have run yet.
    assert judged(10, archive([], committed=False), cfg, now=W.end).status == "pending"


def test_missing_when_closed_without_a_manifest() -> None:
    f = judged(1000, archive([], committed=False))
    assert f.status == "missing" and "reconcile archive" in f.message
    # Files without a manifest are an interrupted run: still missing, and said so.
    g = judged(1000, archive([1000], committed=False))
    assert g.status == "missing"
    assert g.detail.uncommitted == {"files": ["part-000-00000.parquet"], "file_rows": 1000}
    assert "uncommitted" in g.message
    # An empty hour that was committed is not missing.
    assert judged(0, archive([])).status == "ok"


def test_manifest_disagreement_is_never_ok() -> None:
    # Files hold more rows than the manifest (an extra copy): counts match ES, yet surplus.
    extra = archive([600, 400], manifest_rows=[600])
    f = judged(1000, extra)
    assert f.status == "surplus"
    assert f.detail.manifest_mismatch["extra_files"] == ["part-000-00001.parquet"]
    assert "disagrees with its manifest" in f.message
    # A file's rows changed, fewer than the manifest says, but within tolerance: gap.
    fewer = archive([999], manifest_rows=[1000])
    g = judged(999, fewer)
    assert g.status == "gap"
    assert g.detail.manifest_mismatch["rows_differ"] == [
        {"path": "part-000-00000.parquet", "manifest_rows": 1000, "file_rows": 999}
    ]
    # Count-based problems keep their own status, with the mismatch in the detail.
    lost = archive([500], manifest_rows=[500, 500])
    h = judged(1000, lost)
    assert h.status == "gap" and h.detail.manifest_mismatch["missing_files"]


def test_unreadable_manifest_and_file() -> None:
    a = WindowArchive(
        W,
        files=[PartFile("part-000-00000.parquet", 10, 100)],
        manifest_error="JSONDecodeError: bad",
    )
    f = judged(100, a)
    assert f.status == "gap" and "cannot be read" in f.message
    b = archive([100])
    b.files.append(PartFile("part-000-00001.parquet", 7, None, "ArrowInvalid: not parquet"))
    g = judged(100, b)
    # An extra file whose rows cannot be known: not more rows than the manifest, so gap.
    assert g.status == "gap"
    mm = g.detail.manifest_mismatch
    assert mm["unreadable_files"][0]["path"] == "part-000-00001.parquet"


def test_quarantined_documents_count_as_archived_unless_disabled() -> None:
    arch = archive([990], quarantined=10)
    assert judged(1000, arch).status == "ok"
    assert judged(1000, arch).archived == 1000
    off = CheckConfig(count_quarantined=False)
    assert judged(1000, arch, off).status == "gap"


def test_learned_baseline_is_a_trailing_median() -> None:
    cfg = CheckConfig(learn_ratio=True, ratio_days=1, ratio_min_samples=3)
    wins = [Window(W.start + timedelta(hours=i)) for i in range(3)]
    samples = {
        W.start - timedelta(hours=h): r for h, r in [(1, 0.5), (2, 0.52), (3, 0.1), (30, 9.0)]
    }
    b = baselines(cfg, wins, samples)
    assert b[wins[0]] == Baseline(0.5, "learned", 3)  # 30h-old sample is outside one day
    # Later windows also see samples from earlier windows of the same run.
    samples[W.start] = 0.5
    assert baselines(cfg, wins, samples)[wins[1]] == Baseline(0.5, "learned", 4)
    few = baselines(CheckConfig(learn_ratio=True, ratio_min_samples=10), wins, samples)
    assert few[wins[0]].source.startswith("configured") and few[wins[0]].ratio == 1.0
    fixed = baselines(CheckConfig(expected_ratio=0.25), wins, samples)
    assert fixed[wins[0]] == Baseline(0.25, "configured")


def test_only_complete_hours_are_ratio_samples() -> None:
    cfg = CheckConfig()
    assert sample(cfg, 1000, archive([500])) == 0.5
    assert sample(cfg, 0, archive([500])) is None
    assert sample(cfg, 1000, archive([])) is None
    assert sample(cfg, 1000, archive([500], committed=False)) is None
    assert sample(cfg, 1000, archive([500], manifest_rows=[400])) is None


def test_grace_accepts_human_durations() -> None:
    assert CheckConfig(grace="90s").grace == timedelta(seconds=90)
    assert CheckConfig(grace="2h").grace == timedelta(hours=2)
    assert CheckConfig(grace="PT15M").grace == timedelta(minutes=15)
    assert CheckConfig(grace=600).grace == timedelta(minutes=10)
    with pytest.raises(ValueError):
        CheckConfig(grace="soon")
