"""NAT gateway metrics from CloudWatch (``AWS/NATGateway``, dimension ``NatGatewayId``).

One ``GetMetricData`` request carries up to 500 queries (one per gateway and metric) and is
paged with ``NextToken``; each query asks for the ``Sum`` per period. Values come back keyed
by period start (UTC). A period with no datapoint is absent, not zero.
"""

from __future__ import annotations

import logging
from collections import defaultdict
from collections.abc import Iterable, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

from ..errors import ReconcileError, TransientError

log = logging.getLogger(__name__)

NAMESPACE = "AWS/NATGateway"
DIMENSION = "NatGatewayId"
PORT_ERRORS = "ErrorPortAllocation"
MAX_QUERIES = 500
_THROTTLED = {"Throttling", "ThrottlingException", "RequestLimitExceeded", "ServiceUnavailable"}

#: (gateway, metric) -> period start -> Sum
Series = dict[tuple[str, str], dict[datetime, float]]


def cloudwatch_client(region: str | None = None) -> Any:
    """A CloudWatch client honouring the AWS environment (including ``AWS_ENDPOINT_URL``)."""
    import boto3
    from botocore.config import Config

    cfg = Config(retries={"mode": "standard", "max_attempts": 8})
    return boto3.session.Session().client("cloudwatch", region_name=region, config=cfg)


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
