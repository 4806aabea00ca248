"""The HTML page: verdict, counts and incidents first, then per load balancer and NAT
gateway its charts, then every finding with problems first.

The page is one self-contained file: CSS is inline, charts are inline SVG, there is no
script, and a Content-Security-Policy forbids any other load.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from datetime import UTC, datetime

from .. import __version__
from ..findings import EGRESS, LOGFLOW, Finding
from ..present import fmt_bytes, fmt_int, fmt_pct
from .charts import egress_chart, ratio_chart, requests_chart, status_strip
from .incidents import (
    Incident,
    by_resource,
    healed_hours,
    healed_summary,
    incidents,
    top_talker,
)
from .style import COLOURS, SEVERITY, esc

#: The page's stylesheet, inline (the page loads nothing).
CSS = """
:root { --fg:#1f2933; --muted:#616e7c; --line:#e4e7eb; --bg:#fff; --panel:#f7f9fb; }
* { box-sizing: border-box; }
body { margin:0; background:var(--bg); color:var(--fg);
  font: 14px/1.45 -apple-system, "Segoe UI", Roboto, "Helvetica Neue", Arial, sans-serif; }
main { max-width: 1280px; margin: 0 auto; padding: 24px 28px 48px; }
h1 { font-size: 22px; margin: 0 0 2px; }
h2 { font-size: 17px; margin: 28px 0 6px; padding-bottom: 4px; border-bottom: 1px solid var(--line); }
h3 { font-size: 14px; margin: 16px 0 2px; color: var(--muted); font-weight: 600; }
.sub { color: var(--muted); margin: 0 0 16px; }
.verdict { font-size: 18px; font-weight: 600; padding: 12px 16px; border-radius: 6px;
  border-left: 6px solid; margin: 12px 0 14px; }
.verdict.bad { background:#fdecea; border-color:#d32f2f; }
.verdict.good { background:#e8f5e9; border-color:#2e7d32; }
.cards { display:flex; flex-wrap:wrap; gap:10px; margin: 8px 0 6px; }
.card { background:var(--panel); border:1px solid var(--line); border-radius:6px;
  padding:8px 12px; min-width:108px; }
.card .n { font-size: 22px; font-weight: 700; }
.card .l { color: var(--muted); font-size: 12px; text-transform: uppercase; letter-spacing: .03em; }
.card.hot { border-left: 5px solid; }
ul.incidents { margin: 6px 0 0; padding-left: 0; list-style: none; }
ul.incidents li { margin: 4px 0; }
.pill { display:inline-block; min-width:76px; text-align:center; padding:1px 8px;
  border-radius:10px; color:#fff; font-size:12px; font-weight:600; margin-right:6px; }
svg.chart { width:100%; height:auto; display:block; }
svg.chart text { font-size: 12px; fill: var(--muted); }
svg.chart .xlab { text-anchor: middle; }
svg.chart .ylab { text-anchor: end; }
svg.chart .callout { text-anchor: middle; font-weight: 700; font-size: 12px; }
svg.chart .legend text { fill: var(--fg); }
svg.chart .grid { stroke: #eef0f2; stroke-width: 1; }
svg.chart .grid.major { stroke: #cfd4da; }
svg.chart .plot { fill: none; stroke: #cfd4da; }
svg.chart .line { fill: none; stroke-linejoin: round; stroke-linecap: round; }
svg.chart .shade { fill-opacity: .22; }
svg.chart .shade-pending { fill-opacity: .12; }
svg.chart .band { fill: #2e7d32; fill-opacity: .16; stroke: none; }
svg.chart .band.egress { fill: #607d8b; fill-opacity: .14; }
svg.chart .area { fill: #cfd8dc; fill-opacity: .8; stroke: none; }
table { border-collapse: collapse; width: 100%; font-size: 13px; margin-top: 8px; }
th, td { padding: 4px 8px; border-bottom: 1px solid var(--line); vertical-align: top; }
th { text-align:left; background: var(--panel); position: sticky; top: 0; }
td.num { text-align: right; font-variant-numeric: tabular-nums; white-space: nowrap; }
td.res { white-space: nowrap; }
td.when { white-space: nowrap; font-variant-numeric: tabular-nums; }
tbody.quiet td { color: var(--muted); }
tbody.quiet .pill { opacity: .6; }
tbody.quiet tr:first-child td { border-top: 2px solid #cfd4da; }
footer { margin-top: 28px; color: var(--muted); font-size: 12px; }
.empty { color: var(--muted); font-style: italic; }
"""

#: The page may load nothing: no scripts, no fonts, no images, no connections.
CSP = "default-src 'none'; style-src 'unsafe-inline'; img-src data:"

COLUMNS = (
    "window (UTC)",
    "kind",
    "resource",
    "status",
    "expected",
    "indexed",
    "archived",
    "hop",
    "ratio",
    "bytes",
    "baseline",
    "threshold",
    "message",
)


def _pill(status: str, colour: str | None = None) -> str:
    """A status as a small coloured badge."""
    colour = colour or COLOURS.get(status, "#000")
    return f'<span class="pill" style="background:{colour}">{esc(status.replace("_", " "))}</span>'


def _card(n: int, label: str, status: str | None = None) -> str:
    """One count; a count of problems above zero is edged in its status colour."""
    hot = status is not None and n > 0
    style = f' style="border-left-color:{COLOURS[status]}"' if hot and status else ""
    cls = "card hot" if hot else "card"
    return (
        f'<div class="{cls}"{style}><div class="n">{fmt_int(n)}</div>'
        f'<div class="l">{esc(label)}</div></div>'
    )


def _cards(logflow: Sequence[Finding], egress: Sequence[Finding]) -> str:
    """Counts of hours per status, healed hours, NAT gateways and spikes."""
    counts: defaultdict[str, int] = defaultdict(int)
    for f in logflow:
        counts[f.status] += 1
    cards = [_card(len(logflow), "hours judged"), _card(counts["ok"], "ok")]
    for status in ("gap", "missing", "stale", "surplus", "no_traffic", "pending"):
        cards.append(_card(counts[status], status.replace("_", " "), status))
    cards.append(_card(len(healed_hours(logflow)), "healed (late logs re-archived)", "stale"))
    if egress:
        cards.append(_card(len({f.resource for f in egress}), "NAT gateways"))
        cards.append(_card(sum(f.status == "spike" for f in egress), "egress spikes", "spike"))
    return '<div class="cards">' + "".join(cards) + "</div>"


def _incident_list(runs: Sequence[Incident], healed: Sequence[Finding] = ()) -> str:
    """One line per incident (pending ones aside) and per healed hour."""
    items = [
        f"<li>{_pill(i.status)}<b>{esc(i.span)}</b> · {esc(i.resource)} · {esc(i.summary())}</li>"
        for i in runs
        if i.status != "pending"
    ]
    items += [
        f'<li class="healed">{_pill("healed", COLOURS["stale"])}'
        f"<b>{f.window_start:%a %d %b %H:%M} UTC</b> · {esc(f.resource)} · "
        f"{esc(healed_summary(f))}</li>"
        for f in healed
    ]
    return '<ul class="incidents">' + "".join(items) + "</ul>" if items else ""


def _figures(f: Finding) -> tuple[list[str], str]:
    """A finding's number cells (egress and log-flow fill different columns) and message."""
    if f.kind == EGRESS:
        figures = [
            *[""] * 5,
            fmt_bytes(f.bytes, missing=""),
            fmt_bytes(f.baseline, missing=""),
            fmt_bytes(f.threshold, missing=""),
        ]
        talker = top_talker(f.detail)
        return figures, f.message + (f" Top talker: {talker}." if talker and f.is_problem else "")
    figures = [
        fmt_int(f.expected, missing=""),
        fmt_int(f.indexed, missing=""),
        fmt_int(f.archived, missing=""),
        f.hop or "",
        fmt_pct(f.ratio, missing=""),
        "",
        f"\u00d7{f.baseline:g}" if f.baseline is not None else "",
        f"±{fmt_int(f.threshold)}" if f.threshold is not None else "",
    ]
    return figures, f.message


def _row(f: Finding) -> str:
    """One finding as a table row."""
    figures, message = _figures(f)
    cells = "".join(f'<td class="num">{esc(v)}</td>' for v in figures)
    return (
        f'<tr class="st-{f.status}" data-status="{f.status}" data-kind="{f.kind}">'
        f'<td class="when">{f.window_start:%Y-%m-%d %H:%M}</td><td>{esc(f.kind)}</td>'
        f'<td class="res">{esc(f.resource)}</td><td>{_pill(f.status)}</td>'
        f"{cells}<td>{esc(message)}</td></tr>"
    )


def findings_table(findings: Sequence[Finding]) -> str:
    """Every finding: problems first (worst, then earliest), then the quiet ones by time."""
    problems = sorted(
        (f for f in findings if f.is_problem),
        key=lambda f: (SEVERITY.get(f.status, 9), f.window_start, f.kind, f.resource),
    )
    quiet = sorted(
        (f for f in findings if not f.is_problem),
        key=lambda f: (f.window_start, f.kind, f.resource),
    )
    head = "".join(f"<th>{esc(c)}</th>" for c in COLUMNS)
    return (
        f'<table class="findings"><thead><tr>{head}</tr></thead>'
        f'<tbody class="problems">{"".join(_row(f) for f in problems)}</tbody>'
        f'<tbody class="quiet">{"".join(_row(f) for f in quiet)}</tbody></table>'
    )


def _clip(findings: Sequence[Finding], start: datetime, end: datetime) -> list[Finding]:
    """The findings with a window in ``[start, end)``, per resource in time order."""
    return sorted(
        (f for f in findings if start <= f.window_start < end),
        key=lambda f: (f.resource, f.window_start),
    )


def _verdict(
    runs: Sequence[Incident], logflow: Sequence[Finding], egress: Sequence[Finding]
) -> str:
    """The one line at the top: how many incidents, or that all is well (or nothing is stored)."""
    real = [i for i in runs if i.status != "pending"]
    if real:
        n = len(real)
        return f'<div class="verdict bad">{n} incident{"s" if n != 1 else ""} to look at</div>'
    if not logflow and not egress:
        return '<div class="verdict bad">No findings stored for this range</div>'
    return '<div class="verdict good">Every judged hour reconciles; no egress spikes</div>'


def _logflow_section(
    logflow: Sequence[Finding], runs: Sequence[Incident], start: datetime, end: datetime
) -> list[str]:
    """Per load balancer: its status strip, requests chart and ratio chart."""
    parts = ["<h2>Requests vs archived logs</h2>"]
    lf = {r: fs for (k, r), fs in by_resource(logflow).items() if k == LOGFLOW}
    if not lf:
        parts.append('<p class="empty">No log-flow findings in this range.</p>')
    for resource, fs in lf.items():
        mine = [i for i in runs if i.kind == LOGFLOW and i.resource == resource]
        parts += [
            f"<h3>{esc(resource)}</h3>",
            status_strip(fs, start, end),
            requests_chart(fs, mine, start, end),
            "<h3>Archived ÷ requests, with the tolerance band</h3>",
            ratio_chart(fs, mine, start, end),
        ]
    return parts


def _egress_section(
    egress: Sequence[Finding], runs: Sequence[Incident], start: datetime, end: datetime
) -> list[str]:
    """Per NAT gateway: its bytes chart."""
    parts = ["<h2>NAT gateway egress</h2>"]
    # Port-allocation findings (resource <nat-id>/ErrorPortAllocation) are counts: table only.
    charted = {r: fs for (k, r), fs in by_resource(egress).items() if k == EGRESS and "/" not in r}
    if not charted:
        parts.append('<p class="empty">No egress findings in this range.</p>')
    for resource, fs in charted.items():
        mine = [i for i in runs if i.kind == EGRESS and i.resource == resource]
        parts += [f"<h3>{esc(resource)}</h3>", egress_chart(fs, mine, start, end)]
    return parts


def _findings_section(
    findings: Sequence[Finding], generated_at: datetime, source: str
) -> list[str]:
    """The findings table and the footer saying when, by what and from where."""
    return [
        '<h2 id="findings">Findings</h2>',
        f'<p class="sub">{sum(f.is_problem for f in findings):,} problems first, '
        f"then {sum(not f.is_problem for f in findings):,} ok or pending windows.</p>",
        findings_table(findings),
        f"<footer>Generated {generated_at:%Y-%m-%d %H:%M:%S} UTC by logflow-reconcile "
        f"{esc(__version__)}" + (f" from {esc(source)}" if source else "") + ".</footer>",
    ]


def build_report(
    findings_logflow: list[Finding],
    findings_egress: list[Finding],
    job: str,
    start: datetime,
    end: datetime,
    *,
    generated_at: datetime | None = None,
    source: str = "",
) -> str:
    """One self-contained HTML page for ``job`` over ``[start, end)`` (UTC)."""
    generated_at = generated_at or datetime.now(UTC)
    logflow = _clip(findings_logflow, start, end)
    egress = _clip(findings_egress, start, end)
    runs = incidents(logflow + egress)
    parts = [
        f"<h1>Log flow reconciliation · {esc(job)}</h1>",
        f'<p class="sub">{start:%Y-%m-%d %H:%M} &ndash; {end:%Y-%m-%d %H:%M} UTC · '
        f"did every request that reached the load balancer end up archived, and did anything "
        f"unusual leave through the NAT gateways?</p>",
        _verdict(runs, logflow, egress),
        _cards(logflow, egress),
        _incident_list(runs, healed_hours(logflow)),
        *_logflow_section(logflow, runs, start, end),
        *_egress_section(egress, runs, start, end),
        *_findings_section(logflow + egress, generated_at, source),
    ]
    return (
        "<!DOCTYPE html>\n"
        '<html lang="en"><head><meta charset="utf-8">'
        f'<meta http-equiv="Content-Security-Policy" content="{CSP}">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>{esc(job)} · reconcile report {start:%Y-%m-%d}&ndash;{end:%Y-%m-%d}</title>"
        f"<style>{CSS}</style></head><body><main>" + "\n".join(parts) + "</main></body></html>\n"
    )
