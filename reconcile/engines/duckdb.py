"""DuckDB in-process: the default engine.

Tables are views named like the Athena tables, registered the first time a query names
them, over whatever a provider returns: an Arrow table, an Arrow dataset (scanned lazily,
with projection and filter push-down) or a record batch reader. Object storage is read
through ``pyarrow.fs``, so DuckDB's ``httpfs`` extension (not downloadable offline) is never
needed. :meth:`DuckDBEngine.query_local` binds Arrow data for one statement only (the
egress drill-down's flow-log files), as temporary views with the columns renamed.
"""

from __future__ import annotations

import logging
import re
import threading
from collections.abc import Mapping
from typing import Any

import duckdb
import pyarrow as pa

from . import Engine, EngineError, LocalTable, TableSource

log = logging.getLogger(__name__)


def _ident(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _renamed(source: str, rename: Mapping[str, str]) -> str:
    """``SELECT`` every column of ``source``, those in ``rename`` under their new names."""
    if not rename:
        return f"SELECT * FROM {_ident(source)}"
    old = ", ".join(_ident(o) for o in rename)
    new = ", ".join(f"{_ident(o)} AS {_ident(n)}" for o, n in rename.items())
    return f"SELECT * EXCLUDE ({old}), {new} FROM {_ident(source)}"


def _first(sql: str) -> str:
    return " ".join(sql.split())[:160]


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
                raise EngineError(f"duckdb query failed: {exc} (query: {_first(sql)}...)") from exc
            # Statements without rows (SET, CREATE VIEW) return no relation.
            return relation.to_arrow_table() if relation is not None else pa.table({})

    def query_local(self, sql: str, tables: Mapping[str, LocalTable]) -> pa.Table:
        """Run ``sql`` with each of ``tables`` as a temporary view, dropped afterwards."""
        bound: list[str] = []
        with self._lock:
            self.queries += 1
            try:
                for name, table in tables.items():
                    source = f"{name}__arrow"
                    self._con.register(source, table.data)
                    bound.append(name)
                    self._con.execute(
                        f"CREATE OR REPLACE TEMP VIEW {_ident(name)} AS "
                        + _renamed(source, table.rename)
                    )
                relation = self._con.sql(sql)
                return relation.to_arrow_table() if relation is not None else pa.table({})
            except (duckdb.Error, pa.ArrowException, OSError) as exc:
                raise EngineError(f"duckdb query failed: {exc} (query: {_first(sql)}...)") from exc
            finally:
                for name in bound:
                    self._con.execute(f"DROP VIEW IF EXISTS {_ident(name)}")
                    self._con.unregister(f"{name}__arrow")

    def close(self) -> None:
        self._con.close()
