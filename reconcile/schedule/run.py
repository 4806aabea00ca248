"""``reconcile run``: one scheduled pass over a job.

Under a lease (so two runs never overlap), it archives the settled hours not yet
committed inside a lookback (oldest first, bounded per run, so it catches up after
downtime), re-archives committed hours that Elasticsearch now holds more documents for
(late arrivals, oldest first, bounded), judges a trailing range of hours against the load balancer, judges NAT egress,
sends and resolves alerts, and pushes its own metrics. Each stage runs even when an
earlier one failed, so a broken archive still produces ``missing`` findings and alerts.
"""

from __future__ import annotations

import logging
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from ..archive.layout import Manifest
from ..archive.outcome import ArchiveSummary
from ..archive.run import Archiver, upload_options
from ..errors import EXIT_FAILED, EXIT_FINDINGS, EXIT_OK, ReconcileError
from ..findings import Finding
from ..lease import LEASE_KEY, Lease
from ..metrics import RunMetrics, push
from ..storage import open_store
from ..timewin import Window, floor_hour, utcnow, windows
from .config import RunJob

log = logging.getLogger(__name__)


@dataclass
class RunReport:
    """Everything one scheduled run did."""

    job: str
    now: datetime
    archive: ArchiveSummary = field(default_factory=ArchiveSummary)
    findings: list[Finding] = field(default_factory=list)
    notify: Any = None
    errors: list[str] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)
    seconds: dict[str, float] = field(default_factory=dict)

    @property
    def problems(self) -> list[Finding]:
        return [f for f in self.findings if f.is_problem]

    @property
    def exit_code(self) -> int:
        if self.errors or self.archive.failed or (self.notify is not None and not self.notify.ok):
            return EXIT_FAILED
        return EXIT_FINDINGS if self.problems else EXIT_OK


def expected_configured(spec: RunJob) -> bool:
    e = spec.expected
    return bool(e.load_balancers or e.alb_logs_uri)


#: An hour this run archives: what Elasticsearch holds for it, and its committed manifest.
Due = tuple[Window, int | None, Manifest | None]


def windows_to_archive(archiver: Archiver, spec: RunJob, now: datetime) -> list[Due]:
    """What this run archives, oldest first, each with what Elasticsearch holds for it and
    its committed manifest (None: not committed), which the archiver then need not read.

    Settled hours of ``run.archive_lookback_hours`` without a commit (at most
    ``run.max_windows_per_run``), then committed hours of ``run.recheck_lookback_hours``
    that Elasticsearch now holds more documents for (at most ``run.max_rearchive_per_run``).
    One aggregation request counts the whole range; manifests are read once per hour.
    """
    cfg = spec.run
    hour = floor_hour(now)
    back = max(cfg.archive_lookback_hours, cfg.recheck_lookback_hours)
    span = [
        w for w in windows(hour - timedelta(hours=back), hour) if archiver.not_ready(w, now) is None
    ]
    if not span:
        return []
    live = archiver.live_counts(span[0].start, span[-1].end)
    new_from = hour - timedelta(hours=cfg.archive_lookback_hours)
    recheck_from = hour - timedelta(hours=cfg.recheck_lookback_hours)
    todo: list[Due] = []
    stale: list[Due] = []
    for w in span:
        manifest = archiver.committed(w)
        if manifest is None:
            if w.start >= new_from:
                todo.append((w, live.get(w), None))
        elif w.start >= recheck_from and w in live and archiver.late_documents(manifest, live[w]):
            stale.append((w, live[w], manifest))
    return _bounded(todo, cfg.max_windows_per_run, "to be archived") + _bounded(
        stale, cfg.max_rearchive_per_run, "with late documents to be re-archived"
    )


def _bounded(items: list[Due], most: int, what: str) -> list[Due]:
    if len(items) > most:
        log.warning("%d hours wait %s; this run takes the oldest %d", len(items), what, most)
    return items[:most]


class ScheduledRun:
    """One pass; each stage is a method so the order and the failure handling read plainly."""

    def __init__(self, spec: RunJob, now: datetime | None = None, dry_run: bool = False) -> None:
        self.spec = spec
        self.now = now or utcnow()
        self.hour = floor_hour(self.now)
        self.dry_run = dry_run
        self.report = RunReport(spec.name, self.now)

    def run(self) -> RunReport:
        store = open_store(self.spec.archive.uri, upload_options(self.spec.archive))
        lease = Lease(store, LEASE_KEY, f"run lease of job {self.spec.name}")
        with lease.hold(self.spec.run.lease_ttl_s, self.spec.run.lease_wait_s, renew=True):
            self._stage("archive", self.archive)
            self._stage("check", self.check)
            self._stage("egress", self.egress)
            self._stage("alerts", self.alerts)
        return self.report

    def _stage(self, name: str, fn: Callable[[], None]) -> None:
        t0 = time.monotonic()
        try:
            fn()
        except ReconcileError as exc:
            log.error("%s failed: %s", name, exc, extra={"event": "stage_failed", "stage": name})
            self.report.errors.append(f"{name}: {exc}")
        finally:
            self.report.seconds[name] = round(time.monotonic() - t0, 3)

    def archive(self) -> None:
        if not self.spec.run.archive:
            self.report.skipped.append("archive (run.archive = false)")
            return
        archiver = Archiver(self.spec)
        # Under the run lease no other scheduled run commits meanwhile, so the manifests read
        # while planning are passed on (the archiver reads one again only if it finishes an
        # interrupted commit of that hour first).
        for window, indexed, previous in windows_to_archive(archiver, self.spec, self.now):
            self.report.archive.results.append(
                archiver.archive_window(window, now=self.now, indexed=indexed, previous=previous)
            )

    def check(self) -> None:
        if not expected_configured(self.spec):
            self.report.skipped.append(
                "check (no expected.load_balancers or expected.alb_logs_uri)"
            )
            return
        from ..check.run import check

        start = self.hour - timedelta(hours=self.spec.run.check_lookback_hours)
        result = check(self.spec, start, self.hour, now=self.now, write_results=not self.dry_run)
        self.report.findings.extend(result.findings)
        self.report.errors.extend(f"check: {e}" for e in result.errors)

    def egress(self) -> None:
        if not self.spec.egress.nat_gateways:
            self.report.skipped.append("egress (no egress.nat_gateways)")
            return
        from ..egress.run import judge_egress

        start = self.hour - timedelta(hours=self.spec.run.egress_lookback_hours)
        result = judge_egress(
            self.spec, start, self.hour, now=self.now, write_results=not self.dry_run
        )
        self.report.findings.extend(result.findings)

    def alerts(self) -> None:
        from ..alerts import notify

        self.report.notify = notify(
            self.spec, self.report.findings, now=self.now, dry_run=self.dry_run
        )


def run_job(spec: RunJob, now: datetime | None = None, dry_run: bool = False) -> RunReport:
    """Run one scheduled pass; push its metrics when a Pushgateway is configured."""
    started = time.time()
    report: RunReport | None = None
    try:
        report = ScheduledRun(spec, now, dry_run).run()
        return report
    finally:
        if spec.run.pushgateway_url and not dry_run:
            _push(spec, report, started)


def _push(spec: RunJob, report: RunReport | None, started: float) -> None:
    m = RunMetrics(spec.name, started=started)
    if report is not None:
        m.exit_code = report.exit_code
        m.succeeded = m.exit_code != EXIT_FAILED
        m.windows_archived = report.archive.count("archived")
        m.windows_failed = len(report.archive.failed)
        m.documents_archived = report.archive.rows
        m.documents_quarantined = sum(r.quarantined for r in report.archive.results)
        m.windows_rearchived = report.archive.rearchived
        m.documents_late = report.archive.late
        m.findings = Counter(f"{f.kind}:{f.status}" for f in report.findings)
    else:
        m.exit_code = EXIT_FAILED
    try:
        push(spec.run.pushgateway_url or "", m)
    except ReconcileError as exc:
        log.warning("%s", exc)
