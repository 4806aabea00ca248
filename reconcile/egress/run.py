"""``judge_egress``: fetch NAT gateway metrics, judge each period, drill into spikes, store.

One finding per (gateway, period) for the configured metric (``ok`` or ``spike``), plus
one ``spike`` finding with resource ``<nat-id>/ErrorPortAllocation`` for every period in
which the gateway failed to allocate source ports.
"""

from __future__ import annotations

import dataclasses
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from ..details import PORT_ERRORS, EgressDetail, PortErrorDetail
from ..errors import ConfigError, ReconcileError
from ..findings import EGRESS, Finding, Status, problems
from ..present import fmt_bytes
from ..results import write_findings
from ..storage import open_store
from ..timewin import utcnow
from .config import EgressConfig, EgressJob, MaintenanceWindow
from .detect import WEEK, Judgement, Params, judge_series
from .flowlogs import (
    DrillDown,
    lookup_interfaces,
    missing_fields_note,
    top_talkers,
)
from .metrics import align, cloudwatch_client, fetch_by_age

log = logging.getLogger(__name__)


@dataclass(slots=True)
class EgressReport:
    """What one ``judge_egress`` call found and did."""

    job: str
    metric: str
    start: datetime
    end: datetime
    now: datetime
    findings: list[Finding] = field(default_factory=list)
    unsettled: int = 0
    """Periods of the range not judged yet: not closed, or closed less than settle_minutes ago."""
    warnings: list[str] = field(default_factory=list)
    results_keys: list[str] = field(default_factory=list)
    seconds: dict[str, float] = field(default_factory=dict)

    @property
    def problems(self) -> list[Finding]:
        return problems(self.findings)

    @property
    def judged(self) -> int:
        """Periods judged (gateway x period), not counting port-allocation findings."""
        return sum(1 for f in self.findings if "/" not in f.resource)

    @property
    def spikes(self) -> list[Finding]:
        """Metric spikes (without the ErrorPortAllocation findings)."""
        return [f for f in self.problems if "/" not in f.resource]

    @property
    def port_errors(self) -> list[Finding]:
        return [f for f in self.problems if f.resource.endswith(f"/{PORT_ERRORS}")]


def params_from(cfg: EgressConfig) -> Params:
    """Detection parameters from the job's egress section."""
    return Params(
        period=timedelta(seconds=cfg.period_s),
        history_weeks=cfg.history_weeks,
        min_history_weeks=cfg.min_history_weeks,
        z_threshold=cfg.z_threshold,
        min_relative_increase=cfg.min_relative_increase,
        min_excess=float(cfg.min_excess_bytes),
        noise_floor=cfg.noise_floor,
        level_adjust_periods=cfg.level_adjust_hours * 3600 // cfg.period_s,
        max_level_factor=cfg.max_level_factor,
    )


def excluder(
    windows: list[MaintenanceWindow], gateway: str, period: timedelta
) -> Callable[[datetime], str | None]:
    """Period start -> maintenance reason (``""`` when none given), or None when not excluded."""
    mine = [w for w in windows if not w.gateways or gateway in w.gateways]

    def excluded(t: datetime) -> str | None:
        for w in mine:
            if w.covers(gateway, t, t + period):
                return w.reason
        return None

    return excluded


def period_starts(start: datetime, end: datetime, period: timedelta) -> list[datetime]:
    """Every period overlapping ``[start, end)``."""
    if end <= start:
        raise ConfigError(f"--to ({end.isoformat()}) must be after --from ({start.isoformat()})")
    out, cur = [], align(start, period)
    while cur < end:
        out.append(cur)
        cur += period
    return out


def _amount(value: float | None, unit: str) -> str:
    if value is None:
        return "-"
    return fmt_bytes(value) if unit == "Bytes" else f"{value:,.0f} packets"


def _message(gw: str, cfg: EgressConfig, j: Judgement, label: str) -> str:
    if not j.is_spike:
        return j.note
    amount = _amount(j.value, cfg.unit)
    parts = []
    if "seasonal" in j.crossed and j.baseline and j.value is not None:
        parts.append(
            f"{j.value / j.baseline:.1f}x its seasonal baseline of "
            f"{_amount(j.baseline, cfg.unit)} (threshold {_amount(j.threshold, cfg.unit)}, "
            f"robust score {j.score:.1f})"
        )
    if "static" in j.crossed:
        parts.append(f"above the static threshold of {_amount(cfg.static_for(gw), cfg.unit)}")
    text = f"{gw} {cfg.metric} was {amount} in {label}: {'; '.join(parts)}"
    if j.method == "static" and j.note:
        text += " (too little history for a seasonal baseline)"
    return text


def _finding(
    job: str, gw: str, cfg: EgressConfig, j: Judgement, port_errors: float | None
) -> Finding:
    label = j.start.strftime("%Y-%m-%dT%H:%M")
    detail = EgressDetail(
        metric=cfg.metric,
        unit=cfg.unit,
        period_s=cfg.period_s,
        method=j.method,
        crossed=list(j.crossed),
        score=round(j.score, 2) if j.score is not None and j.score != float("inf") else None,
        history_weeks=j.history_weeks,
        level=round(j.level, 3) if j.level != 1.0 else None,
        note=j.note or None,
        port_allocation_errors=int(port_errors) if port_errors is not None else None,
    )
    return Finding(
        job=job,
        kind=EGRESS,
        resource=gw,
        window_start=j.start,
        status=Status(j.status),
        bytes=int(j.value) if j.value is not None else None,
        baseline=round(j.baseline, 1) if j.baseline is not None else None,
        threshold=round(float(j.threshold), 1) if j.threshold is not None else None,
        ratio=round(j.value / j.baseline, 4) if j.value is not None and j.baseline else None,
        message=_message(gw, cfg, j, label),
        detail=detail,
    )


def port_finding(job: str, gw: str, t: datetime, count: float) -> Finding:
    """``ErrorPortAllocation > 0``: connections were refused for lack of source ports."""
    return Finding(
        job=job,
        kind=EGRESS,
        resource=f"{gw}/{PORT_ERRORS}",
        window_start=t,
        status=Status.SPIKE,
        threshold=0.0,
        message=(
            f"{gw} could not allocate a source port {int(count):,} times in "
            f"{t:%Y-%m-%dT%H:%M} ({PORT_ERRORS}): more than 55,000 simultaneous connections "
            "to one destination per gateway address; add secondary IPv4 addresses to the "
            "gateway or spread the traffic over more destinations or gateways"
        ),
        detail=PortErrorDetail(count=int(count), gateway=gw),
    )


def _with_drilldown(f: Finding, dd: DrillDown) -> Finding:
    assert isinstance(f.detail, EgressDetail)
    detail = dataclasses.replace(f.detail, drilldown=dd.as_detail())
    extra = []
    if dd.sources:
        top = dd.sources[0]
        extra.append(f"top source {top.talker} ({fmt_bytes(top.bytes)})")
    if dd.destinations:
        top = dd.destinations[0]
        svc = f", {top.aws_service}" if top.aws_service else ""
        extra.append(f"top destination {top.talker} ({fmt_bytes(top.bytes)}{svc})")
    callout = dd.callout()
    if callout:
        extra.append(callout)
    if not dd.files:
        extra.append("no flow log files found for this hour")
    if dd.missing_fields:
        extra.append(missing_fields_note(dd.missing_fields))
    tail = "; ".join(extra)
    message = f.message + (f". {tail[0].upper()}{tail[1:]}" if tail else "")
    return dataclasses.replace(f, message=message, detail=detail)


def drill_down(
    findings: list[Finding], cfg: EgressConfig, period: timedelta, warnings: list[str]
) -> list[Finding]:
    """Attach flow-log top talkers to every metric spike (not to port-allocation findings)."""
    spikes = [f for f in findings if f.status == "spike" and "/" not in f.resource]
    if not spikes or not cfg.flow_logs_uri:
        return findings
    store = open_store(cfg.flow_logs_uri)
    enis = dict(cfg.interfaces)
    missing = sorted({f.resource for f in spikes} - enis.keys())
    if missing:
        try:
            enis.update(lookup_interfaces(missing, cfg.region))
        except ReconcileError as exc:
            warnings.append(f"drill-down: {exc}")
    spike_ids = {id(f) for f in spikes}
    out = []
    for f in findings:
        if id(f) not in spike_ids:
            out.append(f)
            continue
        eni = enis.get(f.resource)
        if eni is None:
            warnings.append(f"drill-down: no network interface known for {f.resource}")
            out.append(f)
            continue
        try:
            dd = top_talkers(
                store,
                eni,
                f.window_start,
                f.window_start + period,
                direction=cfg.direction,
                limit=cfg.top_n,
            )
        except ReconcileError as exc:
            warnings.append(f"drill-down {f.resource} {f.window_start:%Y-%m-%dT%H}: {exc}")
            assert isinstance(f.detail, EgressDetail)
            detail = dataclasses.replace(f.detail, drilldown_error=str(exc))
            out.append(dataclasses.replace(f, detail=detail))
            continue
        out.append(_with_drilldown(f, dd))
    return out


def judge_egress(
    spec: EgressJob,
    start: datetime,
    end: datetime,
    now: datetime | None = None,
    *,
    write_results: bool = True,
    cloudwatch: Any = None,
) -> EgressReport:
    """Judge every settled period of ``[start, end)`` for every configured NAT gateway.

    ``now`` decides which periods have closed (default: the clock). Findings are merged
    into the results dataset (``egress_results_uri``) unless ``write_results`` is False.
    ``cloudwatch`` is an optional boto3 CloudWatch client (default: from the environment).
    """
    cfg = spec.egress
    if not cfg.nat_gateways:
        raise ConfigError(
            "egress.nat_gateways is empty: set it in the job file, "
            "RECONCILE_EGRESS_NAT_GATEWAYS or --nat-gateway"
        )
    now = now or utcnow()
    period = timedelta(seconds=cfg.period_s)
    settle = timedelta(minutes=cfg.settle_minutes)
    starts = period_starts(start, end, period)
    settled = [t for t in starts if t + period + settle <= now]
    report = EgressReport(
        spec.name, cfg.metric, start, end, now, unsettled=len(starts) - len(settled)
    )
    if not settled:
        report.warnings.append("no period of the range has closed (and settled) yet")
        return report
    params = params_from(cfg)
    client = cloudwatch or cloudwatch_client(cfg.region)
    history_from = settled[0] - params.history_weeks * WEEK - params.level_adjust_periods * period
    judged_to = settled[-1] + period

    t0 = time.perf_counter()
    series = fetch_by_age(
        client, cfg.nat_gateways, [cfg.metric], history_from, judged_to, period, now
    )
    ports = (
        fetch_by_age(client, cfg.nat_gateways, [PORT_ERRORS], settled[0], judged_to, period, now)
        if cfg.port_allocation_errors
        else {}
    )
    report.seconds["fetch"] = time.perf_counter() - t0

    t0 = time.perf_counter()
    findings: list[Finding] = []
    for gw in cfg.nat_gateways:
        values = series.get((gw, cfg.metric), {})
        if not values:
            report.warnings.append(
                f"{gw}: no {cfg.metric} datapoints in CloudWatch since "
                f"{history_from:%Y-%m-%dT%H:%M}Z (wrong gateway id or region?)"
            )
        excluded = excluder(cfg.maintenance, gw, period)
        port = ports.get((gw, PORT_ERRORS), {})
        for j in judge_series(
            values, settled, params, static=cfg.static_for(gw), excluded=excluded
        ):
            errors = port.get(j.start, 0.0) if cfg.port_allocation_errors else None
            findings.append(_finding(spec.name, gw, cfg, j, errors))
            if errors and excluded(j.start) is None:
                findings.append(port_finding(spec.name, gw, j.start, errors))
    report.seconds["judge"] = time.perf_counter() - t0

    t0 = time.perf_counter()
    findings = drill_down(findings, cfg, period, report.warnings)
    report.seconds["drilldown"] = time.perf_counter() - t0
    report.findings = findings

    uri = spec.egress_results_uri
    if write_results and uri:
        t0 = time.perf_counter()
        report.results_keys = write_findings(open_store(uri), findings)
        report.seconds["results"] = time.perf_counter() - t0
    for w in report.warnings:
        log.warning("%s", w)
    return report
