"""The HTML report: one self-contained file a person reads at a glance.

Built from findings (the same records the tables, JSON and alerts use): a summary of the
incidents, then per load balancer the requests against the archived logs per hour and the
ratio against its tolerance band, per NAT gateway the bytes against the baseline band, and
the findings table with problems first.

The file works offline and fetches nothing: CSS is inline, charts are inline SVG drawn
here, there is no script, and a Content-Security-Policy forbids any other load. Hover
tooltips are SVG ``<title>`` elements.

Modules, each importing only those before it: :mod:`.load` (stored results back into
findings), :mod:`.style` (status palette, escaping), :mod:`.svg` (the chart kit),
:mod:`.incidents` (grouping problems and their wording), :mod:`.charts` (the charts of
findings), :mod:`.page` (the HTML page).
"""

from __future__ import annotations

from .incidents import Incident, incidents
from .load import finding_from_row, load_findings
from .page import build_report
from .style import COLOURS, SEVERITY

__all__ = [
    "COLOURS",
    "SEVERITY",
    "Incident",
    "build_report",
    "finding_from_row",
    "incidents",
    "load_findings",
]
