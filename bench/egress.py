"""Egress detection bench: static threshold versus seasonal baseline on a labelled set.

    python bench/egress.py                     # 5 seeds, prints the report
    python bench/egress.py --write-docs        # also replaces the section in docs/benchmarks.md

Runs the pure detection (reconcile.egress.detect) on in-memory series from
reconcile.demo.nat_traffic: no CloudWatch, no network. Each seed is 10 gateways x 8 weeks of
hourly bytes; the first 4 weeks are history only, weeks 5-8 are judged.
"""

from __future__ import annotations

import argparse
import functools
import platform
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

from bench.docs import replace_section
from reconcile.demo.nat_traffic import SynthGateway, fleet
from reconcile.egress.detect import Params, judge_series
from reconcile.timewin import HOUR

WEEKS, HISTORY_WEEKS, GATEWAYS = 8, 4, 10
DOCS = Path(__file__).resolve().parents[1] / "docs" / "benchmarks.md"
SECTION = "## Egress detection (`bench/egress.py`)"


@dataclass
class Score:
    """Counts over one method and one or more seeds."""

    flagged_hours: int = 0
    true_hours: int = 0
    spike_hours: int = 0
    events: int = 0
    events_found: int = 0
    by_band: dict[str, list[int]] = field(default_factory=dict)  # band -> [found, total]
    alarms: int = 0
    false_alarms: int = 0
    gateways: int = 0
    judged_weeks: float = 0.0
    seconds: float = 0.0

    def band(self, factor: float) -> str:
        return "1.5-2x" if factor < 2 else ("2-3x" if factor < 3 else ">=3x")

    @property
    def hour_precision(self) -> float:
        return self.true_hours / self.flagged_hours if self.flagged_hours else 1.0

    @property
    def alarm_precision(self) -> float:
        return (self.alarms - self.false_alarms) / self.alarms if self.alarms else 1.0

    @property
    def hour_recall(self) -> float:
        return self.true_hours / self.spike_hours if self.spike_hours else 1.0

    @property
    def event_recall(self) -> float:
        return self.events_found / self.events if self.events else 1.0

    def recall(self, band: str) -> float:
        found, total = self.by_band.get(band, [0, 0])
        return found / total if total else float("nan")

    @property
    def fa_per_gw_4w(self) -> float:
        return self.false_alarms / self.gateways * 4 / self.judged_weeks * 1.0


def runs(hours: list[datetime]) -> list[list[datetime]]:
    """Maximal runs of consecutive hours."""
    out: list[list[datetime]] = []
    for h in sorted(hours):
        if out and h - out[-1][-1] == HOUR:
            out[-1].append(h)
        else:
            out.append([h])
    return out


def static_threshold(gw: SynthGateway, judged_from: datetime) -> float:
    """What a team sets by hand: 1.25 x the highest normal (unlabelled) hour of the history."""
    spikes = gw.spike_hours()
    return 1.25 * max(v for t, v in gw.values.items() if t < judged_from and t not in spikes)


Method = Callable[[SynthGateway, list[datetime], datetime], list[datetime]]


def method_static(gw: SynthGateway, hours: list[datetime], judged_from: datetime) -> list[datetime]:
    js = judge_series(gw.values, hours, static=static_threshold(gw, judged_from), seasonal=False)
    return [j.start for j in js if j.is_spike]


def method_seasonal(params: Params, with_static: bool = False) -> Method:
    def run(gw: SynthGateway, hours: list[datetime], judged_from: datetime) -> list[datetime]:
        static = static_threshold(gw, judged_from) if with_static else None
        js = judge_series(gw.values, hours, params, static=static)
        return [j.start for j in js if j.is_spike]

    return run


@functools.cache
def labelled_set(seed: int) -> list[SynthGateway]:
    return fleet(GATEWAYS, WEEKS, seed)


def evaluate(method: Method, seeds: list[int]) -> Score:
    score = Score()
    for seed in seeds:
        gws = labelled_set(seed)
        t0 = min(gws[0].values)
        judged_from = t0 + HISTORY_WEEKS * 7 * 24 * HOUR
        hours = [t for t in sorted(gws[0].values) if t >= judged_from]
        score.gateways += len(gws)
        score.judged_weeks = (WEEKS - HISTORY_WEEKS) * 1.0
        started = time.perf_counter()
        flagged = {gw.gateway: method(gw, hours, judged_from) for gw in gws}
        score.seconds += time.perf_counter() - started
        for gw in gws:
            flags = set(flagged[gw.gateway])
            spike_hours = {h for h in gw.spike_hours() if h >= judged_from}
            score.flagged_hours += len(flags)
            score.true_hours += len(flags & spike_hours)
            score.spike_hours += len(spike_hours)
            for s in gw.spikes:
                if s.start < judged_from:
                    continue
                hit = bool(set(s.hours()) & flags)
                score.events += 1
                score.events_found += hit
                band = score.by_band.setdefault(score.band(s.factor), [0, 0])
                band[0] += hit
                band[1] += 1
            for run in runs(sorted(flags)):
                score.alarms += 1
                score.false_alarms += not (set(run) & spike_hours)
    # judged_weeks is per gateway; false alarms were summed over all gateways of all seeds.
    return score


def report(seeds: list[int]) -> str:
    defaults = Params()
    methods: list[tuple[str, Method]] = [
        ("static only (1.25 x highest normal hour of the 4 history weeks)", method_static),
        ("seasonal (defaults)", method_seasonal(defaults)),
        (
            "seasonal, no level adjustment",
            method_seasonal(Params(level_adjust_periods=0)),
        ),
        ("static + seasonal (both layers, as `reconcile egress` runs them)",
         method_seasonal(defaults, with_static=True)),
    ]  # fmt: skip
    rows = []
    per_seed: dict[str, list[Score]] = {}
    for name, method in methods:
        total = evaluate(method, seeds)
        per_seed[name] = [evaluate(method, [s]) for s in seeds]
        rows.append((name, total))
    lines = [
        "Pure detection (`reconcile.egress.detect`) on in-memory series from",
        "`reconcile.demo.nat_traffic.fleet`: no CloudWatch, no network. Per seed: 10 gateways x",
        "8 weeks of hourly bytes (levels 5-200 GiB/h, one quiet gateway at tens of MiB/h),",
        "daily swing, weekends, a weekly batch hour on some gateways, log-normal noise",
        "(sigma 0.05-0.2), rare benign 1.2-1.6x bursts, up to two benign growth steps of",
        "1.1-1.8x, and about one injected spike per gateway-week of 1.5-10x (log-uniform)",
        "lasting 1-4 hours. Weeks 1-4 are history; weeks 5-8 are judged.",
        f"Seeds {', '.join(map(str, seeds))}; {GATEWAYS * len(seeds)} gateway-sets of 4 judged weeks.",
        "",
        "An *alarm* is a run of consecutive flagged hours; it is false when none of its hours",
        "is a labelled spike hour. A spike *event* is found when any of its hours is flagged.",
        "",
        "| method | hour precision | alarm precision | event recall | recall 1.5-2x | recall 2-3x"
        " | recall >=3x | false alarms / gateway / 4 weeks | judge time per set |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for name, s in rows:
        lines.append(
            f"| {name} | {s.hour_precision:.3f} | {s.alarm_precision:.3f} | "
            f"{s.event_recall:.3f} | {s.recall('1.5-2x'):.3f} | {s.recall('2-3x'):.3f} | "
            f"**{s.recall('>=3x'):.3f}** | **{s.fa_per_gw_4w:.2f}** | "
            f"{s.seconds / len(seeds):.3f} s |"
        )
    lines += [
        "",
        "Per seed (seasonal, defaults): recall for spikes >= 3x / false alarms per gateway per"
        " 4 weeks / judge time:",
        "",
        "| seed | events >= 3x | recall >= 3x | false alarms / gw / 4 wk | judge time |",
        "|---|---|---|---|---|",
    ]
    for seed, s in zip(seeds, per_seed["seasonal (defaults)"], strict=True):
        lines.append(
            f"| {seed} | {s.by_band.get('>=3x', [0, 0])[1]} | {s.recall('>=3x'):.3f} | "
            f"{s.fa_per_gw_4w:.2f} | {s.seconds:.3f} s |"
        )
    lines += [
        "",
        "Sensitivity of the seasonal layer to its two main knobs (all seeds pooled; the other",
        "settings at their defaults), to show the defaults are not fitted to one seed:",
        "",
        "| z threshold | min increase | event recall | recall >=3x | alarm precision"
        " | false alarms / gw / 4 wk |",
        "|---|---|---|---|---|---|",
    ]
    for z in (3.0, 4.0, 5.0, 6.0):
        for inc in (0.5, 1.0, 1.5):
            s = evaluate(method_seasonal(Params(z_threshold=z, min_relative_increase=inc)), seeds)
            mark = (
                " (default)"
                if (z, inc) == (defaults.z_threshold, defaults.min_relative_increase)
                else ""
            )
            lines.append(
                f"| {z:g}{mark} | {inc:.0%} | {s.event_recall:.3f} | {s.recall('>=3x'):.3f} | "
                f"{s.alarm_precision:.3f} | {s.fa_per_gw_4w:.2f} |"
            )
    worst = min(s.recall(">=3x") for s in per_seed["seasonal (defaults)"])
    most_fa = max(s.fa_per_gw_4w for s in per_seed["seasonal (defaults)"])
    slowest = max(s.seconds for scores in per_seed.values() for s in scores)
    lines += [
        "",
        f"Targets (seasonal, defaults, worst seed): recall >= 0.95 for spikes >= 3x: "
        f"{worst:.3f} ({'met' if worst >= 0.95 else 'NOT met'}); at most 1 false alarm per "
        f"gateway per 4 weeks: {most_fa:.2f} ({'met' if most_fa <= 1 else 'NOT met'}); "
        f"whole set judged in < 2 s (slowest seed, any method): {slowest:.3f} s "
        f"({'met' if slowest < 2 else 'NOT met'}).",
        "",
        f"Defaults: history {defaults.history_weeks} weeks (at least "
        f"{defaults.min_history_weeks}), z >= {defaults.z_threshold:g}, increase >= "
        f"{defaults.min_relative_increase:.0%}, excess >= "
        f"{defaults.min_excess / (1 << 30):g} GiB, noise floor "
        f"{defaults.noise_floor:.0%}, level adjustment over {defaults.level_adjust_periods} h "
        f"(at most {defaults.max_level_factor:g}x).",
        "",
        "Reading: the static threshold cannot be both above the weekly batch hour and below"
        " a daytime spike, and every growth step crosses it for good, hence its false alarms"
        " (they also dominate the combined row: a static threshold is only as good as its"
        " number). Without the level adjustment, each benign growth step pages every hour until"
        " the four-week median catches up. The remaining seasonal false alarms are mostly the"
        " first hours after a large (1.5-1.8x) growth step, when noise or a benign burst adds"
        " the rest of the doubling. Spikes below 2x are caught only when noise helps: by design"
        " (min_relative_increase = 1.0); lower it to 0.5 to catch them at about 8x the false"
        " alarms. The set is synthetic and generated by this project, so recall for spikes of"
        " 3x and more is easy here; real traffic is burstier, and the"
        " absolute floor and noise floor are the knobs for that.",
        "",
        f"Machine: {platform.processor() or platform.machine()}, Python "
        f"{platform.python_version()}. Command: `python bench/egress.py --write-docs`.",
    ]  # fmt: skip
    return "\n".join(lines) + "\n"


def write_docs(body: str, path: Path = DOCS) -> None:
    replace_section(SECTION, body, path)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--seeds", default="1,2,3,4,5", help="Comma-separated seeds.")
    ap.add_argument("--write-docs", action="store_true", help="Update docs/benchmarks.md.")
    args = ap.parse_args(argv)
    seeds = [int(s) for s in args.seeds.split(",") if s.strip()]
    body = report(seeds)
    sys.stdout.write(body)
    if args.write_docs:
        write_docs(body)
    return 0


if __name__ == "__main__":
    sys.exit(main())
