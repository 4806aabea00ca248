"""Query engines: one small interface in front of DuckDB (in-process) and Amazon Athena.

The same SQL files (``sql/``) run on both. Tables carry the Athena names (``archive_logs``,
``alb_access_logs``, ``reconcile_results``): in Athena they are real tables created from
``sql/ddl``; in DuckDB they are views over Arrow data registered when a query names them.
Implementations are imported lazily, so DuckDB users never import boto3's Athena client and
the reverse.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from types import TracebackType
from typing import TYPE_CHECKING

from ..errors import ReconcileError, TransientError

if TYPE_CHECKING:
    import pyarrow as pa


class EngineError(ReconcileError):
    """A query could not run or failed; the message names the query and the engine's reason."""


class EngineTransientError(EngineError, TransientError):
    """The engine was throttled or briefly unavailable; the same query may succeed later."""


class Engine(ABC):
    """Runs one SQL statement at a time and returns its rows as an Arrow table."""

    name: str
    bytes_scanned: int = 0
    """Bytes the engine reports having scanned over this engine's lifetime (Athena bills these)."""
    queries: int = 0
    """Statements run so far."""

    @abstractmethod
    def query(self, sql: str) -> pa.Table:
        """Run ``sql``; raise :class:`EngineError` naming the query when it fails."""

    def close(self) -> None:  # noqa: B027 - optional hook
        """Release connections."""

    def __enter__(self) -> Engine:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()


__all__ = ["Engine", "EngineError", "EngineTransientError"]
