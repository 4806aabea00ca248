"""Query engines: one small interface in front of DuckDB (in-process) and Amazon Athena.

The same SQL files (``sql/``) run on both. Tables carry the Athena names (``archive_logs``,
``alb_access_logs``, ``reconcile_results``): in Athena they are real tables created from
``sql/ddl``; in DuckDB they are views over Arrow data registered when a query names them.
Implementations are imported lazily (:func:`reconcile.engines.registry.open_engine`), so
DuckDB users never import boto3's Athena client and the reverse. Besides the tables an engine
holds, :meth:`Engine.query_local` runs a query over local Arrow data (the flow-log files of
an egress drill-down); DuckDB implements it, Athena refuses it with a ConfigError.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from types import TracebackType
from typing import TYPE_CHECKING, Any

from ..errors import ConfigError, ReconcileError, TransientError

if TYPE_CHECKING:
    import pyarrow as pa


class EngineError(ReconcileError):
    """A query could not run or failed; the message names the query and the engine's reason."""


class EngineTransientError(EngineError, TransientError):
    """The engine was throttled or briefly unavailable; the same query may succeed later."""


#: Builds what a DuckDB view scans: ``pa.Table``, ``pyarrow.dataset.Dataset`` or
#: ``pa.RecordBatchReader`` (called when a query first names the view).
TableSource = Callable[[], Any]


@dataclass(frozen=True, slots=True)
class LocalTable:
    """Arrow data a query reads under a table name: a ``pa.Table``, a dataset or a reader."""

    data: Any
    rename: Mapping[str, str] = field(default_factory=dict)
    """Columns to expose under another name (``{"aws-account-id": "aws_account_id"}``)."""


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

    def query_local(self, sql: str, tables: Mapping[str, LocalTable]) -> pa.Table:
        """Run ``sql`` with ``tables`` bound to their names for this one statement.

        For data the engine does not hold as a table. Engines whose tables live in a
        catalog (Athena) raise :class:`~reconcile.errors.ConfigError` naming the engine.
        """
        names = ", ".join(sorted(tables))
        raise ConfigError(
            f"engine {self.name}: queries over local Arrow data ({names}) are not implemented; "
            "use engine duckdb"
        )

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


__all__ = ["Engine", "EngineError", "EngineTransientError", "LocalTable", "TableSource"]
