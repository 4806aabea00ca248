"""The flow-log drill-down: the shared SQL (Trino and DuckDB) on generated Parquet."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pyarrow.parquet as pq
import pytest
import sqlglot

from reconcile.demo.nat_traffic import GIB, NatInterface, Talker, write_flow_logs
from reconcile.egress.flowlogs import (
    QUERY_V2,
    V2_FIELDS,
    V5_FIELDS,
    flow_log_schema,
    hours_to_read,
    query_values,
    render_query,
    top_talkers,
)
from reconcile.errors import ConfigError
from reconcile.sqlfiles import get_file
from reconcile.storage import LocalStore, open_store

ENI = "eni-0123456789abcdef0"
H = datetime(2026, 11, 20, 23, tzinfo=UTC)  # the last hour of a day: partitions cross midnight


def rendered(**overrides: object) -> str:
    values = query_values(ENI, H, H.replace(day=21, hour=0), "out", 10) | overrides
    return render_query(values)


def test_query_is_trino_sql_and_names_every_placeholder() -> None:
    sql = rendered()
    assert "{{" not in sql
    parsed = sqlglot.parse_one(sql, read="trino")
    assert parsed.find(sqlglot.exp.Window) is not None
    assert (
        "year IN ('2026')" in sql and "day IN ('20', '21')" in sql and "hour IN ('00', '23')" in sql
    )
    with pytest.raises(ConfigError, match="placeholder"):
        render_query({"interface_id": ENI})


def test_ddl_is_hive_ddl_with_projection() -> None:
    text = get_file("ddl/vpc_flow_logs").render(
        {
            "flow_logs_location": "s3://logs/vpc/AWSLogs/",
            "account_ids": "123456789012",
            "regions": "us-east-1",
        },
    )
    create = sqlglot.parse_one(text, read="athena")
    assert isinstance(create, sqlglot.exp.Create)
    assert "aws-account-id=${aws_account_id}/aws-service=${aws_service}/" in text
    assert "year=${year}/month=${month}/day=${day}/hour=${hour}/" in text
    # Every v5 field of the generated Parquet is a column of the table, with the same name.
    for name in flow_log_schema().names:
        assert f"\n  {name} " in text or f"`{name}`" in text, name


def test_values_are_validated_before_inlining() -> None:
    with pytest.raises(ConfigError, match="eni-"):
        query_values("eni-1'; DROP TABLE x; --", H, H, "out", 10)
    with pytest.raises(ConfigError, match="direction"):
        query_values(ENI, H, H, "sideways", 10)
    assert hours_to_read(H, H.replace(day=21, hour=0)) == [H, H.replace(day=21, hour=0)]


def test_generated_files_follow_the_aws_layout(tmp_path: Path) -> None:
    store = LocalStore(tmp_path)
    keys = write_flow_logs(store, NatInterface(ENI), H, [Talker("10.0.1.5", "203.0.113.5", 600)])
    assert keys[0].startswith(
        "AWSLogs/aws-account-id=123456789012/aws-service=vpcflowlogs/aws-region=us-east-1/"
        "year=2026/month=11/day=20/hour=23/123456789012_vpcflowlogs_us-east-1_fl-"
    )
    assert keys[-1].split("/")[5:8] == ["month=11", "day=21", "hour=00"]  # late delivery
    table = pq.read_table(tmp_path / keys[0])
    assert table.schema.field("bytes").type == "int64"
    assert table.schema.field("srcport").type == "int32"
    assert set(table.column("flow_direction").to_pylist()) == {"ingress", "egress"}


def test_top_talkers_in_duckdb_both_directions(tmp_path: Path) -> None:
    store = LocalStore(tmp_path / "dest")
    nat = NatInterface(ENI)
    talkers = [
        Talker("10.0.1.5", "203.0.113.5", int(3 * GIB), bytes_in=int(0.1 * GIB)),
        Talker("10.0.1.7", "52.216.10.1", int(5 * GIB), aws_service="S3", bytes_in=int(2 * GIB)),
    ]
    write_flow_logs(store, nat, H, talkers)
    write_flow_logs(
        store, NatInterface("eni-0fedcba9876543210"), H, [Talker("10.9.9.9", "1.1.1.1", 999)]
    )
    end = H.replace(day=21, hour=0)
    out = top_talkers(store, ENI, H, end)
    assert out.total_bytes == int(8 * GIB) and out.files > 0
    assert [r.talker for r in out.sources] == ["10.0.1.7", "10.0.1.5"]
    assert [(r.talker, r.aws_service) for r in out.destinations] == [
        ("52.216.10.1", "S3"),
        ("203.0.113.5", None),
    ]
    assert out.endpoint_avoidance() == [{"service": "S3", "bytes": int(5 * GIB), "share": 0.625}]
    assert out.callout().startswith(
        "traffic to S3 (5 GiB, 62% of the flow-logged bytes) goes through the NAT gateway"
    )
    assert "an S3 gateway VPC endpoint" in out.callout()
    replies = top_talkers(store, ENI, H, end, direction="in", limit=1)
    assert replies.total_bytes == int(2.1 * GIB)
    assert [r.talker for r in replies.sources] == ["10.0.1.7"]  # limit 1
    assert replies.services[0].talker == "S3" and replies.services[0].bytes == int(2 * GIB)


def test_no_flow_logs_for_the_hour(tmp_path: Path) -> None:
    out = top_talkers(LocalStore(tmp_path), ENI, H, H.replace(day=21, hour=0))
    assert out.files == 0 and out.total_bytes == 0 and out.callout() == ""


@pytest.mark.integration
def test_top_talkers_from_moto_s3(s3_bucket: str) -> None:
    uri = f"s3://{s3_bucket}/flow/AWSLogs"  # the AWSLogs level works as well as its parent
    store = open_store(f"s3://{s3_bucket}/flow")
    write_flow_logs(
        store, NatInterface(ENI), H, [Talker("10.0.1.7", "52.94.0.1", 4096, "DYNAMODB")]
    )
    out = top_talkers(open_store(uri), ENI, H, H.replace(day=21, hour=0))
    assert out.total_bytes == 4096
    assert out.endpoint_avoidance()[0]["service"] == "DynamoDB"
    assert "a DynamoDB gateway VPC endpoint" in out.callout()


V2_TALKERS = [
    Talker("10.0.1.7", "52.216.10.1", int(5 * GIB), aws_service="S3", bytes_in=int(2 * GIB)),
    Talker("10.0.1.5", "203.0.113.5", int(3 * GIB), bytes_in=int(0.1 * GIB)),
    Talker("10.0.1.7", "198.51.100.9", int(1 * GIB)),
]


def test_v2_flow_logs_name_what_is_missing_and_still_give_destinations(tmp_path: Path) -> None:
    store = LocalStore(tmp_path)
    keys = write_flow_logs(store, NatInterface(ENI), H, V2_TALKERS, fields=V2_FIELDS)
    assert pq.read_schema(tmp_path / keys[0]).names == list(V2_FIELDS)  # the default format
    out = top_talkers(store, ENI, H, H.replace(day=21, hour=0))
    assert out.missing_fields == list(V5_FIELDS)
    assert [(r.talker, r.bytes) for r in out.destinations] == [
        ("52.216.10.1", int(5 * GIB)), ("203.0.113.5", int(3 * GIB)), ("198.51.100.9", int(GIB)),
    ]  # fmt: skip
    assert [(r.talker, r.bytes) for r in out.sources] == [
        ("10.0.1.7", int(6 * GIB)), ("10.0.1.5", int(3 * GIB)),
    ]  # fmt: skip
    assert out.total_bytes == int(9 * GIB) and out.services == [] and out.callout() == ""
    detail = out.as_detail()
    assert detail["missing_fields"] == [
        "flow-direction", "pkt-srcaddr", "pkt-dstaddr", "pkt-src-aws-service", "pkt-dst-aws-service",
    ]  # fmt: skip
    note = detail["format_note"]
    assert "lack flow-direction, pkt-srcaddr" in note and "come from the version 2 fields" in note
    assert "--log-format '${version} ${account-id}" in note and "${pkt-dst-aws-service}" in note
    replies = top_talkers(store, ENI, H, H.replace(day=21, hour=0), direction="in")
    assert replies.destinations[0].talker == "52.216.10.1"
    assert replies.sources[0].talker == "10.0.1.7" and replies.total_bytes == int(2.1 * GIB)


def test_custom_format_without_service_fields_keeps_the_pairing(tmp_path: Path) -> None:
    store = LocalStore(tmp_path)
    fields = (*V2_FIELDS, "pkt_srcaddr", "pkt_dstaddr", "flow_direction")
    write_flow_logs(store, NatInterface(ENI), H, V2_TALKERS, fields=fields)
    out = top_talkers(store, ENI, H, H.replace(day=21, hour=0))
    assert out.missing_fields == ["pkt_src_aws_service", "pkt_dst_aws_service"]
    assert out.sources[0].talker == "10.0.1.7" and out.destinations[0].aws_service is None
    assert (
        "AWS services reached through the NAT gateway (S3, DynamoDB) are not named"
        in (out.as_detail()["format_note"])
    )


def test_v2_query_is_trino_sql() -> None:
    values = query_values(ENI, H, H.replace(day=21, hour=0), "out", 10)
    sql = render_query(values, QUERY_V2)
    assert "{{" not in sql and sqlglot.parse_one(sql, read="trino") is not None
