"""The Athena engine: its call protocol against moto's server, and failure paths in unit tests.

moto does not run SQL: it returns results queued through its ``/moto-api`` and walks a
query through QUEUED -> RUNNING -> SUCCEEDED as configured, which is exactly the protocol
the engine must follow. States moto never produces (FAILED, CANCELLED, throttling, bytes
scanned) are covered with botocore's Stubber.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import boto3
import pytest
import requests
from botocore.stub import Stubber

from reconcile.engines import EngineError, EngineTransientError
from reconcile.engines.athena import MAX_QUERY_BYTES, AthenaEngine


def column(name: str, typ: str, precision: int = 0, scale: int = 0) -> dict[str, Any]:
    return {
        "CatalogName": "hive",
        "SchemaName": "",
        "TableName": "",
        "Name": name,
        "Label": name,
        "Type": typ,
        "Precision": precision,
        "Scale": scale,
        "Nullable": "UNKNOWN",
        "CaseSensitive": typ == "varchar",
    }


def row(*values: str | None) -> dict[str, Any]:
    return {"Data": [{} if v is None else {"VarCharValue": v} for v in values]}


def queue_results(endpoint: str, *results: dict[str, Any]) -> None:
    resp = requests.post(
        f"{endpoint}/moto-api/static/athena/query-results",
        json={"region": "us-east-1", "results": list(results)},
        timeout=10,
    )
    assert resp.status_code == 201


@pytest.fixture
def slow_queries(aws_endpoint: str) -> Iterator[None]:
    """A query moves on one state every second poll (moto's manual progression)."""
    url = f"{aws_endpoint}/moto-api/state-manager"
    transition = {"progression": "manual", "times": 2}
    requests.post(
        f"{url}/set-transition",
        json={"model_name": "athena::execution", "transition": transition},
        timeout=10,
    ).raise_for_status()
    yield
    requests.post(
        f"{url}/unset-transition", json={"model_name": "athena::execution"}, timeout=10
    ).raise_for_status()


def test_query_protocol_on_moto(aws_endpoint: str, s3_bucket: str, slow_queries: None) -> None:
    athena = boto3.client("athena")
    workgroup = f"wg-{uuid.uuid4().hex[:8]}"
    athena.create_work_group(Name=workgroup, Configuration={})
    cols = [
        column("window_start", "timestamp"),
        column("status", "varchar"),
        column("expected", "bigint"),
        column("ratio", "double"),
        column("ok", "boolean"),
        column("dt", "date"),
        column("amount", "decimal", 20, 0),
    ]
    queue_results(
        aws_endpoint,
        {
            "rows": [
                row(*(c["Name"] for c in cols)),  # Athena repeats the header first
                row("2026-11-20 13:00:00.000", "ok", "1200", "0.5", "true", "2026-11-20", "7"),
                row("2026-11-20 14:00:00.000", None, None, None, "false", None, None),
            ],
            "column_info": cols,
        },
    )
    sleeps: list[float] = []
    engine = AthenaEngine(
        database="logs",
        workgroup=workgroup,
        output_location=f"s3://{s3_bucket}/athena/",
        poll_interval_s=0.2,
        sleep=sleeps.append,
    )
    table = engine.query("SELECT window_start, status FROM reconcile_results")
    assert table.column_names == [c["Name"] for c in cols]
    first, second = table.to_pylist()
    assert first == {
        "window_start": datetime(2026, 11, 20, 13, tzinfo=UTC),
        "status": "ok",
        "expected": 1200,
        "ratio": 0.5,
        "ok": True,
        "dt": datetime(2026, 11, 20).date(),
        "amount": 7,
    }
    assert second["status"] is None and second["ok"] is False
    # Polls see QUEUED, RUNNING, RUNNING, then SUCCEEDED: three waits growing by 1.5x.
    assert sleeps == pytest.approx([0.2, 0.3, 0.45])
    (qid,) = engine.query_ids
    execution = athena.get_query_execution(QueryExecutionId=qid)["QueryExecution"]
    assert execution["WorkGroup"] == workgroup
    assert execution["QueryExecutionContext"]["Database"] == "logs"
    assert execution["ResultConfiguration"]["OutputLocation"].startswith(
        f"s3://{s3_bucket}/athena/"
    )
    assert execution["Query"].startswith("SELECT window_start")
    assert engine.queries == 1 and engine.bytes_scanned == 0  # moto reports 0 bytes


def test_timeout_stops_the_query(aws_endpoint: str, slow_queries: None) -> None:
    engine = AthenaEngine(database="logs", poll_interval_s=1.0, timeout_s=2.0, sleep=lambda s: None)
    with pytest.raises(EngineError, match=r"still (QUEUED|RUNNING) after 2s; stopped it") as err:
        engine.query("SELECT 1")
    assert engine.query_ids[0] in str(err.value)


# -- unit tests of the states moto does not produce --------------------------------------


def stubbed() -> tuple[AthenaEngine, Stubber]:
    client = boto3.client("athena", region_name="us-east-1")
    stub = Stubber(client)
    return AthenaEngine("logs", client=client, poll_interval_s=0.01, sleep=lambda s: None), stub


def execution(qid: str, state: str, **extra: Any) -> dict[str, Any]:
    status: dict[str, Any] = {"State": state}
    status.update(extra.pop("status", {}))
    return {"QueryExecution": {"QueryExecutionId": qid, "Status": status, **extra}}


def test_failed_query_names_the_id_and_reason() -> None:
    engine, stub = stubbed()
    stub.add_response("start_query_execution", {"QueryExecutionId": "q-1"})
    stub.add_response(
        "get_query_execution",
        execution(
            "q-1",
            "FAILED",
            status={
                "StateChangeReason": "TABLE_NOT_FOUND: line 1:15: Table 'logs.archive_logs' does not exist",
                "AthenaError": {"ErrorCategory": 2, "ErrorType": 1006, "Retryable": False},
            },
        ),
    )
    with stub, pytest.raises(EngineError, match=r"athena query q-1 FAILED: TABLE_NOT_FOUND") as err:
        engine.query("SELECT count(*) FROM archive_logs")
    assert not isinstance(err.value, EngineTransientError)
    assert "error type 1006" in str(err.value)


def test_retryable_failure_and_throttling_are_transient() -> None:
    engine, stub = stubbed()
    stub.add_response("start_query_execution", {"QueryExecutionId": "q-2"})
    stub.add_response(
        "get_query_execution",
        execution(
            "q-2",
            "FAILED",
            status={
                "StateChangeReason": "Query exhausted resources at this scale factor",
                "AthenaError": {"ErrorCategory": 1, "ErrorType": 1001, "Retryable": True},
            },
        ),
    )
    stub.add_client_error(
        "start_query_execution",
        service_error_code="TooManyRequestsException",
        service_message="slow down",
    )
    with stub:
        with pytest.raises(EngineTransientError, match="q-2 FAILED: Query exhausted"):
            engine.query("SELECT 1")
        with pytest.raises(EngineTransientError, match="TooManyRequestsException: slow down"):
            engine.query("SELECT 1")


def test_cancelled_and_oversized_queries() -> None:
    engine, stub = stubbed()
    stub.add_response("start_query_execution", {"QueryExecutionId": "q-3"})
    stub.add_response("get_query_execution", execution("q-3", "CANCELLED"))
    with stub, pytest.raises(EngineError, match="q-3 CANCELLED: no reason given"):
        engine.query("SELECT 1")
    with pytest.raises(EngineError, match="over Athena's"):
        engine.query("SELECT '" + "x" * MAX_QUERY_BYTES + "'")


def test_bytes_scanned_and_paged_results() -> None:
    engine, stub = stubbed()
    cols = {"ColumnInfo": [{"Name": "n", "Label": "n", "Type": "bigint"}]}
    for qid, scanned in (("q-4", 1_000_000), ("q-5", 2_500)):
        stub.add_response("start_query_execution", {"QueryExecutionId": qid})
        stub.add_response("get_query_execution", execution(qid, "RUNNING"))
        stub.add_response(
            "get_query_execution",
            execution(
                qid, "SUCCEEDED", StatementType="DML", Statistics={"DataScannedInBytes": scanned}
            ),
        )
        stub.add_response(
            "get_query_results",
            {
                "ResultSet": {"Rows": [row("n"), row("1"), row("2")], "ResultSetMetadata": cols},
                "NextToken": "t1",
            },
        )
        stub.add_response(
            "get_query_results",
            {"ResultSet": {"Rows": [row("3")], "ResultSetMetadata": cols}},
            {"QueryExecutionId": qid, "MaxResults": 1000, "NextToken": "t1"},
        )
    with stub:
        assert engine.query("SELECT n").column("n").to_pylist() == [1, 2, 3]
        assert engine.query("SELECT n").column("n").to_pylist() == [1, 2, 3]
    assert engine.bytes_scanned == 1_002_500 and engine.queries == 2
