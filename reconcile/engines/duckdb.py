"""DuckDB in-process: the default engine.

Tables are views named like the Athena tables, registered the first time a query names
them, over whatever a provider returns: an Arrow table, an Arrow dataset (scanned lazily,
with projection and filter push-down) or a record batch reader. Object storage is read
through ``pyarrow.fs``, so DuckDB's ``httpfs`` extension (not downloadable offline) is never
needed.
"""

from __future__ import annotations

import logging
import re
import threading
from collections.abc import Callable, Mapping
from typing import Any

import duckdb
import pyarrow as pa

from . import Engine, EngineError

log = logging.getLogger(__name__)

#: Something DuckDB can scan: ``pa.Table``, ``pyarrow.dataset.Dataset`` or ``pa.RecordBatchReader``.
TableSource = Callable[[], Any]


def _names(sql: str, names: list[str]) -> list[str]:
    return [n for n in names if re.search(rf"(?<![\w.]){re.escape(n)}(?!\w)", sql, re.IGNORECASE)]


class DuckDBEngine(Engine):
    """One in-memory DuckDB connection with lazily registered Arrow views."""

    name = "duckdb"

    def __init__(
        self, tables: Mapping[str, TableSource] | None = None, threads: int | None = None
    ) -> None:
        self._con = duckdb.connect(":memory:")
        # Timestamps are UTC everywhere; Athena's timestamp type has no zone at all.
        self._con.execute("SET TimeZone = 'UTC'")
        if threads:
            self._con.execute(f"SET threads = {int(threads)}")
        self._providers: dict[str, TableSource] = dict(tables or {})
        self._views: dict[str, Any] = {}  # keeps registered Arrow objects alive
        self._lock = threading.Lock()
        self.bytes_scanned = 0
        self.queries = 0

    def add_table(self, name: str, source: TableSource) -> None:
        """Provide (or replace) the view ``name``; it is built when a query first names it."""
        with self._lock:
            self._providers[name] = source
            if name in self._views:
                self._con.unregister(name)
                del self._views[name]

    def _register(self, sql: str) -> None:
        pending = [n for n in self._providers if n not in self._views]
        for name in _names(sql, pending):
            try:
                data = self._providers[name]()
            except EngineError:
                raise
            except Exception as exc:
                raise EngineError(f"duckdb: could not build view {name}: {exc}") from exc
            self._con.register(name, data)
            self._views[name] = data
            log.debug("duckdb: registered view %s", name)

    def query(self, sql: str) -> pa.Table:
        with self._lock:
            self._register(sql)
            self.queries += 1
            try:
                relation = self._con.sql(sql)
            except duckdb.Error as exc:
                first = " ".join(sql.split())[:160]
                raise EngineError(f"duckdb query failed: {exc} (query: {first}...)") from exc
            # Statements without rows (SET, CREATE VIEW) return no relation.
            return relation.to_arrow_table() if relation is not None else pa.table({})

    def close(self) -> None:
        self._con.close()
