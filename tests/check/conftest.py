"""Fixtures for check tests: archives (local and S3 on moto) and a load balancer of their own."""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta
from pathlib import Path

import pytest

from reconcile.storage import ObjectStore, open_store
from reconcile.timewin import utcnow

#: Midnight three days ago: recent enough for one-minute CloudWatch data, always closed.
DAY = (utcnow() - timedelta(days=3)).replace(hour=0, minute=0, second=0, microsecond=0)


def at(hours: float) -> datetime:
    return DAY + timedelta(hours=hours)


@pytest.fixture(params=["local", "s3"])
def archive_uri(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """Check integration tests run against a local directory and the S3 server."""
    if request.param == "local":
        return str(tmp_path / "archive")
    bucket = request.getfixturevalue("s3_bucket")
    return f"s3://{bucket}/archive/hub"


@pytest.fixture
def store(archive_uri: str) -> ObjectStore:
    return open_store(archive_uri)


@pytest.fixture
def lb(aws_endpoint: str) -> str:
    """A load balancer id no other test uses (moto's CloudWatch is shared by the session)."""
    return f"app/t{uuid.uuid4().hex[:6]}/{uuid.uuid4().hex[:16]}"


@pytest.fixture(autouse=True)
def no_indexed_figure(monkeypatch: pytest.MonkeyPatch) -> None:
    """These archives are written without Elasticsearch: the check does not ask it (the
    three-hop tests in tests/test_three_hops.py do)."""
    monkeypatch.setenv("RECONCILE_CHECK_READ_INDEXED", "false")
