"""What archiving reports: per window, per range, and as it goes (progress hooks).

Records that cross module lines: the CLI, the scheduled run and backfill read them.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

from ..timewin import Window


@dataclass(slots=True)
class WindowResult:
    """What happened to one window."""

    window: Window
    status: str  # archived | skipped | open | settling | failed
    rows: int = 0
    quarantined: int = 0
    source_count: int = 0
    files: int = 0
    bytes: int = 0
    seconds: float = 0.0
    conflicts: int = 0
    revision: int = 0
    """The revision committed (2+ when late documents were added to an earlier commit)."""
    late: int = 0
    """Documents this revision added to the one it replaced."""
    message: str = ""

    @property
    def docs_per_s(self) -> float:
        return (self.rows + self.quarantined) / self.seconds if self.seconds > 0 else 0.0

    def as_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["window"] = self.window.iso()
        d["docs_per_s"] = round(self.docs_per_s, 1)
        return d


@dataclass(slots=True)
class ArchiveSummary:
    """The outcome of archiving a range of windows."""

    results: list[WindowResult] = field(default_factory=list)
    not_started: int = 0
    """Windows left untouched because the run was interrupted."""

    def count(self, status: str) -> int:
        return sum(1 for r in self.results if r.status == status)

    @property
    def failed(self) -> list[WindowResult]:
        return [r for r in self.results if r.status == "failed"]

    @property
    def rows(self) -> int:
        return sum(r.rows for r in self.results)

    @property
    def late(self) -> int:
        """Late documents added to earlier commits by re-archiving."""
        return sum(r.late for r in self.results)

    @property
    def rearchived(self) -> int:
        return sum(1 for r in self.results if r.status == "archived" and r.revision > 1)


class Progress:
    """Hooks for progress display; the default does nothing (logs carry the facts)."""

    def window_started(self, window: Window, total: int) -> None: ...

    def rows_done(self, window: Window, rows: int) -> None: ...

    def window_finished(self, result: WindowResult) -> None: ...
