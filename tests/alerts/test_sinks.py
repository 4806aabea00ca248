"""Slack and PagerDuty payloads, checked on the wire through a local receiver."""

from __future__ import annotations

from pathlib import Path

from reconcile.alerts import notify, send_test
from tests.alerts.conftest import SECRET, eg, hour, lf, spec_for
from tests.alerts.receivers import Receiver

ROUTING = "0123456789abcdef0123456789abcdef"


def test_slack_message_is_readable_with_fallback_text(tmp_path: Path, receiver: Receiver) -> None:
    spec = spec_for(
        str(tmp_path / "s"),
        slack_webhook_url=receiver.url + "/slack",
        runbook_url="https://wiki/rb",
    )
    assert notify(spec, [eg(2, "spike"), eg(3, "spike")], now=hour(4)).ok
    (got,) = receiver.at("/slack")
    doc = got.json()
    assert doc["text"].startswith(":red_circle: [FIRING] [hub] egress spike on nat-0abc")
    blocks = doc["blocks"]
    assert [b["type"] for b in blocks] == ["header", "section", "section", "section", "context"]
    assert blocks[0]["text"] == {
        "type": "plain_text",
        "text": "FIRING: Egress spike: hub / nat-0abc",
        "emoji": True,
    }
    fields = [f["text"] for f in blocks[2]["fields"]]
    assert "*Top talker*\n10.0.1.23 (4.47 GiB) → 203.0.113.9 (4.47 GiB)" in fields
    assert "*Hours*\n2" in fields and len(fields) <= 10
    assert all(len(f) <= 2000 for f in fields) and len(blocks[0]["text"]["text"]) <= 150
    assert "reconcile egress" in blocks[3]["text"]["text"]
    assert "<https://wiki/rb|runbook>" in blocks[4]["elements"][0]["text"]
    # Resolution: green, once.
    assert notify(spec, [eg(4, "ok")], now=hour(5)).ok
    resolved = receiver.at("/slack")[1].json()
    assert resolved["text"].startswith(":large_green_circle: [RESOLVED] [hub] egress spike")
    assert resolved["blocks"][0]["text"]["text"].startswith("RESOLVED: Egress spike")


def test_pagerduty_trigger_and_resolve_share_a_dedup_key(
    tmp_path: Path, receiver: Receiver
) -> None:
    spec = spec_for(
        str(tmp_path / "s"),
        routing_key=ROUTING,
        pagerduty_url=receiver.url + "/v2/enqueue",
        runbook_url="https://wiki/rb",
    )
    receiver.reply()
    assert notify(spec, [lf(2, "gap"), lf(3, "gap")], now=hour(4)).ok
    assert notify(spec, [lf(2, "ok"), lf(3, "ok")], now=hour(5)).ok
    trigger, resolve = (r.json() for r in receiver.at("/v2/enqueue"))
    assert trigger["routing_key"] == ROUTING and trigger["event_action"] == "trigger"
    assert trigger["dedup_key"].startswith("reconcile/hub/") and len(trigger["dedup_key"]) <= 255
    payload = trigger["payload"]
    assert set(payload) == {
        "summary",
        "source",
        "severity",
        "timestamp",
        "component",
        "group",
        "class",
        "custom_details",
    }
    assert payload["source"] == "app/hub/abc123" and payload["severity"] == "critical"
    assert payload["component"] == "logflow" and payload["group"] == "hub"
    assert payload["class"] == "gap" and len(payload["summary"]) <= 1024
    assert payload["custom_details"]["totals"]["expected"] == 2000
    assert trigger["links"] == [{"href": "https://wiki/rb", "text": "Runbook"}]
    assert resolve == {
        "routing_key": ROUTING,
        "dedup_key": trigger["dedup_key"],
        "event_action": "resolve",
    }


def test_send_test_reaches_every_sink_clearly_marked(tmp_path: Path, receiver: Receiver) -> None:
    spec = spec_for(
        str(tmp_path / "s"),
        webhook_url=receiver.url + "/hook",
        webhook_secret=SECRET,
        slack_webhook_url=receiver.url + "/slack",
        routing_key=ROUTING,
        pagerduty_url=receiver.url + "/pd",
    )
    report = send_test(spec)
    assert report.ok
    assert [(d.sink, d.action) for d in report.deliveries] == [
        ("webhook", "test"),
        ("slack", "test"),
        ("pagerduty", "test"),
        ("pagerduty", "resolved"),
    ]
    (hook,) = receiver.at("/hook")
    assert hook.verified and hook.json()["type"] == "reconcile.test"
    assert hook.json()["data"]["test"] is True
    assert hook.json()["data"]["summary"].startswith("TEST notification")
    (slack,) = receiver.at("/slack")
    assert slack.json()["text"].startswith(":test_tube: TEST notification")
    trig, res = (r.json() for r in receiver.at("/pd"))
    assert trig["payload"]["severity"] == "info" and "TEST" in trig["payload"]["summary"]
    assert trig["dedup_key"].startswith("reconcile-test/") and res["event_action"] == "resolve"
    assert res["dedup_key"] == trig["dedup_key"]
    assert not (tmp_path / "s").exists()  # the test keeps no state
