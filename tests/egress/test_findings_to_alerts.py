"""Through the real path: CloudWatch metrics on moto and flow-log Parquet in moto's S3 ->
judge_egress -> notify (signed webhook, Slack, PagerDuty, a real Alertmanager) and the
HTML report. Each sink and the report must name the top talker and the S3-through-NAT
callout; a spike first seen after it ended must state its peak, then resolve."""

from __future__ import annotations

import json
import urllib.parse
import urllib.request
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest

from reconcile.alerts import notify
from reconcile.demo.nat_traffic import (
    GIB,
    NatInterface,
    Spike,
    Talker,
    put_metric_series,
    write_flow_logs,
)
from reconcile.egress.run import judge_egress
from reconcile.findings import Finding
from reconcile.job import JobSpec
from reconcile.report import build_report
from reconcile.storage import open_store
from reconcile.timewin import HOUR
from tests.alerts.conftest import SECRET
from tests.alerts.receivers import Receiver
from tests.egress.test_egress_moto import nat_gateway, series

pytestmark = pytest.mark.integration

ROUTING = "0123456789abcdef0123456789abcdef"
HOST = "10.0.3.17"
TOP_TALKER = f"{HOST} (60 GiB) → 52.216.8.1 (S3, 50 GiB)"
S3_NOTE = "S3 (60 GiB, 81% of the flow-logged bytes) goes through the NAT gateway"


def spike_findings(
    region: str, bucket: str, hour: datetime, now: datetime, spike_at: datetime
) -> list[Finding]:
    """A 4x spike at ``spike_at`` with its flow logs, judged by judge_egress."""
    gw, eni, private_ip = nat_gateway(region)
    import boto3

    cw = boto3.client("cloudwatch", region_name=region)
    put_metric_series(cw, gw, series(gw, hour, spikes=(Spike(gw, spike_at, 1, 4.0),)))
    flow_uri = f"s3://{bucket}/vpc-flow-logs"
    nat = NatInterface(eni, private_ip=private_ip, region=region)
    write_flow_logs(open_store(flow_uri), nat, spike_at, [
        Talker(HOST, "52.216.8.1", int(50 * GIB), aws_service="S3"),
        Talker(HOST, "52.217.9.2", int(10 * GIB), aws_service="S3"),
        Talker("10.0.1.5", "203.0.113.5", int(14 * GIB)),
    ])  # fmt: skip
    spec = JobSpec.model_validate(
        {"name": "egress-test", "egress": {"region": region, "nat_gateways": [gw],
                                          "flow_logs_uri": flow_uri}}
    )  # fmt: skip
    return judge_egress(spec, hour - 6 * HOUR, hour, now=now, write_results=False).findings


def alert_spec(tmp_path: Path, receiver: Receiver, alertmanager: str) -> JobSpec:
    return JobSpec.model_validate(
        {
            "name": "egress-test",
            "alerts": {
                "state_uri": str(tmp_path / "state"),
                "webhook_url": receiver.url + "/hook",
                "webhook_secret": SECRET,
                "slack_webhook_url": receiver.url + "/slack",
                "routing_key": ROUTING,
                "pagerduty_url": receiver.url + "/pd",
                "alertmanager_url": alertmanager,
                "timeout_s": 5.0,
                "retries": 1,
            },
        }
    )


def am_alerts(base: str, incident: str) -> list[dict[str, Any]]:
    query = urllib.parse.urlencode({"filter": f'incident="{incident}"'})
    with urllib.request.urlopen(f"{base}/api/v2/alerts?{query}", timeout=5) as resp:
        return json.loads(resp.read())


def test_every_sink_and_the_report_name_the_top_talker_and_s3(
    region: str,
    s3_bucket: str,
    hour: datetime,
    now: datetime,
    tmp_path: Path,
    receiver: Receiver,
    alertmanager: str,
) -> None:
    t = hour - HOUR  # the latest judged hour: the incident is still firing
    findings = spike_findings(region, s3_bucket, hour, now, t)
    (spike,) = [f for f in findings if f.is_problem]
    assert spike.window_start == t and spike.detail.drilldown is not None

    report = notify(alert_spec(tmp_path, receiver, alertmanager), findings, now=now)
    assert report.ok, report.as_dict()
    assert sorted(d.sink for d in report.deliveries) == [
        "alertmanager", "pagerduty", "slack", "webhook",
    ]  # fmt: skip
    peak = f"at {t:%Y-%m-%d %H:%M} UTC"

    (hook,) = receiver.at("/hook")
    assert hook.verified, hook.verify_error
    data = hook.json()["data"]
    assert TOP_TALKER in data["summary"] and S3_NOTE in data["summary"] and peak in data["summary"]
    assert data["incident"]["top_talker"] == TOP_TALKER
    assert "S3 gateway VPC endpoint" in data["incident"]["endpoint_note"]

    (slack,) = receiver.at("/slack")
    fields = [f["text"] for f in slack.json()["blocks"][2]["fields"]]
    assert f"*Top talker*\n{TOP_TALKER}" in fields
    assert any(f.startswith("*Gateway endpoint*\nTraffic to " + S3_NOTE) for f in fields)

    (pd,) = receiver.at("/pd")
    payload = pd.json()["payload"]
    assert TOP_TALKER in payload["summary"] and S3_NOTE in payload["summary"]
    assert payload["custom_details"]["top_talker"] == TOP_TALKER

    key = next(d.incident for d in report.deliveries if d.sink == "alertmanager")
    (active,) = am_alerts(alertmanager, key)
    assert TOP_TALKER in active["annotations"]["summary"]
    assert S3_NOTE in active["annotations"]["summary"]

    html = build_report([], findings, "egress-test", hour - 6 * HOUR, hour)
    # The report writes binary units (one presentation module is still to come).
    assert "top talker 10.0.3.17 (60 GiB) → 52.216.8.1 (S3, 50 GiB)" in html
    assert "an S3 gateway VPC endpoint would carry it privately" in html


def test_spike_seen_late_states_its_peak_then_resolves(
    region: str,
    s3_bucket: str,
    hour: datetime,
    now: datetime,
    tmp_path: Path,
    receiver: Receiver,
    alertmanager: str,
) -> None:
    t = hour - 4 * HOUR  # over: three normal hours follow it in the judged range
    findings = spike_findings(region, s3_bucket, hour, now, t)
    assert [f.window_start for f in findings if f.is_problem] == [t]

    report = notify(alert_spec(tmp_path, receiver, alertmanager), findings, now=now)
    assert report.ok, report.as_dict()
    actions = {s: [d.action for d in report.deliveries if d.sink == s] for s in
               ("webhook", "slack", "pagerduty", "alertmanager")}  # fmt: skip
    assert all(a == ["firing", "resolved"] for a in actions.values()), actions

    first, last = (r.json()["data"] for r in receiver.at("/hook"))
    peak_bytes = f"peak {spike_gb(findings, t)}/h at {t:%Y-%m-%d %H:%M} UTC"
    assert first["action"] == "firing" and "already over" in first["summary"]
    assert peak_bytes in first["summary"] and TOP_TALKER in first["summary"]
    assert f"Back to normal at {t + HOUR:%Y-%m-%d %H:%M} UTC" in first["summary"]
    assert last["action"] == "resolved" and peak_bytes in last["summary"]

    slack_first = receiver.at("/slack")[0].json()
    assert slack_first["text"].startswith(":red_circle: [FIRING]")
    assert peak_bytes in slack_first["text"]
    trigger, resolve = (r.json() for r in receiver.at("/pd"))
    assert peak_bytes in trigger["payload"]["summary"]
    assert resolve["event_action"] == "resolve" and resolve["dedup_key"] == trigger["dedup_key"]
    key = next(d.incident for d in report.deliveries if d.sink == "alertmanager")
    assert am_alerts(alertmanager, key) == []  # resolved in the same run

    # The next run says nothing more.
    again = notify(alert_spec(tmp_path, receiver, alertmanager), findings, now=now + HOUR)
    assert again.deliveries == []


def spike_gb(findings: list[Finding], t: datetime) -> str:
    from reconcile.present import fmt_bytes

    (spike,) = [f for f in findings if f.window_start == t and f.is_problem]
    return fmt_bytes(spike.bytes)
