"""Judgement: one finding per hour window from expected requests and archived rows.

For a window with ``E`` expected requests, ``A`` archived rows and an expected ratio ``r``
(log rows per request, configured or learned), the expected log count is ``L = E * r`` and
the tolerance ``T = max(abs_tolerance, rel_tolerance * L)``:

=============  ===========================================================================
``pending``    the window has not closed, or closed less than ``grace`` ago
``missing``    closed past grace and no committed archive (no ``_manifest.json``)
``stale``      committed, but Elasticsearch now holds a different count ``I`` for the
               window than the archive (``I != A``): documents arrived (or were deleted)
               after the commit; the next run re-archives it
``ok``         ``|A - L| <= T``
``no_traffic`` otherwise, one side is zero and the other is not
``gap``        otherwise ``A < L``: logs were lost
``surplus``    otherwise ``A > L``: duplicates
=============  ===========================================================================

Every finding carries the three figures ``expected`` (``E``), ``indexed`` (``I``, what
Elasticsearch holds now; ``None`` once its indexes are gone) and ``archived`` (``A``), and
a ``gap`` or ``surplus`` names its hop: ``ingest`` when the archive holds what
Elasticsearch holds (now, or at the commit, which verified it), ``archive`` when the files
disagree with their commit record, or the window was never archived.

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

from ..archive.layout import Manifest
from ..archive.read import WindowArchive
from ..details import LogflowDetail
from ..findings import HOP_ARCHIVE, HOP_BOTH, HOP_INGEST, HOP_WORDS, LOGFLOW, Finding, Status, iso
from ..timewin import Window
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


def count_status(expected: int, archived: int, expected_logs: float, allowed: float) -> Status:
    """The status of a closed, committed window from its counts alone."""
    if abs(archived - expected_logs) <= allowed:
        return Status.OK
    if expected == 0 or archived == 0:
        return Status.NO_TRAFFIC
    return Status.GAP if archived < expected_logs else Status.SURPLUS


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
    indexed: int | None = None,
    indexed_note: str | None = None,
) -> Finding:
    """The finding for one window.

    ``indexed`` is what Elasticsearch holds for the window now (``None``: not known, or its
    indexes are gone; ``indexed_note`` says which)."""
    archived = archived_rows(cfg, archive)
    expected_logs = expected * baseline.ratio
    allowed = tolerance(cfg, expected_logs)
    mismatch = archive.mismatch()
    detail = LogflowDetail(
        expected_source=expected_source,
        expected_logs=round(expected_logs, 3),
        difference=round(archived - expected_logs, 3),
        ratio_source=baseline.source,
        ratio_samples=baseline.samples,
        committed=archive.committed,
        files=len(archive.files),
        file_bytes=archive.bytes,
        file_rows=archive.rows,
        quarantined=archive.quarantined,
        indexed_note=indexed_note or None,
        manifest_mismatch=mismatch or None,
    )
    if archive.manifest is not None:
        _commit_detail(detail, archive.manifest)
    hop: str | None = None

    judge_after = window.end + cfg.grace
    if now < judge_after:
        status: Status = Status.PENDING
        detail.judge_after = iso(judge_after)
        opens = "is still open" if now < window.end else "closed less than the grace period ago"
        message = f"window {opens}; judged after {iso(judge_after)}"
    elif not archive.committed:
        status = Status.MISSING
        uncommitted = archive.uncommitted()
        message = (
            "window closed but has no committed archive (no _manifest.json): the archive job "
            f"did not run or did not finish; run `reconcile archive --from {window.label} "
            f"--to {Window(window.end).label}`"
        )
        if uncommitted:
            detail.uncommitted = uncommitted
            message += (
                f" ({len(uncommitted['files'])} uncommitted file(s) with "
                f"{uncommitted['file_rows']:,} rows are present)"
            )
        hop = HOP_ARCHIVE
        if indexed is not None and abs(indexed - expected_logs) > allowed:
            hop = HOP_BOTH
        message += "; " + _held_message(indexed, indexed_note)
    elif mismatch:
        status = count_status(expected, archived, expected_logs, allowed)
        if status == "ok":
            more = mismatch["file_rows"] > mismatch.get("manifest_rows", mismatch["file_rows"])
            status = Status.SURPLUS if more else Status.GAP
        hop = HOP_ARCHIVE
        message = _count_message(status, expected, archived, expected_logs, baseline)
        message = f"{_mismatch_message(mismatch)}; {message}"
    elif indexed is not None and indexed != archive.rows + archive.quarantined:
        status = Status.STALE
        hop = HOP_ARCHIVE
        held = archive.rows + archive.quarantined
        detail.late = indexed - held
        message = _stale_message(archive, indexed, held, expected, expected_logs, allowed)
    else:
        status = count_status(expected, archived, expected_logs, allowed)
        message = _count_message(status, expected, archived, expected_logs, baseline)
        if status in ("gap", "surplus", "no_traffic"):
            hop = HOP_INGEST
            message += " " + _ingest_evidence(archive, indexed, indexed_note)
    return Finding(
        job=job,
        kind=LOGFLOW,
        resource=resource,
        window_start=window.start,
        status=status,
        expected=expected,
        archived=archived,
        indexed=indexed,
        hop=hop,
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


def _commit_detail(detail: LogflowDetail, m: Manifest) -> None:
    """The commit's counts, its revision and, once late documents were re-archived, how many."""
    detail.manifest_rows = m.rows
    detail.source_count = m.source_count
    detail.revision = m.revision
    detail.committed_at = m.committed_at
    if m.replaced:
        first = m.replaced[0]
        detail.late_added = m.held - int(first.get("rows", 0)) - int(first.get("quarantined", 0))
        detail.first_committed_at = first.get("committed_at")


def _held_message(indexed: int | None, note: str | None) -> str:
    """What Elasticsearch still holds for a window the archive lacks."""
    if indexed is None:
        if note:
            return f"Elasticsearch no longer holds it ({note}): these logs are lost for good"
        return "what Elasticsearch holds for it is not known"
    if indexed == 0:
        return "Elasticsearch holds no documents for it either"
    return f"Elasticsearch still holds {indexed:,} documents for it"


def _ingest_evidence(archive: WindowArchive, indexed: int | None, note: str | None) -> str:
    """Why a difference lies before Elasticsearch: the archive holds what Elasticsearch holds."""
    held = archive.rows + archive.quarantined
    where = HOP_WORDS[HOP_INGEST]
    if indexed is not None:
        return (
            f"The difference arose {where}: Elasticsearch holds {indexed:,}, the archive {held:,}."
        )
    count = archive.manifest.source_count if archive.manifest else -1
    gone = f" (Elasticsearch no longer holds the window: {note})" if note else ""
    return (
        f"The difference arose {where}: the archive matched Elasticsearch's count "
        f"({count:,}) when it was committed{gone}."
    )


def _stale_message(
    archive: WindowArchive,
    indexed: int,
    held: int,
    expected: int,
    expected_logs: float,
    allowed: float,
) -> str:
    m = archive.manifest
    rev = f"revision {m.revision}, committed {m.committed_at}" if m else "committed"
    if indexed > held:
        change = (
            f"{indexed - held:,} arrived after the commit; the next `reconcile run` re-archives it"
        )
    else:
        change = (
            f"{held - indexed:,} were deleted from Elasticsearch after the commit; the archive "
            "keeps them (re-archive with --force to drop them)"
        )
    text = (
        f"Elasticsearch now holds {indexed:,} documents for this hour, the archive {held:,} "
        f"({rev}): {change}"
    )
    if abs(indexed - expected_logs) > allowed:
        text += (
            f"; Elasticsearch itself differs from the load balancer's {expected:,} requests "
            f"by {indexed - expected_logs:+,.0f} ({HOP_WORDS[HOP_INGEST]})"
        )
    return text


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
    indexed: Mapping[Window, int | None] | None = None,
    indexed_notes: Mapping[Window, str] | None = None,
) -> list[Finding]:
    """One finding per window of ``archives`` (every window of the range), in time order."""
    indexed = indexed or {}
    notes = indexed_notes or {}
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
            indexed=indexed.get(w),
            indexed_note=notes.get(w),
        )
        for w in sorted(archives)
    ]
