"""Renderers over records: a table for people, JSON lines and CSV for machines.

Data goes to stdout; logs go to stderr. Renderers take plain dict rows so that findings,
archive results and anything else render the same way.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Sequence
from typing import Any, Literal

import orjson

from .findings import STATUSES
from .present import fmt_bytes, fmt_int, fmt_pct, sig3

Format = Literal["table", "json", "csv"]

STATUS_STYLE = {
    **{str(status): info.style for status, info in STATUSES.items()},
    # What happened to an archive window (reconcile archive, backfill, run).
    "archived": "green",
    "skipped": "dim",
    "failed": "bold red",
    "open": "dim",
    "settling": "dim",
}


#: Columns that hold bytes on an egress row (tables write them as every surface does).
BYTE_COLUMNS = frozenset({"bytes", "baseline", "threshold", "file_bytes"})


def _cell(value: Any, column: str = "", row: dict[str, Any] | None = None) -> str:
    """A table cell in the words of :mod:`reconcile.present` (JSON and CSV stay raw)."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, int | float) and column in BYTE_COLUMNS and _is_bytes(column, row):
        return fmt_bytes(value)
    if column == "ratio" and isinstance(value, int | float):
        # Log flow: archived / requests; egress: bytes / baseline.
        return f"x{sig3(value)}" if (row or {}).get("kind") == "egress" else fmt_pct(value)
    if isinstance(value, float):
        return f"{value:.4f}" if abs(value) < 10 else f"{value:,.1f}"
    if isinstance(value, int):
        return fmt_int(value)
    if isinstance(value, dict | list):
        return orjson.dumps(value).decode()
    return str(value)


def _is_bytes(column: str, row: dict[str, Any] | None) -> bool:
    return column in ("bytes", "file_bytes") or (row or {}).get("kind") == "egress"


def render_json(rows: Iterable[dict[str, Any]]) -> str:
    """One JSON object per line."""
    return "".join(orjson.dumps(r, option=orjson.OPT_NON_STR_KEYS).decode() + "\n" for r in rows)


def render_csv(rows: Sequence[dict[str, Any]], columns: Sequence[str]) -> str:
    buf = io.StringIO()
    writer = csv.DictWriter(
        buf, fieldnames=list(columns), extrasaction="ignore", lineterminator="\n"
    )
    writer.writeheader()
    for r in rows:
        writer.writerow(
            {
                k: (orjson.dumps(v).decode() if isinstance(v, dict | list) else v)
                for k, v in r.items()
            }
        )
    return buf.getvalue()


def render_table(
    rows: Sequence[dict[str, Any]], columns: Sequence[str], title: str | None = None
) -> str:
    """A readable table (rich) as text; colours only when the console is a terminal."""
    from rich.console import Console
    from rich.table import Table

    table = Table(title=title, show_lines=False, header_style="bold")
    numeric = {
        c
        for c in columns
        if any(isinstance(r.get(c), int | float) and not isinstance(r.get(c), bool) for r in rows)
    }
    for c in columns:
        table.add_column(c, justify="right" if c in numeric else "left", overflow="fold")
    for r in rows:
        cells = []
        for c in columns:
            text = _cell(r.get(c), c, r)
            style = STATUS_STYLE.get(text) if c == "status" else None
            cells.append(f"[{style}]{text}[/]" if style else text)
        table.add_row(*cells)
    console = Console(file=io.StringIO(), width=160, force_terminal=None)
    console.print(table)
    return console.file.getvalue()  # type: ignore[attr-defined]


def render(
    rows: Sequence[dict[str, Any]], fmt: Format, columns: Sequence[str], title: str | None = None
) -> str:
    if fmt == "json":
        return render_json(rows)
    if fmt == "csv":
        return render_csv(rows, columns)
    return render_table(rows, columns, title)
