"""Findings to alerts and incidents: fingerprints, grouping, and the words people read."""

from __future__ import annotations

from datetime import timedelta

from reconcile.alerts import AlertsConfig, group
from reconcile.alerts.model import Alert, Incident, fingerprint, incident_key
from reconcile.alerts.plan import apply_findings
from reconcile.alerts.state import AlertState
from tests.alerts.conftest import eg, hour, lf

SEV = AlertsConfig().severity_map()


def alerts(*findings):  # type: ignore[no-untyped-def]
    return [Alert.from_finding(f, SEV) for f in findings]


def test_fingerprint_is_stable_and_distinct() -> None:
    a = fingerprint("hub", "logflow", "app/hub/abc123", hour(2))
    assert a == fingerprint("hub", "logflow", "app/hub/abc123", hour(2))
    assert len(a) == 16
    others = {
        fingerprint("hub2", "logflow", "app/hub/abc123", hour(2)),
        fingerprint("hub", "egress", "app/hub/abc123", hour(2)),
        fingerprint("hub", "logflow", "app/hub/other", hour(2)),
        fingerprint("hub", "logflow", "app/hub/abc123", hour(3)),
    }
    assert a not in others and len(others) == 4
    assert Alert.from_finding(lf(2, "gap"), SEV).fingerprint == a


def test_consecutive_bad_hours_group_into_one_incident() -> None:
    found = alerts(lf(2, "gap"), lf(3, "missing"), lf(4, "gap"), lf(7, "gap"), lf(5, "ok"))
    incidents = group(found, hour(9))
    assert len(incidents) == 2
    first, second = incidents
    assert first.hours == 3 and first.since == hour(2) and first.until == hour(5)
    assert first.family == "loss" and first.status == "gap"
    assert first.key == incident_key("hub", "logflow", "app/hub/abc123", "loss", hour(2))
    assert second.hours == 1 and second.since == hour(7)


def test_grouping_separates_resources_kinds_and_families() -> None:
    found = alerts(
        lf(2, "gap"),
        lf(3, "surplus"),
        lf(2, "gap", resource="app/other/1"),
        eg(2, "spike"),
        eg(3, "spike"),
    )
    incidents = group(found, hour(9))
    keys = {(i.kind, i.resource, i.family, i.hours) for i in incidents}
    assert keys == {
        ("logflow", "app/hub/abc123", "loss", 1),
        ("logflow", "app/hub/abc123", "surplus", 1),
        ("logflow", "app/other/1", "loss", 1),
        ("egress", "nat-0abc", "spike", 2),
    }


def test_loss_summary_says_what_how_much_how_long_since_when() -> None:
    inc = group(alerts(lf(2, "gap", 1000, 900), lf(3, "gap", 2000, 1500)), hour(9))[0]
    text = inc.summary()
    assert "[hub]" in text and "app/hub/abc123" in text
    assert "2 hours since 2026-11-20 02:00 UTC" in text
    assert "2,400 of 3,000 requests archived (80%)" in text
    assert "600 missing" in text
    desc = inc.description()
    assert "2026-11-20 03:00 gap: 1,500 archived / 2,000 expected (75%)" in desc
    assert "reconcile backfill" in desc and "--from 2026-11-20T02 --to 2026-11-20T04" in desc
    assert inc.severity == "critical"
    assert inc.labels({"team": "sre"}) == {
        "team": "sre",
        "alertname": "LogflowLoss",
        "job": "hub",
        "kind": "logflow",
        "resource": "app/hub/abc123",
        "severity": "critical",
        "incident": inc.key,
    }


def test_missing_summary_and_surplus_summary() -> None:
    missing = group(alerts(lf(2, "missing", 5000, 0)), hour(9))[0]
    assert "nothing archived" in missing.summary() and "5,000 requests served" in missing.summary()
    surplus = group(alerts(lf(2, "surplus", 1000, 1300)), hour(9))[0]
    assert "300 extra (duplicates?)" in surplus.summary()
    assert surplus.severity == "warning"


def test_egress_summary_names_bytes_baseline_and_top_talker() -> None:
    inc = group(alerts(eg(2, "spike", 5_000_000_000), eg(3, "spike", 3_000_000_000)), hour(9))[0]
    text = inc.summary()
    assert "egress spike on nat-0abc" in text
    assert "peak 4.66 GiB/h at 2026-11-20 02:00 UTC vs baseline 114 MiB" in text
    assert "threshold 954 MiB" in text and "7.45 GiB in all" in text
    assert "10.0.1.23 (4.47 GiB) → 203.0.113.9 (4.47 GiB)" in text
    assert inc.public()["top_talker"] == "10.0.1.23 (4.47 GiB) → 203.0.113.9 (4.47 GiB)"
    assert "reconcile egress" in inc.next_step() and "--nat-gateway nat-0abc" in inc.next_step()


def test_incident_round_trips_through_json_form() -> None:
    state = AlertState("hub")
    apply_findings(state, [lf(2, "gap"), lf(3, "gap")], SEV, hour(5))
    apply_findings(state, [lf(2, "ok")], SEV, hour(6))
    (tracked,) = state.incidents.values()
    inc = tracked.incident
    again = Incident.from_dict(inc.to_dict())
    assert again.to_dict() == inc.to_dict()
    assert again.summary() == inc.summary()
    assert list(again.cleared) == ["2026-11-20T02:00:00Z"]


def test_severity_mapping_is_configurable() -> None:
    cfg = AlertsConfig.model_validate({"severity": "gap=warning,surplus=info"})
    sev = cfg.severity_map()
    assert sev["gap"] == "warning" and sev["surplus"] == "info" and sev["missing"] == "critical"
    inc = group([Alert.from_finding(lf(2, "gap"), sev)], hour(3))[0]
    assert inc.severity == "warning"
    # A later, worse hour raises the incident's severity (never lowers it).
    inc.add(Alert.from_finding(lf(3, "missing"), sev))
    assert inc.severity == "critical"
    inc.add(Alert.from_finding(lf(4, "gap"), sev))
    assert inc.severity == "critical"
    assert timedelta(hours=4) == cfg.repeat_interval
