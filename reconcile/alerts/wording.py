"""The words a person reads at 3 a.m.: an incident's summary line, its per-hour description,
the next step to take, and the top talker of an egress hour.

Wording reads incidents and alerts through the narrow views below (:class:`IncidentView`,
:class:`HourView`), which :class:`reconcile.alerts.model.Incident` and
:class:`~reconcile.alerts.model.Alert` satisfy; the model's ``summary()``,
``description()`` and ``next_step()`` call in here, so the model imports wording and never
the other way round. Figures are written by :mod:`reconcile.present`.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from datetime import datetime
from typing import Any, Protocol

from ..findings import EGRESS, HOP_INGEST, HOP_WORDS, LOGFLOW
from ..present import fmt_bytes, fmt_hour, fmt_int
from ..present import fmt_pct as fmt_ratio
from ..talkers import TopTalker
from ..talkers import top_talker as read_top_talker

#: Hours listed in a description; older ones are counted, not listed.
_WINDOW_LINES = 24


class HourView(Protocol):
    """What wording reads of one judged hour (an :class:`~reconcile.alerts.model.Alert`)."""

    @property
    def kind(self) -> str: ...
    @property
    def window_start(self) -> datetime: ...
    @property
    def status(self) -> str: ...
    @property
    def expected(self) -> int | None: ...
    @property
    def archived(self) -> int | None: ...
    @property
    def indexed(self) -> int | None: ...
    @property
    def ratio(self) -> float | None: ...
    @property
    def bytes(self) -> int | None: ...
    @property
    def baseline(self) -> float | None: ...
    @property
    def threshold(self) -> float | None: ...
    @property
    def hop(self) -> str | None: ...
    @property
    def message(self) -> str: ...
    @property
    def detail(self) -> Mapping[str, Any]: ...


class IncidentView(Protocol):
    """What wording reads of an incident (an :class:`~reconcile.alerts.model.Incident`)."""

    @property
    def job(self) -> str: ...
    @property
    def kind(self) -> str: ...
    @property
    def resource(self) -> str: ...
    @property
    def family(self) -> str: ...
    @property
    def status(self) -> str: ...
    @property
    def state(self) -> str: ...
    @property
    def resolution(self) -> str | None: ...
    @property
    def firing(self) -> bool: ...
    @property
    def hours(self) -> int: ...
    @property
    def since(self) -> datetime: ...
    @property
    def until(self) -> datetime: ...
    @property
    def peak(self) -> HourView: ...
    @property
    def latest(self) -> HourView: ...
    @property
    def recovered_by(self) -> HourView | None: ...
    @property
    def cleared(self) -> Mapping[str, HourView]: ...
    def totals(self) -> Mapping[str, Any]: ...
    def timeline(self) -> Sequence[HourView]: ...


# -- the egress drill-down ------------------------------------------------------------------


def _drilldown(alert: HourView) -> TopTalker | None:
    """What an egress hour's flow-log drill-down says about who sent the bytes."""
    return read_top_talker(alert.detail)


def top_talker(alert: HourView) -> str | None:
    """The top source and destination of an egress hour's flow-log drill-down, or None."""
    talker = _drilldown(alert)
    text = talker.describe(fmt_bytes) if talker else ""
    return text or None


def endpoint_note(alert: HourView) -> str | None:
    """The S3/DynamoDB-through-NAT sentence of an egress hour's drill-down, or None."""
    talker = _drilldown(alert)
    text = talker.callout(fmt_bytes) if talker else ""
    return text[0].upper() + text[1:] if text else None


def _talker_tail(alert: HourView) -> str:
    """`` Top talker: ... . <endpoint note>.`` for the end of a sentence, or ``""``."""
    talker, note = top_talker(alert), endpoint_note(alert)
    return (f" Top talker: {talker}." if talker else "") + (f" {note}." if note else "")


# -- next step ------------------------------------------------------------------------------


def fmt_span(inc: IncidentView) -> str:
    """``3 hours since 2026-11-20 13:00 UTC``."""
    hours = inc.hours
    unit = "hour" if hours == 1 else "hours"
    return f"{hours} {unit} since {fmt_hour(inc.since)}"


def _hint_range(inc: IncidentView) -> str:
    """The incident's hours as the CLI's ``--from``/``--to`` options."""
    return f"--from {inc.since:%Y-%m-%dT%H} --to {inc.until:%Y-%m-%dT%H}"


def _loss_step(inc: IncidentView, rng: str) -> str:
    """Lost before Elasticsearch: find why; lost after it: archive what it still holds."""
    hops = set(inc.totals().get("hops") or [])
    if hops == {HOP_INGEST}:
        return (
            "The archive holds what Elasticsearch holds: find why logs never reached "
            "Elasticsearch (shipper backpressure, rejected bulk writes, mapping conflicts); "
            f"reconcile check --job <job file of {inc.job}> {rng} shows the three figures"
        )
    return (
        "Archive what Elasticsearch still holds, then re-check: reconcile backfill "
        f"--job <job file of {inc.job}> {rng}"
    )


#: The next step of a firing incident per family (loss depends on its hops: :func:`_loss_step`).
_STEPS: dict[str, Callable[[IncidentView, str], str]] = {
    "loss": _loss_step,
    "stale": lambda inc, rng: (
        "Elasticsearch holds documents the archive lacks (late arrivals): the next "
        "`reconcile run` re-archives them; to do it now: reconcile backfill "
        f"--job <job file of {inc.job}> {rng}"
    ),
    "surplus": lambda inc, rng: (
        "Look for duplicated log lines (shipper retries, overlapping indexes) in these hours; "
        f"reconcile check --job <job file of {inc.job}> {rng} shows the figures"
    ),
    "no_traffic": lambda inc, rng: (
        "One side is zero: check the load balancer metric and the log shipper for these "
        f"hours; reconcile check --job <job file of {inc.job}> {rng}"
    ),
    "spike": lambda inc, rng: (
        f"Inspect the flows: reconcile egress --job <job file of {inc.job}> "
        f"--nat-gateway {inc.resource} {rng}"
    ),
}


def next_step(inc: IncidentView) -> str:
    """What to do about it, as a command where there is one."""
    rng = _hint_range(inc)
    if inc.family == "test":
        return "Nothing: this is a test notification."
    if inc.state == "resolved":
        return (
            "Nothing to do; the hours reconcile now."
            if inc.resolution != "recovered"
            else ("Review the spike's flows if it was not expected.")
        )
    step = _STEPS.get(inc.family)
    return step(inc, rng) if step else f"reconcile check --job <job file of {inc.job}> {rng}"


# -- summary --------------------------------------------------------------------------------


def _minus(a: int | None, b: int | None) -> int | None:
    """``a - b`` of two totals, unknown when either is."""
    return a - b if a is not None and b is not None else None


def _spike_story(inc: IncidentView) -> str:
    """A spike that ended: how long, its peak (bytes and hour), who sent it, when it ended."""
    t, peak, after = inc.totals(), inc.peak, inc.recovered_by
    back = (
        f" Back to normal at {fmt_hour(after.window_start)} "
        f"({fmt_bytes(after.bytes)} vs baseline {fmt_bytes(after.baseline)})."
        if after
        else ""
    )
    return (
        f"it lasted {inc.hours} h from {fmt_hour(inc.since)}, peak {fmt_bytes(peak.bytes)}/h "
        f"at {fmt_hour(peak.window_start)} vs baseline {fmt_bytes(t.get('baseline'))}, "
        f"{fmt_bytes(t.get('bytes'))} in all.{_talker_tail(peak)}{back}"
    )


def _resolved_summary(inc: IncidentView, t: Mapping[str, Any]) -> str:
    """An incident that is over: what it was, when, and that it reconciles (or recovered)."""
    job = inc.job
    if inc.resolution == "recovered":
        return f"[{job}] egress spike on {inc.resource} is over: {_spike_story(inc)}"
    what = {
        "loss": "log loss",
        "surplus": "log surplus",
        "no_traffic": "one-sided traffic",
        "stale": "stale archive",
        "spike": "egress spike",
    }.get(inc.family, inc.family)
    figures = (
        f": {fmt_int(t.get('archived'))} of {fmt_int(t.get('expected'))} requests archived "
        f"({fmt_ratio(t.get('ratio'))})"
        if inc.kind == LOGFLOW
        else ""
    )
    return (
        f"[{job}] {what} on {inc.resource}, {inc.hours} h from "
        f"{fmt_hour(inc.since)} to {fmt_hour(inc.until)}, now reconciles{figures}."
    )


def _loss_summary(inc: IncidentView, t: Mapping[str, Any], span: str) -> str:
    """Requests served against log lines archived, and how many are missing."""
    exp, arc = t.get("expected"), t.get("archived")
    if arc == 0:
        return (
            f"[{inc.job}] nothing archived on {inc.resource} for {span}: "
            f"{fmt_int(exp)} requests served, 0 log lines archived."
        )
    return (
        f"[{inc.job}] logs lost on {inc.resource} for {span}: {fmt_int(arc)} of "
        f"{fmt_int(exp)} requests archived ({fmt_ratio(t.get('ratio'))}), "
        f"{fmt_int(_minus(exp, arc))} missing{_hop_tail(t)}."
    )


def _stale_summary(inc: IncidentView, t: Mapping[str, Any], span: str) -> str:
    """What Elasticsearch holds now against the archive: late arrivals, not a loss yet."""
    idx, arc = t.get("indexed"), t.get("archived")
    return (
        f"[{inc.job}] archive behind Elasticsearch on {inc.resource} for {span}: Elasticsearch "
        f"now holds {fmt_int(idx)} documents, the archive {fmt_int(arc)} "
        f"({fmt_int(_minus(idx, arc))} arrived after the commit); not a loss yet, re-archived "
        "by the next run."
    )


def _surplus_summary(inc: IncidentView, t: Mapping[str, Any], span: str) -> str:
    """More log lines archived than requests served: how many extra."""
    exp, arc = t.get("expected"), t.get("archived")
    return (
        f"[{inc.job}] more log lines than requests on {inc.resource} for {span}: "
        f"{fmt_int(arc)} archived vs {fmt_int(exp)} requests ({fmt_ratio(t.get('ratio'))}), "
        f"{fmt_int(_minus(arc, exp))} extra (duplicates?)."
    )


def _no_traffic_summary(inc: IncidentView, t: Mapping[str, Any], span: str) -> str:
    """One of requests and archived log lines is zero."""
    return (
        f"[{inc.job}] one side is zero on {inc.resource} for {span}: "
        f"{fmt_int(t.get('expected'))} requests, {fmt_int(t.get('archived'))} log lines archived."
    )


def _spike_summary(inc: IncidentView, t: Mapping[str, Any], span: str) -> str:
    """The peak hour against baseline and threshold, the total, and who sent it."""
    if inc.recovered_by is not None:  # first seen after it ended (see plan.py)
        return f"[{inc.job}] egress spike on {inc.resource}, already over: {_spike_story(inc)}"
    peak = inc.peak
    return (
        f"[{inc.job}] egress spike on {inc.resource} for {span}: peak "
        f"{fmt_bytes(peak.bytes)}/h at {fmt_hour(peak.window_start)} vs baseline "
        f"{fmt_bytes(t.get('baseline'))} (threshold {fmt_bytes(t.get('threshold'))}), "
        f"{fmt_bytes(t.get('bytes'))} in all.{_talker_tail(peak)}"
    )


#: The summary of a firing incident per family.
_SUMMARIES: dict[str, Callable[[IncidentView, Mapping[str, Any], str], str]] = {
    "loss": _loss_summary,
    "stale": _stale_summary,
    "surplus": _surplus_summary,
    "no_traffic": _no_traffic_summary,
    "spike": _spike_summary,
}


def summary(inc: IncidentView) -> str:
    """One line a person can act on: what, where, how much, how long, since when."""
    t = inc.totals()
    if inc.family == "test":
        return f"TEST notification from logflow-reconcile job {inc.job}: no action needed."
    if inc.state == "resolved":
        return _resolved_summary(inc, t)
    span = fmt_span(inc)
    words = _SUMMARIES.get(inc.family)
    return (
        words(inc, t, span) if words else f"[{inc.job}] {inc.status} on {inc.resource} for {span}."
    )


# -- description ----------------------------------------------------------------------------


def _hour_line(a: HourView) -> str:
    """One hour's status and figures."""
    when = a.window_start.strftime("%Y-%m-%d %H:00")
    if a.kind == EGRESS:
        talker = top_talker(a)
        tail = f", top talker {talker}" if talker else ""
        return (
            f"{when} {a.status}: {fmt_bytes(a.bytes)} vs baseline {fmt_bytes(a.baseline)} "
            f"(threshold {fmt_bytes(a.threshold)}){tail}"
        )
    held = f", {fmt_int(a.indexed)} in Elasticsearch" if a.indexed is not None else ""
    hop = f", arose {HOP_WORDS[a.hop]}" if a.hop else ""
    return (
        f"{when} {a.status}: {fmt_int(a.archived)} archived / {fmt_int(a.expected)} expected "
        f"({fmt_ratio(a.ratio)}){held}{hop}"
    )


def _hop_tail(t: Mapping[str, Any]) -> str:
    """Where the loss arose, when every hour of the incident agrees."""
    hops = t.get("hops") or []
    if len(hops) != 1:
        return ""
    idx = t.get("indexed")
    held = f"; Elasticsearch holds {fmt_int(idx)}" if idx is not None else ""
    return f"{held}; lost {HOP_WORDS[hops[0]]}"


def description(inc: IncidentView) -> str:
    """Per-hour figures (the latest :data:`_WINDOW_LINES`) and the next step, several lines."""
    hours = inc.timeline()
    lines = [_hour_line(a) for a in hours[-_WINDOW_LINES:]]
    if len(hours) > _WINDOW_LINES:
        lines.insert(0, f"... {len(hours) - _WINDOW_LINES} earlier hours not shown")
    if inc.firing and inc.cleared:
        lines.append(f"{len(inc.cleared)} hour(s) of this incident reconcile already.")
    latest = inc.latest
    if latest.message:
        lines.append(f"Latest: {latest.message}")
    lines.append(f"Next step: {next_step(inc)}")
    return "\n".join(lines)
