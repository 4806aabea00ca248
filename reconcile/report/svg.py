"""A small inline-SVG chart kit: a time-by-value frame, round ticks, grid, paths, bands and a
legend.

Knows nothing of findings; :mod:`reconcile.report.charts` draws the report's charts with it.
Everything is plain SVG markup (no script), so the page works offline.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime

from ..present import binary_unit, fmt_bytes_in, fmt_pct_places
from ..timewin import HOUR, floor_hour
from .style import esc

WIDTH = 1200
LEFT, RIGHT = 78, 16

#: A series: (time, value) points, the value None where it is absent.
Points = Sequence[tuple[datetime, float | None]]


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
        """The horizontal position of time ``t``."""
        span = (self.end - self.start).total_seconds()
        return LEFT + (t - self.start).total_seconds() / span * (WIDTH - LEFT - RIGHT)

    def y(self, v: float) -> float:
        """The vertical position of value ``v``, clamped to the plot."""
        v = min(max(v, self.lo), self.hi)
        frac = (v - self.lo) / (self.hi - self.lo) if self.hi > self.lo else 0.0
        return self.height - self.bottom - frac * (self.height - self.top - self.bottom)

    @property
    def y_top(self) -> float:
        return float(self.top)

    @property
    def y_bottom(self) -> float:
        return float(self.height - self.bottom)


# --- scales and ticks -------------------------------------------------------------------


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
    return lambda v: fmt_pct_places(v, digits)


def byte_ticks(hi: float) -> tuple[list[float], Callable[[float], str]]:
    """Ticks from 0 to ``hi`` at round values of one binary unit, and their labeller."""
    unit = binary_unit(hi)
    ticks = [t * unit[0] for t in nice_ticks(0, hi / unit[0])]
    return ticks, lambda v: fmt_bytes_in(v, unit)


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


def svg(frame: Frame, label: str, body: Iterable[str]) -> str:
    """The ``<svg>`` element of one chart, labelled for screen readers."""
    return (
        f'<svg class="chart" viewBox="0 0 {WIDTH} {frame.height}" role="img" '
        f'aria-label="{esc(label)}" xmlns="http://www.w3.org/2000/svg">' + "".join(body) + "</svg>"
    )


def grid(frame: Frame, ticks: Sequence[float], fmt: Callable[[float], str]) -> list[str]:
    """Value grid lines with labels, time grid lines (midnights stronger), the plot border."""
    out = []
    for v in ticks:
        y = frame.y(v)
        out.append(
            f'<line class="grid" x1="{LEFT}" x2="{WIDTH - RIGHT}" y1="{y:.1f}" y2="{y:.1f}"/>'
            f'<text class="ylab" x="{LEFT - 6}" y="{y + 4:.1f}">{esc(fmt(v))}</text>'
        )
    for t, label, major in time_ticks(frame.start, frame.end):
        x = frame.x(t)
        cls = "grid major" if major else "grid"
        out.append(
            f'<line class="{cls}" x1="{x:.1f}" x2="{x:.1f}" y1="{frame.y_top}" y2="{frame.y_bottom}"/>'
        )
        if label and x < WIDTH - RIGHT - 30:
            out.append(f'<text class="xlab" x="{x:.1f}" y="{frame.height - 8}">{esc(label)}</text>')
    out.append(
        f'<rect class="plot" x="{LEFT}" y="{frame.y_top}" width="{WIDTH - LEFT - RIGHT}" '
        f'height="{frame.y_bottom - frame.y_top:.1f}"/>'
    )
    return out


def path(frame: Frame, points: Points) -> str:
    """``M``/``L`` path data, broken where a value is absent."""
    parts, pen = [], "M"
    for t, v in points:
        if v is None:
            pen = "M"
            continue
        parts.append(f"{pen}{frame.x(t):.1f},{frame.y(v):.1f}")
        pen = "L"
    return " ".join(parts)


def band(
    frame: Frame, lower: Points, upper: Sequence[float | None], cls: str = "band"
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


def legend(items: Sequence[tuple[str, str, str]]) -> str:
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
        out.append(f'<text x="{x + 24}" y="18">{esc(label)}</text>')
        x += 34 + 7 * len(label)
    out.append("</g>")
    return "".join(out)
