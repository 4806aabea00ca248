"""Judging one gateway's per-period series: a static threshold and a seasonal baseline.

Pure functions over in-memory series (period start -> value); no I/O, so tests and the
bench run them directly on generated data.

Seasonal baseline, for the period starting at ``t``:

- history: the values at ``t - 1 week``, ..., ``t - N weeks`` that exist and are not in a
  maintenance window;
- baseline: their median; spread: 1.4826 x their median absolute deviation (a robust
  standard deviation), never less than ``noise_floor`` x the median, because four weeks
  that happen to agree would otherwise make any wiggle look enormous;
- level: the median, over the trailing ``level_adjust_periods``, of each period's value
  divided by its own baseline, clamped to ``[1, max_level_factor]``; it lifts the baseline
  after a lasting step up in traffic (a new service) so the step pages at most for a few
  hours, and it can only raise the threshold, never lower it;
- a period is a spike when its value exceeds ``median x level`` by the robust score
  (``z_threshold``) AND by the relative increase AND by the absolute floor; the reported
  threshold is the smallest value that crosses all three.

Too little history (fewer than ``min_history_weeks`` usable weeks): the judgement says so
and falls back to the static threshold, if there is one.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from statistics import median

from ..timewin import HOUR

WEEK = timedelta(days=7)
MAD_TO_SIGMA = 1.4826

#: Period start -> reason when the period lies in a maintenance window, else None.
Excluded = Callable[[datetime], str | None]


def _never(_: datetime) -> str | None:
    return None


@dataclass(frozen=True, slots=True)
class Params:
    """Detection settings (see :class:`~reconcile.egress.config.EgressConfig` for meanings)."""

    period: timedelta = HOUR
    history_weeks: int = 4
    min_history_weeks: int = 3
    z_threshold: float = 5.0
    min_relative_increase: float = 1.0
    min_excess: float = float(1 << 30)
    noise_floor: float = 0.1
    level_adjust_periods: int = 24
    max_level_factor: float = 3.0


@dataclass(frozen=True, slots=True)
class Baseline:
    """The seasonal expectation for one period."""

    median: float
    """Median of the same slot over the usable past weeks."""
    scale: float
    """Robust standard deviation of those weeks (after the noise floor)."""
    weeks: int
    """Usable past weeks."""
    level: float
    """Level factor (>= 1) applied to median and scale."""
    threshold: float
    """Smallest value that crosses the score, the relative increase and the floor."""

    @property
    def expected(self) -> float:
        return self.median * self.level


@dataclass(frozen=True, slots=True)
class Judgement:
    """The verdict on one period of one gateway."""

    start: datetime
    value: float | None
    status: str
    """``ok`` or ``spike``."""
    method: str
    """``seasonal``, ``static`` (short history or seasonal off), ``none``, ``maintenance``."""
    baseline: float | None = None
    threshold: float | None = None
    score: float | None = None
    crossed: tuple[str, ...] = ()
    """Which layers flagged it: ``static``, ``seasonal``."""
    history_weeks: int = 0
    level: float = 1.0
    note: str = ""

    @property
    def is_spike(self) -> bool:
        return self.status == "spike"


class SeasonalModel:
    """Seasonal baselines over one series, memoised so consecutive periods share work."""

    def __init__(
        self, values: Mapping[datetime, float], params: Params, excluded: Excluded = _never
    ) -> None:
        self.values = values
        self.p = params
        self.excluded = excluded
        self._medians: dict[datetime, tuple[float, float, int] | None] = {}

    def history(self, t: datetime) -> list[float]:
        """Values of the same slot in the trailing weeks, skipping absent and excluded ones."""
        out = []
        for k in range(1, self.p.history_weeks + 1):
            s = t - k * WEEK
            v = self.values.get(s)
            if v is not None and self.excluded(s) is None:
                out.append(v)
        return out

    def _stats(self, t: datetime) -> tuple[float, float, int] | None:
        """(median, robust sigma, weeks) of the slot's history, or None when too short."""
        if t in self._medians:
            return self._medians[t]
        hist = self.history(t)
        result = None
        if len(hist) >= self.p.min_history_weeks:
            med = median(hist)
            mad = median([abs(v - med) for v in hist])
            result = (med, max(MAD_TO_SIGMA * mad, self.p.noise_floor * med), len(hist))
        self._medians[t] = result
        return result

    def level(self, t: datetime) -> float:
        """How far the recent periods run above their own baselines (>= 1, clamped)."""
        n = self.p.level_adjust_periods
        if n <= 0:
            return 1.0
        ratios = []
        for i in range(1, n + 1):
            s = t - i * self.p.period
            v = self.values.get(s)
            if v is None or self.excluded(s) is not None:
                continue
            stats = self._stats(s)
            if stats is None or stats[0] <= 0:
                continue
            ratios.append(v / stats[0])
        if len(ratios) < max(1, n // 2):
            return 1.0
        return min(max(median(ratios), 1.0), self.p.max_level_factor)

    def baseline(self, t: datetime) -> tuple[Baseline | None, int]:
        """The baseline for ``t`` and the usable weeks (baseline is None when too few)."""
        stats = self._stats(t)
        if stats is None:
            return None, len(self.history(t))
        med, scale, weeks = stats
        level = self.level(t)
        expected, spread = med * level, scale * level
        threshold = max(
            expected + self.p.z_threshold * spread,
            expected * (1.0 + self.p.min_relative_increase),
            expected + self.p.min_excess,
        )
        return Baseline(med, scale, weeks, level, threshold), weeks


def robust_score(value: float, baseline: Baseline) -> float:
    """Excess over the (level-adjusted) median in robust standard deviations."""
    spread = baseline.scale * baseline.level
    excess = value - baseline.expected
    if spread > 0:
        return excess / spread
    return math.inf if excess > 0 else 0.0


def judge_period(
    t: datetime, model: SeasonalModel, static: float | None, *, seasonal: bool = True
) -> Judgement:
    """Judge one period against the static threshold and (unless off) the seasonal baseline."""
    value = model.values.get(t)
    reason = model.excluded(t)
    if reason is not None:
        note = f"maintenance window{': ' + reason if reason else ''}; not judged"
        return Judgement(t, value, "ok", "maintenance", note=note)
    base, weeks = model.baseline(t) if seasonal else (None, 0)
    method = "seasonal" if base else ("static" if static is not None else "none")
    note = ""
    if seasonal and base is None:
        note = (
            f"too little history ({weeks} of {model.p.min_history_weeks} weeks needed for a "
            "seasonal baseline); "
            + (
                "judged against the static threshold"
                if static is not None
                else "no static threshold set, so not judged"
            )
        )
    if value is None:
        return Judgement(
            t,
            None,
            "ok",
            method,
            baseline=base.expected if base else None,
            threshold=base.threshold if base else static,
            history_weeks=weeks,
            note=note or "no datapoint for this period (no traffic reported)",
        )
    crossed: list[str] = []
    if static is not None and value > static:
        crossed.append("static")
    if base is not None and value > base.threshold:
        crossed.append("seasonal")
    threshold = static if (base is None or crossed == ["static"]) else base.threshold
    return Judgement(
        t,
        value,
        "spike" if crossed else "ok",
        method,
        baseline=base.expected if base else None,
        threshold=threshold,
        score=robust_score(value, base) if base else None,
        crossed=tuple(crossed),
        history_weeks=weeks,
        level=base.level if base else 1.0,
        note=note,
    )


def judge_series(
    values: Mapping[datetime, float],
    starts: Iterable[datetime],
    params: Params | None = None,
    *,
    static: float | None = None,
    seasonal: bool = True,
    excluded: Excluded = _never,
) -> list[Judgement]:
    """Judge every period in ``starts``; ``values`` must also hold the history before them."""
    model = SeasonalModel(values, params or Params(), excluded)
    return [judge_period(t, model, static, seasonal=seasonal) for t in starts]
