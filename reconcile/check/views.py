"""Arrow data behind the DuckDB views named like the Athena tables.

- ``archive_logs``: the archive as a Hive-partitioned Arrow dataset (``dt`` string,
  ``hour`` int) in the archive's table schema (``_schema/table.json``), scanned lazily; names starting with ``_`` (manifests, ``_rejects/``,
  ``_staging/``, ``_reconcile/``) are skipped exactly as Athena skips them.
- ``reconcile_results``: the results history, partitioned by ``kind`` and ``dt``.
- ``alb_access_logs``: ALB access logs parsed by :func:`reconcile.expected.read_alb_logs`.
"""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Any

import pyarrow as pa
import pyarrow.dataset as ds

from ..results import FILE_SCHEMA
from ..storage import ObjectStore

if TYPE_CHECKING:
    from ..expected.config import ExpectedConfig

ARCHIVE_PARTITIONING = pa.schema([("dt", pa.string()), ("hour", pa.int32())])
RESULTS_PARTITIONING = pa.schema([("kind", pa.string()), ("dt", pa.string())])
RESULTS_SCHEMA = pa.schema(list(FILE_SCHEMA) + list(RESULTS_PARTITIONING))


def archive_schema(store: ObjectStore) -> pa.Schema | None:
    """The archive table's schema (the table schema's columns, then ``dt`` and ``hour``),
    or None for an archive written before it had one."""
    from ..archive.table import load_table

    table = load_table(store)
    if table is None:
        return None
    return pa.schema(list(table.arrow) + list(ARCHIVE_PARTITIONING))


def archive_dataset(store: ObjectStore) -> ds.Dataset | pa.Table:
    """The archive's committed-layout Parquet files as one dataset, read in the table
    schema's columns and types (a file written before a column existed reads it as null),
    exactly as Athena reads them under the DDL of ``reconcile sql ddl``."""
    fs, base = store.arrow()
    schema = archive_schema(store)
    try:
        return ds.dataset(
            base,
            schema=schema,
            filesystem=fs,
            format="parquet",
            partitioning=ds.partitioning(ARCHIVE_PARTITIONING, flavor="hive"),
        )
    except FileNotFoundError:
        return (schema or ARCHIVE_PARTITIONING).empty_table()


def results_dataset(store: ObjectStore) -> ds.Dataset | pa.Table:
    """The results history as one dataset (an empty table before the first write)."""
    fs, base = store.arrow()
    try:
        return ds.dataset(
            base,
            schema=RESULTS_SCHEMA,
            filesystem=fs,
            format="parquet",
            partitioning=ds.partitioning(RESULTS_PARTITIONING, flavor="hive"),
        )
    except FileNotFoundError:
        return RESULTS_SCHEMA.empty_table()


def alb_logs_table(expected: ExpectedConfig, start: datetime, end: datetime) -> Any:
    """ALB access-log entries around ``[start, end)`` with the Athena table's column names."""
    from ..expected import read_alb_logs

    return read_alb_logs(expected, start, end)
