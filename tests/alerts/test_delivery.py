"""Delivery to a local receiver over HTTP: signatures, retries, Retry-After, 4xx, outages."""

from __future__ import annotations

import json
import logging
import time
from pathlib import Path

import pytest

from reconcile.alerts import notify
from reconcile.alerts.sinks import WEBHOOK_SCHEMA
from tests.alerts.conftest import SECRET, hour, lf, spec_for
from tests.alerts.receivers import Receiver, Reply
from tests.servers import free_port


def webhook_spec(tmp_path: Path, rec: Receiver, **extra: object):  # type: ignore[no-untyped-def]
    return spec_for(
        str(tmp_path / "state"), webhook_url=rec.url + "/hook", webhook_secret=SECRET, **extra
    )


def test_webhook_is_signed_per_standard_webhooks(tmp_path: Path, receiver: Receiver) -> None:
    spec = webhook_spec(tmp_path, receiver, labels={"team": "sre"})
    report = notify(spec, [lf(2, "gap"), lf(3, "gap"), lf(5, "ok")], now=hour(6))
    assert report.ok and [d.status for d in report.deliveries] == ["sent"]
    (got,) = receiver.at("/hook")
    assert got.verified is True, got.verify_error
    assert got.headers["webhook-id"].startswith("msg_")
    assert abs(int(got.headers["webhook-timestamp"]) - time.time()) < 60
    assert got.headers["webhook-signature"].startswith("v1,")
    assert got.headers["content-type"] == "application/json"
    doc = got.json()
    assert doc["type"] == "reconcile.incident.firing"
    data = doc["data"]
    assert data["schema"] == WEBHOOK_SCHEMA and data["id"] == got.headers["webhook-id"]
    assert data["action"] == "firing" and data["repeat"] is False and data["test"] is False
    assert data["labels"]["team"] == "sre" and data["labels"]["alertname"] == "LogflowLoss"
    inc = data["incident"]
    assert inc["hours"] == 2 and inc["since"] == "2026-11-20T02:00:00Z"
    assert inc["totals"] == {
        "hours": 2,
        "expected": 2000,
        "archived": 1800,
        "ratio": 0.9,
        "indexed": None,
        "hops": [],
    }
    assert [h["window_start"] for h in data["hours"]] == [
        "2026-11-20T02:00:00Z",
        "2026-11-20T03:00:00Z",
    ]
    assert "1,800 of 2,000 requests archived (90%)" in data["summary"]


def test_tampered_or_wrong_secret_fails_verification(tmp_path: Path) -> None:
    """The receiver's check is real: another secret does not verify."""
    other = Receiver(free_port(), secret="whsec_" + "A" * 44).start()
    try:
        notify(webhook_spec(tmp_path, other), [lf(2, "gap")], now=hour(3))
        (got,) = other.at("/hook")
        assert got.verified is False and "signature" in (got.verify_error or "").lower()
    finally:
        other.stop()


def test_500_then_200_is_retried_and_delivered(tmp_path: Path, receiver: Receiver) -> None:
    receiver.reply(Reply(500, "boom"), Reply(503, "busy"))
    report = notify(webhook_spec(tmp_path, receiver), [lf(2, "gap")], now=hour(3))
    assert report.ok
    (d,) = report.deliveries
    assert d.status == "sent" and d.attempts == 3
    got = receiver.at("/hook")
    assert len(got) == 3 and len({g.headers["webhook-id"] for g in got}) == 1
    assert all(g.verified for g in got)  # every attempt is signed afresh
    assert report.pending == []


def test_429_honours_retry_after(tmp_path: Path, receiver: Receiver) -> None:
    receiver.reply(Reply(429, "slow down", {"Retry-After": "1"}))
    report = notify(webhook_spec(tmp_path, receiver), [lf(2, "gap")], now=hour(3))
    assert report.ok and report.deliveries[0].attempts == 2
    first, second = receiver.at("/hook")
    assert second.at - first.at >= 0.95


def test_retry_after_beyond_the_ceiling_leaves_it_pending(
    tmp_path: Path, receiver: Receiver
) -> None:
    receiver.reply(Reply(429, "", {"Retry-After": "120"}))
    t0 = time.monotonic()
    report = notify(webhook_spec(tmp_path, receiver), [lf(2, "gap")], now=hour(3))
    assert time.monotonic() - t0 < 5
    assert not report.ok
    (d,) = report.failed
    assert d.attempts == 1 and "retry after 120s" in (d.error or "")
    assert [p.message_id for p in report.pending] == [d.message_id]


def test_400_is_not_retried_fails_the_run_and_stays_pending(
    tmp_path: Path, receiver: Receiver
) -> None:
    receiver.reply(Reply(400, '{"error": "schema mismatch"}'))
    spec = webhook_spec(tmp_path, receiver)
    report = notify(spec, [lf(2, "gap")], now=hour(3))
    assert not report.ok
    (d,) = report.failed
    assert d.attempts == 1 and len(receiver.at("/hook")) == 1
    assert d.error == 'HTTP 400: {"error": "schema mismatch"} (not retried)'
    assert [p.message_id for p in report.pending] == [d.message_id]
    assert report.per_sink()["webhook"].pending == 1
    # The receiver is fixed: the next run delivers the same message once, with the same id.
    report = notify(spec, [lf(3, "gap")], now=hour(4))
    assert report.ok and [x.status for x in report.deliveries] == ["sent"]
    got = receiver.at("/hook")
    assert len(got) == 2 and got[1].headers["webhook-id"] == d.message_id
    assert got[1].json()["data"]["incident"]["hours"] == 2
    assert report.pending == []
    report = notify(spec, [], now=hour(5))
    assert report.deliveries == [] and len(receiver.at("/hook")) == 2


def test_receiver_down_for_a_whole_run_then_back_delivers_exactly_once(tmp_path: Path) -> None:
    port = free_port()
    rec = Receiver(port, secret=SECRET)
    spec = webhook_spec(tmp_path, rec)  # nothing listens on the port yet
    report = notify(spec, [lf(2, "gap")], now=hour(3))
    assert not report.ok
    (d,) = report.failed
    assert d.attempts == 4 and "connection refused" in (d.error or "")
    rec.start()
    try:
        report = notify(spec, [lf(2, "gap")], now=hour(4))
        assert report.ok and [x.status for x in report.deliveries] == ["sent"]
        for h in (5, 6):
            report = notify(spec, [lf(2, "gap")], now=hour(h))
            assert report.deliveries == [] and report.ok
        got = rec.at("/hook")
        assert len(got) == 1 and got[0].headers["webhook-id"] == d.message_id and got[0].verified
    finally:
        rec.stop()


def test_timeout_is_retried(tmp_path: Path, receiver: Receiver) -> None:
    receiver.reply(Reply(200, "late", delay=1.5))
    spec = webhook_spec(tmp_path, receiver, timeout_s=0.5)
    report = notify(spec, [lf(2, "gap")], now=hour(3))
    assert report.ok and report.deliveries[0].attempts == 2


def test_secrets_never_appear_in_logs_errors_or_reports(
    tmp_path: Path, receiver: Receiver, caplog: pytest.LogCaptureFixture
) -> None:
    token = "T0000/B0000/XXXXSECRETXXXX"
    routing = "R0UTINGKEYSECRET0123456789abcdef"
    dead = free_port()
    receiver.reply(Reply(401, f"bad key {routing}"))
    spec = spec_for(
        str(tmp_path / "state"),
        slack_webhook_url=f"http://127.0.0.1:{dead}/services/{token}",
        webhook_url=f"http://127.0.0.1:{dead}/hook?token={token}",
        webhook_secret=SECRET,
        routing_key=routing,
        pagerduty_url=receiver.url + "/pd",
        retries=1,
    )
    caplog.set_level(logging.DEBUG)
    report = notify(spec, [lf(2, "gap")], now=hour(3))
    assert not report.ok and len(report.failed) == 3
    dry = notify(spec, [lf(2, "gap")], now=hour(3), dry_run=True)
    text = json.dumps(report.as_dict()) + json.dumps(dry.as_dict()) + caplog.text
    for secret in (token, routing, SECRET, SECRET[6:]):
        assert secret not in text
    pd = next(d for d in report.failed if d.sink == "pagerduty")
    assert pd.error == "HTTP 401: bad key *** (not retried)"
    assert {d.location for d in report.failed} >= {f"http://127.0.0.1:{dead}/***"}
    body = next(d for d in dry.deliveries if d.sink == "pagerduty").payload["body"]  # type: ignore[index]
    assert body["routing_key"] == "***"
    # ... while the real request did carry the key.
    assert receiver.at("/pd")[0].json()["routing_key"] == routing


def test_dry_run_sends_nothing_and_keeps_no_state(tmp_path: Path, receiver: Receiver) -> None:
    spec = webhook_spec(tmp_path, receiver)
    report = notify(spec, [lf(2, "gap")], now=hour(3), dry_run=True)
    assert report.ok and report.dry_run
    (d,) = report.deliveries
    assert d.status == "dry_run" and d.payload is not None
    assert d.payload["body"]["type"] == "reconcile.incident.firing"
    assert d.payload["headers"]["webhook-signature"].startswith("v1,<")
    assert receiver.received == []
    assert not (tmp_path / "state" / "hub" / "state.json").exists()
    # The real run afterwards still sends.
    assert notify(spec, [lf(2, "gap")], now=hour(3)).deliveries[0].status == "sent"
