"""Expected counts from CloudWatch: ``AWS/ApplicationELB`` ``RequestCount`` (Sum) per hour.

One query per load balancer, or per (load balancer, target group) pair when target groups
are configured, at most 500 queries per ``GetMetricData`` call, every page followed through
``NextToken``. Datapoints are summed into UTC hour windows; a load balancer publishes no
datapoint for a minute without requests, so a missing datapoint is zero, not an error.

Retention decides the period. CloudWatch keeps one-minute datapoints for 15 days, five-minute
aggregates for 63 days and hourly ones for 455 days, and a query for a finer period than is
still kept returns nothing. The range is therefore split by age: the part younger than
15 days is read at 60 s, the part up to 63 days at 300 s, older hours at 3600 s. All three
divide an hour, so each sums to the same hourly total. Hours older than 455 days have no data.
The plan is :func:`reconcile.cwretention.plan_periods`, shared with the egress watch.
"""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from ..cwretention import MARGIN, RETENTION, Segment, plan_periods
from ..cwretention import ceil_hour as _ceil_hour
from ..errors import ConfigError
from ..timewin import Window, floor_hour, utcnow
from .config import ExpectedConfig
from .model import (
    ExpectedCounts,
    ExpectedSourceError,
    by_label,
    resource_name,
    window_range,
    zero_filled,
)

log = logging.getLogger(__name__)

NAMESPACE = "AWS/ApplicationELB"
METRIC = "RequestCount"
#: ``GetMetricData`` accepts at most this many queries per call.
MAX_QUERIES = 500


@dataclass(frozen=True, slots=True)
class Series:
    """One metric series: a load balancer, optionally narrowed to one of its target groups."""

    load_balancer: str
    target_group: str | None = None

    @property
    def key(self) -> str:
        """``app/x/1`` or ``targetgroup/y/2@app/x/1`` (JSON key in ``detail``)."""
        return (
            f"{self.target_group}@{self.load_balancer}" if self.target_group else self.load_balancer
        )

    def dimensions(self) -> list[dict[str, str]]:
        dims = [{"Name": "LoadBalancer", "Value": self.load_balancer}]
        if self.target_group:
            dims.append({"Name": "TargetGroup", "Value": self.target_group})
        return dims


def series_for(cfg: ExpectedConfig) -> list[Series]:
    """Every series to sum: each load balancer, or each (load balancer, target group) pair."""
    if not cfg.load_balancers:
        raise ConfigError(
            "expected.load_balancers: empty; name the load balancer(s) to reconcile, "
            "e.g. app/hub-prod/50dc6c495c0c9188 (--load-balancer)"
        )
    lbs = sorted(cfg.load_balancers)
    if not cfg.target_groups:
        return [Series(lb) for lb in lbs]
    return [Series(lb, tg) for lb in lbs for tg in sorted(cfg.target_groups)]


def make_client(region: str | None = None) -> Any:
    """A CloudWatch client from the AWS chain (honours ``AWS_ENDPOINT_URL``), with retries."""
    from botocore.config import Config

    from ..aws import session as aws_session

    session = aws_session(region)
    if not session.region_name:
        raise ConfigError(
            "expected.region: not set and no AWS region configured "
            "(set expected.region, AWS_REGION or AWS_DEFAULT_REGION)"
        )
    return session.client(
        "cloudwatch", config=Config(retries={"mode": "standard", "max_attempts": 8})
    )


@dataclass
class _Stats:
    api_calls: int = 0
    queries: int = 0
    datapoints: Counter[Window] = field(default_factory=Counter)


def _chunks(items: Sequence[Series], size: int) -> Iterator[Sequence[Series]]:
    for i in range(0, len(items), size):
        yield items[i : i + size]


def _describe(series: Sequence[Series], seg: Segment) -> str:
    names = ", ".join(s.key for s in series[:3]) + (" ..." if len(series) > 3 else "")
    return (
        f"CloudWatch {NAMESPACE} {METRIC} (Sum, {seg.period}s) for {names} "
        f"{seg.start:%Y-%m-%dT%H}..{seg.end:%Y-%m-%dT%H}"
    )


def fetch(
    client: Any,
    series: Sequence[Series],
    seg: Segment,
    stats: _Stats,
) -> dict[Series, Counter[Window]]:
    """Sum each series' datapoints of one segment into hour windows."""
    from botocore.exceptions import BotoCoreError, ClientError

    out: dict[Series, Counter[Window]] = {s: Counter() for s in series}
    for batch in _chunks(series, MAX_QUERIES):
        queries = [
            {
                "Id": f"q{i}",
                "MetricStat": {
                    "Metric": {
                        "Namespace": NAMESPACE,
                        "MetricName": METRIC,
                        "Dimensions": s.dimensions(),
                    },
                    "Period": seg.period,
                    "Stat": "Sum",
                },
                "ReturnData": True,
            }
            for i, s in enumerate(batch)
        ]
        stats.queries += len(queries)
        token: str | None = None
        while True:
            kwargs: dict[str, Any] = {
                "MetricDataQueries": queries,
                "StartTime": seg.start,
                "EndTime": seg.end,
                "ScanBy": "TimestampAscending",
            }
            if token:
                kwargs["NextToken"] = token
            try:
                resp = client.get_metric_data(**kwargs)
            except (ClientError, BotoCoreError) as exc:
                raise ExpectedSourceError(f"{_describe(batch, seg)}: {exc}") from exc
            stats.api_calls += 1
            for msg in resp.get("Messages", []):
                log.warning("%s: %s %s", _describe(batch, seg), msg.get("Code"), msg.get("Value"))
            for result in resp.get("MetricDataResults", []):
                s = batch[int(result["Id"][1:])]
                status = result.get("StatusCode", "Complete")
                if status in ("InternalError", "Forbidden"):
                    detail = "; ".join(m.get("Value", "") for m in result.get("Messages", []))
                    raise ExpectedSourceError(f"{_describe([s], seg)}: {status} {detail}".strip())
                for ts, value in zip(
                    result.get("Timestamps", []), result.get("Values", []), strict=False
                ):
                    if not seg.start <= ts < seg.end:
                        continue
                    w = Window(floor_hour(ts))
                    out[s][w] += value
                    stats.datapoints[w] += 1
            token = resp.get("NextToken")
            if not token:
                break
    return out


def cloudwatch_counts(
    cfg: ExpectedConfig,
    start: datetime,
    end: datetime,
    *,
    now: datetime | None = None,
    client: Any = None,
) -> ExpectedCounts:
    """Requests per hour window from ``RequestCount``, summed over the configured series."""
    wins = window_range(start, end)
    series = series_for(cfg)
    now = now or utcnow()
    client = client or make_client(cfg.region)
    segments = plan_periods(wins[0].start, wins[-1].end, now)
    stats = _Stats()
    per_series: dict[Series, Counter[Window]] = {s: Counter() for s in series}
    for seg in segments:
        for s, c in fetch(client, series, seg, stats).items():
            per_series[s].update(c)
    rounded = {s: {w: round(v) for w, v in c.items()} for s, c in per_series.items()}
    total: Counter[Window] = Counter()
    for counts in rounded.values():
        total.update(counts)
    beyond = [w for w in wins if w.start < _ceil_hour(now - RETENTION[-1][0] + MARGIN)]
    if beyond:
        log.warning(
            "CloudWatch keeps %s for %d days; %d window(s) from %s are older and count 0",
            METRIC,
            RETENTION[-1][0].days,
            len(beyond),
            beyond[0].label,
        )
    key = "target_groups" if cfg.target_groups else "load_balancers"
    detail: dict[str, Any] = {
        key: {s.key: by_label(zero_filled(wins, c)) for s, c in rounded.items()},
        "periods": [
            {"start": seg.start.isoformat(), "end": seg.end.isoformat(), "period_s": seg.period}
            for seg in segments
        ],
        "datapoints": by_label(zero_filled(wins, stats.datapoints)),
        "beyond_retention": [w.label for w in beyond],
        "api_calls": stats.api_calls,
        "queries": stats.queries,
        "metric": f"{NAMESPACE}/{METRIC}",
    }
    return ExpectedCounts(
        source="cloudwatch",
        resource=resource_name(cfg.load_balancers),
        counts=zero_filled(wins, total),
        detail=detail,
    )
