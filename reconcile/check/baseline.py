"""The expected ratio: configured, or learned from the trailing days.

Applications often log a known fraction of requests (health checks unlogged, sampling).
A learned ratio is, for each window, the median of ``archived / expected`` over the
complete hours of the ``ratio_days`` before it: closed past grace, committed, the files
agreeing with the manifest, and both sides non-zero. The median ignores the odd bad hour,
so gaps do not teach the baseline to expect gaps (as long as fewer than half the hours are
bad). Samples come from the results history and from the hours being checked; when the
history holds too few, the trailing days are counted afresh.
"""

from __future__ import annotations

import statistics
from bisect import bisect_left
from collections.abc import Mapping
from datetime import datetime, timedelta

from ..archive.read import WindowArchive
from ..timewin import Window
from .config import CheckConfig
from .judge import Baseline, archived_rows

#: A ratio sample per window start.
Samples = dict[datetime, float]


def sample(cfg: CheckConfig, expected: int, archive: WindowArchive) -> float | None:
    """``archived / expected`` of a complete hour, or ``None`` when it cannot teach a ratio."""
    if not archive.committed or archive.mismatch() is not None:
        return None
    archived = archived_rows(cfg, archive)
    if expected <= 0 or archived <= 0:
        return None
    return archived / expected


def samples_from(
    cfg: CheckConfig,
    expected: Mapping[Window, int],
    archives: Mapping[Window, WindowArchive],
    now: datetime,
) -> Samples:
    """Samples of the windows that are closed past grace."""
    out: Samples = {}
    for w, archive in archives.items():
        if now < w.end + cfg.grace:
            continue
        s = sample(cfg, int(expected.get(w, 0)), archive)
        if s is not None:
            out[w.start] = s
    return out


def history_range(cfg: CheckConfig, start: datetime) -> tuple[datetime, datetime]:
    """The trailing range before ``start`` that a learned ratio looks at."""
    return start - timedelta(days=cfg.ratio_days), start


def baselines(
    cfg: CheckConfig, windows: list[Window], samples: Mapping[datetime, float]
) -> dict[Window, Baseline]:
    """The ratio for each window: configured, or the median of its trailing samples."""
    if not cfg.learn_ratio:
        fixed = Baseline(cfg.expected_ratio, "configured")
        return dict.fromkeys(windows, fixed)
    times = sorted(samples)
    values = [samples[t] for t in times]
    span = timedelta(days=cfg.ratio_days)
    out: dict[Window, Baseline] = {}
    for w in windows:
        lo, hi = bisect_left(times, w.start - span), bisect_left(times, w.start)
        trailing = values[lo:hi]
        if len(trailing) >= cfg.ratio_min_samples:
            out[w] = Baseline(round(statistics.median(trailing), 6), "learned", len(trailing))
        else:
            out[w] = Baseline(cfg.expected_ratio, "configured (not enough history)", len(trailing))
    return out
