"""``reconcile demo``: the whole pipeline on the embedded local stack, with incidents to find.

Starts an Elasticsearch-compatible server and moto's AWS server on free loopback ports in
a temporary directory, generates two days of load-balancer traffic and the matching
request logs, injects the incidents this tool exists to catch, runs the real pipeline
(archive, check, egress, alerts, report) and says whether it found every incident and
nothing else. It never talks to real AWS: the AWS environment points at the local server
for its duration, and every server it started is stopped at the end.

Injected incidents:

- Elasticsearch backpressure lost 3 % of the logs for two consecutive hours (``gap``);
- the archive job never ran for one hour (``missing``);
- a replay indexed 10 % of one hour's logs a second time (``surplus``);
- backpressure held 15 % of one hour's logs back until after the hour was archived
  (``stale``), healed by the demo's next scheduled run (``reconcile run``);
- a NAT gateway spike that is S3 traffic avoiding the gateway endpoint (``spike``).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import logging
import math
import os
import random
import secrets
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from ..archive.run import ArchiveSummary
from ..findings import Finding
from ..job import JobSpec, load_job
from ..timewin import HOUR, Window, floor_hour, utcnow, windows
from .alb_traffic import put_request_counts
from .es_docs import bulk_index, daily_index, window_docs
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

log = logging.getLogger(__name__)

BUCKET = "demo-log-archive"
INDEX_PREFIX = "hub-logs-"
LOAD_BALANCER = "app/hub-prod/50dc6c495c0c9188"
NAT_GATEWAY = "nat-0a1b2c3d4e5f60718"
NAT_INTERFACE = "eni-0f1e2d3c4b5a69788"
GIB = 1 << 30
LATE = "backpressure delivered 15% of an hour's logs after its archive"
LATE_SHARE = 0.15


@dataclass(frozen=True, slots=True)
class Incident:
    """Something the demo broke on purpose, and the finding that should reveal it."""

    name: str
    kind: str
    resource: str
    status: str
    hours: tuple[Window, ...]
    heals: bool = False
    """The next scheduled run must turn the hours ``ok`` (late logs re-archived)."""


@dataclass
class DemoPlan:
    """The traffic and the incidents, relative to the demo's end hour."""

    start: datetime
    end: datetime
    requests: dict[Window, int]
    incidents: list[Incident]

    def incident(self, name: str) -> Incident:
        return next(i for i in self.incidents if i.name == name)


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


def plan(end: datetime, hours: int = 48, per_hour: int = 1200) -> DemoPlan:
    """Two days of diurnal traffic ending at ``end`` and the incidents inside them."""
    end = floor_hour(end)
    start = end - timedelta(hours=hours)
    requests = {}
    for w in windows(start, end):
        diurnal = 1 + 0.5 * math.cos(2 * math.pi * (w.start.hour - 15) / 24)
        requests[w] = int(per_hour * diurnal) + 100

    def at(back: int) -> Window:
        return Window(end - timedelta(hours=back))

    incidents = [
        Incident(
            "Elasticsearch backpressure dropped 3% of logs",
            "logflow",
            LOAD_BALANCER,
            "gap",
            (at(30), at(29)),
        ),
        Incident("the archive job never ran", "logflow", LOAD_BALANCER, "missing", (at(20),)),
        Incident("a replay duplicated 10% of logs", "logflow", LOAD_BALANCER, "surplus", (at(12),)),
        Incident(
            LATE,
            "logflow",
            LOAD_BALANCER,
            "stale",
            (at(9),),
            heals=True,
        ),
        Incident(
            "NAT spike: S3 traffic avoiding the gateway endpoint",
            "egress",
            NAT_GATEWAY,
            "spike",
            (at(6),),
        ),
    ]
    return DemoPlan(start, end, requests, incidents)


# -- the local world ------------------------------------------------------------------------


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
        "AWS_EC2_METADATA_DISABLED",
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
        AWS_EC2_METADATA_DISABLED="true",
    )
    try:
        yield
    finally:
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v


class WebhookReceiver:
    """A local alert receiver that checks each Standard Webhooks signature."""

    def __init__(self) -> None:
        self.secret = "whsec_" + base64.b64encode(secrets.token_bytes(24)).decode()
        self.key = base64.b64decode(self.secret[len("whsec_") :])
        self.received: list[dict[str, Any]] = []
        self.rejected = 0
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: object) -> None:
                pass

            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                msg_id, ts = (
                    self.headers.get("webhook-id", ""),
                    self.headers.get("webhook-timestamp", ""),
                )
                mac = hmac.new(
                    receiver.key, f"{msg_id}.{ts}.".encode() + body, hashlib.sha256
                ).digest()
                expected = "v1," + base64.b64encode(mac).decode()
                if expected not in self.headers.get("webhook-signature", "").split():
                    receiver.rejected += 1
                    self.send_response(401)
                else:
                    receiver.received.append(json.loads(body))
                    self.send_response(204)
                self.end_headers()

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hooks/reconcile"

    def __enter__(self) -> WebhookReceiver:
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()


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
    lossy = set(p.incident("Elasticsearch backpressure dropped 3% of logs").hours)
    replayed = set(p.incident("a replay duplicated 10% of logs").hours)
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
    import boto3

    spike_hour = p.incident("NAT spike: S3 traffic avoiding the gateway endpoint").hours[0].start
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


def judge(
    p: DemoPlan, findings: list[Finding], after: list[Finding] | None = None
) -> tuple[list[Incident], list[Incident], list[Finding]]:
    """Which incidents were found, which were missed, which problems nobody injected.

    ``after`` are the findings of the next scheduled run: there, healing incidents must be
    ``ok`` (re-archived as a new revision) and every other incident still found."""
    expected = {(i.kind, i.resource, w.start, i.status): i for i in p.incidents for w in i.hours}
    healed = {
        (f.kind, f.resource, f.window_start)
        for f in after or []
        if f.kind == "logflow" and f.status == "ok" and (f.logflow.revision or 1) > 1
    }
    seen = set()
    unexpected: dict[tuple[str, str, datetime, str], Finding] = {}
    for f in [*findings, *(after or [])]:
        key = (f.kind, f.resource, f.window_start, f.status)
        if not f.is_problem:
            continue
        if key in expected and not (expected[key].heals and f in (after or [])):
            seen.add(key)
        else:
            unexpected.setdefault(key, f)

    def found_it(i: Incident) -> bool:
        keys = [(i.kind, i.resource, w.start, i.status) for w in i.hours]
        if not all(k in seen for k in keys):
            return False
        return not i.heals or all((i.kind, i.resource, w.start) in healed for w in i.hours)

    found = [i for i in p.incidents if found_it(i)]
    missed = [i for i in p.incidents if i not in found]
    return found, missed, list(unexpected.values())


def run_demo(
    workdir: Path,
    out_dir: Path | None = None,
    now: datetime | None = None,
    hours: int = 48,
    per_hour: int = 1200,
) -> DemoReport:
    """Run the demo end to end and return what happened."""
    import boto3
    from elasticsearch import Elasticsearch

    from ..alerts import notify
    from ..backfill import backfill
    from ..check.run import check
    from ..egress.run import judge_egress
    from ..schedule.run import run_job
    from ..storage import open_store

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
            es = Elasticsearch(es_url, request_timeout=120)
            with _phase(f"indexing {sum(p.requests.values()):,} request logs with the incidents"):
                index_logs(es, p)
            es.close()
            with _phase("writing load balancer and NAT gateway metrics and flow logs"):
                put_load_balancer_metrics(p)
                put_nat_metrics_and_flow_logs(p, open_store(f"s3://{BUCKET}"))
            skipped = p.incident("the archive job never ran").hours[0]
            archive = ArchiveSummary()
            with _phase(f"archiving {hours - 1} of {hours} hours (one archive run never happened)"):
                for a, b in ((p.start, skipped.start), (skipped.end, p.end)):
                    archive.results += backfill(spec, a, b, workers=2, now=judged_at).results
            es = Elasticsearch(es_url, request_timeout=120)
            with _phase("delivering the late hour's held-back logs after its archive"):
                index_logs(es, p, late=True)
            es.close()
            with _phase("checking requests against Elasticsearch and the archive"):
                findings = check(spec, p.start, p.end, now=judged_at).findings
            with _phase("judging NAT gateway egress"):
                day_ago = p.end - timedelta(hours=24)
                findings += judge_egress(spec, day_ago, p.end, now=judged_at).findings
            with _phase("sending alerts"):
                notified = notify(spec, findings, now=judged_at)
            if not notified.ok:
                log.error("some alerts could not be delivered")
            with _phase("the next scheduled run (reconcile run): heals stale hours"):
                nxt = run_job(next_run_spec(spec, hours), now=judged_at + HOUR)
            archive.results += nxt.archive.results
            if nxt.errors:
                log.error("the scheduled run failed: %s", "; ".join(nxt.errors))
            report_path = _write_report(spec, nxt.findings, p, out_dir)
        finally:
            os.environ.pop("RECONCILE_WEBHOOK_SECRET", None)
    found, missed, unexpected = judge(p, findings, nxt.findings)
    return DemoReport(
        p, archive, findings, receiver.received, report_path, spec, found, missed, unexpected
    )


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
    from ..report import build_report

    out_dir.mkdir(parents=True, exist_ok=True)
    path = out_dir / "report.html"
    logflow = [f for f in findings if f.kind == "logflow"]
    egress = [f for f in findings if f.kind == "egress"]
    path.write_text(build_report(logflow, egress, spec.name, p.start, p.end))
    return path
