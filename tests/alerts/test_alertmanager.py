"""Against a real Alertmanager (Debian's prometheus-alertmanager) on loopback."""

from __future__ import annotations

import json
import urllib.parse
import urllib.request
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from reconcile.alerts import notify
from reconcile.timewin import floor_hour
from tests.alerts.conftest import spec_for, wait_for
from tests.alerts.receivers import Receiver

pytestmark = pytest.mark.integration


def am_alerts(base: str, incident: str, **params: str) -> list[dict[str, Any]]:
    query = urllib.parse.urlencode({"filter": f'incident="{incident}"', **params})
    with urllib.request.urlopen(f"{base}/api/v2/alerts?{query}", timeout=5) as resp:
        return json.loads(resp.read())


def parse(ts: str) -> datetime:
    return datetime.fromisoformat(ts.replace("Z", "+00:00"))


def test_alert_fires_with_labels_then_resolves(
    tmp_path: Path, alertmanager: str, am_receiver: Receiver
) -> None:
    now = datetime.now(UTC)
    h0 = floor_hour(now) - timedelta(hours=3)

    def at(offset: int, status: str):  # type: ignore[no-untyped-def]
        return _finding(h0 + timedelta(hours=offset), status)

    spec = spec_for(str(tmp_path / "state"), alertmanager_url=alertmanager, labels={"team": "sre"})
    report = notify(spec, [at(0, "gap"), at(1, "missing")], now=now)
    assert report.ok, report.as_dict()
    (d,) = report.deliveries
    assert d.sink == "alertmanager" and d.status == "sent"
    key = d.incident

    alerts = am_alerts(alertmanager, key)
    assert len(alerts) == 1
    a = alerts[0]
    assert a["labels"] == {
        "alertname": "LogflowLoss",
        "job": "hub",
        "kind": "logflow",
        "resource": "app/hub/abc123",
        "severity": "critical",
        "incident": key,
        "team": "sre",
    }
    assert a["status"]["state"] == "active"
    assert "nothing archived" not in a["annotations"]["summary"]
    assert "2 hours since" in a["annotations"]["summary"]
    assert a["annotations"]["hours"] == "2"
    assert parse(a["startsAt"]) == h0
    assert parse(a["endsAt"]) > now + timedelta(hours=2)

    # Alertmanager itself notifies its receiver that the alert fires.
    fired = wait_for(lambda: [r for r in am_receiver.at("/am") if _mentions(r, key, "firing")])
    assert fired, "Alertmanager did not notify the firing alert"

    # The next run re-sends it (Alertmanager expects clients to refresh firing alerts).
    report = notify(spec, [at(2, "ok")], now=now + timedelta(minutes=1))
    assert [x.action for x in report.deliveries] == ["firing"]
    assert len(am_alerts(alertmanager, key)) == 1

    # A backfill re-check: the hours reconcile, the alert resolves in Alertmanager.
    report = notify(spec, [at(0, "ok"), at(1, "ok")], now=now + timedelta(minutes=2))
    assert report.ok and [x.action for x in report.deliveries] == ["resolved"]
    assert wait_for(lambda: am_alerts(alertmanager, key) == [], timeout=10)
    resolved = wait_for(lambda: [r for r in am_receiver.at("/am") if _mentions(r, key, "resolved")])
    assert resolved, "Alertmanager did not notify the resolution"
    (got,) = [a for a in resolved[-1].json()["alerts"] if a["labels"]["incident"] == key]
    assert got["status"] == "resolved" and got["labels"]["alertname"] == "LogflowLoss"
    assert parse(got["endsAt"]) <= datetime.now(UTC)

    # Resolved is sent once.
    report = notify(spec, [at(0, "ok"), at(1, "ok")], now=now + timedelta(minutes=3))
    assert report.deliveries == []


def test_alertmanager_rejects_nonsense_without_retry(tmp_path: Path, alertmanager: str) -> None:
    """A 4xx from Alertmanager is reported clearly and not retried."""
    from reconcile.alerts.config import Redactor
    from reconcile.alerts.deliver import HttpRequest, RetryPolicy, Transport, send

    outcome = send(
        "alertmanager",
        lambda: HttpRequest(alertmanager + "/api/v2/alerts", b'[{"labels": {}}]'),
        RetryPolicy(timeout_s=5, retries=3, initial_wait_s=0.01),
        Redactor([]),
        Transport(),
    )
    assert not outcome.ok and outcome.attempts == 1 and outcome.status == 400
    assert outcome.error and outcome.error.startswith("HTTP 400") and "not retried" in outcome.error


def _finding(when: datetime, status: str):  # type: ignore[no-untyped-def]
    from reconcile.findings import Finding

    archived = {"gap": 900, "missing": 0}.get(status, 1000)
    return Finding(
        job="hub",
        kind="logflow",
        resource="app/hub/abc123",
        window_start=when,
        status=status,
        expected=1000,
        archived=archived,
        ratio=archived / 1000,
    )


def _mentions(rec: Any, key: str, status: str) -> bool:
    doc = rec.json()
    return any(
        a["labels"].get("incident") == key and a["status"] == status for a in doc.get("alerts", [])
    )
