"""``reconcile demo``: the whole pipeline on the embedded local stack, with incidents to find.

Starts an Elasticsearch-compatible server and moto's AWS server on free loopback ports in
a temporary directory, generates two days of load-balancer traffic and the matching
request logs, injects the incidents this tool exists to catch (:mod:`.incidents`), runs the
real pipeline (archive, check, egress, alerts, report) and says whether it found every
incident and nothing else. It never talks to real AWS: the AWS environment points at the
local server for its duration (:mod:`.sandbox`), and every server it started is stopped at
the end.

This module owns the run: the demo's job spec, generating its world (request logs, metrics,
flow logs), the pipeline's phases and the next scheduled run, and the :class:`DemoReport`.
"""

from __future__ import annotations

import logging
import os
import random
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import boto3
from elasticsearch import Elasticsearch

from ..alerts import notify
from ..archive.outcome import ArchiveSummary
from ..backfill import backfill
from ..check.run import check
from ..egress.run import judge_egress
from ..findings import Finding
from ..job import JobSpec, load_job
from ..report import build_report
from ..schedule.run import RunReport, run_job
from ..storage import ObjectStore, open_store
from ..timewin import HOUR, utcnow
from .alb_traffic import put_request_counts
from .es_docs import bulk_index, daily_index, window_docs
from .incidents import (
    LATE,
    LOAD_BALANCER,
    LOSS,
    NAT_GATEWAY,
    NAT_INTERFACE,
    NAT_SPIKE,
    REPLAY,
    SKIPPED,
    DemoPlan,
    Incident,
    judge,
    plan,
)
from .localstack import elasticsearch_server, moto_server
from .nat_traffic import (
    NatInterface,
    Shape,
    Spike,
    Talker,
    nat_series,
    put_metric_series,
    write_flow_logs,
)
from .sandbox import WebhookReceiver, local_aws_env

log = logging.getLogger(__name__)

BUCKET = "demo-log-archive"
INDEX_PREFIX = "hub-logs-"
GIB = 1 << 30
LATE_SHARE = 0.15


@dataclass
class DemoReport:
    """What the demo did and what it found."""

    plan: DemoPlan
    archive: ArchiveSummary
    findings: list[Finding]
    alerts: list[dict[str, Any]]
    report_path: Path | None
    spec: JobSpec
    found: list[Incident] = field(default_factory=list)
    missed: list[Incident] = field(default_factory=list)
    unexpected: list[Finding] = field(default_factory=list)

    @property
    def success(self) -> bool:
        return not self.missed and not self.unexpected and not self.archive.failed


def demo_spec(es_url: str, webhook_url: str) -> JobSpec:
    return load_job(
        None,
        {
            "name": ("demo", "demo"),
            "source.url": (es_url, "demo"),
            "source.index": (f"{INDEX_PREFIX}*", "demo"),
            "archive.uri": (f"s3://{BUCKET}/archive/hub", "demo"),
            "archive.array_fields": (["tags"], "demo"),
            "expected.source": ("cloudwatch", "demo"),
            "expected.load_balancers": ([LOAD_BALANCER], "demo"),
            "egress.nat_gateways": ([NAT_GATEWAY], "demo"),
            "egress.interfaces": ({NAT_GATEWAY: NAT_INTERFACE}, "demo"),
            "egress.flow_logs_uri": (f"s3://{BUCKET}/flowlogs/AWSLogs", "demo"),
            "alerts.webhook_url": (webhook_url, "demo"),
        },
        environ={},
    )


# -- generating the world -------------------------------------------------------------------


def index_logs(es: Any, p: DemoPlan, late: bool = False) -> int:
    """The application's logs as Elasticsearch received them: with the loss and the replay.

    The late hour's last share of logs is held back; ``late=True`` delivers just those."""
    lossy = set(p.incident(LOSS).hours)
    replayed = set(p.incident(REPLAY).hours)
    held = set(p.incident(LATE).hours)

    def docs() -> Iterator[tuple[str, dict[str, Any]]]:
        for w, n in p.requests.items():
            logs = list(window_docs(w, n, seed=11))
            if w in held:
                cut = n - round(n * LATE_SHARE)
                logs = logs[cut:] if late else logs[:cut]
            elif late:
                continue
            if w in lossy:
                rng = random.Random(w.label)
                drop = set(rng.sample(range(n), round(n * 0.03)))
                logs = [d for i, d in enumerate(logs) if i not in drop]
            if w in replayed:
                logs += logs[: round(n * 0.10)]
            for d in logs:
                yield daily_index(INDEX_PREFIX, w.start), d

    return bulk_index(es, docs())


def put_load_balancer_metrics(p: DemoPlan) -> None:
    put_request_counts({w.start: n for w, n in p.requests.items()}, LOAD_BALANCER)


def put_nat_metrics_and_flow_logs(p: DemoPlan, store: Any) -> None:
    spike_hour = p.incident(NAT_SPIKE).hours[0].start
    history = 5 * 7 * 24
    shape = Shape(level=8 * GIB, noise=0.05, burst_rate=0.0)
    series = nat_series(
        NAT_GATEWAY,
        p.end - timedelta(hours=history),
        history,
        shape,
        seed=3,
        spikes=[Spike(NAT_GATEWAY, spike_hour, 1, 6.0)],
    )
    put_metric_series(boto3.client("cloudwatch"), NAT_GATEWAY, series.values)
    normal = series.values[spike_hour] / 6.0
    nat = NatInterface(NAT_INTERFACE)
    talkers = [
        Talker("10.0.12.34", "52.216.0.10", int(normal * 5.0), aws_service="S3"),
        Talker("10.0.13.7", "34.120.0.5", int(normal * 0.6)),
        Talker("10.0.14.9", "140.82.112.3", int(normal * 0.4)),
    ]
    for hour in (spike_hour - HOUR, spike_hour):
        write_flow_logs(
            store,
            nat,
            hour,
            talkers if hour == spike_hour else talkers[1:],
            prefix="flowlogs/AWSLogs/",
        )


# -- running it -----------------------------------------------------------------------------


@contextmanager
def _phase(what: str) -> Iterator[None]:
    t0 = time.monotonic()
    log.info("demo: %s", what)
    yield
    log.info("demo: %s took %.1fs", what, time.monotonic() - t0)


def run_demo(
    workdir: Path,
    out_dir: Path | None = None,
    now: datetime | None = None,
    hours: int = 48,
    per_hour: int = 400,
) -> DemoReport:
    """Run the demo end to end and return what happened."""
    p = plan(now or utcnow(), hours, per_hour)
    judged_at = p.end + timedelta(hours=1)  # every window closed and past grace
    with (
        moto_server(workdir / "moto") as aws_url,
        elasticsearch_server(workdir / "es") as es_url,
        local_aws_env(aws_url),
        WebhookReceiver() as receiver,
    ):
        os.environ["RECONCILE_WEBHOOK_SECRET"] = receiver.secret
        try:
            boto3.client("s3").create_bucket(Bucket=BUCKET)
            spec = demo_spec(es_url, receiver.url)
            _generate_world(p, es_url, open_store(f"s3://{BUCKET}"))
            archive = _archive_but_the_skipped_hour(spec, p, hours, judged_at)
            _deliver_late_logs(p, es_url)
            findings = _check_egress_and_alert(spec, p, judged_at)
            nxt = _next_scheduled_run(spec, hours, judged_at)
            archive.results += nxt.archive.results
            report_path = _write_report(spec, nxt.findings, p, out_dir)
        finally:
            os.environ.pop("RECONCILE_WEBHOOK_SECRET", None)
    found, missed, unexpected = judge(p, findings, nxt.findings)
    return DemoReport(
        p, archive, findings, receiver.received, report_path, spec, found, missed, unexpected
    )


def _generate_world(p: DemoPlan, es_url: str, store: ObjectStore) -> None:
    es = Elasticsearch(es_url, request_timeout=120)
    with _phase(f"indexing {sum(p.requests.values()):,} request logs with the incidents"):
        index_logs(es, p)
    es.close()
    with _phase("writing load balancer and NAT gateway metrics and flow logs"):
        put_load_balancer_metrics(p)
        put_nat_metrics_and_flow_logs(p, store)


def _archive_but_the_skipped_hour(
    spec: JobSpec, p: DemoPlan, hours: int, now: datetime
) -> ArchiveSummary:
    skipped = p.incident(SKIPPED).hours[0]
    archive = ArchiveSummary()
    with _phase(f"archiving {hours - 1} of {hours} hours (one archive run never happened)"):
        for a, b in ((p.start, skipped.start), (skipped.end, p.end)):
            archive.results += backfill(spec, a, b, workers=2, now=now).results
    return archive


def _deliver_late_logs(p: DemoPlan, es_url: str) -> None:
    es = Elasticsearch(es_url, request_timeout=120)
    with _phase("delivering the late hour's held-back logs after its archive"):
        index_logs(es, p, late=True)
    es.close()


def _check_egress_and_alert(spec: JobSpec, p: DemoPlan, now: datetime) -> list[Finding]:
    with _phase("checking requests against Elasticsearch and the archive"):
        findings = check(spec, p.start, p.end, now=now).findings
    with _phase("judging NAT gateway egress"):
        day_ago = p.end - timedelta(hours=24)
        findings += judge_egress(spec, day_ago, p.end, now=now).findings
    with _phase("sending alerts"):
        notified = notify(spec, findings, now=now)
    if not notified.ok:
        log.error("some alerts could not be delivered")
    return findings


def _next_scheduled_run(spec: JobSpec, hours: int, judged_at: datetime) -> RunReport:
    with _phase("the next scheduled run (reconcile run): heals stale hours"):
        nxt = run_job(next_run_spec(spec, hours), now=judged_at + HOUR)
    if nxt.errors:
        log.error("the scheduled run failed: %s", "; ".join(nxt.errors))
    return nxt


def next_run_spec(spec: JobSpec, hours: int) -> JobSpec:
    """The scheduled run an hour later: checks the whole demo range, re-archives stale
    hours, and archives only the last two hours (the skipped hour stays missing)."""
    run = spec.run.model_copy(
        update={
            "archive_lookback_hours": 2,
            "recheck_lookback_hours": 24,
            "check_lookback_hours": hours + 2,
            "egress_lookback_hours": 26,
        }
    )
    return spec.model_copy(update={"run": run})


def _write_report(
    spec: JobSpec, findings: list[Finding], p: DemoPlan, out_dir: Path | None
) -> Path | None:
    if out_dir is None:
        return None
    out_dir.mkdir(parents=True, exist_ok=True)
    path = out_dir / "report.html"
    logflow = [f for f in findings if f.kind == "logflow"]
    egress = [f for f in findings if f.kind == "egress"]
    path.write_text(build_report(logflow, egress, spec.name, p.start, p.end))
    return path
