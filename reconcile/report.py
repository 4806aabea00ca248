"""The HTML report: one self-contained file a person reads at a glance.

Built from findings (the same records the tables, JSON and alerts use): a summary of the
incidents, then per load balancer the requests against the archived logs per hour and the
ratio against its tolerance band, per NAT gateway the bytes against the baseline band, and
the findings table with problems first.

The file works offline and fetches nothing: CSS is inline, charts are inline SVG drawn
here, there is no script, and a Content-Security-Policy forbids any other load. Hover
tooltips are SVG ``<title>`` elements.
"""

from __future__ import annotations

import html
import itertools
import math
from collections import defaultdict
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import orjson

from . import __version__
from .details import Detail, EgressDetail, LogflowDetail, detail_from_dict
from .findings import EGRESS, HOP_WORDS, LOGFLOW, STATUSES, Finding, Kind
from .present import fmt_bytes as _fmt_bytes
from .present import fmt_count, fmt_pct
from .results import read_results_file, results_key
from .storage import ObjectStore
from .timewin import HOUR, floor_hour, windows

#: Fill colour per status (one palette for bands, dots, pills and the status strip) and the
#: order of problems, worst first: both from the one status table.
COLOURS = {str(status): info.colour for status, info in STATUSES.items()}
SEVERITY = {str(status): info.rank for status, info in STATUSES.items()}
#: Statuses shaded across the charts (pending is shaded lighter: not judged yet).
SHADED = ("gap", "missing", "surplus", "no_traffic", "stale", "spike", "pending")

REQUESTS, ARCHIVED, EXPECTED_LOGS, INDEXED = "#90a4ae", "#1565c0", "#546e7a", "#00897b"
BYTES, BASELINE, THRESHOLD = "#1565c0", "#607d8b", "#c62828"

WIDTH = 1200
LEFT, RIGHT = 78, 16


# --- loading stored results -------------------------------------------------------------


def load_findings(
    store: ObjectStore, job: str, start: datetime, end: datetime
) -> tuple[list[Finding], list[Finding]]:
    """The stored log-flow and egress findings of ``job`` with a window in ``[start, end)``.

    Reads only the day files of the range from the results dataset (:mod:`reconcile.results`).
    """
    days = sorted({w.dt for w in windows(start, end)})
    out: dict[str, list[Finding]] = {LOGFLOW: [], EGRESS: []}
    for kind, found in out.items():
        for day in days:
            table = read_results_file(store, results_key(kind, day, job))
            if table is None:
                continue
            for row in table.to_pylist():
                f = finding_from_row(row, kind)
                if start <= f.window_start < end:
                    found.append(f)
        found.sort(key=lambda f: (f.window_start, f.resource))
    return out[LOGFLOW], out[EGRESS]


def finding_from_row(row: dict[str, Any], kind: str) -> Finding:
    """A :class:`Finding` from one row of the results dataset."""
    detail = row.get("detail")
    return Finding(
        job=row["job"],
        kind=Kind(row.get("kind") or kind),
        resource=row["resource"],
        window_start=row["window_start"].astimezone(UTC),
        status=row["status"],
        expected=row.get("expected"),
        archived=row.get("archived"),
        indexed=row.get("indexed"),
        hop=row.get("hop"),
        ratio=row.get("ratio"),
        bytes=row.get("bytes"),
        baseline=row.get("baseline"),
        threshold=row.get("threshold"),
        message=row.get("message") or "",
        detail=detail_from_dict(
            row.get("kind") or kind, row["resource"], orjson.loads(detail) if detail else None
        ),
    )


# --- number formatting ------------------------------------------------------------------


def fmt_bytes(v: float | None) -> str:
    """:func:`reconcile.present.fmt_bytes`, blank when unknown (a table cell)."""
    return _fmt_bytes(v, missing="")


def _esc(value: object) -> str:
    return html.escape(str(value), quote=True)


# --- scales and ticks -------------------------------------------------------------------


@dataclass(frozen=True)
class Frame:
    """The plot area of one chart: time across, a linear value scale up."""

    start: datetime
    end: datetime
    lo: float
    hi: float
    height: int
    top: int = 34
    bottom: int = 26

    def x(self, t: datetime) -> float:
        span = (self.end - self.start).total_seconds()
        return LEFT + (t - self.start).total_seconds() / span * (WIDTH - LEFT - RIGHT)

    def y(self, v: float) -> float:
        v = min(max(v, self.lo), self.hi)
        frac = (v - self.lo) / (self.hi - self.lo) if self.hi > self.lo else 0.0
        return self.height - self.bottom - frac * (self.height - self.top - self.bottom)

    @property
    def y_top(self) -> float:
        return float(self.top)

    @property
    def y_bottom(self) -> float:
        return float(self.height - self.bottom)


def nice_ticks(lo: float, hi: float, n: int = 5) -> list[float]:
    """Round tick values (1, 2, 2.5, 5 x 10^k steps) covering ``[lo, hi]``."""
    if hi <= lo:
        return [lo]
    raw = (hi - lo) / n
    mag = 10 ** math.floor(math.log10(raw))
    step = next(m * mag for m in (1, 2, 2.5, 5, 10) if m * mag >= raw)
    first = math.ceil(lo / step - 1e-9) * step
    out = []
    v = first
    while v <= hi + step * 1e-9:
        out.append(round(v, 12))
        v += step
    return out


def pct_axis(ticks: Sequence[float]) -> Callable[[float], str]:
    """A percentage labeller with just enough decimals to show every tick exactly."""
    digits = next(
        (d for d in range(5) if all(abs(round(t * 100, d) - t * 100) < 1e-6 for t in ticks)), 4
    )
    return lambda v: f"{v * 100:.{digits}f}%"


def byte_ticks(hi: float) -> tuple[list[float], Callable[[float], str]]:
    """Ticks from 0 to ``hi`` at round values of one binary unit, and their labeller."""
    units = ("B", "KiB", "MiB", "GiB", "TiB", "PiB")
    k = 0
    while hi / 1024**k >= 1024 and k < len(units) - 1:
        k += 1
    unit = 1024**k
    ticks = [t * unit for t in nice_ticks(0, hi / unit)]
    return ticks, lambda v: f"{v / unit:g} {units[k]}"


def time_ticks(start: datetime, end: datetime) -> list[tuple[datetime, str, bool]]:
    """(time, label, is_midnight) grid lines: every 3 h up to two days, else 6 h or days."""
    hours = (end - start) / HOUR
    if hours <= 48:
        step, label_every = 3, 3
    elif hours <= 240:
        step, label_every = 6, 24
    else:
        step, label_every = 24, 24 * math.ceil(hours / 24 / 12)
    t = floor_hour(start)
    if t < start:
        t += HOUR
    while t.hour % step:
        t += HOUR
    out = []
    while t <= end:
        labelled = int(t.timestamp()) // 3600 % label_every == 0
        label = ""
        if labelled:
            label = t.strftime("%a %d %b") if t.hour == 0 else t.strftime("%H:%M")
        out.append((t, label, t.hour == 0))
        t += step * HOUR
    return out


# --- SVG pieces -------------------------------------------------------------------------


def _svg(frame: Frame, label: str, body: Iterable[str]) -> str:
    return (
        f'<svg class="chart" viewBox="0 0 {WIDTH} {frame.height}" role="img" '
        f'aria-label="{_esc(label)}" xmlns="http://www.w3.org/2000/svg">' + "".join(body) + "</svg>"
    )


def _grid(frame: Frame, ticks: Sequence[float], fmt: Callable[[float], str]) -> list[str]:
    out = []
    for v in ticks:
        y = frame.y(v)
        out.append(
            f'<line class="grid" x1="{LEFT}" x2="{WIDTH - RIGHT}" y1="{y:.1f}" y2="{y:.1f}"/>'
            f'<text class="ylab" x="{LEFT - 6}" y="{y + 4:.1f}">{_esc(fmt(v))}</text>'
        )
    for t, label, major in time_ticks(frame.start, frame.end):
        x = frame.x(t)
        cls = "grid major" if major else "grid"
        out.append(
            f'<line class="{cls}" x1="{x:.1f}" x2="{x:.1f}" y1="{frame.y_top}" y2="{frame.y_bottom}"/>'
        )
        if label and x < WIDTH - RIGHT - 30:
            out.append(
                f'<text class="xlab" x="{x:.1f}" y="{frame.height - 8}">{_esc(label)}</text>'
            )
    out.append(
        f'<rect class="plot" x="{LEFT}" y="{frame.y_top}" width="{WIDTH - LEFT - RIGHT}" '
        f'height="{frame.y_bottom - frame.y_top:.1f}"/>'
    )
    return out


def _shades(frame: Frame, findings: Sequence[Finding], period: timedelta) -> list[str]:
    """One translucent band per non-ok window, in its status colour, with a tooltip."""
    out = []
    for f in findings:
        if f.status not in SHADED:
            continue
        x0, x1 = frame.x(f.window_start), frame.x(f.window_start + period)
        if x1 - x0 < 3:  # long ranges: keep a one-hour incident visible
            x0, x1 = (x0 + x1) / 2 - 1.5, (x0 + x1) / 2 + 1.5
        out.append(
            f'<rect class="shade shade-{f.status}" data-status="{f.status}" '
            f'data-window="{f.window_start:%Y-%m-%dT%H:%M}" x="{x0:.2f}" y="{frame.y_top}" '
            f'width="{x1 - x0:.2f}" height="{frame.y_bottom - frame.y_top:.1f}" '
            f'fill="{COLOURS[f.status]}"><title>{_esc(_tooltip(f))}</title></rect>'
        )
    return out


def _path(frame: Frame, points: Sequence[tuple[datetime, float | None]]) -> str:
    """``M``/``L`` path data, broken where a value is absent."""
    parts, pen = [], "M"
    for t, v in points:
        if v is None:
            pen = "M"
            continue
        parts.append(f"{pen}{frame.x(t):.1f},{frame.y(v):.1f}")
        pen = "L"
    return " ".join(parts)


def _band(
    frame: Frame,
    lower: Sequence[tuple[datetime, float | None]],
    upper: Sequence[float | None],
    cls: str = "band",
) -> list[str]:
    """Closed polygons between two series, one per unbroken run of both."""
    polys: list[list[tuple[datetime, float, float]]] = []
    run: list[tuple[datetime, float, float]] = []
    for (t, lo), hi in zip(lower, upper, strict=True):
        if lo is None or hi is None:
            if run:
                polys.append(run)
            run = []
            continue
        run.append((t, lo, hi))
    if run:
        polys.append(run)
    out = []
    for poly in polys:
        top = [f"{frame.x(t):.1f},{frame.y(hi):.1f}" for t, _lo, hi in poly]
        bottom = [f"{frame.x(t):.1f},{frame.y(lo):.1f}" for t, lo, _hi in reversed(poly)]
        out.append(f'<polygon class="{cls}" points="{" ".join(top + bottom)}"/>')
    return out


def _legend(items: Sequence[tuple[str, str, str]]) -> str:
    """(label, colour, style) entries; style is line, dashed, dotted, band or dot."""
    out = ['<g class="legend">']
    x = LEFT + 4
    for label, colour, style in items:
        if style.startswith(("band", "area")):
            out.append(
                f'<rect class="{style}" x="{x}" y="8" width="18" height="12" fill="{colour}"/>'
            )
        elif style == "dot":
            out.append(f'<circle cx="{x + 9}" cy="14" r="5" fill="{colour}"/>')
        else:
            dash = {"dashed": ' stroke-dasharray="6 4"', "dotted": ' stroke-dasharray="2 3"'}
            out.append(
                f'<line x1="{x}" x2="{x + 18}" y1="14" y2="14" stroke="{colour}" '
                f'stroke-width="2.5"{dash.get(style, "")}/>'
            )
        out.append(f'<text x="{x + 24}" y="18">{_esc(label)}</text>')
        x += 34 + 7 * len(label)
    out.append("</g>")
    return "".join(out)


def _centre(f: Finding, period: timedelta) -> datetime:
    return f.window_start + period / 2


def _tooltip(f: Finding) -> str:
    when = f"{f.window_start:%Y-%m-%d %H:%M} UTC"
    if f.kind == EGRESS:
        figures = f"{fmt_bytes(f.bytes)} (baseline {fmt_bytes(f.baseline)}, threshold {fmt_bytes(f.threshold)})"
    else:
        ratio = f", {fmt_pct(f.ratio)}" if f.ratio is not None else ""
        figures = f"{_num(f.archived)} archived / {_num(f.expected)} requests{ratio}"
    return f"{when} {f.resource}: {f.status}. {figures}. {f.message}".strip()


def _num(v: int | None) -> str:
    return "-" if v is None else f"{v:,}"


# --- incidents --------------------------------------------------------------------------


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
        logs = sum(_expected_logs(f) for f in self.findings)
        archived = sum(f.archived or 0 for f in self.findings)
        if self.status in ("gap", "surplus") and logs:
            return f"{name} {(archived - logs) / logs:+.1%}".replace("-", "\u2212")
        return name

    def summary(self) -> str:
        """One line: how much is wrong, in the figures a person acts on."""
        fs = self.findings
        n = len(fs)
        windows_text = f"{n} window{'s' if n != 1 else ''}"
        if self.kind == EGRESS:
            peak = max(fs, key=lambda f: f.bytes or 0)
            base = peak.baseline or 0
            times = f" (x{(peak.bytes or 0) / base:.1f} the baseline)" if base else ""
            talker, note = _top_talker(peak.detail), _endpoint_note(peak.detail)
            return (
                f"peak {fmt_bytes(peak.bytes)} at {peak.window_start:%Y-%m-%d %H:%M} UTC vs "
                f"baseline {fmt_bytes(peak.baseline)}{times}"
                + (f"; top talker {talker}" if talker else "")
                + (f"; {note}" if note else "")
            )
        expected = sum(f.expected or 0 for f in fs)
        logs = sum(_expected_logs(f) for f in fs)
        archived = sum(f.archived or 0 for f in fs)
        if self.status == "missing":
            return (
                f"{windows_text} with no committed archive; {expected:,} requests unaccounted for"
            )
        if self.status == "gap":
            lost = logs - archived
            share = f" ({lost / logs:.2%} of {logs:,.0f} expected)" if logs else ""
            return f"{lost:,.0f} log lines lost{share} over {windows_text}{_hops(fs)}"
        if self.status == "stale":
            late = sum(f.logflow.late or 0 for f in fs)
            return (
                f"{windows_text} behind Elasticsearch: {late:+,} documents changed after the "
                "commit (late arrivals are re-archived by the next run)"
            )
        if self.status == "surplus":
            extra = archived - logs
            share = f" (+{extra / logs:.2%})" if logs else ""
            return (
                f"{extra:,.0f} more log lines than requests{share} over {windows_text}: "
                f"duplicates?{_hops(fs)}"
            )
        if self.status == "no_traffic":
            if archived == 0:
                return f"{expected:,} requests but no archived logs over {windows_text}"
            return f"{archived:,} archived logs but no requests over {windows_text}"
        return f"{windows_text} not judged yet"


def _hops(fs: Sequence[Finding]) -> str:
    """Where the difference arose, when the windows agree on it."""
    hops = {f.hop for f in fs if f.hop}
    return f"; arose {HOP_WORDS[hops.pop()]}" if len(hops) == 1 else ""


def _expected_logs(f: Finding) -> float:
    if isinstance(f.detail, LogflowDetail) and f.detail.expected_logs:
        return float(f.detail.expected_logs)
    return (f.expected or 0) * (f.baseline if f.baseline else 1.0)


def _top_talker(detail: Detail) -> str | None:
    """The drill-down's top source and destination (see :func:`reconcile.egress.flowlogs.top_talker`)."""
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
    for (kind, resource), group in _by_resource(findings).items():
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


def _by_resource(findings: Iterable[Finding]) -> dict[tuple[str, str], list[Finding]]:
    groups: dict[tuple[str, str], list[Finding]] = defaultdict(list)
    for f in sorted(findings, key=lambda f: (f.kind, f.resource, f.window_start)):
        groups[(f.kind, f.resource)].append(f)
    return groups


# --- charts -----------------------------------------------------------------------------


def _callouts(frame: Frame, runs: Sequence[Incident]) -> list[str]:
    """Status labels above the plot, staggered so neighbouring incidents do not overlap."""
    rows: list[list[tuple[float, float]]] = [[], []]
    out = []
    for inc in sorted(runs, key=lambda i: i.start):
        label = inc.label
        x = (frame.x(inc.start) + frame.x(inc.end)) / 2
        half = 3.6 * len(label) + 4
        x = min(max(x, LEFT + half), WIDTH - RIGHT - half)
        row = next(
            (i for i, r in enumerate(rows) if all(x + half < a or x - half > b for a, b in r)), None
        )
        if row is None:
            continue
        rows[row].append((x - half, x + half))
        y = frame.top - 6 - 14 * row
        out.append(
            f'<text class="callout" x="{x:.1f}" y="{y}" style="fill:{COLOURS[inc.status]}">'
            f"{_esc(label)}<title>{_esc(inc.span + ': ' + inc.summary())}</title></text>"
        )
    return out


def requests_chart(
    findings: Sequence[Finding], runs: Sequence[Incident], start: datetime, end: datetime
) -> str:
    """Requests and archived logs per hour, problem hours shaded by status."""
    pts = [(_centre(f, HOUR), f) for f in findings]
    show_logs = any(f.baseline not in (None, 1, 1.0) for f in findings)
    top = max(
        [float(f.expected or 0) for f in findings]
        + [float(f.archived or 0) for f in findings]
        + [float(f.indexed or 0) for f in findings]
        + [_expected_logs(f) for f in findings]
        + [1.0]
    )
    ticks = nice_ticks(0, top * 1.08)
    frame = Frame(start, end, 0, max(ticks[-1], top), height=310, top=58)
    body = _shades(frame, findings, HOUR)
    body += _grid(frame, ticks, fmt_count)
    requests = [(t, f.expected) for t, f in pts]
    body += _band(
        frame,
        [(t, 0.0 if v is not None else None) for t, v in requests],
        [v for _t, v in requests],
        "area",
    )
    body.append(
        f'<path class="line" stroke="{REQUESTS}" stroke-width="1.2" d="{_path(frame, requests)}"/>'
    )
    if show_logs:
        body.append(
            f'<path class="line" stroke="{EXPECTED_LOGS}" stroke-dasharray="6 4" '
            f'd="{_path(frame, [(t, _expected_logs(f)) for t, f in pts])}"/>'
        )
    body.append(
        f'<path class="line" stroke="{ARCHIVED}" stroke-width="1.8" '
        f'd="{_path(frame, [(t, f.archived if f.status != "pending" or f.archived else None) for t, f in pts])}"/>'
    )
    show_indexed = any(f.indexed is not None for f in findings)
    if show_indexed:
        body.append(
            f'<path class="line indexed" stroke="{INDEXED}" stroke-width="1.2" '
            f'stroke-dasharray="2 3" d="{_path(frame, [(t, f.indexed) for t, f in pts])}"/>'
        )
    body += _callouts(frame, runs)
    legend = [("requests (load balancer)", REQUESTS, "area")]
    if show_logs:
        legend.append(("expected log lines", EXPECTED_LOGS, "dashed"))
    if show_indexed:
        legend.append(("in Elasticsearch now", INDEXED, "dashed"))
    legend.append(("archived log lines", ARCHIVED, "line"))
    return _svg(frame, "requests vs archived logs per hour", [*body, _legend(legend)])


def ratio_chart(
    findings: Sequence[Finding], runs: Sequence[Incident], start: datetime, end: datetime
) -> str:
    """archived / requests per hour against the tolerance band; off-scale values pinned."""
    lower: list[tuple[datetime, float | None]] = []
    upper: list[float | None] = []
    centre: list[tuple[datetime, float]] = []
    values: list[tuple[datetime, Finding, float | None]] = []
    for f in findings:
        t = _centre(f, HOUR)
        base = f.baseline or 1.0
        if f.expected and f.threshold is not None:
            tol = f.threshold / f.expected
            lower.append((t, base - tol))
            upper.append(base + tol)
        else:
            lower.append((t, None))
            upper.append(None)
        centre.append((t, base))
        ratio = (
            f.ratio
            if f.ratio is not None
            else ((f.archived or 0) / f.expected if f.expected else None)
        )
        values.append((t, f, None if f.status == "pending" else ratio))
    scale = [r for _t, f, r in values if r is not None and f.status in ("ok", "gap", "surplus")]
    scale += [v for _t, v in lower if v is not None] + [v for v in upper if v is not None]
    scale += [b for _t, b in centre]
    lo, hi = (min(scale), max(scale)) if scale else (0.9, 1.1)
    pad = max((hi - lo) * 0.12, 0.002)
    ticks = nice_ticks(lo - pad, hi + pad, 4)
    frame = Frame(start, end, min(ticks[0], lo - pad), max(ticks[-1], hi + pad), height=230)
    body = _shades(frame, findings, HOUR)
    body += _grid(frame, ticks, pct_axis(ticks))
    body += _band(frame, lower, upper)
    body.append(
        f'<path class="line" stroke="{BASELINE}" stroke-dasharray="6 4" stroke-width="1.2" '
        f'd="{_path(frame, centre)}"/>'
    )
    body.append(
        f'<path class="line" stroke="#9e9e9e" stroke-width="1" '
        f'd="{_path(frame, [(t, r) for t, _f, r in values])}"/>'
    )
    for t, f, r in values:
        if r is None:
            continue
        off = r < frame.lo or r > frame.hi
        radius = 2.2 if f.status == "ok" else 4
        x, y = frame.x(t), frame.y(r)
        tip = f"<title>{_esc(_tooltip(f))}</title>"
        if off:
            dy = 7 if r < frame.lo else -7
            body.append(
                f'<path class="offscale" d="M{x - 5:.1f},{y - dy:.1f} L{x + 5:.1f},{y - dy:.1f} '
                f'L{x:.1f},{y:.1f} Z" fill="{COLOURS.get(f.status, "#000")}">{tip}</path>'
            )
        else:
            body.append(
                f'<circle class="dot" cx="{x:.1f}" cy="{y:.1f}" r="{radius}" '
                f'fill="{COLOURS.get(f.status, "#000")}">{tip}</circle>'
            )
    legend = [
        ("archived ÷ requests", "#757575", "dot"),
        ("expected ratio", BASELINE, "dashed"),
        ("tolerance", COLOURS["ok"], "band"),
    ]
    return _svg(frame, "archived to requests ratio per hour", [*body, _legend(legend)])


def egress_chart(
    findings: Sequence[Finding], runs: Sequence[Incident], start: datetime, end: datetime
) -> str:
    """Bytes per period against the band from baseline to threshold; spikes marked."""
    period = period_of(findings)
    pts = [(_centre(f, period), f) for f in findings]
    top = max(
        [float(f.bytes or 0) for f in findings]
        + [float(f.threshold or 0) for f in findings]
        + [1.0]
    )
    ticks, fmt = byte_ticks(top * 1.08)
    frame = Frame(start, end, 0, max(ticks[-1], top), height=280, top=58)
    body = _shades(frame, [f for f in findings if f.status == "spike"], period)
    body += _grid(frame, ticks, fmt)
    body += _band(
        frame,
        [(t, f.baseline if f.threshold is not None else None) for t, f in pts],
        [f.threshold if f.baseline is not None else None for _t, f in pts],
        "band egress",
    )
    body.append(
        f'<path class="line" stroke="{BASELINE}" stroke-dasharray="6 4" stroke-width="1.2" '
        f'd="{_path(frame, [(t, f.baseline) for t, f in pts])}"/>'
    )
    body.append(
        f'<path class="line" stroke="{THRESHOLD}" stroke-dasharray="2 3" stroke-width="1.2" '
        f'd="{_path(frame, [(t, f.threshold) for t, f in pts])}"/>'
    )
    body.append(
        f'<path class="line" stroke="{BYTES}" stroke-width="1.8" '
        f'd="{_path(frame, [(t, f.bytes) for t, f in pts])}"/>'
    )
    for t, f in pts:
        if f.status == "spike" and f.bytes is not None:
            body.append(
                f'<circle class="spike" cx="{frame.x(t):.1f}" cy="{frame.y(f.bytes):.1f}" r="5" '
                f'fill="{COLOURS["spike"]}"><title>{_esc(_tooltip(f))}</title></circle>'
            )
    body += _callouts(frame, runs)
    legend = [
        ("bytes", BYTES, "line"),
        ("seasonal baseline", BASELINE, "dashed"),
        ("alert threshold", THRESHOLD, "dotted"),
        ("normal range", BASELINE, "band egress"),
        ("spike", COLOURS["spike"], "dot"),
    ]
    return _svg(frame, "NAT gateway bytes per period", [*body, _legend(legend)])


def status_strip(findings: Sequence[Finding], start: datetime, end: datetime) -> str:
    """Every window as a coloured cell: the whole range's health in one line."""
    frame = Frame(start, end, 0, 1, height=22, top=2, bottom=2)
    period = period_of(findings)
    cells = []
    for f in findings:
        x0, x1 = frame.x(f.window_start), frame.x(f.window_start + period)
        cells.append(
            f'<rect class="cell" data-status="{f.status}" x="{x0:.2f}" y="2" '
            f'width="{max(x1 - x0 - 0.4, 0.6):.2f}" height="18" fill="{COLOURS.get(f.status, "#000")}">'
            f"<title>{_esc(_tooltip(f))}</title></rect>"
        )
    label = '<text class="ylab" x="72" y="16">status</text>'
    return _svg(frame, "status per window", [label, *cells])


# --- page -------------------------------------------------------------------------------

CSS = """
:root { --fg:#1f2933; --muted:#616e7c; --line:#e4e7eb; --bg:#fff; --panel:#f7f9fb; }
* { box-sizing: border-box; }
body { margin:0; background:var(--bg); color:var(--fg);
  font: 14px/1.45 -apple-system, "Segoe UI", Roboto, "Helvetica Neue", Arial, sans-serif; }
main { max-width: 1280px; margin: 0 auto; padding: 24px 28px 48px; }
h1 { font-size: 22px; margin: 0 0 2px; }
h2 { font-size: 17px; margin: 28px 0 6px; padding-bottom: 4px; border-bottom: 1px solid var(--line); }
h3 { font-size: 14px; margin: 16px 0 2px; color: var(--muted); font-weight: 600; }
.sub { color: var(--muted); margin: 0 0 16px; }
.verdict { font-size: 18px; font-weight: 600; padding: 12px 16px; border-radius: 6px;
  border-left: 6px solid; margin: 12px 0 14px; }
.verdict.bad { background:#fdecea; border-color:#d32f2f; }
.verdict.good { background:#e8f5e9; border-color:#2e7d32; }
.cards { display:flex; flex-wrap:wrap; gap:10px; margin: 8px 0 6px; }
.card { background:var(--panel); border:1px solid var(--line); border-radius:6px;
  padding:8px 12px; min-width:108px; }
.card .n { font-size: 22px; font-weight: 700; }
.card .l { color: var(--muted); font-size: 12px; text-transform: uppercase; letter-spacing: .03em; }
.card.hot { border-left: 5px solid; }
ul.incidents { margin: 6px 0 0; padding-left: 0; list-style: none; }
ul.incidents li { margin: 4px 0; }
.pill { display:inline-block; min-width:76px; text-align:center; padding:1px 8px;
  border-radius:10px; color:#fff; font-size:12px; font-weight:600; margin-right:6px; }
svg.chart { width:100%; height:auto; display:block; }
svg.chart text { font-size: 12px; fill: var(--muted); }
svg.chart .xlab { text-anchor: middle; }
svg.chart .ylab { text-anchor: end; }
svg.chart .callout { text-anchor: middle; font-weight: 700; font-size: 12px; }
svg.chart .legend text { fill: var(--fg); }
svg.chart .grid { stroke: #eef0f2; stroke-width: 1; }
svg.chart .grid.major { stroke: #cfd4da; }
svg.chart .plot { fill: none; stroke: #cfd4da; }
svg.chart .line { fill: none; stroke-linejoin: round; stroke-linecap: round; }
svg.chart .shade { fill-opacity: .22; }
svg.chart .shade-pending { fill-opacity: .12; }
svg.chart .band { fill: #2e7d32; fill-opacity: .16; stroke: none; }
svg.chart .band.egress { fill: #607d8b; fill-opacity: .14; }
svg.chart .area { fill: #cfd8dc; fill-opacity: .8; stroke: none; }
table { border-collapse: collapse; width: 100%; font-size: 13px; margin-top: 8px; }
th, td { padding: 4px 8px; border-bottom: 1px solid var(--line); vertical-align: top; }
th { text-align:left; background: var(--panel); position: sticky; top: 0; }
td.num { text-align: right; font-variant-numeric: tabular-nums; white-space: nowrap; }
td.res { white-space: nowrap; }
td.when { white-space: nowrap; font-variant-numeric: tabular-nums; }
tbody.quiet td { color: var(--muted); }
tbody.quiet .pill { opacity: .6; }
tbody.quiet tr:first-child td { border-top: 2px solid #cfd4da; }
footer { margin-top: 28px; color: var(--muted); font-size: 12px; }
.empty { color: var(--muted); font-style: italic; }
"""

#: The page may load nothing: no scripts, no fonts, no images, no connections.
CSP = "default-src 'none'; style-src 'unsafe-inline'; img-src data:"


def _pill(status: str, colour: str | None = None) -> str:
    colour = colour or COLOURS.get(status, "#000")
    return f'<span class="pill" style="background:{colour}">{_esc(status.replace("_", " "))}</span>'


def _cards(logflow: Sequence[Finding], egress: Sequence[Finding]) -> str:
    cards = []

    def card(n: int, label: str, status: str | None = None) -> None:
        hot = status is not None and n > 0
        style = f' style="border-left-color:{COLOURS[status]}"' if hot and status else ""
        cls = "card hot" if hot else "card"
        cards.append(
            f'<div class="{cls}"{style}><div class="n">{n:,}</div><div class="l">{_esc(label)}</div></div>'
        )

    counts: defaultdict[str, int] = defaultdict(int)
    for f in logflow:
        counts[f.status] += 1
    card(len(logflow), "hours judged")
    card(counts["ok"], "ok")
    for status in ("gap", "missing", "stale", "surplus", "no_traffic", "pending"):
        card(counts[status], status.replace("_", " "), status)
    card(len(healed_hours(logflow)), "healed (late logs re-archived)", "stale")
    if egress:
        card(len({f.resource for f in egress}), "NAT gateways")
        card(sum(f.status == "spike" for f in egress), "egress spikes", "spike")
    return '<div class="cards">' + "".join(cards) + "</div>"


def _incident_list(runs: Sequence[Incident], healed: Sequence[Finding] = ()) -> str:
    items = [
        f"<li>{_pill(i.status)}<b>{_esc(i.span)}</b> · {_esc(i.resource)} · {_esc(i.summary())}</li>"
        for i in runs
        if i.status != "pending"
    ]
    items += [
        f'<li class="healed">{_pill("healed", COLOURS["stale"])}'
        f"<b>{f.window_start:%a %d %b %H:%M} UTC</b> · {_esc(f.resource)} · "
        f"{_esc(healed_summary(f))}</li>"
        for f in healed
    ]
    return '<ul class="incidents">' + "".join(items) + "</ul>" if items else ""


def healed_hours(findings: Iterable[Finding]) -> list[Finding]:
    """Hours that were stale and now reconcile: late documents re-archived as a new revision."""
    return [
        f
        for f in findings
        if not f.is_problem and isinstance(f.detail, LogflowDetail) and f.detail.late_added
    ]


def healed_summary(f: Finding) -> str:
    d = f.logflow
    return (
        f"{d.late_added or 0:+,} late documents re-archived (revision {d.revision}, "
        f"{d.committed_at}; first committed {d.first_committed_at}); reconciles now"
    )


COLUMNS = (
    "window (UTC)",
    "kind",
    "resource",
    "status",
    "expected",
    "indexed",
    "archived",
    "hop",
    "ratio",
    "bytes",
    "baseline",
    "threshold",
    "message",
)


def _row(f: Finding) -> str:
    if f.kind == EGRESS:
        figures = [
            *[""] * 5,
            fmt_bytes(f.bytes),
            fmt_bytes(f.baseline),
            fmt_bytes(f.threshold),
        ]
        talker = _top_talker(f.detail)
        message = f.message + (f" Top talker: {talker}." if talker and f.is_problem else "")
    else:
        figures = [
            _num(f.expected) if f.expected is not None else "",
            _num(f.indexed) if f.indexed is not None else "",
            _num(f.archived) if f.archived is not None else "",
            f.hop or "",
            fmt_pct(f.ratio) if f.ratio is not None else "",
            "",
            f"\u00d7{f.baseline:g}" if f.baseline is not None else "",
            f"±{f.threshold:,.0f}" if f.threshold is not None else "",
        ]
        message = f.message
    cells = "".join(f'<td class="num">{_esc(v)}</td>' for v in figures)
    return (
        f'<tr class="st-{f.status}" data-status="{f.status}" data-kind="{f.kind}">'
        f'<td class="when">{f.window_start:%Y-%m-%d %H:%M}</td><td>{_esc(f.kind)}</td>'
        f'<td class="res">{_esc(f.resource)}</td><td>{_pill(f.status)}</td>'
        f"{cells}<td>{_esc(message)}</td></tr>"
    )


def findings_table(findings: Sequence[Finding]) -> str:
    """Every finding: problems first (worst, then earliest), then the quiet ones by time."""
    problems = sorted(
        (f for f in findings if f.is_problem),
        key=lambda f: (SEVERITY.get(f.status, 9), f.window_start, f.kind, f.resource),
    )
    quiet = sorted(
        (f for f in findings if not f.is_problem),
        key=lambda f: (f.window_start, f.kind, f.resource),
    )
    head = "".join(f"<th>{_esc(c)}</th>" for c in COLUMNS)
    return (
        f'<table class="findings"><thead><tr>{head}</tr></thead>'
        f'<tbody class="problems">{"".join(_row(f) for f in problems)}</tbody>'
        f'<tbody class="quiet">{"".join(_row(f) for f in quiet)}</tbody></table>'
    )


def _clip(findings: Iterable[Finding], start: datetime, end: datetime) -> list[Finding]:
    return sorted(
        (f for f in findings if start <= f.window_start < end),
        key=lambda f: (f.resource, f.window_start),
    )


def _verdict(
    runs: Sequence[Incident], logflow: Sequence[Finding], egress: Sequence[Finding]
) -> str:
    real = [i for i in runs if i.status != "pending"]
    if real:
        n = len(real)
        return f'<div class="verdict bad">{n} incident{"s" if n != 1 else ""} to look at</div>'
    if not logflow and not egress:
        return '<div class="verdict bad">No findings stored for this range</div>'
    return '<div class="verdict good">Every judged hour reconciles; no egress spikes</div>'


def build_report(
    findings_logflow: list[Finding],
    findings_egress: list[Finding],
    job: str,
    start: datetime,
    end: datetime,
    *,
    generated_at: datetime | None = None,
    source: str = "",
) -> str:
    """One self-contained HTML page for ``job`` over ``[start, end)`` (UTC)."""
    generated_at = generated_at or datetime.now(UTC)
    logflow = _clip(findings_logflow, start, end)
    egress = _clip(findings_egress, start, end)
    runs = incidents(logflow + egress)
    parts = [
        f"<h1>Log flow reconciliation · {_esc(job)}</h1>",
        f'<p class="sub">{start:%Y-%m-%d %H:%M} &ndash; {end:%Y-%m-%d %H:%M} UTC · '
        f"did every request that reached the load balancer end up archived, and did anything "
        f"unusual leave through the NAT gateways?</p>",
        _verdict(runs, logflow, egress),
        _cards(logflow, egress),
        _incident_list(runs, healed_hours(logflow)),
        "<h2>Requests vs archived logs</h2>",
    ]
    lf = {r: fs for (k, r), fs in _by_resource(logflow).items() if k == LOGFLOW}
    if not lf:
        parts.append('<p class="empty">No log-flow findings in this range.</p>')
    for resource, fs in lf.items():
        mine = [i for i in runs if i.kind == LOGFLOW and i.resource == resource]
        parts += [
            f"<h3>{_esc(resource)}</h3>",
            status_strip(fs, start, end),
            requests_chart(fs, mine, start, end),
            "<h3>Archived ÷ requests, with the tolerance band</h3>",
            ratio_chart(fs, mine, start, end),
        ]
    parts.append("<h2>NAT gateway egress</h2>")
    # Port-allocation findings (resource <nat-id>/ErrorPortAllocation) are counts: table only.
    charted = {r: fs for (k, r), fs in _by_resource(egress).items() if k == EGRESS and "/" not in r}
    if not charted:
        parts.append('<p class="empty">No egress findings in this range.</p>')
    for resource, fs in charted.items():
        mine = [i for i in runs if i.kind == EGRESS and i.resource == resource]
        parts += [f"<h3>{_esc(resource)}</h3>", egress_chart(fs, mine, start, end)]
    parts += [
        '<h2 id="findings">Findings</h2>',
        f'<p class="sub">{sum(f.is_problem for f in logflow + egress):,} problems first, '
        f"then {sum(not f.is_problem for f in logflow + egress):,} ok or pending windows.</p>",
        findings_table(logflow + egress),
        f"<footer>Generated {generated_at:%Y-%m-%d %H:%M:%S} UTC by logflow-reconcile "
        f"{_esc(__version__)}" + (f" from {_esc(source)}" if source else "") + ".</footer>",
    ]
    return (
        "<!DOCTYPE html>\n"
        '<html lang="en"><head><meta charset="utf-8">'
        f'<meta http-equiv="Content-Security-Policy" content="{CSP}">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>{_esc(job)} · reconcile report {start:%Y-%m-%d}&ndash;{end:%Y-%m-%d}</title>"
        f"<style>{CSS}</style></head><body><main>" + "\n".join(parts) + "</main></body></html>\n"
    )
