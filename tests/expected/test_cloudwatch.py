"""CloudWatch RequestCount as the expected side, against moto's server over HTTP.

What moto's server does and does not do (moto 5.x), and how these tests cope:

- ``GetMetricData`` with ``MetricStat``/``Sum`` works at any period and buckets from
  ``StartTime``, so hour-aligned queries return per-period sums as CloudWatch does.
- It does not enforce retention (it returns one-minute data of any age at 300 s and 3600 s
  too), so the period choice is asserted from ``detail["periods"]`` and in unit tests of
  :func:`plan_periods`; the integration tests only show the sums stay right at 300 s/3600 s.
- It never paginates (no ``NextToken``) and accepts more than 500 queries per call, so the
  500-query batching is checked by counting calls against moto, and ``NextToken`` handling,
  ``PartialData`` and error statuses with botocore's ``Stubber`` (in-process, unit only).
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import boto3
import pytest
from botocore.config import Config
from botocore.stub import Stubber

from reconcile.demo.alb_traffic import minute_values, put_request_counts
from reconcile.errors import ConfigError
from reconcile.expected import ExpectedConfig, ExpectedSourceError, expected_counts
from reconcile.expected.cloudwatch import (
    MAX_QUERIES,
    Segment,
    cloudwatch_counts,
    plan_periods,
)
from reconcile.timewin import Window, floor_hour

pytestmark = pytest.mark.integration


def _lb(name: str = "hub") -> str:
    return f"app/{name}-{uuid.uuid4().hex[:6]}/{uuid.uuid4().hex[:16]}"


def _tg(name: str = "web") -> str:
    return f"targetgroup/{name}-{uuid.uuid4().hex[:6]}/{uuid.uuid4().hex[:16]}"


def _base(days_ago: float) -> datetime:
    return floor_hour(datetime.now(UTC) - timedelta(days=days_ago))


def _labels(counts: dict[Window, int]) -> dict[str, int]:
    return {w.label: n for w, n in counts.items()}


def test_two_load_balancers_missing_hours_are_zero(aws_endpoint: str) -> None:
    base = _base(2)
    lb1, lb2 = _lb("a"), _lb("b")
    # lb1 is dark in hour 2; lb2 has fewer requests than minutes (gaps inside the hour).
    put_request_counts(
        {base: 1200, base + timedelta(hours=1): 1201, base + timedelta(hours=3): 59}, lb1
    )
    put_request_counts({base + timedelta(hours=h): 7 for h in range(4)}, lb2)

    got = expected_counts(
        ExpectedConfig(load_balancers=[lb2, lb1]), base, base + timedelta(hours=5)
    )

    w = [Window(base + timedelta(hours=h)) for h in range(5)]
    assert got.source == "cloudwatch"
    assert got.resource == ",".join(sorted([lb1, lb2]))
    assert got.counts == {w[0]: 1207, w[1]: 1208, w[2]: 7, w[3]: 66, w[4]: 0}
    per_lb = got.detail["load_balancers"]
    assert per_lb[lb1] == {
        w[0].label: 1200,
        w[1].label: 1201,
        w[2].label: 0,
        w[3].label: 59,
        w[4].label: 0,
    }
    assert per_lb[lb2][w[4].label] == 0
    assert got.detail["datapoints"][w[2].label] == 7  # only lb2's seven busy minutes
    assert got.detail["periods"] == [
        {"start": base.isoformat(), "end": (base + timedelta(hours=5)).isoformat(), "period_s": 60}
    ]
    assert got.detail["api_calls"] == 1
    assert got.detail["queries"] == 2


def test_target_groups_narrow_the_count(aws_endpoint: str) -> None:
    base = _base(3)
    lb, tg1, tg2 = _lb(), _tg("web"), _tg("api")
    put_request_counts({base: 5000}, lb)  # everything the LB forwarded
    put_request_counts({base: 3000}, lb, target_group=tg1)
    put_request_counts({base: 1500}, lb, target_group=tg2)

    whole = expected_counts(ExpectedConfig(load_balancers=[lb]), base, base + timedelta(hours=1))
    narrow = expected_counts(
        ExpectedConfig(load_balancers=[lb], target_groups=[tg1, tg2]),
        base,
        base + timedelta(hours=1),
    )
    one = expected_counts(
        ExpectedConfig(load_balancers=[lb], target_groups=[tg2]), base, base + timedelta(hours=1)
    )

    assert list(whole.counts.values()) == [5000]
    assert list(narrow.counts.values()) == [4500]
    assert list(one.counts.values()) == [1500]
    label = Window(base).label
    assert narrow.detail["target_groups"] == {
        f"{tg1}@{lb}": {label: 3000},
        f"{tg2}@{lb}": {label: 1500},
    }


def test_more_than_500_queries_are_batched(aws_endpoint: str) -> None:
    base = _base(4)
    lb = _lb()
    tgs = [_tg(f"t{i}") for i in range(MAX_QUERIES + 7)]
    for i, tg in enumerate([tgs[0], tgs[250], tgs[-1]]):
        put_request_counts({base: 100 * (i + 1)}, lb, target_group=tg)

    got = expected_counts(
        ExpectedConfig(load_balancers=[lb], target_groups=tgs), base, base + timedelta(hours=1)
    )

    assert list(got.counts.values()) == [600]
    assert got.detail["api_calls"] == 2
    assert got.detail["queries"] == MAX_QUERIES + 7


@pytest.mark.parametrize(("days", "period"), [(20, 300), (70, 3600)])
def test_older_hours_use_coarser_periods(aws_endpoint: str, days: int, period: int) -> None:
    base = _base(days)
    lb = _lb()
    put_request_counts({base: 600, base + timedelta(hours=1): 61}, lb)

    got = expected_counts(ExpectedConfig(load_balancers=[lb]), base, base + timedelta(hours=2))

    assert list(got.counts.values()) == [600, 61]
    assert [p["period_s"] for p in got.detail["periods"]] == [period]


def test_empty_load_balancers_is_a_config_error(aws_endpoint: str) -> None:
    with pytest.raises(ConfigError, match=r"expected\.load_balancers"):
        expected_counts(ExpectedConfig(), _base(1), _base(1) + timedelta(hours=1))


def test_unreachable_cloudwatch_names_the_metric() -> None:
    client = boto3.client(
        "cloudwatch",
        region_name="us-east-1",
        endpoint_url="http://127.0.0.1:9",
        config=Config(retries={"max_attempts": 1}, connect_timeout=1),
    )
    start = _base(1)
    with pytest.raises(ExpectedSourceError, match=r"AWS/ApplicationELB RequestCount.*app/hub/"):
        cloudwatch_counts(
            ExpectedConfig(load_balancers=["app/hub/50dc6c495c0c9188"]),
            start,
            start + timedelta(hours=1),
            client=client,
        )


# -- units ---------------------------------------------------------------------------------

NOW = datetime(2026, 11, 20, 12, 17, tzinfo=UTC)


def test_plan_periods_splits_by_retention() -> None:
    start = datetime(2025, 1, 1, tzinfo=UTC)
    end = datetime(2026, 11, 20, 13, tzinfo=UTC)
    segs = plan_periods(start, end, NOW)
    cut60 = datetime(2026, 11, 5, 14, tzinfo=UTC)  # now - 15 d + 1 h, rounded up
    cut300 = datetime(2026, 9, 18, 14, tzinfo=UTC)
    cut3600 = datetime(2025, 8, 22, 14, tzinfo=UTC)
    assert segs == [
        Segment(cut3600, cut300, 3600),
        Segment(cut300, cut60, 300),
        Segment(cut60, end, 60),
    ]


def test_plan_periods_recent_range_is_one_minute() -> None:
    start = datetime(2026, 11, 20, 9, tzinfo=UTC)
    assert plan_periods(start, start + timedelta(hours=3), NOW) == [
        Segment(start, start + timedelta(hours=3), 60)
    ]


def test_plan_periods_beyond_retention_is_empty() -> None:
    start = datetime(2020, 1, 1, tzinfo=UTC)
    assert plan_periods(start, start + timedelta(hours=2), NOW) == []


def test_minute_values_sum_to_the_hour() -> None:
    assert sum(minute_values(1234)) == 1234
    assert minute_values(3)[:4] == [1, 1, 1, 0]


def _stubbed() -> tuple[object, Stubber]:
    client = boto3.client("cloudwatch", region_name="us-east-1", endpoint_url="http://127.0.0.1:9")
    return client, Stubber(client)


def _result(qid: str, points: list[tuple[datetime, float]], status: str = "Complete") -> dict:
    return {
        "Id": qid,
        "Label": "RequestCount",
        "Timestamps": [t for t, _ in points],
        "Values": [v for _, v in points],
        "StatusCode": status,
    }


def test_next_token_pages_are_all_summed() -> None:
    client, stub = _stubbed()
    start = datetime(2026, 11, 20, 9, tzinfo=UTC)
    m = timedelta(minutes=1)
    pages = [
        (
            {
                "MetricDataResults": [
                    _result("q0", [(start, 10.0), (start + m, 5.0)], "PartialData")
                ],
                "NextToken": "t1",
            },
            None,
        ),
        (
            {
                "MetricDataResults": [_result("q0", [(start + 61 * m, 7.0)], "PartialData")],
                "NextToken": "t2",
            },
            "t1",
        ),
        ({"MetricDataResults": [_result("q0", [(start + 62 * m, 1.0)])]}, "t2"),
    ]
    for resp, token in pages:
        expected = {
            "MetricDataQueries": stub_any(),
            "StartTime": start,
            "EndTime": start + timedelta(hours=2),
            "ScanBy": "TimestampAscending",
        }
        if token:
            expected["NextToken"] = token
        stub.add_response("get_metric_data", resp, expected)
    with stub:
        got = cloudwatch_counts(
            ExpectedConfig(load_balancers=["app/hub/50dc6c495c0c9188"]),
            start,
            start + timedelta(hours=2),
            now=NOW,
            client=client,
        )
    stub.assert_no_pending_responses()
    assert list(got.counts.values()) == [15, 8]
    assert got.detail["api_calls"] == 3


def test_error_status_fails_loudly() -> None:
    client, stub = _stubbed()
    start = datetime(2026, 11, 20, 9, tzinfo=UTC)
    bad = _result("q0", [], "InternalError")
    bad["Messages"] = [{"Code": "InternalError", "Value": "try again"}]
    stub.add_response("get_metric_data", {"MetricDataResults": [bad]})
    with stub, pytest.raises(ExpectedSourceError, match=r"RequestCount.*InternalError try again"):
        cloudwatch_counts(
            ExpectedConfig(load_balancers=["app/hub/50dc6c495c0c9188"]),
            start,
            start + timedelta(hours=1),
            now=NOW,
            client=client,
        )


def test_access_denied_names_the_metric() -> None:
    client, stub = _stubbed()
    start = datetime(2026, 11, 20, 9, tzinfo=UTC)
    stub.add_client_error("get_metric_data", "AccessDenied", "not authorized", 403)
    with stub, pytest.raises(ExpectedSourceError, match=r"RequestCount.*AccessDenied"):
        cloudwatch_counts(
            ExpectedConfig(load_balancers=["app/hub/50dc6c495c0c9188"]),
            start,
            start + timedelta(hours=1),
            now=NOW,
            client=client,
        )


def stub_any() -> object:
    from botocore.stub import ANY

    return ANY
