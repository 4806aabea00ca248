"""``reconcile sql ddl --apply --engine athena``: the tables created and updated through Athena.

moto's Athena records each statement and reports it SUCCEEDED but runs no SQL: a CREATE
TABLE does not appear in moto's Glue catalog, and nothing checks the DDL against the files
(Athena's HIVE_BAD_DATA on a wrong type cannot happen here). So the test puts into Glue
what Athena would have created, and checks the statements sent for each catalog state;
the DDL itself is parsed as Athena SQL by sqlglot, and the files are read under the same
schema by pyarrow and DuckDB in the other archive tests.
"""

from __future__ import annotations

import contextlib
import uuid
from typing import Any

import boto3
import sqlglot
from click.testing import CliRunner

from reconcile.archive.schema import FieldType
from reconcile.archive.table import absorb, load_table
from reconcile.cli import cli
from reconcile.engines.athena import plan_table
from reconcile.sqlfiles import archive_columns
from reconcile.storage import open_store

BASE = {"status": FieldType("int"), "client": FieldType("struct", (("ip", FieldType("string")),))}


def apply(uri: str, database: str, workgroup: str, bucket: str) -> tuple[int, str, str]:
    args = ["sql", "ddl", "--archive", uri, "--apply", "--engine", "athena"]
    args += ["--athena-database", database, "--athena-workgroup", workgroup]
    args += ["--athena-output", f"s3://{bucket}/athena/"]
    result = CliRunner().invoke(cli, args)
    return result.exit_code, result.stdout, result.stderr


def statements(workgroup: str, seen: set[str]) -> list[str]:
    """Statements run in ``workgroup`` that are not in ``seen`` (which is updated)."""
    athena = boto3.client("athena")
    ids = athena.list_query_executions(WorkGroup=workgroup)["QueryExecutionIds"]
    new = [i for i in ids if i not in seen]
    seen.update(new)
    return [athena.get_query_execution(QueryExecutionId=i)["QueryExecution"]["Query"] for i in new]


def put_glue_table(database: str, columns: list[tuple[str, str]]) -> None:
    """What Athena's CREATE TABLE would have left in the catalog (moto's does not)."""
    glue = boto3.client("glue")
    with contextlib.suppress(glue.exceptions.AlreadyExistsException):
        glue.create_database(DatabaseInput={"Name": database})
    with contextlib.suppress(glue.exceptions.EntityNotFoundException):
        glue.delete_table(DatabaseName=database, Name="archive_logs")
    glue.create_table(
        DatabaseName=database,
        TableInput={
            "Name": "archive_logs",
            "StorageDescriptor": {"Columns": [{"Name": n, "Type": t} for n, t in columns]},
            "PartitionKeys": [{"Name": "dt", "Type": "string"}, {"Name": "hour", "Type": "int"}],
        },
    )


def test_apply_creates_then_updates_the_tables_through_athena(
    aws_endpoint: str, s3_bucket: str
) -> None:
    uri = f"s3://{s3_bucket}/archive/hub"
    store = open_store(uri)
    absorb(store, BASE, "@timestamp", "test")
    store.put_bytes("dt=2026-10-05/hour=10/_manifest.json", b"{}")
    database, workgroup = f"db_{uuid.uuid4().hex[:8]}", f"wg-{uuid.uuid4().hex[:8]}"
    boto3.client("athena").create_work_group(Name=workgroup, Configuration={})
    seen: set[str] = set()

    code, out, err = apply(uri, database, workgroup, s3_bucket)  # nothing in the catalog yet
    assert code == 0, err
    sent = statements(workgroup, seen)
    assert f"CREATE DATABASE IF NOT EXISTS {database}" in sent
    create = next(s for s in sent if "archive_logs" in s)
    assert create.startswith("-- The archive") and "`status` bigint" in create
    assert sqlglot.parse_one(create, read="athena").key == "create"
    assert any("reconcile_results" in s for s in sent)
    assert f"{database}.archive_logs: created" in err
    assert create + ";" in out  # the DDL is printed either way

    wanted = archive_columns(load_table(store).arrow)  # type: ignore[union-attr]
    put_glue_table(database, wanted)
    code, _, err = apply(uri, database, workgroup, s3_bucket)
    assert code == 0, err
    assert [s for s in statements(workgroup, seen) if "archive_logs" in s] == []
    assert f"{database}.archive_logs: unchanged" in err

    absorb(store, {"trace": FieldType("string")}, "@timestamp", "test")  # a new column
    code, _, err = apply(uri, database, workgroup, s3_bucket)
    assert code == 0, err
    assert [s for s in statements(workgroup, seen) if "archive_logs" in s] == [
        "ALTER TABLE archive_logs ADD COLUMNS (`trace` string)"
    ]
    assert f"{database}.archive_logs: updated" in err

    absorb(store, {"client": FieldType("struct", (("port", FieldType("int")),))}, "@timestamp", "t")
    put_glue_table(database, [*wanted, ("trace", "string")])  # the struct gained a field
    code, _, err = apply(uri, database, workgroup, s3_bucket)
    assert code == 0, err
    sent = [s for s in statements(workgroup, seen) if "archive_logs" in s]
    assert sent[0] == "DROP TABLE IF EXISTS archive_logs"
    assert "`client` struct<ip:string,port:bigint>" in sent[1]
    assert f"{database}.archive_logs: replaced" in err


def test_apply_needs_the_athena_engine(tmp_path: Any) -> None:
    store = open_store(str(tmp_path / "a"))
    absorb(store, BASE, "@timestamp", "test")
    result = CliRunner().invoke(cli, ["sql", "ddl", "--archive", str(tmp_path / "a"), "--apply"])
    assert result.exit_code == 2 and "--engine athena" in result.stderr


def test_plan_compares_columns_as_glue_stores_them() -> None:
    want = [("@timestamp", "timestamp"), ("Status", "bigint"), ("c", "struct<`a-b`:string>")]
    same = [("@timestamp", "timestamp"), ("status", "bigint"), ("c", "struct<a-b:string>")]
    assert plan_table("archive_logs", "CREATE ...", want, same) == ("unchanged", [])
    assert plan_table("archive_logs", "CREATE ...", want, None) == ("created", ["CREATE ..."])
    assert plan_table("alb_access_logs", "CREATE ...", None, same) == ("exists", [])
    action, sql = plan_table("archive_logs", "CREATE ...", want, [("status", "string")])
    assert action == "replaced" and sql == ["DROP TABLE IF EXISTS archive_logs", "CREATE ..."]
