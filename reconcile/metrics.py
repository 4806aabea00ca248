"""Run metrics of the job itself, pushed to a Prometheus Pushgateway (optional).

A batch job cannot be scraped, so each run pushes its outcome under the grouping key
``job=<job name>``; an alert on ``time() - reconcile_last_success_timestamp_seconds``
catches a job that stopped running at all.
"""

from __future__ import annotations

import logging
import time
from collections import Counter
from dataclasses import dataclass, field

from .errors import ReconcileError

log = logging.getLogger(__name__)


@dataclass(slots=True)
class RunMetrics:
    """What one run did, as numbers."""

    job: str
    started: float = field(default_factory=time.time)
    succeeded: bool = False
    windows_archived: int = 0
    windows_failed: int = 0
    documents_archived: int = 0
    documents_quarantined: int = 0
    windows_rearchived: int = 0
    """Committed windows archived again because late documents arrived."""
    documents_late: int = 0
    """Documents that reached Elasticsearch after their window's commit, added by re-archiving."""
    findings: Counter[str] = field(default_factory=Counter)
    """Findings by ``kind:status``, e.g. ``logflow:gap``."""
    exit_code: int = 0


def push(url: str, metrics: RunMetrics, timeout: float = 10.0) -> None:
    """Push ``metrics`` to the Pushgateway at ``url``; raises ReconcileError on failure."""
    from prometheus_client import CollectorRegistry, Gauge, push_to_gateway

    reg = CollectorRegistry()

    def gauge(name: str, doc: str, value: float, labels: dict[str, str] | None = None) -> None:
        g = Gauge(name, doc, list(labels or {}), registry=reg)
        (g.labels(**labels) if labels else g).set(value)

    now = time.time()
    gauge("reconcile_last_run_timestamp_seconds", "When the last run finished.", now)
    if metrics.succeeded:
        gauge(
            "reconcile_last_success_timestamp_seconds",
            "When the last run that could run finished.",
            now,
        )
    gauge("reconcile_run_duration_seconds", "Duration of the last run.", now - metrics.started)
    gauge(
        "reconcile_last_run_exit_code",
        "Exit code of the last run (0 ok, 3 findings, 1 failed).",
        metrics.exit_code,
    )
    gauge(
        "reconcile_windows_archived", "Windows archived by the last run.", metrics.windows_archived
    )
    gauge(
        "reconcile_windows_failed",
        "Windows that failed to archive in the last run.",
        metrics.windows_failed,
    )
    gauge(
        "reconcile_documents_archived",
        "Documents archived by the last run.",
        metrics.documents_archived,
    )
    gauge(
        "reconcile_documents_quarantined",
        "Documents quarantined by the last run.",
        metrics.documents_quarantined,
    )
    gauge(
        "reconcile_windows_rearchived",
        "Committed windows the last run archived again for late documents.",
        metrics.windows_rearchived,
    )
    gauge(
        "reconcile_documents_late",
        "Documents that arrived after their window's commit, added by the last run.",
        metrics.documents_late,
    )
    findings = Gauge(
        "reconcile_findings",
        "Findings of the last run by kind and status.",
        ["kind", "status"],
        registry=reg,
    )
    for key, n in sorted(metrics.findings.items()):
        kind, _, status = key.partition(":")
        findings.labels(kind=kind, status=status).set(n)
    try:
        push_to_gateway(
            url,
            job="reconcile",
            grouping_key={"reconcile_job": metrics.job},
            registry=reg,
            timeout=timeout,
        )
    except OSError as exc:
        raise ReconcileError(f"could not push metrics to the Pushgateway: {exc}") from exc
