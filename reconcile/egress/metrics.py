"""NAT gateway metrics from CloudWatch (``AWS/NATGateway``, dimension ``NatGatewayId``).

One ``GetMetricData`` request carries up to 500 queries (one per gateway and metric) and is
paged with ``NextToken``; each query asks for the ``Sum`` per period. Values come back keyed
by period start (UTC). A period with no datapoint is absent, not zero.

A range reaching back weeks is read by age (:func:`fetch_by_age`): each part at a period
CloudWatch still keeps for that age (:mod:`reconcile.cwretention`), so a baseline from
weeks ago is never asked for at a resolution that has already been rolled up.
"""

from __future__ import annotations

import logging
from collections import defaultdict
from collections.abc import Iterable, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

from ..cwretention import Segment, kept_for, plan_periods
from ..errors import ConfigError, ReconcileError, TransientError

log = logging.getLogger(__name__)

NAMESPACE = "AWS/NATGateway"
DIMENSION = "NatGatewayId"
MAX_QUERIES = 500
_THROTTLED = {"Throttling", "ThrottlingException", "RequestLimitExceeded", "ServiceUnavailable"}

#: (gateway, metric) -> period start -> Sum
Series = dict[tuple[str, str], dict[datetime, float]]


def cloudwatch_client(region: str | None = None) -> Any:
    """A CloudWatch client honouring the AWS environment (including ``AWS_ENDPOINT_URL``)."""
    from botocore.config import Config

    from ..aws import session

    cfg = Config(retries={"mode": "standard", "max_attempts": 8})
    return session().client("cloudwatch", region_name=region, config=cfg)


def align(t: datetime, period: timedelta) -> datetime:
    """The start of the period containing ``t`` (periods are aligned to the Unix epoch)."""
    secs = int(period.total_seconds())
    ts = int(t.timestamp())
    return datetime.fromtimestamp(ts - ts % secs, UTC)


def _queries(pairs: Sequence[tuple[str, str]], period_s: int) -> list[dict[str, Any]]:
    return [
        {
            "Id": f"q{i}",
            "Label": f"{gateway} {metric}",
            "MetricStat": {
                "Metric": {
                    "Namespace": NAMESPACE,
                    "MetricName": metric,
                    "Dimensions": [{"Name": DIMENSION, "Value": gateway}],
                },
                "Period": period_s,
                "Stat": "Sum",
            },
            "ReturnData": True,
        }
        for i, (gateway, metric) in enumerate(pairs)
    ]


def _error(exc: Exception) -> ReconcileError:
    code = getattr(exc, "response", {}).get("Error", {}).get("Code", "")
    cls = TransientError if code in _THROTTLED else ReconcileError
    return cls(f"CloudWatch GetMetricData: {exc}")


def fetch_sums(
    client: Any,
    gateways: Iterable[str],
    metrics: Iterable[str],
    start: datetime,
    end: datetime,
    period: timedelta,
) -> Series:
    """Sum per period of every (gateway, metric) in ``[start, end)``."""
    from botocore.exceptions import BotoCoreError, ClientError

    pairs = [(g, m) for g in gateways for m in metrics]
    period_s = int(period.total_seconds())
    start, end = align(start, period), align(end - timedelta(microseconds=1), period) + period
    out: Series = defaultdict(dict)
    for i in range(0, len(pairs), MAX_QUERIES):
        chunk = pairs[i : i + MAX_QUERIES]
        by_id = {f"q{k}": pair for k, pair in enumerate(chunk)}
        paginator = client.get_paginator("get_metric_data")
        pages = paginator.paginate(
            MetricDataQueries=_queries(chunk, period_s),
            StartTime=start,
            EndTime=end,
            ScanBy="TimestampAscending",
        )
        try:
            for page in pages:
                for message in page.get("Messages", []):
                    log.warning("CloudWatch: %s", message.get("Value"))
                for result in page.get("MetricDataResults", []):
                    series = out[by_id[result["Id"]]]
                    for ts, value in zip(result["Timestamps"], result["Values"], strict=True):
                        t = ts.astimezone(UTC)
                        if start <= t < end:
                            series[t] = float(value)
                    if result.get("StatusCode") not in (None, "Complete", "PartialData"):
                        raise ReconcileError(
                            f"CloudWatch {result.get('Label')}: status {result.get('StatusCode')}"
                        )
        except (ClientError, BotoCoreError) as exc:
            raise _error(exc) from exc
    for pair in pairs:
        out.setdefault(pair, {})
    return dict(out)


def read_plan(start: datetime, end: datetime, period: timedelta, now: datetime) -> list[Segment]:
    """The parts of ``[start, end)`` to read, each at ``period`` (a multiple of the finest
    period CloudWatch keeps for its age, so CloudWatch sums the finer data itself).

    Raises :class:`ConfigError` naming the keys when a part is older than CloudWatch keeps
    ``period`` datapoints for; parts older than any retention are left out.
    """
    period_s = int(period.total_seconds())
    segments = plan_periods(start, end, now)
    too_fine = [seg for seg in segments if period_s % seg.period]
    if too_fine:
        seg = too_fine[-1]
        raise ConfigError(
            f"egress.period_s = {period_s}: CloudWatch keeps {period_s} s datapoints for "
            f"{kept_for(period_s).days} days, but this range (the judged periods plus "
            f"egress.history_weeks of baseline and egress.level_adjust_hours) reaches back to "
            f"{seg.start:%Y-%m-%dT%H:%M}Z, where only {seg.period} s data is kept: raise "
            f"egress.period_s to {seg.period} or shorten egress.history_weeks"
        )
    return [Segment(seg.start, seg.end, period_s) for seg in segments]


def fetch_by_age(
    client: Any,
    gateways: Iterable[str],
    metrics: Iterable[str],
    start: datetime,
    end: datetime,
    period: timedelta,
    now: datetime,
) -> Series:
    """:func:`fetch_sums` over ``[start, end)``, one request series per retention age."""
    gateways, metrics = list(gateways), list(metrics)
    out: Series = {(g, m): {} for g in gateways for m in metrics}
    for seg in read_plan(start, end, period, now):
        for key, values in fetch_sums(
            client, gateways, metrics, seg.start, seg.end, period
        ).items():
            out[key].update(values)
    return out
