"""CloudWatch paging (a fake client: moto never pages) and the egress job section."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from reconcile.egress.config import EgressConfig
from reconcile.egress.metrics import MAX_QUERIES, align, fetch_sums
from reconcile.errors import ConfigError, ReconcileError
from reconcile.job import load_job

T0 = datetime(2026, 11, 20, 10, tzinfo=UTC)


class FakePaginator:
    """Splits each query's datapoints over pages, like GetMetricData with NextToken."""

    def __init__(self, client: FakeCloudWatch) -> None:
        self.client = client

    def paginate(self, **kwargs: Any) -> Any:
        self.client.calls.append(kwargs)
        queries = kwargs["MetricDataQueries"]
        assert len(queries) <= MAX_QUERIES
        assert kwargs["StartTime"] == T0 and kwargs["EndTime"] == T0 + timedelta(hours=3)
        for page in range(3):
            yield {
                "MetricDataResults": [
                    {
                        "Id": q["Id"],
                        "Label": q["Label"],
                        "Timestamps": [(T0 + timedelta(hours=page)).astimezone()],
                        "Values": [float(i * 10 + page)],
                        "StatusCode": "PartialData" if page < 2 else "Complete",
                    }
                    for i, q in enumerate(queries)
                ],
                "Messages": [],
            }


class FakeCloudWatch:
    def __init__(self) -> None:
        self.calls: list[dict[str, Any]] = []

    def get_paginator(self, name: str) -> FakePaginator:
        assert name == "get_metric_data"
        return FakePaginator(self)


def test_pages_and_query_batches_are_merged() -> None:
    client = FakeCloudWatch()
    gateways = [f"nat-{i:017x}" for i in range(MAX_QUERIES + 20)]
    start = T0 + timedelta(minutes=7)  # aligned down to the hour
    out = fetch_sums(
        client,
        gateways,
        ["BytesOutToDestination"],
        start,
        T0 + timedelta(hours=3),
        timedelta(hours=1),
    )
    assert len(client.calls) == 2  # 520 queries -> two requests of at most 500
    assert client.calls[0]["ScanBy"] == "TimestampAscending"
    first = out[(gateways[0], "BytesOutToDestination")]
    assert first == {T0: 0.0, T0 + timedelta(hours=1): 1.0, T0 + timedelta(hours=2): 2.0}
    assert out[(gateways[-1], "BytesOutToDestination")][T0] == 190.0  # 20th of the 2nd batch
    assert all(t.tzinfo == UTC for t in first)


def test_failed_status_is_an_error() -> None:
    class Bad(FakeCloudWatch):
        def get_paginator(self, name: str) -> Any:
            class P:
                def paginate(self, **kw: Any) -> Any:
                    yield {"MetricDataResults": [{"Id": "q0", "Label": "x", "Timestamps": [],
                                                  "Values": [], "StatusCode": "Forbidden"}]}  # fmt: skip

            return P()

    with pytest.raises(ReconcileError, match="status Forbidden"):
        fetch_sums(
            Bad(),
            ["nat-1"],
            ["BytesOutToDestination"],
            T0,
            T0 + timedelta(hours=1),
            timedelta(hours=1),
        )


def test_align_to_period() -> None:
    t = datetime(2026, 11, 20, 10, 17, 31, tzinfo=UTC)
    assert align(t, timedelta(minutes=5)) == datetime(2026, 11, 20, 10, 15, tzinfo=UTC)
    assert align(t, timedelta(hours=1)) == datetime(2026, 11, 20, 10, tzinfo=UTC)


def test_egress_section_from_file_env_and_flags(tmp_path: Any, monkeypatch: Any) -> None:
    path = tmp_path / "job.toml"
    path.write_text(
        """
name = "prod"
[egress]
nat_gateways = ["nat-0aaa"]
static_threshold = "50GiB"
static_thresholds = { "nat-0bbb" = "2TB" }
min_excess_bytes = "512MiB"

[[egress.maintenance]]
start = "2026-11-20T02"
end = "2026-11-20T04:00:00+01:00"
reason = "db migration"
"""
    )
    monkeypatch.setenv("RECONCILE_EGRESS_NAT_GATEWAYS", "nat-0aaa, nat-0bbb")
    spec = load_job(path, {"egress.z_threshold": (6.5, "flag --z-threshold")})
    cfg = spec.egress
    assert cfg.nat_gateways == ["nat-0aaa", "nat-0bbb"] and cfg.z_threshold == 6.5
    assert cfg.static_for("nat-0aaa") == 50 * 2**30 and cfg.static_for("nat-0bbb") == 2 * 10**12
    assert cfg.min_excess_bytes == 512 * 2**20
    (mw,) = cfg.maintenance
    assert mw.start == datetime(2026, 11, 20, 2, tzinfo=UTC)
    assert mw.end == datetime(2026, 11, 20, 3, tzinfo=UTC)
    assert mw.covers("nat-0bbb", mw.start - timedelta(minutes=30), mw.start + timedelta(minutes=1))
    assert cfg.direction == "out" and cfg.unit == "Bytes"


@pytest.mark.parametrize(
    ("section", "message"),
    [
        ({"period_s": 420}, "period_s must be one of"),
        ({"metric": "BytesSideways"}, "egress.metric"),
        ({"min_history_weeks": 6, "history_weeks": 4}, "min_history_weeks"),
        ({"maintenance": [{"start": "2026-11-20T04", "end": "2026-11-20T02"}]}, "ends"),
        ({"static_threshold": "lots"}, "egress.static_threshold"),
    ],
)
def test_bad_egress_settings_name_the_key(
    tmp_path: Any, section: dict[str, Any], message: str
) -> None:
    lines = ["[egress]"] + [f"{k} = {_toml(v)}" for k, v in section.items()]
    path = tmp_path / "job.toml"
    path.write_text("\n".join(lines) + "\n")
    with pytest.raises(ConfigError, match=message):
        load_job(path)
    assert EgressConfig().metric == "BytesOutToDestination"


def _toml(value: Any) -> str:
    if isinstance(value, str):
        return f'"{value}"'
    if isinstance(value, list):
        return (
            "["
            + ", ".join(
                "{ " + ", ".join(f'{k} = "{v}"' for k, v in d.items()) + " }" for d in value
            )
            + "]"
        )
    return str(value)
