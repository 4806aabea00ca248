"""Run a check: expected counts, archived counts, ratio baseline, judgement, results.

::

    expected   = load-balancer requests per hour (CloudWatch or ALB access logs)
    archived   = rows per hour partition, from Parquet footers, compared with manifests
    baseline   = the expected ratio per hour (configured, or learned from trailing hours)
    findings   = judge(expected, archived, baseline)  ->  results dataset (rerun replaces)

Usable from the CLI, a scheduler or a test: :func:`check` returns a :class:`CheckReport`
and raises :class:`~reconcile.errors.ReconcileError` only when it could not run.
"""

from __future__ import annotations

import logging
import time
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

from ..archive.read import ArchiveReader, ArchiveScan
from ..engines import Engine, TableSource
from ..engines.registry import AthenaSettings, open_engine
from ..errors import ConfigError, ReconcileError
from ..expected.alb_logs import with_load_balancers
from ..expected.alb_sql import expected_for
from ..findings import Finding
from ..results import write_findings
from ..source.base import Source
from ..source.factory import open_source
from ..sqlfiles import render
from ..storage import ObjectStore, open_store
from ..timewin import Window, utcnow, windows
from .baseline import Samples, baselines, history_range, samples_from
from .config import CheckConfig, CheckJob
from .indexed import AT_RISK, IndexedCounts, guard_findings, read_indexed, retention_guard
from .judge import Baseline, judge
from .views import alb_logs_table, archive_dataset, results_dataset

if TYPE_CHECKING:
    from ..expected import ExpectedCounts
    from ..expected.config import ExpectedConfig

log = logging.getLogger(__name__)


@dataclass(slots=True)
class CheckReport:
    """The outcome of one check run."""

    job: str
    resource: str
    start: datetime
    end: datetime
    now: datetime
    findings: list[Finding]
    engine: str
    bytes_scanned: int = 0
    """Bytes the engine scanned (Athena's bill; 0 for DuckDB)."""
    results_uri: str | None = None
    results_keys: list[str] = field(default_factory=list)
    ratio_history: str = ""
    """Where learned-ratio samples came from, when the ratio is learned."""
    object_requests: dict[str, int] = field(default_factory=dict)
    timings: dict[str, float] = field(default_factory=dict)
    indexed_requests: int = 0
    """Elasticsearch requests the ``indexed`` figures cost (a handful, whatever the range)."""
    indexed_method: str = ""
    errors: list[str] = field(default_factory=list)
    """What the check could not establish (e.g. Elasticsearch unreachable: no ``indexed``)."""

    def count(self, status: str) -> int:
        return sum(1 for f in self.findings if f.status == status)

    @property
    def problems(self) -> list[Finding]:
        return [f for f in self.findings if f.is_problem]

    @property
    def summary(self) -> str:
        counts = Counter(f.status for f in self.findings)
        parts = [f"{n} {s}" for s, n in sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))]
        return f"{len(self.findings)} windows: " + ", ".join(parts)


@contextmanager
def _timed(timings: dict[str, float], key: str) -> Iterator[None]:
    t0 = time.perf_counter()
    try:
        yield
    finally:
        timings[key] = round(timings.get(key, 0.0) + time.perf_counter() - t0, 4)


def job_engine(
    spec: CheckJob,
    start: datetime,
    end: datetime,
    store: ObjectStore | None = None,
    expected: ExpectedConfig | None = None,
) -> Engine:
    """The job's engine (``check.engine``); DuckDB gets views named like the Athena tables.

    ``expected``: the job's expected side as resolved for this range (load balancers)."""
    cfg = spec.check
    exp = expected or spec.expected
    views = _duckdb_views(spec, exp, start, end, store) if cfg.engine == "duckdb" else None
    return open_engine(cfg.engine, tables=views, athena=athena_settings(cfg))


def athena_settings(cfg: CheckConfig) -> AthenaSettings:
    """The check's ``athena_*`` settings, as the engine registry takes them."""
    names = AthenaSettings.__dataclass_fields__
    return AthenaSettings(**{name: getattr(cfg, f"athena_{name}") for name in names})


def _duckdb_views(
    spec: CheckJob,
    expected: ExpectedConfig,
    start: datetime,
    end: datetime,
    store: ObjectStore | None,
) -> dict[str, TableSource]:
    """Providers of ``archive_logs``, ``reconcile_results`` and ``alb_access_logs``."""
    archive = store or open_store(spec.archive.uri)
    results = open_store(spec.results_uri)
    return {
        "archive_logs": lambda: archive_dataset(archive),
        "reconcile_results": lambda: results_dataset(results),
        "alb_access_logs": lambda: alb_logs_table(expected, start, end),
    }


def history_samples(
    engine: Engine, job: str, resource: str, start: datetime, end: datetime
) -> Samples:
    """Ratio samples of ``[start, end)`` from the results history (``sql/queries/ratio_history``)."""
    last = end - timedelta(microseconds=1)
    sql = render(
        "queries/ratio_history",
        {
            "job": job,
            "resource": resource,
            "start": start,
            "end": end,
            "start_dt": start.strftime("%Y-%m-%d"),
            "end_dt": last.strftime("%Y-%m-%d"),
        },
    )
    table = engine.query(sql)
    out: Samples = {}
    for row in table.to_pylist():
        ws = row["window_start"]
        if ws.tzinfo is None:  # Athena timestamps carry no zone; they are UTC
            ws = ws.replace(tzinfo=UTC)
        out[ws] = int(row["archived"]) / int(row["expected"])
    return out


class Checker:
    """Checks windows of one job; reusable from the CLI, a scheduler or a test."""

    def __init__(
        self,
        spec: CheckJob,
        engine: Engine | None = None,
        store: ObjectStore | None = None,
        source: Source | None = None,
    ) -> None:
        if not spec.archive.uri and store is None:
            raise ConfigError(
                "archive.uri is not set (job file [archive] uri, --archive or RECONCILE_ARCHIVE_URI)"
            )
        self.spec = spec
        #: The expected side, its load balancers found in the bucket when not configured.
        self.expected: ExpectedConfig = spec.expected
        self.store = store or open_store(spec.archive.uri)
        self.reader = ArchiveReader(self.store, spec.check.read_workers)
        self._engine = engine
        self.source = source
        if self.source is None and spec.check.read_indexed:
            self.source = open_source(spec.source)

    def check(
        self,
        start: datetime,
        end: datetime,
        now: datetime | None = None,
        write_results: bool = True,
    ) -> CheckReport:
        now = now or utcnow()
        wins = list(windows(start, end))
        start, end = wins[0].start, wins[-1].end
        self._resolve_load_balancers(start, end)
        own = self._engine is None
        engine = self._engine or job_engine(self.spec, start, end, self.store, self.expected)
        timings: dict[str, float] = {}
        try:
            with _timed(timings, "total_s"):
                report = self._run(engine, wins, start, end, now, write_results, timings)
        finally:
            if own:
                engine.close()
        report.timings = timings
        log.info(
            "check %s %s..%s: %s",
            self.spec.name,
            wins[0].label,
            wins[-1].label,
            report.summary,
            extra={
                "event": "check",
                "timings": timings,
                "es_requests": report.indexed_requests,
                **report.object_requests,
            },
        )
        for error in report.errors:
            log.error("check %s: %s", self.spec.name, error)
        return report

    def _resolve_load_balancers(self, start: datetime, end: datetime) -> None:
        """ALB access logs and no load balancer named: the only one in the bucket (or an
        error listing them), for ``reconcile check`` and ``reconcile run`` alike."""
        self.expected = with_load_balancers(self.spec.expected, start, end)

    def _run(
        self,
        engine: Engine,
        wins: list[Window],
        start: datetime,
        end: datetime,
        now: datetime,
        write_results: bool,
        timings: dict[str, float],
    ) -> CheckReport:
        cfg = self.spec.check
        with _timed(timings, "expected_s"):
            expected = expected_for(self.expected, start, end, engine)
        with _timed(timings, "archive_s"):
            scan = self.reader.scan(start, end)
        requests = {
            "list_calls": scan.list_calls,
            "manifest_reads": scan.manifest_reads,
            "footer_reads": scan.footer_reads,
        }
        with _timed(timings, "ratio_s"):
            ratios, history = self._baselines(engine, wins, expected, scan, now, timings)
        indexed = IndexedCounts()
        if self.source is not None:
            with _timed(timings, "indexed_s"):
                indexed = read_indexed(self.source, scan.windows)
        with _timed(timings, "judge_s"):
            findings = judge(
                job=self.spec.name,
                resource=expected.resource,
                expected=expected.counts,
                archives=scan.windows,
                baselines=ratios,
                cfg=cfg,
                now=now,
                expected_source=expected.source,
                indexed=indexed.counts,
                indexed_notes=indexed.notes,
            )
        if self.source is not None and indexed.error is None:
            with _timed(timings, "retention_s"):
                findings = self._guard(findings, scan, now)
        report = CheckReport(
            job=self.spec.name,
            resource=expected.resource,
            start=start,
            end=end,
            now=now,
            findings=findings,
            engine=engine.name,
            ratio_history=history,
            object_requests=requests,
            indexed_requests=indexed.requests,
            indexed_method=indexed.method,
            errors=[indexed.error] if indexed.error else [],
        )
        if write_results:
            report.results_uri = self.spec.results_uri
            with _timed(timings, "results_s"):
                report.results_keys = write_findings(open_store(report.results_uri), findings)
        report.bytes_scanned = engine.bytes_scanned
        return report

    def _guard(self, findings: list[Finding], scan: ArchiveScan, now: datetime) -> list[Finding]:
        """Deletion deadlines for missing and stale windows (ILM is asked only when needed)."""
        if not any(f.status in AT_RISK for f in findings):
            return findings
        assert self.source is not None
        try:
            guard = retention_guard(self.source, self.spec.source.retention)
        except ReconcileError as exc:
            log.warning("retention of the source unknown: %s", exc)
            return findings
        return guard_findings(findings, guard, scan.windows, now, self.spec.retention_warning)

    def _baselines(
        self,
        engine: Engine,
        wins: list[Window],
        expected: ExpectedCounts,
        scan: ArchiveScan,
        now: datetime,
        timings: dict[str, float],
    ) -> tuple[dict[Window, Baseline], str]:
        cfg = self.spec.check
        if not cfg.learn_ratio:
            return baselines(cfg, wins, {}), ""
        current = samples_from(cfg, expected.counts, scan.windows, now)
        h0, h1 = history_range(cfg, wins[0].start)
        past = history_samples(engine, self.spec.name, expected.resource, h0, h1)
        source = f"results history: {len(past)} hours"
        if len(past) < cfg.ratio_min_samples:
            # Too little history (a first run, or results kept elsewhere): count the trailing
            # days afresh, the same way the hours being checked are counted.
            with _timed(timings, "ratio_compute_s"):
                trailing = expected_for(self.expected, h0, h1, engine)
                trailing_scan = self.reader.scan(h0, h1)
            computed = samples_from(cfg, trailing.counts, trailing_scan.windows, now)
            past = {**past, **computed}
            source = f"computed from the archive and {trailing.source}: {len(computed)} hours"
        return baselines(cfg, wins, {**past, **current}), source


def check(
    spec: CheckJob,
    start: datetime,
    end: datetime,
    now: datetime | None = None,
    engine: Engine | None = None,
    *,
    write_results: bool = True,
    source: Source | None = None,
) -> CheckReport:
    """Judge every hour window of ``[start, end)``; see :class:`Checker`."""
    return Checker(spec, engine, source=source).check(
        start, end, now=now, write_results=write_results
    )


def as_rows(report: CheckReport) -> list[dict[str, Any]]:
    """Findings as plain dicts (the JSON/CSV output contract)."""
    return [f.as_dict() for f in report.findings]
