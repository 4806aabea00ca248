"""Integration: judge_egress against moto's CloudWatch, EC2 and S3 over real HTTP."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import boto3
import pytest

from reconcile.demo.nat_traffic import (
    GIB,
    NatInterface,
    Shape,
    Spike,
    Talker,
    nat_series,
    put_metric_series,
    write_flow_logs,
)
from reconcile.egress.detect import WEEK
from reconcile.egress.run import judge_egress
from reconcile.findings import Finding
from reconcile.results import read_results
from reconcile.storage import open_store
from reconcile.timewin import HOUR
from tests.egress.conftest import job, new_gateway

pytestmark = pytest.mark.integration

FLAT = Shape(level=20 * GIB, daily_amplitude=0.0, weekend=1.0, noise=0.02, burst_rate=0.0)


def series(
    gw: str, hour: datetime, shape: Shape = FLAT, weeks: float = 5, spikes: tuple[Spike, ...] = ()
) -> dict[datetime, float]:
    hours = int(weeks * 7 * 24)
    return nat_series(gw, hour - hours * HOUR, hours, shape, seed=gw, spikes=spikes).values


def by_start(findings: list[Finding], resource: str) -> dict[datetime, Finding]:
    return {f.window_start: f for f in findings if f.resource == resource}


def test_static_threshold(cloudwatch: Any, region: str, hour: datetime, now: datetime) -> None:
    gw = new_gateway()
    t = hour - 3 * HOUR
    put_metric_series(cloudwatch, gw, series(gw, hour, spikes=(Spike(gw, t, 1, 1.6),)))
    spec = job(region, nat_gateways=[gw], static_threshold="25GiB")
    report = judge_egress(spec, hour - 6 * HOUR, hour, now=now, write_results=False)
    found = by_start(report.findings, gw)
    assert len(found) == 6 and report.unsettled == 0
    spike = found[t]
    # 1.6x is below the seasonal layer's doubling, above the static 25 GiB.
    assert spike.status == "spike" and spike.detail.crossed == ["static"]
    assert spike.threshold == 25 * GIB and spike.bytes is not None and spike.bytes > 30 * GIB
    assert "above the static threshold of 25 GiB" in spike.message
    assert [f.status for s, f in found.items() if s != t] == ["ok"] * 5
    assert report.problems == [spike]


def test_seasonal_baseline(cloudwatch: Any, region: str, hour: datetime, now: datetime) -> None:
    gw = new_gateway()
    batch_at = hour - 4 * HOUR
    # Put the weekly batch job (Sunday 03:00 local, 5x) into the judged range.
    sunday3 = (6 * 24 + 3 - (batch_at.weekday() * 24 + batch_at.hour)) % (7 * 24)
    shape = Shape(
        level=30 * GIB, daily_amplitude=0.6, weekend=0.5, tz_offset_h=sunday3,
        noise=0.05, batch_factor=5.0, burst_rate=0.0,
    )  # fmt: skip
    t = hour - 2 * HOUR
    put_metric_series(cloudwatch, gw, series(gw, hour, shape, spikes=(Spike(gw, t, 1, 3.0),)))
    report = judge_egress(
        job(region, nat_gateways=[gw]), hour - 6 * HOUR, hour, now=now, write_results=False
    )
    found = by_start(report.findings, gw)
    assert {s for s, f in found.items() if f.status == "spike"} == {t}
    batch = found[batch_at]
    assert batch.status == "ok" and batch.bytes is not None and batch.baseline is not None
    neighbour = found[batch_at - HOUR].bytes or 0
    assert batch.bytes > 3 * neighbour  # the weekly batch hour is big, and expected
    assert batch.bytes / batch.baseline == pytest.approx(1.0, abs=0.25)
    spike = found[t]
    assert spike.detail.method == "seasonal" and spike.detail.history_weeks == 4
    assert spike.ratio is not None and spike.ratio > 2.4
    assert spike.threshold is not None and spike.baseline is not None
    assert spike.baseline < spike.threshold < (spike.bytes or 0)
    assert "seasonal baseline" in spike.message and spike.detail.score > 5


def test_short_history_falls_back(
    cloudwatch: Any, region: str, hour: datetime, now: datetime
) -> None:
    with_static, without = new_gateway(), new_gateway()
    t = hour - 2 * HOUR
    for gw in (with_static, without):
        values = series(gw, hour, weeks=1.2, spikes=(Spike(gw, t, 1, 4.0),))
        put_metric_series(cloudwatch, gw, values)
    spec = job(
        region, nat_gateways=[with_static, without], static_thresholds={with_static: "40GiB"}
    )
    report = judge_egress(spec, hour - 6 * HOUR, hour, now=now, write_results=False)
    a, b = by_start(report.findings, with_static)[t], by_start(report.findings, without)[t]
    assert a.status == "spike" and a.detail.method == "static" and a.threshold == 40 * GIB
    assert "too little history (1 of 3 weeks" in a.detail.note
    assert "too little history for a seasonal baseline" in a.message
    assert b.status == "ok" and b.detail.method == "none"
    assert "no static threshold set, so not judged" in b.message


def test_maintenance_exclusion(cloudwatch: Any, region: str, hour: datetime, now: datetime) -> None:
    gw = new_gateway()
    t = hour - 2 * HOUR
    migrations = [t - 4 * WEEK, t - 2 * WEEK]  # two past weeks carried a 10x migration
    spikes = (*(Spike(gw, m, 1, 10.0) for m in migrations), Spike(gw, t, 1, 4.0))
    put_metric_series(cloudwatch, gw, series(gw, hour, spikes=spikes))
    windows = [
        {"start": m.isoformat(), "end": (m + HOUR).isoformat(), "gateways": [gw], "reason": "db migration"}
        for m in migrations
    ] + [{"start": (hour - 5 * HOUR).strftime("%Y-%m-%dT%H"), "end": (hour - 4 * HOUR).isoformat(),
          "reason": "load test"}]  # fmt: skip
    base = {"nat_gateways": [gw], "min_history_weeks": 2}
    plain = judge_egress(job(region, **base), hour - 6 * HOUR, hour, now=now, write_results=False)
    assert by_start(plain.findings, gw)[t].status == "ok"  # the migrations hide the spike
    report = judge_egress(
        job(region, **base, maintenance=windows),
        hour - 6 * HOUR,
        hour,
        now=now,
        write_results=False,
    )
    found = by_start(report.findings, gw)
    assert found[t].status == "spike" and found[t].detail.history_weeks == 2
    assert found[t].baseline == pytest.approx(20 * GIB, rel=0.1)
    excluded = found[hour - 5 * HOUR]
    assert excluded.status == "ok" and excluded.detail.method == "maintenance"
    assert excluded.message == "maintenance window: load test; not judged"


def test_port_allocation_errors(
    cloudwatch: Any, region: str, hour: datetime, now: datetime
) -> None:
    gw = new_gateway()
    put_metric_series(cloudwatch, gw, series(gw, hour))
    errors = {hour - 3 * HOUR: 17.0, hour - 2 * HOUR: 0.0}
    put_metric_series(cloudwatch, gw, errors, metric="ErrorPortAllocation", unit="Count")
    report = judge_egress(
        job(region, nat_gateways=[gw]), hour - 6 * HOUR, hour, now=now, write_results=False
    )
    (port,) = report.problems
    assert port.resource == f"{gw}/ErrorPortAllocation" and port.status == "spike"
    assert port.window_start == hour - 3 * HOUR and port.detail.count == 17
    assert port.bytes is None and port.threshold == 0.0
    assert "could not allocate a source port 17 times" in port.message
    main = by_start(report.findings, gw)
    assert main[hour - 3 * HOUR].status == "ok"
    assert main[hour - 3 * HOUR].detail.port_allocation_errors == 17
    assert main[hour - 2 * HOUR].detail.port_allocation_errors == 0


def nat_gateway(region: str) -> tuple[str, str, str]:
    """A NAT gateway on moto's EC2: (gateway id, network interface id, private IP)."""
    ec2 = boto3.client("ec2", region_name=region)
    vpc = ec2.create_vpc(CidrBlock="10.0.0.0/16")["Vpc"]["VpcId"]
    subnet = ec2.create_subnet(VpcId=vpc, CidrBlock="10.0.0.0/24")["Subnet"]["SubnetId"]
    alloc = ec2.allocate_address(Domain="vpc")["AllocationId"]
    gw = ec2.create_nat_gateway(SubnetId=subnet, AllocationId=alloc)["NatGateway"]
    address = gw["NatGatewayAddresses"][0]
    return gw["NatGatewayId"], address["NetworkInterfaceId"], address["PrivateIp"]


def test_drilldown_names_s3_through_nat_and_stores_results(
    cloudwatch: Any, region: str, hour: datetime, now: datetime, s3_bucket: str
) -> None:
    gw, eni, private_ip = nat_gateway(region)
    t = hour - 2 * HOUR
    put_metric_series(cloudwatch, gw, series(gw, hour, spikes=(Spike(gw, t, 1, 4.0),)))
    flow_uri = f"s3://{s3_bucket}/vpc-flow-logs"
    nat = NatInterface(eni, private_ip=private_ip, region=region)
    store = open_store(flow_uri)
    write_flow_logs(store, nat, t, [
        Talker("10.0.3.17", "52.216.8.1", int(50 * GIB), aws_service="S3"),
        Talker("10.0.3.17", "52.217.9.2", int(10 * GIB), aws_service="S3"),
        Talker("10.0.1.5", "203.0.113.5", int(15 * GIB)),
        Talker("10.0.2.8", "52.94.1.1", int(4 * GIB), aws_service="DYNAMODB"),
    ])  # fmt: skip
    # The hour before has its own traffic, partly delivered into t's partition.
    write_flow_logs(store, nat, t - HOUR, [Talker("10.0.9.9", "198.51.100.1", int(20 * GIB))])
    results = f"s3://{s3_bucket}/results"
    spec = job(region, nat_gateways=[gw], flow_logs_uri=flow_uri, results=results)
    report = judge_egress(spec, hour - 6 * HOUR, hour, now=now)

    (spike,) = report.problems
    assert spike.window_start == t
    dd = spike.detail.drilldown
    assert dd["interface_id"] == eni and dd["flow_log_bytes"] == int(79 * GIB)
    assert dd["top_sources"][0]["talker"] == "10.0.3.17"
    assert dd["top_sources"][0]["bytes"] == int(60 * GIB)
    assert dd["top_destinations"][0] == {
        "talker": "52.216.8.1", "bytes": int(50 * GIB), "packets": dd["top_destinations"][0]["packets"],
        "flows": 6, "aws_service": "S3",
    }  # fmt: skip
    assert [a["service"] for a in dd["gateway_endpoint_avoided"]] == ["S3", "DynamoDB"]
    assert dd["gateway_endpoint_avoided"][0]["share"] == pytest.approx(60 / 79, abs=1e-3)
    assert "Top source 10.0.3.17 (60 GiB); top destination 52.216.8.1" in spike.message
    assert "S3 and DynamoDB gateway VPC endpoints would carry it" in spike.message

    stored = read_results(open_store(results), "egress")
    assert stored.num_rows == len(report.findings) == 6
    assert stored.column("status").to_pylist().count("spike") == 1
    assert all(k.startswith("kind=egress/dt=") for k in report.results_keys)


def test_drilldown_from_v2_flow_logs_says_what_is_missing(
    cloudwatch: Any, region: str, hour: datetime, now: datetime, s3_bucket: str
) -> None:
    from reconcile.egress.flowlogs import V2_FIELDS
    from reconcile.talkers import top_talker

    gw, eni, private_ip = nat_gateway(region)
    t = hour - 2 * HOUR
    put_metric_series(cloudwatch, gw, series(gw, hour, spikes=(Spike(gw, t, 1, 4.0),)))
    flow_uri = f"s3://{s3_bucket}/v2-flow-logs"
    nat = NatInterface(eni, private_ip=private_ip, region=region)
    write_flow_logs(open_store(flow_uri), nat, t, [
        Talker("10.0.3.17", "52.216.8.1", int(50 * GIB), aws_service="S3"),
        Talker("10.0.1.5", "203.0.113.5", int(15 * GIB)),
    ], fields=V2_FIELDS)  # fmt: skip
    spec = job(region, nat_gateways=[gw], flow_logs_uri=flow_uri)
    (spike,) = judge_egress(spec, hour - 6 * HOUR, hour, now=now, write_results=False).problems
    dd = spike.detail.drilldown
    assert dd["top_destinations"][0]["talker"] == "52.216.8.1" and dd["aws_services"] == []
    assert "pkt-dstaddr" in dd["missing_fields"]
    assert "The flow logs lack flow-direction" not in spike.message  # mid-sentence, lower case
    assert "the flow logs lack flow-direction, pkt-srcaddr" in spike.message
    assert "--log-format '${version}" in spike.message
    talker = top_talker(spike.detail)
    assert talker is not None
    assert talker.describe() == "10.0.3.17 (50 GiB) → 52.216.8.1 (50 GiB)"
