"""Judgement: one finding per hour window from expected requests and archived rows.

For a window with ``E`` expected requests, ``A`` archived rows and an expected ratio ``r``
(log rows per request, configured or learned), the expected log count is ``L = E * r`` and
the tolerance ``T = max(abs_tolerance, rel_tolerance * L)``:

=============  ===========================================================================
``pending``    the window has not closed, or closed less than ``grace`` ago
``missing``    closed past grace and no committed archive (no ``_manifest.json``)
``ok``         ``|A - L| <= T``
``no_traffic`` otherwise, one side is zero and the other is not
``gap``        otherwise ``A < L``: logs were lost
``surplus``    otherwise ``A > L``: duplicates
=============  ===========================================================================

``A`` is counted from the Parquet footers of the files really present (plus quarantined
documents, by default). When those files disagree with the manifest (a file missing, extra,
unreadable or changed) the finding says so in ``detail.manifest_mismatch``, and a window
that would otherwise be ``ok`` becomes ``surplus`` if the files hold more rows than the
manifest and ``gap`` otherwise: an archive that does not match its commit record is never ok.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from ..findings import LOGFLOW, Finding, iso
from ..timewin import Window
from .archived import WindowArchive
from .config import CheckConfig


@dataclass(frozen=True, slots=True)
class Baseline:
    """The expected ratio used for one window, and where it came from."""

    ratio: float
    source: str
    """``configured``, ``learned`` or ``configured (not enough history)``."""
    samples: int = 0


def tolerance(cfg: CheckConfig, expected_logs: float) -> float:
    """Rows a window may differ from its expected log count and still be ok."""
    return max(float(cfg.abs_tolerance), cfg.rel_tolerance * expected_logs)


def count_status(expected: int, archived: int, expected_logs: float, allowed: float) -> str:
    """The status of a closed, committed window from its counts alone."""
    if abs(archived - expected_logs) <= allowed:
        return "ok"
    if expected == 0 or archived == 0:
        return "no_traffic"
    return "gap" if archived < expected_logs else "surplus"


def archived_rows(cfg: CheckConfig, archive: WindowArchive) -> int:
    return archive.rows + (archive.quarantined if cfg.count_quarantined else 0)


def judge_window(
    *,
    job: str,
    resource: str,
    window: Window,
    expected: int,
    archive: WindowArchive,
    baseline: Baseline,
    cfg: CheckConfig,
    now: datetime,
    expected_source: str = "",
) -> Finding:
    """The finding for one window."""
    archived = archived_rows(cfg, archive)
    expected_logs = expected * baseline.ratio
    allowed = tolerance(cfg, expected_logs)
    detail: dict[str, Any] = {
        "expected_source": expected_source,
        "expected_logs": round(expected_logs, 3),
        "difference": round(archived - expected_logs, 3),
        "ratio_source": baseline.source,
        "ratio_samples": baseline.samples,
        "committed": archive.committed,
        "files": len(archive.files),
        "file_bytes": archive.bytes,
        "file_rows": archive.rows,
        "quarantined": archive.quarantined,
    }
    if archive.manifest is not None:
        detail["manifest_rows"] = archive.manifest.rows
        detail["source_count"] = archive.manifest.source_count
    mismatch = archive.mismatch()
    if mismatch:
        detail["manifest_mismatch"] = mismatch

    judge_after = window.end + cfg.grace
    if now < judge_after:
        status = "pending"
        detail["judge_after"] = iso(judge_after)
        opens = "is still open" if now < window.end else "closed less than the grace period ago"
        message = f"window {opens}; judged after {iso(judge_after)}"
    elif not archive.committed:
        status = "missing"
        uncommitted = archive.uncommitted()
        message = (
            "window closed but has no committed archive (no _manifest.json): the archive job "
            f"did not run or did not finish; run `reconcile archive --from {window.label} "
            f"--to {Window(window.end).label}`"
        )
        if uncommitted:
            detail["uncommitted"] = uncommitted
            message += (
                f" ({len(uncommitted['files'])} uncommitted file(s) with "
                f"{uncommitted['file_rows']:,} rows are present)"
            )
    else:
        status = count_status(expected, archived, expected_logs, allowed)
        message = _count_message(status, expected, archived, expected_logs, baseline)
        if mismatch:
            if status == "ok":
                more = mismatch["file_rows"] > mismatch.get("manifest_rows", mismatch["file_rows"])
                status = "surplus" if more else "gap"
            message = f"{_mismatch_message(mismatch)}; {message}"
    return Finding(
        job=job,
        kind=LOGFLOW,
        resource=resource,
        window_start=window.start,
        status=status,
        expected=expected,
        archived=archived,
        ratio=round(archived / expected, 6) if expected else None,
        baseline=baseline.ratio,
        threshold=round(allowed, 3),
        message=message,
        detail=detail,
    )


def _count_message(
    status: str, expected: int, archived: int, expected_logs: float, baseline: Baseline
) -> str:
    per = f" x {baseline.ratio:g} ({baseline.source})" if baseline.ratio != 1 else ""
    figures = f"{archived:,} rows archived for {expected:,} requests{per}"
    diff = archived - expected_logs
    if status == "ok":
        return f"{figures}: within tolerance"
    if status == "no_traffic":
        if archived == 0:
            return (
                f"the load balancer served {expected:,} requests but no log rows were archived: "
                "is the application logging, and is this the right load balancer?"
            )
        return (
            f"{archived:,} log rows archived but the load balancer reports no requests: "
            "did the traffic move to another load balancer, or its metric go dark?"
        )
    if status == "gap":
        return f"{-diff:,.0f} fewer log rows than expected ({figures}): logs were lost"
    return f"{diff:,.0f} more log rows than expected ({figures}): duplicates"


def _mismatch_message(m: Mapping[str, Any]) -> str:
    if "manifest_unreadable" in m:
        return f"the manifest cannot be read ({m['manifest_unreadable']})"
    parts = []
    for key, label in (
        ("missing_files", "missing"),
        ("extra_files", "not in the manifest"),
        ("unreadable_files", "unreadable"),
        ("rows_differ", "with other row counts"),
        ("bytes_differ", "with other sizes"),
        ("missing_rejects", "quarantine files missing"),
    ):
        if m.get(key):
            parts.append(f"{len(m[key])} file(s) {label}")
    return (
        f"the archive disagrees with its manifest ({', '.join(parts)}; manifest says "
        f"{m.get('manifest_rows', 0):,} rows, files hold {m.get('file_rows', 0):,})"
    )


def judge(
    *,
    job: str,
    resource: str,
    expected: Mapping[Window, int],
    archives: Mapping[Window, WindowArchive],
    baselines: Mapping[Window, Baseline],
    cfg: CheckConfig,
    now: datetime,
    expected_source: str = "",
) -> list[Finding]:
    """One finding per window of ``archives`` (every window of the range), in time order."""
    return [
        judge_window(
            job=job,
            resource=resource,
            window=w,
            expected=int(expected.get(w, 0)),
            archive=archives[w],
            baseline=baselines[w],
            cfg=cfg,
            now=now,
            expected_source=expected_source,
        )
        for w in sorted(archives)
    ]
