"""``reconcile demo``: the whole pipeline on the embedded local stack, with generated traffic.

Starts an Elasticsearch-compatible server and moto's S3 server on free loopback ports in
a temporary directory, writes a few hours of realistic request logs into daily indexes,
archives them to S3 with the real code path, and stops everything it started. It never
talks to real AWS: the AWS environment is pointed at the local server for its duration.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from .archive.run import Archiver, ArchiveSummary
from .job import JobSpec, load_job
from .localstack import elasticsearch_server, moto_server
from .synth import bulk_index, daily_index, window_docs
from .timewin import Window, floor_hour, utcnow, windows

log = logging.getLogger(__name__)

DEMO_BUCKET = "demo-log-archive"
DEMO_PREFIX = "hub-logs-"


@dataclass
class DemoStack:
    """URLs of the servers the demo started."""

    es_url: str
    aws_url: str
    workdir: Path


@dataclass
class DemoReport:
    """What the demo did, for printing."""

    stack: DemoStack
    start: datetime
    end: datetime
    indexed: int
    archive: ArchiveSummary
    spec: JobSpec
    notes: list[str] = field(default_factory=list)


@contextmanager
def local_aws_env(endpoint: str) -> Iterator[None]:
    """Point every AWS client of this process at ``endpoint`` with throwaway credentials."""
    keys = [
        "AWS_ENDPOINT_URL",
        "AWS_ACCESS_KEY_ID",
        "AWS_SECRET_ACCESS_KEY",
        "AWS_SESSION_TOKEN",
        "AWS_PROFILE",
        "AWS_DEFAULT_REGION",
        "AWS_REGION",
    ]
    saved = {k: os.environ.get(k) for k in keys}
    for k in keys:
        os.environ.pop(k, None)
    os.environ.update(
        AWS_ENDPOINT_URL=endpoint,
        AWS_ACCESS_KEY_ID="demo",
        AWS_SECRET_ACCESS_KEY="demo",
        AWS_DEFAULT_REGION="us-east-1",
        AWS_REGION="us-east-1",
    )
    try:
        yield
    finally:
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v


@contextmanager
def demo_stack(workdir: Path) -> Iterator[DemoStack]:
    """Start the local servers; stop them on exit, whatever happens."""
    with (
        moto_server(workdir / "moto") as aws_url,
        elasticsearch_server(workdir / "es") as es_url,
        local_aws_env(aws_url),
    ):
        import boto3

        boto3.client("s3").create_bucket(Bucket=DEMO_BUCKET)
        yield DemoStack(es_url, aws_url, workdir)


def seed_logs(es: Any, hours: list[Window], per_hour: int) -> int:
    """Index ``per_hour`` request logs for each hour into daily indexes."""

    def pairs() -> Iterator[tuple[str, dict[str, Any]]]:
        for w in hours:
            for doc in window_docs(w, per_hour, seed=7):
                yield daily_index(DEMO_PREFIX, w.start), doc

    return bulk_index(es, pairs())


def run_demo(
    workdir: Path, hours: int = 6, per_hour: int = 3000, now: datetime | None = None
) -> DemoReport:
    """Run the demo end to end and return what happened."""
    from elasticsearch import Elasticsearch

    end = floor_hour(now or utcnow())
    start = end - timedelta(hours=hours)
    with demo_stack(workdir) as stack:
        spec = load_job(
            None,
            {
                "name": ("demo", "demo"),
                "source.url": (stack.es_url, "demo"),
                "source.index": (f"{DEMO_PREFIX}*", "demo"),
                "archive.uri": (f"s3://{DEMO_BUCKET}/hub", "demo"),
                "archive.array_fields": (["tags"], "demo"),
            },
            environ={},
        )
        es = Elasticsearch(stack.es_url, request_timeout=120)
        log.info("indexing %d generated request logs into %s*", hours * per_hour, DEMO_PREFIX)
        indexed = seed_logs(es, list(windows(start, end)), per_hour)
        summary = Archiver(spec).archive(start, end, now=end)
        es.close()
    return DemoReport(stack, start, end, indexed, summary, spec)
