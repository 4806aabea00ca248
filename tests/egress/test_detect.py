"""Unit tests of the pure detection: static threshold, seasonal baseline, fallbacks."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from reconcile.demo.nat_traffic import GIB, Shape, Spike, nat_series
from reconcile.egress.detect import WEEK, Params, SeasonalModel, judge_series
from reconcile.timewin import HOUR

T = datetime(2026, 3, 2, 14, tzinfo=UTC)  # a Monday, 14:00


def weekly(values_by_week: list[float], t: datetime = T) -> dict[datetime, float]:
    """The same slot over past weeks (oldest first), then ``t`` itself left to the caller."""
    n = len(values_by_week)
    return {t - (n - i) * WEEK: v for i, v in enumerate(values_by_week)}


def test_baseline_is_median_with_mad_spread() -> None:
    values = weekly([10 * GIB, 12 * GIB, 11 * GIB, 30 * GIB])  # one old outlier
    model = SeasonalModel(values, Params(level_adjust_periods=0))
    base, weeks = model.baseline(T)
    assert weeks == 4 and base is not None
    assert base.median == pytest.approx(11.5 * GIB)
    # MAD = median(|10-11.5|, |12-11.5|, |11-11.5|, |30-11.5|) = 1.0 GiB -> sigma 1.4826 GiB
    assert base.scale == pytest.approx(1.4826 * GIB)
    # threshold: the largest of z (11.5+5*1.48), doubling (23) and floor (12.5) -> 23 GiB
    assert base.threshold == pytest.approx(23 * GIB)


def test_all_three_conditions_must_hold() -> None:
    values = weekly([10 * GIB] * 4)
    params = Params(level_adjust_periods=0)
    # 15 GiB: robust score huge (noise floor 10% -> sigma 1 GiB, z=5) but only 1.5x: ok.
    values[T] = 15 * GIB
    (j,) = judge_series(values, [T], params)
    assert j.status == "ok" and j.score == pytest.approx(5.0)
    # 21 GiB: 2.1x, score 11, excess 11 GiB: spike.
    values[T] = 21 * GIB
    (j,) = judge_series(values, [T], params)
    assert j.status == "spike" and j.crossed == ("seasonal",)
    assert j.baseline == pytest.approx(10 * GIB) and j.threshold == pytest.approx(20 * GIB)


def test_absolute_floor_keeps_quiet_gateways_quiet() -> None:
    values = weekly([10e6, 11e6, 9e6, 10e6])  # ~10 MB an hour
    values[T] = 200e6  # 20x, but only 190 MB more
    (j,) = judge_series(values, [T], Params(level_adjust_periods=0))
    assert j.status == "ok" and j.score is not None and j.score > 100
    assert j.threshold == pytest.approx(10e6 + (1 << 30))


def test_zero_baseline_uses_the_floor_only() -> None:
    values = weekly([0.0, 0.0, 0.0, 0.0])
    values[T] = 2 * GIB
    (j,) = judge_series(values, [T], Params(level_adjust_periods=0))
    assert j.status == "spike" and j.score == float("inf")
    assert j.threshold == pytest.approx(1 << 30)


def test_short_history_falls_back_to_static_and_says_so() -> None:
    values = weekly([10 * GIB, 10 * GIB])  # two weeks, three needed
    values[T] = 40 * GIB
    (j,) = judge_series(values, [T], Params(), static=30 * GIB)
    assert j.status == "spike" and j.method == "static" and j.crossed == ("static",)
    assert j.threshold == 30 * GIB
    assert "too little history (2 of 3 weeks" in j.note and "static threshold" in j.note
    (j,) = judge_series(values, [T], Params())
    assert j.status == "ok" and j.method == "none" and "not judged" in j.note


def test_static_and_seasonal_layers_both_reported() -> None:
    values = weekly([10 * GIB] * 4)
    values[T] = 35 * GIB
    (j,) = judge_series(values, [T], Params(level_adjust_periods=0), static=30 * GIB)
    assert j.crossed == ("static", "seasonal") and j.threshold == pytest.approx(20 * GIB)
    values[T] = 18 * GIB  # above a low static threshold only
    (j,) = judge_series(values, [T], Params(level_adjust_periods=0), static=15 * GIB)
    assert j.crossed == ("static",) and j.threshold == 15 * GIB


def test_maintenance_excluded_from_judging_and_from_history() -> None:
    # Two of four past weeks held a migration at this hour (10x).
    values = weekly([100 * GIB, 10 * GIB, 100 * GIB, 10 * GIB])
    values[T] = 40 * GIB
    migration = {T - 4 * WEEK, T - 2 * WEEK}
    params = Params(min_history_weeks=2, level_adjust_periods=0)
    (j,) = judge_series(values, [T], params)
    assert j.status == "ok"  # the migrations inflate the baseline to 55 GiB
    (j,) = judge_series(
        values, [T], params, excluded=lambda t: "migration" if t in migration else None
    )
    assert j.status == "spike" and j.baseline == pytest.approx(10 * GIB) and j.history_weeks == 2
    (j,) = judge_series(values, [T], params, excluded=lambda t: "load test" if t == T else None)
    assert j.status == "ok" and j.method == "maintenance" and "load test" in j.note


def test_level_adjustment_absorbs_a_lasting_step_but_not_a_spike() -> None:
    start = T - 5 * WEEK
    hours = 6 * 7 * 24
    shape = Shape(level=20 * GIB, noise=0.02, burst_rate=0.0)
    step_at = T - 2 * 24 * HOUR
    gw = nat_series("nat-step", start, hours, shape, steps=[(step_at, 2.2)])
    judged = [step_at + i * HOUR for i in range(96)]
    with_level = judge_series(gw.values, judged, Params())
    without = judge_series(gw.values, judged, Params(level_adjust_periods=0))
    flagged_with = [j.start for j in with_level if j.is_spike]
    flagged_without = [j.start for j in without if j.is_spike]
    assert len(flagged_without) > 60  # every hour of the step pages without the adjustment
    assert 0 < len(flagged_with) <= 14 and max(flagged_with) < step_at + 14 * HOUR
    # A spike a day after the step is still caught.
    spike = Spike("nat-step", step_at + 30 * HOUR, 2, 4.0)
    gw2 = nat_series("nat-step", start, hours, shape, steps=[(step_at, 2.2)], spikes=[spike])
    js = judge_series(gw2.values, spike.hours(), Params())
    assert all(j.is_spike for j in js) and js[0].level > 1.8


def test_level_factor_never_lowers_the_baseline() -> None:
    start = T - 5 * WEEK
    gw = nat_series("nat-drop", start, 6 * 7 * 24, Shape(noise=0.02, burst_rate=0.0))
    model = SeasonalModel({t: v * 0.3 for t, v in gw.values.items() if t >= T - 48 * HOUR}
                          | {t: v for t, v in gw.values.items() if t < T - 48 * HOUR},
                          Params())  # fmt: skip
    assert model.level(T) == 1.0


def test_synthetic_spike_detected_in_seasonal_series() -> None:
    start = T - 5 * WEEK
    spike = Spike("nat-a", T + 3 * HOUR, 2, 3.0)
    shape = Shape(level=30 * GIB, noise=0.08, batch_factor=5.0, burst_rate=0.0)
    gw = nat_series("nat-a", start, 6 * 7 * 24, shape, spikes=[spike])
    judged = [T + i * HOUR for i in range(7 * 24)]
    flagged = {j.start for j in judge_series(gw.values, judged, Params()) if j.is_spike}
    assert flagged == set(spike.hours())  # and the weekly 5x batch hour is not flagged


def test_absent_values_are_not_zero() -> None:
    values = weekly([10 * GIB] * 4)
    (j,) = judge_series(values, [T], Params(level_adjust_periods=0))
    assert j.status == "ok" and j.value is None and "no datapoint" in j.note
    assert j.baseline == pytest.approx(10 * GIB)


def test_period_other_than_an_hour() -> None:
    five = timedelta(minutes=5)
    values = {T - k * WEEK: 1 * GIB for k in range(1, 5)} | {T: 5 * GIB}
    values |= {T + five - k * WEEK: 1 * GIB for k in range(1, 5)} | {T + five: 1.1 * GIB}
    js = judge_series(values, [T, T + five], Params(period=five, level_adjust_periods=0))
    assert [j.status for j in js] == ["spike", "ok"]
