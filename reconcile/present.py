"""One voice: how every surface (CLI tables, alerts, the report) writes numbers and times.

A figure reads the same wherever a person meets it: 9.4e9 bytes is ``8.75 GiB`` in a Slack
message, a PagerDuty summary, a finding's message and the report's chart callout alike.
Bytes are binary units (AWS bills NAT and transfer per GB of 2^30 bytes), three significant
digits; counts are grouped by thousands; ratios are percentages.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from .durations import format_duration

__all__ = [
    "binary_unit",
    "fmt_bytes",
    "fmt_bytes_in",
    "fmt_count",
    "fmt_duration",
    "fmt_hour",
    "fmt_int",
    "fmt_pct",
    "fmt_pct_places",
    "sig3",
]

_BINARY = ("B", "KiB", "MiB", "GiB", "TiB", "PiB")


def sig3(v: float) -> str:
    """Three significant digits without exponent notation: ``9.37``, ``93.7``, ``937``, ``1024``."""
    a = abs(v)
    if a >= 99.95 or a == int(a):
        return f"{v:.0f}"
    return f"{v:.1f}" if a >= 9.995 else f"{v:.2f}".rstrip("0").rstrip(".")


def fmt_bytes(v: float | None, missing: str = "?") -> str:
    """Binary units, three significant digits: ``512 B``, ``8.75 GiB``."""
    if v is None:
        return missing
    value, k = float(v), 0
    while abs(value) >= 1024 and k < len(_BINARY) - 1:
        value /= 1024
        k += 1
    return f"{sig3(value)} {_BINARY[k]}"


def binary_unit(v: float) -> tuple[int, str]:
    """The binary unit ``v`` reads best in, as (bytes in it, name): ``(1073741824, "GiB")``."""
    k = 0
    while abs(v) / 1024**k >= 1024 and k < len(_BINARY) - 1:
        k += 1
    return 1024**k, _BINARY[k]


def fmt_bytes_in(v: float, unit: tuple[int, str]) -> str:
    """Bytes in a fixed unit, shortest exact spelling (axis ticks share one unit): ``2.5 GiB``."""
    size, name = unit
    return f"{v / size:g} {name}"


def fmt_count(v: float) -> str:
    """``950``, ``12.5k``, ``3.2M``: short counts for chart axes and callouts."""
    for div, suffix in ((1e9, "G"), (1e6, "M"), (1e3, "k")):
        if abs(v) >= div:
            return f"{sig3(v / div)}{suffix}"
    return sig3(v)


def fmt_int(n: float | None, missing: str = "?") -> str:
    """A count in full, grouped: ``12,345``."""
    return missing if n is None else f"{n:,.0f}"


def fmt_pct(ratio: float | None, missing: str = "?") -> str:
    """A ratio as a percentage, three significant digits: ``96.5%``, ``100%``, ``0.05%``."""
    return missing if ratio is None else f"{sig3(ratio * 100)}%"


def fmt_pct_places(ratio: float, places: int) -> str:
    """A ratio as a percentage with ``places`` decimals (axis ticks share one precision)."""
    return f"{ratio * 100:.{places}f}%"


def fmt_hour(dt: datetime) -> str:
    """An hour as people read it in messages: ``2026-11-20 13:00 UTC``."""
    return dt.strftime("%Y-%m-%d %H:%M UTC")


def fmt_duration(value: timedelta) -> str:
    """``1h30m``: the spelling the configuration accepts."""
    return format_duration(value)
