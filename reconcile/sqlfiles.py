"""The SQL files in ``sql/``: list them, render their ``{{placeholders}}``, generate DDL.

Only loading and rendering: what a job puts into the placeholders is wired by the callers
(:mod:`reconcile.engines.params`, :mod:`reconcile.expected.alb_sql`).

Files are Athena SQL (DDL in Athena's Hive dialect, queries in Trino) and the queries also
run in DuckDB. Placeholders are ``{{name}}`` because Athena itself owns ``${name}`` (in
``storage.location.template``). Rendering fails loudly when a placeholder has no value.

Values are rendered by type: strings are escaped for use *inside* a quoted SQL literal
(the file writes the quotes: ``'{{archive_location}}'``), numbers as numbers, datetimes as
``YYYY-MM-DD HH:MM:SS`` (the file writes ``TIMESTAMP '{{start}}'``), and :class:`Raw`
values (SQL fragments such as a sub-query or a column list) verbatim.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from functools import cached_property
from pathlib import Path
from typing import Any

import pyarrow as pa

from .errors import ConfigError

PLACEHOLDER = re.compile(r"\{\{\s*([A-Za-z_][A-Za-z0-9_]*)\s*\}\}")
_SIMPLE_NAME = re.compile(r"^[a-z_][a-z0-9_]*$")

#: Partition columns of the archive table; a Parquet column of the same name would clash.
ARCHIVE_PARTITIONS = ("dt", "hour")


class Raw(str):
    """A placeholder value inserted verbatim (a SQL fragment), never escaped."""


def sql_dir() -> Path:
    """``$RECONCILE_SQL_DIR``, else the ``sql/`` directory next to the package."""
    env = os.environ.get("RECONCILE_SQL_DIR")
    return Path(env) if env else Path(__file__).resolve().parent.parent / "sql"


@dataclass(frozen=True)
class SqlFile:
    """One file of ``sql/``; ``name`` is its path without ``.sql``, e.g. ``queries/reconcile_hourly``."""

    name: str
    path: Path

    @cached_property
    def text(self) -> str:
        return self.path.read_text()

    @property
    def kind(self) -> str:
        """``ddl`` or ``queries``."""
        return self.name.split("/", 1)[0]

    @property
    def description(self) -> str:
        """The leading ``--`` comment, joined into one line."""
        lines = []
        for line in self.text.splitlines():
            if not line.startswith("--"):
                break
            lines.append(line[2:].strip())
        return " ".join(x for x in lines if x)

    @property
    def placeholders(self) -> list[str]:
        seen: dict[str, None] = {}
        for m in PLACEHOLDER.finditer(self.text):
            seen.setdefault(m.group(1), None)
        return list(seen)

    def render(self, params: Mapping[str, Any]) -> str:
        return render_text(self.text, params, where=f"sql/{self.name}.sql")


def list_files() -> list[SqlFile]:
    """Every ``.sql`` file under ``sql/``, sorted by name."""
    root = sql_dir()
    if not root.is_dir():
        raise ConfigError(f"SQL directory {root} does not exist (set RECONCILE_SQL_DIR)")
    return [
        SqlFile(p.relative_to(root).with_suffix("").as_posix(), p)
        for p in sorted(root.rglob("*.sql"))
    ]


def get_file(name: str) -> SqlFile:
    """A file by name (``queries/reconcile_hourly``, with or without ``.sql``)."""
    name = name.removesuffix(".sql").removeprefix("sql/")
    files = {f.name: f for f in list_files()}
    if name in files:
        return files[name]
    # A bare file name is enough when it is unique (``reconcile_hourly``).
    matches = [f for f in files.values() if f.name.rsplit("/", 1)[-1] == name]
    if len(matches) == 1:
        return matches[0]
    raise ConfigError(f"no SQL file {name!r}; known: {', '.join(sorted(files))}")


def literal(value: Any) -> str:
    """A placeholder value as SQL text (see the module docstring)."""
    if isinstance(value, Raw):
        return str(value)
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return repr(value)
    if isinstance(value, datetime):
        v = value.astimezone(UTC) if value.tzinfo else value
        return v.strftime("%Y-%m-%d %H:%M:%S")
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, str):
        return value.replace("'", "''")
    raise TypeError(f"cannot render {type(value).__name__} into SQL")


def render_text(text: str, params: Mapping[str, Any], where: str = "SQL") -> str:
    """Substitute every ``{{name}}``; raise :class:`ConfigError` naming all missing ones."""
    missing = sorted({m.group(1) for m in PLACEHOLDER.finditer(text)} - set(params))
    if missing:
        raise ConfigError(
            f"{where}: no value for placeholder(s) {', '.join(missing)} "
            "(set them in the job, or pass --param NAME=VALUE)"
        )
    return PLACEHOLDER.sub(lambda m: literal(params[m.group(1)]), text)


def render(name: str, params: Mapping[str, Any]) -> str:
    return get_file(name).render(params)


# -- Athena DDL from an Arrow (Parquet) schema ---------------------------------------------


def quote_name(name: str, always: bool = False) -> str:
    """A Hive identifier: backticked when it is not a plain lower-case name (or always)."""
    if not always and _SIMPLE_NAME.match(name):
        return name
    return "`" + name.replace("`", "``") + "`"


def athena_type(t: pa.DataType) -> str:
    """The Athena (Hive DDL) type that reads a Parquet column written from Arrow type ``t``."""
    if pa.types.is_dictionary(t):
        return athena_type(t.value_type)
    if pa.types.is_boolean(t):
        return "boolean"
    if pa.types.is_int8(t):
        return "tinyint"
    if pa.types.is_int16(t) or pa.types.is_uint8(t):
        return "smallint"
    if pa.types.is_int32(t) or pa.types.is_uint16(t):
        return "int"
    if pa.types.is_int64(t) or pa.types.is_uint32(t):
        return "bigint"
    if pa.types.is_uint64(t):
        return "decimal(20,0)"
    if pa.types.is_float16(t) or pa.types.is_float32(t):
        return "float"
    if pa.types.is_float64(t):
        return "double"
    if pa.types.is_decimal(t):
        if t.precision > 38:
            return "string"
        return f"decimal({t.precision},{t.scale})"
    if pa.types.is_timestamp(t):
        return "timestamp"
    if pa.types.is_date(t):
        return "date"
    if (
        pa.types.is_string(t)
        or pa.types.is_large_string(t)
        or pa.types.is_string_view(t)
        or pa.types.is_null(t)
    ):
        return "string"
    if pa.types.is_binary(t) or pa.types.is_large_binary(t) or pa.types.is_fixed_size_binary(t):
        return "binary"
    if pa.types.is_time(t) or pa.types.is_duration(t):
        return "bigint"
    if (
        pa.types.is_list(t)
        or pa.types.is_large_list(t)
        or pa.types.is_fixed_size_list(t)
        or pa.types.is_list_view(t)
    ):
        return f"array<{athena_type(t.value_type)}>"
    if pa.types.is_map(t):
        return f"map<{athena_type(t.key_type)},{athena_type(t.item_type)}>"
    if pa.types.is_struct(t):
        fields = ",".join(f"{quote_name(f.name)}:{athena_type(f.type)}" for f in t)
        return f"struct<{fields}>"
    raise ConfigError(f"no Athena type for Arrow type {t}")


def column_list(schema: pa.Schema, skip: tuple[str, ...] = ()) -> str:
    """The ``name type`` lines of a CREATE TABLE column list."""
    clash = [f.name for f in schema if f.name.lower() in ARCHIVE_PARTITIONS and f.name not in skip]
    if clash:
        raise ConfigError(
            f"archive column(s) {', '.join(clash)} clash with the partition columns dt/hour"
        )
    lines = [
        f"  {quote_name(f.name, always=True)} {athena_type(f.type)}"
        for f in schema
        if f.name not in skip
    ]
    return ",\n".join(lines)


def archive_columns(schema: pa.Schema) -> list[tuple[str, str]]:
    """``(name, Athena type)`` of the archive table's columns, as the DDL declares them."""
    return [(f.name, athena_type(f.type)) for f in schema]


def archive_ddl(schema: pa.Schema, params: Mapping[str, Any]) -> str:
    """``sql/ddl/archive_logs.sql`` with its columns taken from ``schema``."""
    return get_file("ddl/archive_logs").render({**params, "columns": Raw(column_list(schema))})


# -- placeholder values of a time range ----------------------------------------------------


def time_params(start: datetime, end: datetime) -> dict[str, Any]:
    """``start``/``end`` (timestamps) and ``start_dt``/``end_dt`` (inclusive partition days)."""
    last = end - timedelta(microseconds=1)
    return {
        "start": start,
        "end": end,
        "start_dt": start.astimezone(UTC).strftime("%Y-%m-%d"),
        "end_dt": last.astimezone(UTC).strftime("%Y-%m-%d"),
    }
