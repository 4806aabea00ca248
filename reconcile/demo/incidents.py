"""What ``reconcile demo`` breaks on purpose, and how its findings are judged against that.

Owns the demo's resource names, the traffic plan (:func:`plan`: hourly request counts and
the injected :class:`Incident` list) and the verdict (:func:`judge`: which incidents were
found, which were missed, which problems nobody injected).

Injected incidents:

- Elasticsearch backpressure lost 3 % of the logs for two consecutive hours (``gap``);
- the archive job never ran for one hour (``missing``);
- a replay indexed 10 % of one hour's logs a second time (``surplus``);
- backpressure held 15 % of one hour's logs back until after the hour was archived
  (``stale``), healed by the demo's next scheduled run (``reconcile run``);
- a NAT gateway spike that is S3 traffic avoiding the gateway endpoint (``spike``).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime, timedelta

from ..findings import Finding
from ..timewin import Window, floor_hour, windows

LOAD_BALANCER = "app/hub-prod/50dc6c495c0c9188"
NAT_GATEWAY = "nat-0a1b2c3d4e5f60718"
NAT_INTERFACE = "eni-0f1e2d3c4b5a69788"
LOSS = "Elasticsearch backpressure dropped 3% of logs"
SKIPPED = "the archive job never ran"
REPLAY = "a replay duplicated 10% of logs"
LATE = "backpressure delivered 15% of an hour's logs after its archive"
NAT_SPIKE = "NAT spike: S3 traffic avoiding the gateway endpoint"

#: (kind, resource, window start, status): the finding that reveals an incident's hour.
Key = tuple[str, str, datetime, str]


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

    def finding_keys(self) -> list[Key]:
        return [(self.kind, self.resource, w.start, self.status) for w in self.hours]


@dataclass
class DemoPlan:
    """The traffic and the incidents, relative to the demo's end hour."""

    start: datetime
    end: datetime
    requests: dict[Window, int]
    incidents: list[Incident]

    def incident(self, name: str) -> Incident:
        return next(i for i in self.incidents if i.name == name)


def plan(end: datetime, hours: int = 48, per_hour: int = 1200) -> DemoPlan:
    """Two days of diurnal traffic ending at ``end`` and the incidents inside them."""
    end = floor_hour(end)
    start = end - timedelta(hours=hours)
    requests = {w: _diurnal(w, per_hour) for w in windows(start, end)}
    return DemoPlan(start, end, requests, _incidents(end))


def _diurnal(w: Window, per_hour: int) -> int:
    diurnal = 1 + 0.5 * math.cos(2 * math.pi * (w.start.hour - 15) / 24)
    return int(per_hour * diurnal) + 100


def _incidents(end: datetime) -> list[Incident]:
    def at(back: int) -> Window:
        return Window(end - timedelta(hours=back))

    return [
        Incident(LOSS, "logflow", LOAD_BALANCER, "gap", (at(30), at(29))),
        Incident(SKIPPED, "logflow", LOAD_BALANCER, "missing", (at(20),)),
        Incident(REPLAY, "logflow", LOAD_BALANCER, "surplus", (at(12),)),
        Incident(LATE, "logflow", LOAD_BALANCER, "stale", (at(9),), heals=True),
        Incident(NAT_SPIKE, "egress", NAT_GATEWAY, "spike", (at(6),)),
    ]


def judge(
    p: DemoPlan, findings: list[Finding], after: list[Finding] | None = None
) -> tuple[list[Incident], list[Incident], list[Finding]]:
    """Which incidents were found, which were missed, which problems nobody injected.

    ``after`` are the findings of the next scheduled run: there, healing incidents must be
    ``ok`` (re-archived as a new revision) and every other incident still found."""
    later = after or []
    seen, unexpected = _match(p, findings, later)
    healed = _healed(later)

    def found_it(i: Incident) -> bool:
        if not all(k in seen for k in i.finding_keys()):
            return False
        return not i.heals or all((i.kind, i.resource, w.start) in healed for w in i.hours)

    found = [i for i in p.incidents if found_it(i)]
    missed = [i for i in p.incidents if i not in found]
    return found, missed, unexpected


def _match(
    p: DemoPlan, findings: list[Finding], later: list[Finding]
) -> tuple[set[Key], list[Finding]]:
    """The incident hours some problem revealed, and the first problem of each other key.

    A healing incident counts only in the first run's findings (the next run must heal it)."""
    expected = {k: i for i in p.incidents for k in i.finding_keys()}
    seen: set[Key] = set()
    unexpected: dict[Key, Finding] = {}
    for f in [*findings, *later]:
        key = (f.kind, f.resource, f.window_start, f.status)
        if not f.is_problem:
            continue
        if key in expected and not (expected[key].heals and f in later):
            seen.add(key)
        else:
            unexpected.setdefault(key, f)
    return seen, list(unexpected.values())


def _healed(later: list[Finding]) -> set[tuple[str, str, datetime]]:
    """The logflow hours the next run found ``ok`` as a new archive revision."""
    return {
        (f.kind, f.resource, f.window_start)
        for f in later
        if f.kind == "logflow" and f.status == "ok" and (f.logflow.revision or 1) > 1
    }
