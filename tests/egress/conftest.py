"""Fixtures for the egress tests: a CloudWatch region of their own on the moto server.

moto's CloudWatch keeps every datapoint of a region in one list and scans it per period
of every query, so tests that share a region slow each other down; each test gets its own
region (moto backends are per region). moto accepts ``put_metric_data`` timestamps weeks
in the past (real CloudWatch refuses datapoints older than two weeks), so the tests write
the history they need at realistic times before ``now`` and pass ``now`` explicitly.
Other moto behaviour the code must not rely on: its GetMetricData never pages (no
NextToken; paging is tested with a fake client in test_metrics_config.py), and its
buckets start at StartTime rather than at period boundaries (fetch_sums aligns StartTime
to the period, as real CloudWatch does).
"""

from __future__ import annotations

import itertools
import uuid
from collections.abc import Iterator
from datetime import datetime, timedelta
from typing import Any

import pytest

from reconcile.job import JobSpec
from reconcile.timewin import floor_hour, utcnow

# The alert tests' receivers and real Alertmanager, for tests that go from egress to sinks.
from tests.alerts.conftest import alertmanager, am_receiver, receiver  # noqa: F401

REGIONS = itertools.cycle(
    [
        "eu-west-1",
        "eu-west-2",
        "eu-west-3",
        "eu-central-1",
        "eu-north-1",
        "us-west-1",
        "us-west-2",
        "us-east-2",
        "ap-southeast-1",
        "ap-southeast-2",
        "ap-northeast-1",
        "ap-south-1",
        "ca-central-1",
        "sa-east-1",
    ]
)


@pytest.fixture
def region(aws_endpoint: str) -> str:
    return next(REGIONS)


@pytest.fixture
def cloudwatch(region: str) -> Any:
    import boto3

    return boto3.client("cloudwatch", region_name=region)


@pytest.fixture
def hour() -> datetime:
    """The start of the current UTC hour: judged ranges end here."""
    return floor_hour(utcnow())


@pytest.fixture
def now(hour: datetime) -> datetime:
    """Twenty minutes into the current hour: the previous hour has closed and settled."""
    return hour + timedelta(minutes=20)


def new_gateway() -> str:
    return "nat-" + uuid.uuid4().hex[:17]


def job(region: str, **egress: Any) -> JobSpec:
    return JobSpec.model_validate({"name": "egress-test", "egress": {"region": region, **egress}})


@pytest.fixture
def gateways() -> Iterator[list[str]]:
    yield [new_gateway() for _ in range(3)]
