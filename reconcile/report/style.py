"""The report's look shared by charts and page: status colours and order, series colours,
and HTML escaping.

Status colours and ranks come from the one status table (:data:`reconcile.findings.STATUSES`),
so bands, dots, pills and the status strip agree with the CLI and the alerts.
"""

from __future__ import annotations

import html

from ..findings import STATUSES

#: Fill colour per status (one palette for bands, dots, pills and the status strip).
COLOURS = {str(status): info.colour for status, info in STATUSES.items()}
#: The order of problems, worst first.
SEVERITY = {str(status): info.rank for status, info in STATUSES.items()}
#: Statuses shaded across the charts (pending is shaded lighter: not judged yet).
SHADED = ("gap", "missing", "surplus", "no_traffic", "stale", "spike", "pending")

REQUESTS, ARCHIVED, EXPECTED_LOGS, INDEXED = "#90a4ae", "#1565c0", "#546e7a", "#00897b"
BYTES, BASELINE, THRESHOLD = "#1565c0", "#607d8b", "#c62828"


def esc(value: object) -> str:
    """``value`` as text safe inside HTML and SVG, attributes included."""
    return html.escape(str(value), quote=True)
