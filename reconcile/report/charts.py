"""The report's charts of findings: requests against archived logs, the archived-to-requests
ratio in its tolerance band, NAT gateway bytes in their baseline band, and the status strip.

Problem windows are shaded in their status colour, incidents are called out above the plot,
and every window has a hover tooltip (an SVG ``<title>``).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from ..findings import Finding
from ..present import fmt_count
from ..timewin import HOUR
from .incidents import Incident, expected_logs, period_of, tooltip
from .style import (
    ARCHIVED,
    BASELINE,
    BYTES,
    COLOURS,
    EXPECTED_LOGS,
    INDEXED,
    REQUESTS,
    SHADED,
    THRESHOLD,
    esc,
)
from .svg import (
    LEFT,
    RIGHT,
    WIDTH,
    Frame,
    band,
    byte_ticks,
    grid,
    legend,
    nice_ticks,
    path,
    pct_axis,
    svg,
)


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
            f'fill="{COLOURS[f.status]}"><title>{esc(tooltip(f))}</title></rect>'
        )
    return out


def _centre(f: Finding, period: timedelta) -> datetime:
    """The middle of a window: where its point is drawn."""
    return f.window_start + period / 2


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
            f"{esc(label)}<title>{esc(inc.span + ': ' + inc.summary())}</title></text>"
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
        + [expected_logs(f) for f in findings]
        + [1.0]
    )
    ticks = nice_ticks(0, top * 1.08)
    frame = Frame(start, end, 0, max(ticks[-1], top), height=310, top=58)
    body = _shades(frame, findings, HOUR)
    body += grid(frame, ticks, fmt_count)
    requests = [(t, f.expected) for t, f in pts]
    body += band(
        frame,
        [(t, 0.0 if v is not None else None) for t, v in requests],
        [v for _t, v in requests],
        "area",
    )
    body.append(
        f'<path class="line" stroke="{REQUESTS}" stroke-width="1.2" d="{path(frame, requests)}"/>'
    )
    if show_logs:
        body.append(
            f'<path class="line" stroke="{EXPECTED_LOGS}" stroke-dasharray="6 4" '
            f'd="{path(frame, [(t, expected_logs(f)) for t, f in pts])}"/>'
        )
    body.append(
        f'<path class="line" stroke="{ARCHIVED}" stroke-width="1.8" '
        f'd="{path(frame, [(t, f.archived if f.status != "pending" or f.archived else None) for t, f in pts])}"/>'
    )
    show_indexed = any(f.indexed is not None for f in findings)
    if show_indexed:
        body.append(
            f'<path class="line indexed" stroke="{INDEXED}" stroke-width="1.2" '
            f'stroke-dasharray="2 3" d="{path(frame, [(t, f.indexed) for t, f in pts])}"/>'
        )
    body += _callouts(frame, runs)
    items = [("requests (load balancer)", REQUESTS, "area")]
    if show_logs:
        items.append(("expected log lines", EXPECTED_LOGS, "dashed"))
    if show_indexed:
        items.append(("in Elasticsearch now", INDEXED, "dashed"))
    items.append(("archived log lines", ARCHIVED, "line"))
    return svg(frame, "requests vs archived logs per hour", [*body, legend(items)])


@dataclass
class _RatioSeries:
    """The ratio chart's series: tolerance band, expected ratio, and each window's ratio."""

    lower: list[tuple[datetime, float | None]]
    upper: list[float | None]
    centre: list[tuple[datetime, float]]
    values: list[tuple[datetime, Finding, float | None]]

    def scale(self) -> list[float]:
        """The values the axis must show: judged ratios, the band and the expected ratio."""
        out = [
            r for _t, f, r in self.values if r is not None and f.status in ("ok", "gap", "surplus")
        ]
        out += [v for _t, v in self.lower if v is not None] + [
            v for v in self.upper if v is not None
        ]
        return out + [b for _t, b in self.centre]


def _ratio_series(findings: Sequence[Finding]) -> _RatioSeries:
    """Per hour: the band around the expected ratio (from the threshold) and the ratio seen."""
    series = _RatioSeries([], [], [], [])
    for f in findings:
        t = _centre(f, HOUR)
        base = f.baseline or 1.0
        if f.expected and f.threshold is not None:
            tol = f.threshold / f.expected
            series.lower.append((t, base - tol))
            series.upper.append(base + tol)
        else:
            series.lower.append((t, None))
            series.upper.append(None)
        series.centre.append((t, base))
        ratio = (
            f.ratio
            if f.ratio is not None
            else ((f.archived or 0) / f.expected if f.expected else None)
        )
        series.values.append((t, f, None if f.status == "pending" else ratio))
    return series


def _ratio_marks(
    frame: Frame, values: Sequence[tuple[datetime, Finding, float | None]]
) -> list[str]:
    """A dot per judged hour in its status colour; a pinned triangle when off the scale."""
    out = []
    for t, f, r in values:
        if r is None:
            continue
        off = r < frame.lo or r > frame.hi
        radius = 2.2 if f.status == "ok" else 4
        x, y = frame.x(t), frame.y(r)
        tip = f"<title>{esc(tooltip(f))}</title>"
        if off:
            dy = 7 if r < frame.lo else -7
            out.append(
                f'<path class="offscale" d="M{x - 5:.1f},{y - dy:.1f} L{x + 5:.1f},{y - dy:.1f} '
                f'L{x:.1f},{y:.1f} Z" fill="{COLOURS.get(f.status, "#000")}">{tip}</path>'
            )
        else:
            out.append(
                f'<circle class="dot" cx="{x:.1f}" cy="{y:.1f}" r="{radius}" '
                f'fill="{COLOURS.get(f.status, "#000")}">{tip}</circle>'
            )
    return out


def ratio_chart(
    findings: Sequence[Finding], runs: Sequence[Incident], start: datetime, end: datetime
) -> str:
    """archived / requests per hour against the tolerance band; off-scale values pinned."""
    series = _ratio_series(findings)
    scale = series.scale()
    lo, hi = (min(scale), max(scale)) if scale else (0.9, 1.1)
    pad = max((hi - lo) * 0.12, 0.002)
    ticks = nice_ticks(lo - pad, hi + pad, 4)
    frame = Frame(start, end, min(ticks[0], lo - pad), max(ticks[-1], hi + pad), height=230)
    body = _shades(frame, findings, HOUR)
    body += grid(frame, ticks, pct_axis(ticks))
    body += band(frame, series.lower, series.upper)
    body.append(
        f'<path class="line" stroke="{BASELINE}" stroke-dasharray="6 4" stroke-width="1.2" '
        f'd="{path(frame, series.centre)}"/>'
    )
    body.append(
        f'<path class="line" stroke="#9e9e9e" stroke-width="1" '
        f'd="{path(frame, [(t, r) for t, _f, r in series.values])}"/>'
    )
    body += _ratio_marks(frame, series.values)
    items = [
        ("archived ÷ requests", "#757575", "dot"),
        ("expected ratio", BASELINE, "dashed"),
        ("tolerance", COLOURS["ok"], "band"),
    ]
    return svg(frame, "archived to requests ratio per hour", [*body, legend(items)])


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
    body += grid(frame, ticks, fmt)
    body += band(
        frame,
        [(t, f.baseline if f.threshold is not None else None) for t, f in pts],
        [f.threshold if f.baseline is not None else None for _t, f in pts],
        "band egress",
    )
    body.append(
        f'<path class="line" stroke="{BASELINE}" stroke-dasharray="6 4" stroke-width="1.2" '
        f'd="{path(frame, [(t, f.baseline) for t, f in pts])}"/>'
    )
    body.append(
        f'<path class="line" stroke="{THRESHOLD}" stroke-dasharray="2 3" stroke-width="1.2" '
        f'd="{path(frame, [(t, f.threshold) for t, f in pts])}"/>'
    )
    body.append(
        f'<path class="line" stroke="{BYTES}" stroke-width="1.8" '
        f'd="{path(frame, [(t, f.bytes) for t, f in pts])}"/>'
    )
    for t, f in pts:
        if f.status == "spike" and f.bytes is not None:
            body.append(
                f'<circle class="spike" cx="{frame.x(t):.1f}" cy="{frame.y(f.bytes):.1f}" r="5" '
                f'fill="{COLOURS["spike"]}"><title>{esc(tooltip(f))}</title></circle>'
            )
    body += _callouts(frame, runs)
    items = [
        ("bytes", BYTES, "line"),
        ("seasonal baseline", BASELINE, "dashed"),
        ("alert threshold", THRESHOLD, "dotted"),
        ("normal range", BASELINE, "band egress"),
        ("spike", COLOURS["spike"], "dot"),
    ]
    return svg(frame, "NAT gateway bytes per period", [*body, legend(items)])


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
            f"<title>{esc(tooltip(f))}</title></rect>"
        )
    label = '<text class="ylab" x="72" y="16">status</text>'
    return svg(frame, "status per window", [label, *cells])
