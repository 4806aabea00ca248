"""Egress history by age: CloudWatch keeps 60 s data 15 days, 300 s data 63 days and 3600 s
data 455 days, and a query finer than what is kept for its StartTime returns nothing. moto
keeps everything, so these tests record the GetMetricData requests the code makes (on the
real moto server) and check each one asks for a period its age still serves."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

import pytest

from reconcile.cwretention import kept_for
from reconcile.demo.nat_traffic import Spike, put_metric_series
from reconcile.egress.config import EgressConfig
from reconcile.egress.detect import WEEK
from reconcile.egress.metrics import read_plan
from reconcile.egress.run import judge_egress
from reconcile.errors import ConfigError
from reconcile.timewin import HOUR
from tests.egress.conftest import job, new_gateway
from tests.egress.test_egress_moto import series

DAY = timedelta(days=1)


def record_requests(client: Any) -> list[dict[str, Any]]:
    """Every GetMetricData request the client sends (its parameters, as sent)."""
    calls: list[dict[str, Any]] = []

    def keep(params: dict[str, Any], **_: Any) -> None:
        calls.append(params)

    client.meta.events.register("provide-client-params.cloudwatch.GetMetricData", keep)
    return calls


def served(call: dict[str, Any], now: datetime) -> bool:
    """CloudWatch's rule: the period must be a multiple of the finest period kept at StartTime."""
    age = now - call["StartTime"]
    period = {q["MetricStat"]["Period"] for q in call["MetricDataQueries"]}.pop()
    return age <= kept_for(period)


@pytest.mark.integration
def test_twelve_weeks_of_hourly_history_read_by_age(
    cloudwatch: Any, region: str, hour: datetime, now: datetime
) -> None:
    gw = new_gateway()
    t = hour - 2 * HOUR
    put_metric_series(cloudwatch, gw, series(gw, hour, weeks=12.2, spikes=(Spike(gw, t, 1, 4.0),)))
    calls = record_requests(cloudwatch)
    spec = job(region, nat_gateways=[gw], history_weeks=12, port_allocation_errors=False)
    report = judge_egress(spec, hour - 6 * HOUR, hour, now=now, write_results=False,
                          cloudwatch=cloudwatch)  # fmt: skip
    spike = next(f for f in report.findings if f.window_start == t)
    assert spike.status == "spike" and spike.detail.history_weeks == 12
    # One request per retention age (older than 63 days, 15-63 days, younger), each served.
    starts = sorted(c["StartTime"] for c in calls)
    assert len(calls) == 3 and all(served(c, now) for c in calls)
    assert now - starts[0] > 84 * DAY and 62 * DAY < now - starts[1] < 63 * DAY
    assert 14 * DAY < now - starts[2] < 15 * DAY
    ends = {c["EndTime"] for c in calls}
    assert starts[1] in ends and starts[2] in ends  # contiguous, no hour read twice


def test_plan_never_asks_finer_than_kept() -> None:
    now = datetime(2026, 11, 20, 10, 20).astimezone()
    for period_s in (300, 600, 1800, 3600):
        plan = read_plan(now - 62 * DAY, now, timedelta(seconds=period_s), now)
        assert {s.period for s in plan} == {period_s}
        assert plan[0].start == now - 62 * DAY and plan[-1].end == now
    assert read_plan(now - 500 * DAY, now, HOUR, now)[0].start > now - 455 * DAY  # beyond: left out


def test_a_range_older_than_the_period_is_kept_is_refused_naming_the_keys(
    hour: datetime, now: datetime
) -> None:
    spec = job("eu-west-1", nat_gateways=["nat-0abc"], period_s=300)
    old = hour - 70 * DAY  # 300 s data is gone after 63 days

    class NoCalls:
        def get_paginator(self, name: str) -> Any:
            raise AssertionError("nothing may be asked of CloudWatch")

    with pytest.raises(ConfigError, match=r"egress.period_s = 300.*egress.history_weeks"):
        judge_egress(spec, old, old + 6 * HOUR, now=now, write_results=False, cloudwatch=NoCalls())


@pytest.mark.parametrize(
    ("section", "hint"),
    [
        ({"period_s": 60, "history_weeks": 4}, "set period_s = 300 or more"),
        ({"period_s": 60, "history_weeks": 2, "min_history_weeks": 1}, "history_weeks"),
        ({"period_s": 300, "history_weeks": 9}, "set period_s = 3600 or more"),
        ({"period_s": 1800, "history_weeks": 12}, "at most 8"),
    ],
)
def test_combinations_beyond_retention_are_refused(section: dict[str, int], hint: str) -> None:
    with pytest.raises(ValueError, match=r"period_s = \d+ with history_weeks") as err:
        EgressConfig.model_validate(section)
    assert hint in str(err.value) and "CloudWatch keeps" in str(err.value)


def test_combinations_within_retention_are_accepted() -> None:
    for section in (
        {"period_s": 60, "history_weeks": 1, "min_history_weeks": 1},
        {"period_s": 300, "history_weeks": 8},
        {"period_s": 3600, "history_weeks": 12},
    ):
        cfg = EgressConfig.model_validate(section)
        assert cfg.history_weeks * WEEK < kept_for(cfg.period_s)
