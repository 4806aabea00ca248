"""Reading stored results back into findings for the report."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import orjson

from ..details import detail_from_dict
from ..findings import EGRESS, LOGFLOW, Finding, Kind
from ..results import read_results_file, results_key
from ..storage import ObjectStore
from ..timewin import windows


def load_findings(
    store: ObjectStore, job: str, start: datetime, end: datetime
) -> tuple[list[Finding], list[Finding]]:
    """The stored log-flow and egress findings of ``job`` with a window in ``[start, end)``.

    Reads only the day files of the range from the results dataset (:mod:`reconcile.results`).
    """
    days = sorted({w.dt for w in windows(start, end)})
    out: dict[str, list[Finding]] = {LOGFLOW: [], EGRESS: []}
    for kind, found in out.items():
        for day in days:
            table = read_results_file(store, results_key(kind, day, job))
            if table is None:
                continue
            for row in table.to_pylist():
                f = finding_from_row(row, kind)
                if start <= f.window_start < end:
                    found.append(f)
        found.sort(key=lambda f: (f.window_start, f.resource))
    return out[LOGFLOW], out[EGRESS]


def finding_from_row(row: dict[str, Any], kind: str) -> Finding:
    """A :class:`Finding` from one row of the results dataset."""
    detail = row.get("detail")
    return Finding(
        job=row["job"],
        kind=Kind(row.get("kind") or kind),
        resource=row["resource"],
        window_start=row["window_start"].astimezone(UTC),
        status=row["status"],
        expected=row.get("expected"),
        archived=row.get("archived"),
        indexed=row.get("indexed"),
        hop=row.get("hop"),
        ratio=row.get("ratio"),
        bytes=row.get("bytes"),
        baseline=row.get("baseline"),
        threshold=row.get("threshold"),
        message=row.get("message") or "",
        detail=detail_from_dict(
            row.get("kind") or kind, row["resource"], orjson.loads(detail) if detail else None
        ),
    )
