"""Planning rules on the pure state: grouping across runs, repeats, resolutions, pending."""

from __future__ import annotations

from datetime import timedelta

from reconcile.alerts import AlertsConfig
from reconcile.alerts.plan import apply_findings, mark_delivered, plan, prune
from reconcile.alerts.state import AlertState
from tests.alerts.conftest import eg, hour, lf

SEV = AlertsConfig().severity_map()
REPEAT = timedelta(hours=4)


def run(state, findings, now, sinks=("webhook",), every_run=()):  # type: ignore[no-untyped-def]
    """Apply, plan, and deliver everything (as a run with healthy sinks would)."""
    apply_findings(state, findings, SEV, now)
    suppressed = plan(state, sinks, now, REPEAT, every_run)
    sent = list(state.pending)
    for note in sent:
        mark_delivered(state, note, now, None)
    return sent, suppressed


def test_hourly_runs_extend_one_incident_and_send_once() -> None:
    state = AlertState("hub")
    sent, _ = run(state, [lf(2, "gap")], hour(3))
    assert [(n.action, n.repeat) for n in sent] == [("firing", False)]
    key = sent[0].incident.key
    # The next hourly runs judge only their new hour: still one incident, nothing new sent.
    for h in (3, 4):
        sent, suppressed = run(state, [lf(h, "gap")], hour(h + 1))
        assert sent == [] and [s.incident for s in suppressed] == [key]
    (tracked,) = state.incidents.values()
    assert tracked.incident.hours == 3 and tracked.incident.since == hour(2)


def test_firing_incident_repeats_only_after_the_interval() -> None:
    state = AlertState("hub")
    run(state, [lf(2, "gap")], hour(3))
    sent, suppressed = run(state, [lf(3, "gap")], hour(3) + REPEAT - timedelta(minutes=1))
    assert sent == [] and suppressed[0].next_due == hour(3) + REPEAT
    sent, _ = run(state, [], hour(3) + REPEAT)
    assert [(n.action, n.repeat) for n in sent] == [("firing", True)]
    assert sent[0].incident.hours == 2  # the reminder carries the incident as it is now
    sent, suppressed = run(state, [], hour(3) + REPEAT + timedelta(hours=1))
    assert sent == [] and len(suppressed) == 1


def test_alertmanager_gets_firing_alerts_every_run() -> None:
    state = AlertState("hub")
    sent, _ = run(
        state, [lf(2, "gap")], hour(3), sinks=("alertmanager", "slack"), every_run={"alertmanager"}
    )
    assert sorted(n.sink for n in sent) == ["alertmanager", "slack"]
    sent, suppressed = run(
        state, [], hour(4), sinks=("alertmanager", "slack"), every_run={"alertmanager"}
    )
    assert [n.sink for n in sent] == ["alertmanager"] and [s.sink for s in suppressed] == ["slack"]


def test_backfill_recheck_resolves_once() -> None:
    state = AlertState("hub")
    run(state, [lf(2, "gap"), lf(3, "missing"), lf(4, "gap")], hour(5))
    # A partial backfill: two hours reconcile, one is still bad -> still firing, nothing sent.
    sent, _ = run(state, [lf(2, "ok"), lf(3, "ok")], hour(6))
    (tracked,) = state.incidents.values()
    assert sent == [] and tracked.incident.firing and tracked.incident.hours == 1
    sent, _ = run(state, [lf(4, "ok")], hour(7))
    assert [n.action for n in sent] == ["resolved"]
    inc = sent[0].incident
    assert inc.resolution == "reconciled" and inc.hours == 3
    assert inc.summary().startswith("[hub] log loss on app/hub/abc123, 3 h from")
    assert "3,000 of 3,000 requests archived (100%)" in inc.summary()
    # Resolved is sent once.
    sent, suppressed = run(state, [lf(2, "ok"), lf(3, "ok"), lf(4, "ok")], hour(8))
    assert sent == [] and suppressed == []


def test_logflow_incident_stays_firing_when_later_hours_are_fine() -> None:
    state = AlertState("hub")
    run(state, [lf(2, "gap")], hour(3))
    sent, suppressed = run(state, [lf(3, "ok"), lf(4, "ok")], hour(5))
    assert sent == [] and len(suppressed) == 1  # lost logs stay lost until backfilled


def test_egress_spike_resolves_when_traffic_is_normal_again() -> None:
    state = AlertState("hub")
    sent, _ = run(state, [eg(2, "spike"), eg(3, "spike")], hour(4))
    assert len(sent) == 1 and sent[0].incident.hours == 2
    sent, _ = run(state, [eg(4, "ok")], hour(5))
    assert [n.action for n in sent] == ["resolved"]
    assert sent[0].incident.resolution == "recovered"
    assert "egress spike on nat-0abc is over: it lasted 2 h" in sent[0].incident.summary()


def test_spike_first_seen_after_it_ended_is_still_reported_then_resolved() -> None:
    state = AlertState("hub")
    # A late run (or a re-check) sees the spike and the normal hour after it in one pass.
    sent, _ = run(state, [eg(2, "spike"), eg(3, "ok")], hour(5))
    assert [n.action for n in sent] == ["firing"]
    first = sent[0].incident.summary()  # states the peak, not the recovery hour's figures
    assert "already over" in first and "peak 4.66 GiB/h at 2026-11-20 02:00 UTC" in first
    assert "Back to normal at 2026-11-20 03:00 UTC" in first
    sent, _ = run(state, [eg(4, "ok")], hour(6))
    assert [n.action for n in sent] == ["resolved"]
    sent, _ = run(state, [eg(5, "ok")], hour(7))
    assert sent == []


def test_gap_after_a_fine_hour_is_a_new_incident_and_reopen_after_resolution() -> None:
    state = AlertState("hub")
    first, _ = run(state, [lf(2, "gap")], hour(3))
    second, _ = run(state, [lf(3, "ok"), lf(4, "gap")], hour(5))
    assert len(second) == 1 and second[0].incident.key != first[0].incident.key
    # Hour 2 reconciles (resolved), then goes bad again: the same key fires anew.
    resolved, _ = run(state, [lf(2, "ok")], hour(6))
    assert [(n.action, n.incident.key) for n in resolved] == [("resolved", first[0].incident.key)]
    again, _ = run(state, [lf(2, "gap")], hour(7))
    assert [(n.action, n.repeat, n.incident.key) for n in again] == [
        ("firing", False, first[0].incident.key)
    ]


def test_status_family_change_moves_the_hour() -> None:
    state = AlertState("hub")
    run(state, [lf(2, "gap"), lf(3, "gap")], hour(4))
    # A bad backfill duplicated hour 3: it leaves the loss incident and opens a surplus one.
    sent, _ = run(state, [lf(3, "surplus")], hour(5))
    assert [n.incident.family for n in sent] == ["surplus"]
    fams = {t.incident.family: t.incident.hours for t in state.incidents.values()}
    assert fams == {"loss": 1, "surplus": 1}


def test_pending_notification_keeps_its_id_and_is_replaced_by_resolution() -> None:
    state = AlertState("hub")
    apply_findings(state, [lf(2, "gap")], SEV, hour(3))
    plan(state, ["webhook"], hour(3), REPEAT)
    (note,) = state.pending
    # Not delivered; the next run plans the same message again: same id, fresher incident.
    apply_findings(state, [lf(3, "gap")], SEV, hour(4))
    plan(state, ["webhook"], hour(4), REPEAT)
    (again,) = state.pending
    assert again.id == note.id and again.incident.hours == 2
    # Resolved before the firing message got through: the resolution replaces it.
    apply_findings(state, [lf(2, "ok"), lf(3, "ok")], SEV, hour(5))
    plan(state, ["webhook"], hour(5), REPEAT)
    (last,) = state.pending
    assert last.action == "resolved" and last.id != note.id


def test_pending_findings_change_nothing_and_prune_forgets_old_resolved() -> None:
    state = AlertState("hub")
    run(state, [lf(2, "gap")], hour(3))
    run(state, [lf(2, "pending")], hour(4))
    (tracked,) = state.incidents.values()
    assert tracked.incident.firing
    run(state, [lf(2, "ok")], hour(5))
    prune(state, hour(5) + timedelta(days=1), {"webhook"})
    assert len(state.incidents) == 1
    prune(state, hour(5) + timedelta(days=8), {"webhook"})
    assert state.incidents == {}


def test_state_round_trips() -> None:
    state = AlertState("hub")
    run(state, [lf(2, "gap"), eg(2, "spike")], hour(3))
    apply_findings(state, [lf(3, "gap")], SEV, hour(4))
    plan(state, ["webhook", "slack"], hour(4), REPEAT)
    again = AlertState.from_json(state.to_json(), "hub")
    assert again.to_json() == state.to_json()
    assert len(again.pending) == 2 and len(again.incidents) == 2
