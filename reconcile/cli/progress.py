"""A progress bar on a terminal; nothing otherwise (structured logs carry the facts)."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime

from ..archive.outcome import Progress, WindowResult
from ..timewin import Window, windows


class RichProgress(Progress):
    """Overall windows bar plus a documents bar for the window being read."""

    def __init__(self, total_windows: int) -> None:
        from rich.progress import (
            BarColumn,
            MofNCompleteColumn,
            TextColumn,
            TimeRemainingColumn,
            TransferSpeedColumn,
        )
        from rich.progress import (
            Progress as RichBar,
        )

        self.bar = RichBar(
            TextColumn("{task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            TimeRemainingColumn(),
            TransferSpeedColumn(),
            console=None,
            transient=True,
        )
        self.windows = self.bar.add_task("windows", total=total_windows)
        self.docs = self.bar.add_task("documents", total=None, visible=False)

    def window_started(self, window: Window, total: int) -> None:
        self.bar.reset(self.docs, total=total, description=f"{window.label} docs", visible=True)

    def rows_done(self, window: Window, rows: int) -> None:
        self.bar.advance(self.docs, rows)

    def window_finished(self, result: WindowResult) -> None:
        self.bar.advance(self.windows, 1)


@contextmanager
def progress_for(start: datetime, end: datetime) -> Iterator[Progress]:
    if not sys.stderr.isatty():
        yield Progress()
        return
    p = RichProgress(sum(1 for _ in windows(start, end)))
    with p.bar:
        yield p
