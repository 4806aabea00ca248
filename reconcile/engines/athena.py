"""Amazon Athena: the same query files, at the scale of the whole archive.

A query is started in a workgroup (with an optional output location), polled with a
growing interval until it leaves ``QUEUED``/``RUNNING``, and its rows are read back page by
page and typed from the result's column metadata. Failures name the query id and Athena's
reason; a query past its time limit is stopped. Bytes scanned (what Athena bills) are
summed in :attr:`AthenaEngine.bytes_scanned`. The client honours the standard AWS
environment and ``AWS_ENDPOINT_URL``.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from typing import Any

import pyarrow as pa

from ..sqlfiles import quote_name
from . import Engine, EngineError, EngineTransientError

log = logging.getLogger(__name__)

#: Athena's limit on the length of a query string, in bytes.
MAX_QUERY_BYTES = 262_144
MAX_POLL_INTERVAL_S = 5.0
RUNNING_STATES = ("QUEUED", "RUNNING")
THROTTLED = ("ThrottlingException", "TooManyRequestsException")


def _arrow_type(info: dict[str, Any]) -> pa.DataType:
    kind = str(info.get("Type", "varchar")).lower()
    if kind == "boolean":
        return pa.bool_()
    if kind in ("tinyint", "smallint", "integer", "int", "bigint"):
        return pa.int64()
    if kind in ("real", "float", "double"):
        return pa.float64()
    if kind.startswith("decimal"):
        return pa.decimal128(int(info.get("Precision") or 38), int(info.get("Scale") or 0))
    if kind == "date":
        return pa.date32()
    if kind.startswith("timestamp"):
        return pa.timestamp("ms", tz="UTC")
    return pa.string()


def _column(values: list[str | None], typ: pa.DataType) -> pa.Array:
    if pa.types.is_string(typ):
        return pa.array(values, pa.string())
    if pa.types.is_boolean(typ):
        return pa.array([None if v is None else v.lower() == "true" for v in values], typ)
    if pa.types.is_timestamp(typ):
        # "2026-11-20 13:00:00.000" (timestamp) or "... UTC" (timestamp with time zone).
        naive = [None if v is None else v.removesuffix(" UTC") for v in values]
        return pa.array(naive, pa.string()).cast(pa.timestamp("ms")).cast(typ)
    return pa.array(values, pa.string()).cast(typ)


class AthenaEngine(Engine):
    """Runs queries in Athena; tables come from ``sql/ddl`` (see docs/check.md)."""

    name = "athena"

    def __init__(
        self,
        database: str,
        workgroup: str = "primary",
        output_location: str | None = None,
        catalog: str = "AwsDataCatalog",
        poll_interval_s: float = 0.5,
        timeout_s: float = 600.0,
        client: Any = None,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.database = database
        self.workgroup = workgroup
        self.output_location = output_location
        self.catalog = catalog
        self.poll_interval_s = poll_interval_s
        self.timeout_s = timeout_s
        self._client = client
        self._sleep = sleep
        self.bytes_scanned = 0
        self.queries = 0
        self.query_ids: list[str] = []

    @property
    def client(self) -> Any:
        if self._client is None:
            from botocore.config import Config

            from ..aws import session

            cfg = Config(retries={"mode": "standard", "max_attempts": 8})
            self._client = session().client("athena", config=cfg)
        return self._client

    def _call(self, what: str, fn: Callable[..., Any], **kwargs: Any) -> Any:
        from botocore.exceptions import BotoCoreError, ClientError

        try:
            return fn(**kwargs)
        except ClientError as exc:
            code = exc.response.get("Error", {}).get("Code", "")
            msg = exc.response.get("Error", {}).get("Message", str(exc))
            cls = EngineTransientError if code in THROTTLED else EngineError
            raise cls(f"athena {what}: {code}: {msg}") from exc
        except BotoCoreError as exc:
            raise EngineTransientError(f"athena {what}: {exc}") from exc

    # -- the three calls ----------------------------------------------------------------

    def start(self, sql: str) -> str:
        """Submit ``sql``; returns the query execution id."""
        if len(sql.encode()) > MAX_QUERY_BYTES:
            raise EngineError(
                f"athena: query is {len(sql.encode()):,} bytes, over Athena's {MAX_QUERY_BYTES:,}"
            )
        kwargs: dict[str, Any] = {
            "QueryString": sql,
            "QueryExecutionContext": {"Database": self.database, "Catalog": self.catalog},
            "WorkGroup": self.workgroup,
        }
        if self.output_location:
            kwargs["ResultConfiguration"] = {"OutputLocation": self.output_location}
        resp = self._call(
            f"start query in workgroup {self.workgroup}",
            self.client.start_query_execution,
            **kwargs,
        )
        qid = str(resp["QueryExecutionId"])
        self.query_ids.append(qid)
        self.queries += 1
        log.info("athena: started query %s", qid, extra={"event": "athena_query", "query_id": qid})
        return qid

    def wait(self, qid: str) -> dict[str, Any]:
        """Poll until the query leaves QUEUED/RUNNING; returns its QueryExecution on success."""
        started = time.monotonic()
        interval = self.poll_interval_s
        while True:
            execution = self._call(
                f"query {qid}", self.client.get_query_execution, QueryExecutionId=qid
            )["QueryExecution"]
            status = execution.get("Status", {})
            state = status.get("State", "UNKNOWN")
            if state == "SUCCEEDED":
                scanned = int(execution.get("Statistics", {}).get("DataScannedInBytes", 0) or 0)
                self.bytes_scanned += scanned
                log.info(
                    "athena: query %s succeeded, %d bytes scanned",
                    qid,
                    scanned,
                    extra={"event": "athena_query", "query_id": qid, "bytes_scanned": scanned},
                )
                return dict(execution)
            if state in ("FAILED", "CANCELLED"):
                raise self._failure(qid, state, status)
            if state not in RUNNING_STATES:
                raise EngineError(f"athena query {qid}: unexpected state {state}")
            if time.monotonic() - started + interval > self.timeout_s:
                self._stop(qid)
                raise EngineError(
                    f"athena query {qid} still {state} after {self.timeout_s:g}s; stopped it "
                    "(raise check.athena_timeout_s for larger scans)"
                )
            self._sleep(interval)
            interval = min(interval * 1.5, MAX_POLL_INTERVAL_S)

    def _failure(self, qid: str, state: str, status: dict[str, Any]) -> EngineError:
        err = status.get("AthenaError") or {}
        reason = status.get("StateChangeReason") or err.get("ErrorMessage") or "no reason given"
        kind = err.get("ErrorType")
        text = f"athena query {qid} {state}: {reason}" + (f" (error type {kind})" if kind else "")
        return EngineTransientError(text) if err.get("Retryable") else EngineError(text)

    def _stop(self, qid: str) -> None:
        try:
            self._call(f"stop query {qid}", self.client.stop_query_execution, QueryExecutionId=qid)
        except EngineError as exc:  # the timeout is the error worth reporting
            log.warning("athena: could not stop query %s: %s", qid, exc)

    def results(self, qid: str, statement_type: str = "DML") -> pa.Table:
        """Every row of a finished query, typed from its column metadata."""
        columns: list[dict[str, Any]] | None = None
        rows: list[list[str | None]] = []
        token: str | None = None
        first_page = True
        while True:
            kwargs: dict[str, Any] = {"QueryExecutionId": qid, "MaxResults": 1000}
            if token:
                kwargs["NextToken"] = token
            page = self._call(f"results of query {qid}", self.client.get_query_results, **kwargs)
            result = page.get("ResultSet", {})
            if columns is None:
                columns = list(result.get("ResultSetMetadata", {}).get("ColumnInfo", []))
            page_rows = [
                [cell.get("VarCharValue") for cell in row.get("Data", [])]
                for row in result.get("Rows", [])
            ]
            if first_page and statement_type == "DML" and page_rows and columns:
                labels = [c.get("Label") or c.get("Name") for c in columns]
                if page_rows[0] == labels:  # Athena repeats the header as the first row
                    page_rows = page_rows[1:]
            first_page = False
            rows.extend(page_rows)
            token = page.get("NextToken")
            if not token:
                break
        columns = columns or []
        names = [str(c.get("Label") or c.get("Name") or f"_col{i}") for i, c in enumerate(columns)]
        arrays = []
        for i, info in enumerate(columns):
            values = [r[i] if i < len(r) else None for r in rows]
            try:
                arrays.append(_column(values, _arrow_type(info)))
            except (pa.ArrowInvalid, ValueError) as exc:
                raise EngineError(
                    f"athena query {qid}: column {names[i]} ({info.get('Type')}): {exc}"
                ) from exc
        return pa.table(arrays, names=names) if arrays else pa.table({})

    def query(self, sql: str) -> pa.Table:
        qid = self.start(sql)
        execution = self.wait(qid)
        return self.results(qid, str(execution.get("StatementType") or "DML"))


# -- creating and updating tables ---------------------------------------------------------


def _norm_type(text: str) -> str:
    return text.replace("`", "").replace(" ", "").lower()


def plan_table(
    name: str,
    create_sql: str,
    wanted: list[tuple[str, str]] | None,
    current: list[tuple[str, str]] | None,
) -> tuple[str, list[str]]:
    """What to run so table ``name`` reads ``wanted`` columns, given the catalog's ``current``
    ones (None: no such table). Returns the action and its statements.

    ``wanted`` None means a table whose definition is fixed (only created when absent).
    Columns are compared by lower-cased name (as Glue stores them) and normalised type:
    only new columns -> ``ALTER TABLE ADD COLUMNS``; any other difference (a struct that
    gained a field) -> ``DROP TABLE`` and create again, which for an external table drops
    only the definition, never the data (partition projection needs no partitions)."""
    if current is None:
        return "created", [create_sql]
    if wanted is None:
        return "exists", []
    have = {n.lower(): _norm_type(t) for n, t in current}
    want = {n.lower(): _norm_type(t) for n, t in wanted}
    if have == want:
        return "unchanged", []
    if all(want.get(n) == t for n, t in have.items()):
        added = [(n, t) for n, t in wanted if n.lower() not in have]
        cols = ", ".join(f"{quote_name(n, always=True)} {t}" for n, t in added)
        return "updated", [f"ALTER TABLE {quote_name(name)} ADD COLUMNS ({cols})"]
    return "replaced", [f"DROP TABLE IF EXISTS {quote_name(name)}", create_sql]


def glue_columns(client: Any, database: str, table: str) -> list[tuple[str, str]] | None:
    """The columns (without partition keys) of a Glue table, or None when it does not exist."""
    from botocore.exceptions import ClientError

    try:
        resp = client.get_table(DatabaseName=database, Name=table)
    except ClientError as exc:
        if exc.response.get("Error", {}).get("Code") == "EntityNotFoundException":
            return None
        raise EngineError(f"glue get_table {database}.{table}: {exc}") from exc
    cols = resp["Table"].get("StorageDescriptor", {}).get("Columns", [])
    return [(str(c["Name"]), str(c["Type"])) for c in cols]


def apply_tables(
    engine: AthenaEngine,
    tables: list[tuple[str, str, list[tuple[str, str]] | None]],
    glue: Any = None,
) -> list[tuple[str, str, list[str]]]:
    """Create or update ``(name, CREATE statement, wanted columns or None)`` in the
    engine's database through Athena; returns ``(name, action, query ids)`` per table."""
    if glue is None:
        from ..aws import session

        glue = session().client("glue")
    target = engine.database
    engine.database = "default"  # the context of CREATE DATABASE must already exist
    try:
        engine.query(f"CREATE DATABASE IF NOT EXISTS {quote_name(target)}")
    finally:
        engine.database = target
    done = []
    for name, create_sql, wanted in tables:
        current = glue_columns(glue, engine.database, name)
        action, statements = plan_table(name, create_sql, wanted, current)
        ids = []
        for sql in statements:
            engine.query(sql)
            ids.append(engine.query_ids[-1])
        log.info(
            "athena: table %s.%s %s",
            engine.database,
            name,
            action,
            extra={"event": "athena_ddl", "table": name, "action": action, "query_ids": ids},
        )
        done.append((name, action, ids))
    return done
