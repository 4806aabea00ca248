"""What the report says about problems: problem windows grouped into incidents, and the
words for an incident (summary line, chart callout), a healed hour and a single window's
tooltip.

Figures are written by :mod:`reconcile.present`, so the report reads like the alerts.
"""

from __future__ import annotations

import itertools
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from ..details import Detail, EgressDetail, LogflowDetail
from ..findings import EGRESS, HOP_WORDS, Finding
from ..present import fmt_bytes, fmt_int, fmt_pct
from ..timewin import HOUR
from .style import SEVERITY


@dataclass(frozen=True)
class Incident:
    """Consecutive windows of one resource with the same problem status."""

    kind: str
    resource: str
    status: str
    findings: tuple[Finding, ...]
    period: timedelta

    @property
    def start(self) -> datetime:
        return self.findings[0].window_start

    @property
    def end(self) -> datetime:
        return self.findings[-1].window_start + self.period

    @property
    def span(self) -> str:
        """``Tue 17 Nov 13:00-15:00 UTC`` (en dash); both dates when it crosses midnight."""
        last = self.end - timedelta(seconds=1)
        if self.start.date() == last.date():
            return f"{self.start:%a %d %b %H:%M}\u2013{self.end:%H:%M} UTC"
        return f"{self.start:%a %d %b %H:%M} \u2013 {self.end:%a %d %b %H:%M} UTC"

    @property
    def label(self) -> str:
        """A few characters for a chart callout: ``gap -3.5%``, ``spike 9.4 GiB``."""
        name = self.status.replace("_", " ")
        if self.kind == EGRESS:
            return f"{name} {fmt_bytes(max(f.bytes or 0 for f in self.findings))}"
        logs = sum(expected_logs(f) for f in self.findings)
        archived = sum(f.archived or 0 for f in self.findings)
        if self.status in ("gap", "surplus") and logs:
            return f"{name} {(archived - logs) / logs:+.1%}".replace("-", "\u2212")
        return name

    def summary(self) -> str:
        """One line: how much is wrong, in the figures a person acts on."""
        if self.kind == EGRESS:
            return _egress_summary(self.findings)
        return _logflow_summary(self.status, self.findings)


def _egress_summary(fs: Sequence[Finding]) -> str:
    """The peak window against its baseline, and who sent the bytes."""
    peak = max(fs, key=lambda f: f.bytes or 0)
    base = peak.baseline or 0
    times = f" (x{(peak.bytes or 0) / base:.1f} the baseline)" if base else ""
    talker, note = top_talker(peak.detail), _endpoint_note(peak.detail)
    return (
        f"peak {fmt_bytes(peak.bytes, missing='')} at {peak.window_start:%Y-%m-%d %H:%M} UTC vs "
        f"baseline {fmt_bytes(peak.baseline, missing='')}{times}"
        + (f"; top talker {talker}" if talker else "")
        + (f"; {note}" if note else "")
    )


def _logflow_summary(status: str, fs: Sequence[Finding]) -> str:
    """Requests against archived log lines over the incident's windows, per status."""
    n = len(fs)
    windows_text = f"{n} window{'s' if n != 1 else ''}"
    expected = sum(f.expected or 0 for f in fs)
    logs = sum(expected_logs(f) for f in fs)
    archived = sum(f.archived or 0 for f in fs)
    if status == "missing":
        return f"{windows_text} with no committed archive; {expected:,} requests unaccounted for"
    if status == "gap":
        lost = logs - archived
        share = f" ({lost / logs:.2%} of {logs:,.0f} expected)" if logs else ""
        return f"{lost:,.0f} log lines lost{share} over {windows_text}{_hops(fs)}"
    if status == "stale":
        late = sum(f.logflow.late or 0 for f in fs)
        return (
            f"{windows_text} behind Elasticsearch: {late:+,} documents changed after the "
            "commit (late arrivals are re-archived by the next run)"
        )
    if status == "surplus":
        extra = archived - logs
        share = f" (+{extra / logs:.2%})" if logs else ""
        return (
            f"{extra:,.0f} more log lines than requests{share} over {windows_text}: "
            f"duplicates?{_hops(fs)}"
        )
    if status == "no_traffic":
        if archived == 0:
            return f"{expected:,} requests but no archived logs over {windows_text}"
        return f"{archived:,} archived logs but no requests over {windows_text}"
    return f"{windows_text} not judged yet"


def _hops(fs: Sequence[Finding]) -> str:
    """Where the difference arose, when the windows agree on it."""
    hops = {f.hop for f in fs if f.hop}
    return f"; arose {HOP_WORDS[hops.pop()]}" if len(hops) == 1 else ""


def expected_logs(f: Finding) -> float:
    """The log lines a window should have archived: requests times the expected ratio."""
    if isinstance(f.detail, LogflowDetail) and f.detail.expected_logs:
        return float(f.detail.expected_logs)
    return (f.expected or 0) * (f.baseline if f.baseline else 1.0)


def top_talker(detail: Detail) -> str | None:
    """The drill-down's top source and destination (see :func:`reconcile.talkers.top_talker`)."""
    talker = detail.top_talker() if isinstance(detail, EgressDetail) else None
    return (talker.describe(fmt_bytes) or None) if talker else None


def _endpoint_note(detail: Detail) -> str | None:
    """The drill-down's S3/DynamoDB-through-NAT sentence, or None."""
    talker = detail.top_talker() if isinstance(detail, EgressDetail) else None
    return (talker.callout(fmt_bytes) or None) if talker else None


def period_of(findings: Sequence[Finding]) -> timedelta:
    """The spacing of a resource's windows (an hour unless egress judges shorter periods)."""
    starts = sorted({f.window_start for f in findings})
    gaps = [b - a for a, b in itertools.pairwise(starts) if b > a]
    return min(gaps) if gaps and min(gaps) < HOUR else HOUR


def incidents(findings: Sequence[Finding]) -> list[Incident]:
    """Problem windows merged into runs per (kind, resource, status), worst first."""
    out = []
    for (kind, resource), group in by_resource(findings).items():
        period = period_of(group)
        run: list[Finding] = []
        for f in group:
            if run and (
                f.status != run[-1].status or f.window_start != run[-1].window_start + period
            ):
                out.append(Incident(kind, resource, run[0].status, tuple(run), period))
                run = []
            if f.is_problem:
                run.append(f)
        if run:
            out.append(Incident(kind, resource, run[0].status, tuple(run), period))
    return sorted(out, key=lambda i: (SEVERITY.get(i.status, 9), i.start, i.resource))


def by_resource(findings: Iterable[Finding]) -> dict[tuple[str, str], list[Finding]]:
    """Findings per (kind, resource), each list in time order."""
    groups: dict[tuple[str, str], list[Finding]] = defaultdict(list)
    for f in sorted(findings, key=lambda f: (f.kind, f.resource, f.window_start)):
        groups[(f.kind, f.resource)].append(f)
    return groups


def healed_hours(findings: Iterable[Finding]) -> list[Finding]:
    """Hours that were stale and now reconcile: late documents re-archived as a new revision."""
    return [
        f
        for f in findings
        if not f.is_problem and isinstance(f.detail, LogflowDetail) and f.detail.late_added
    ]


def healed_summary(f: Finding) -> str:
    """What re-archiving a healed hour added, and when it was committed first and now."""
    d = f.logflow
    return (
        f"{d.late_added or 0:+,} late documents re-archived (revision {d.revision}, "
        f"{d.committed_at}; first committed {d.first_committed_at}); reconciles now"
    )


def tooltip(f: Finding) -> str:
    """One window's status and figures, for hovering over it in a chart."""
    when = f"{f.window_start:%Y-%m-%d %H:%M} UTC"
    if f.kind == EGRESS:
        figures = (
            f"{fmt_bytes(f.bytes, missing='')} (baseline {fmt_bytes(f.baseline, missing='')}, "
            f"threshold {fmt_bytes(f.threshold, missing='')})"
        )
    else:
        ratio = f", {fmt_pct(f.ratio)}" if f.ratio is not None else ""
        figures = (
            f"{fmt_int(f.archived, missing='-')} archived / "
            f"{fmt_int(f.expected, missing='-')} requests{ratio}"
        )
    return f"{when} {f.resource}: {f.status}. {figures}. {f.message}".strip()
