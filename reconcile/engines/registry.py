"""The one place an engine is chosen and opened: :func:`open_engine` by kind (``check.engine``).

Each implementation is imported only when chosen, so DuckDB never loads boto3's Athena
client and Athena never loads DuckDB.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, dataclass

from ..errors import ConfigError
from . import Engine, TableSource

#: The engines :func:`open_engine` knows.
ENGINES = ("duckdb", "athena")


@dataclass(frozen=True, slots=True)
class AthenaSettings:
    """Where and how Athena runs the queries (the check's ``athena_*`` settings)."""

    database: str = "default"
    workgroup: str = "primary"
    output_location: str | None = None
    catalog: str = "AwsDataCatalog"
    poll_interval_s: float = 0.5
    timeout_s: float = 600.0


def open_engine(
    kind: str,
    *,
    tables: Mapping[str, TableSource] | None = None,
    threads: int | None = None,
    athena: AthenaSettings | None = None,
) -> Engine:
    """The engine ``kind`` names, ready to query.

    ``tables`` provide DuckDB's views, named like the Athena tables and built when a query
    first names them, and ``threads`` caps DuckDB's threads; Athena holds its tables in the
    Glue catalog and runs with ``athena`` (defaults when None).
    """
    if kind == "duckdb":
        from .duckdb import DuckDBEngine

        return DuckDBEngine(tables, threads=threads)
    if kind == "athena":
        from .athena import AthenaEngine

        return AthenaEngine(**asdict(athena or AthenaSettings()))
    raise ConfigError(f"check.engine: unknown engine {kind!r}; choose one of {', '.join(ENGINES)}")
