"""The retention guard from ILM answers. No local server has ILM (noida-db answers 400), so
the answers are recorded in Elasticsearch 8's documented shape and served by a stub client:
the one place in the suite where such a fake stands in for a server."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from reconcile.archive.layout import Manifest
from reconcile.archive.read import WindowArchive
from reconcile.check.indexed import guard_findings, retention_guard
from reconcile.findings import LOGFLOW, Finding
from reconcile.source.config import SourceConfig
from reconcile.source.elastic import ElasticSource
from reconcile.source.retention import RetentionGuard, es_time, lives_from_ilm
from reconcile.timewin import Window

DAY1 = datetime(2026, 11, 20, tzinfo=UTC)
DAY2 = DAY1 + timedelta(days=1)


def ms(dt: datetime) -> int:
    return int(dt.timestamp() * 1000)


#: GET hub-logs-*/_ilm/explain?human, as Elasticsearch 8 answers it.
EXPLAIN = {
    "indices": {
        "hub-logs-2026.11.20": {
            "index": "hub-logs-2026.11.20",
            "index_creation_date_millis": ms(DAY1),
            "index_creation_date": "2026-11-20T00:00:00.000Z",
            "time_since_index_creation": "6.5d",
            "managed": True,
            "policy": "hub-logs-7d",
            "lifecycle_date_millis": ms(DAY1),
            "lifecycle_date": "2026-11-20T00:00:00.000Z",
            "age": "6.5d",
            "phase": "warm",
            "phase_time_millis": ms(DAY1 + timedelta(days=2)),
            "action": "complete",
            "step": "complete",
        },
        "hub-logs-2026.11.21": {
            "index": "hub-logs-2026.11.21",
            "index_creation_date_millis": ms(DAY2),
            "managed": True,
            "policy": "hub-logs-7d",
            # Rolled over (or origination_date set) 3 h after creation: the phases count from here.
            "lifecycle_date_millis": ms(DAY2 + timedelta(hours=3)),
            "age": "5.4d",
            "phase": "hot",
        },
        "hub-logs-manual": {"index": "hub-logs-manual", "managed": False},
    }
}

#: GET _ilm/policy/hub-logs-7d
POLICIES = {
    "hub-logs-7d": {
        "version": 3,
        "modified_date": "2026-10-01T00:00:00.000Z",
        "policy": {
            "phases": {
                "hot": {"min_age": "0ms", "actions": {"rollover": {"max_age": "1d"}}},
                "warm": {"min_age": "2d", "actions": {"forcemerge": {"max_num_segments": 1}}},
                "delete": {"min_age": "7d", "actions": {"delete": {}}},
            }
        },
    }
}


class RecordedIlm:
    """The two ILM calls of the Elasticsearch client, answering from the recordings."""

    def __init__(self, explain: Any = EXPLAIN, refuse: bool = False) -> None:
        self.explain, self.refuse = explain, refuse
        self.calls: list[str] = []

    def explain_lifecycle(self, index: str) -> Any:
        self.calls.append(f"GET {index}/_ilm/explain")
        if self.refuse:
            from elastic_transport import ApiResponseMeta, HttpHeaders
            from elasticsearch import BadRequestError

            meta = ApiResponseMeta(400, "1.1", HttpHeaders(), 0.0, None)  # type: ignore[arg-type]
            raise BadRequestError("no handler found for uri", meta, {})
        return self.explain

    def get_lifecycle(self, name: str) -> Any:
        self.calls.append(f"GET _ilm/policy/{name}")
        return {n: POLICIES[n] for n in name.split(",")}


class RecordedClient:
    def __init__(self, ilm: RecordedIlm) -> None:
        self.ilm = ilm


def source(ilm: RecordedIlm) -> ElasticSource:
    return ElasticSource(
        SourceConfig(index="hub-logs-*", max_retries=0), client=RecordedClient(ilm)
    )


def test_elasticsearch_time_values() -> None:
    assert es_time("7d") == timedelta(days=7)
    assert es_time("0ms") == timedelta(0)
    assert es_time("90m") == timedelta(minutes=90)
    assert es_time(1500) == timedelta(milliseconds=1500)
    with pytest.raises(ValueError, match="1 week"):
        es_time("1 week")


def test_index_deletion_times_come_from_the_policy_and_the_lifecycle_date() -> None:
    lives = {life.name: life for life in lives_from_ilm(EXPLAIN["indices"], POLICIES)}
    assert lives["hub-logs-2026.11.20"].deletes_at == DAY1 + timedelta(days=7)
    assert lives["hub-logs-2026.11.21"].deletes_at == DAY2 + timedelta(days=7, hours=3)
    assert "hub-logs-7d" in lives["hub-logs-2026.11.20"].basis
    assert lives["hub-logs-manual"].deletes_at is None  # unmanaged: never deleted by ILM


def test_a_window_takes_the_deadline_of_its_recorded_index_or_of_the_write_index() -> None:
    guard = RetentionGuard(lives_from_ilm(EXPLAIN["indices"], POLICIES), None)
    late_day1 = Window(DAY1 + timedelta(hours=23))
    assert guard.deadline(late_day1).at == DAY1 + timedelta(days=7)  # type: ignore[union-attr]
    day2 = Window(DAY2 + timedelta(hours=5))
    assert guard.deadline(day2).at == DAY2 + timedelta(days=7, hours=3)  # type: ignore[union-attr]
    # A stale window's manifest names its indexes: the earliest deletion among them wins.
    both = guard.deadline(day2, ["hub-logs-2026.11.21", "hub-logs-2026.11.20"])
    assert both is not None and both.at == DAY1 + timedelta(days=7)


def finding(status: str, window: Window, indexed: int | None = 100) -> Finding:
    return Finding("hub", LOGFLOW, "lb", window.start, status, 100, 0, indexed=indexed)


def test_missing_windows_about_to_be_deleted_are_critical_and_say_what_to_run() -> None:
    ilm = RecordedIlm()
    guard = retention_guard(source(ilm), retention=None)
    assert ilm.calls == ["GET hub-logs-*/_ilm/explain", "GET _ilm/policy/hub-logs-7d"]
    w = Window(DAY1 + timedelta(hours=13))
    archives = {w: WindowArchive(w)}
    now = DAY1 + timedelta(days=6, hours=6)  # 18 h before hub-logs-2026.11.20 is deleted
    (near,) = guard_findings([finding("missing", w)], guard, archives, now, timedelta(hours=24))
    assert near.detail.severity == "critical"
    assert "2026-11-27T00:00:00Z" in near.message
    assert "reconcile backfill --from 2026-11-20T13 --to 2026-11-20T14" in near.message
    (early,) = guard_findings(
        [finding("missing", w)], guard, archives, now - timedelta(days=3), timedelta(hours=24)
    )
    assert early.detail.severity is None and early.detail.deletes_at == "2026-11-27T00:00:00Z"
    (ok,) = guard_findings([finding("ok", w)], guard, archives, now, timedelta(hours=24))
    assert ok.detail.deletes_at is None  # only missing and stale windows are at risk


def test_a_stale_window_uses_the_indexes_its_manifest_recorded() -> None:
    guard = retention_guard(source(RecordedIlm()), retention=None)
    w = Window(DAY2 + timedelta(hours=1))
    m = Manifest(
        w.iso(), "", w.partition, "r", "t", "c", {"indices": ["hub-logs-2026.11.20"]}, 1, 0
    )
    archives = {w: WindowArchive(w, manifest=m)}
    now = DAY1 + timedelta(days=6, hours=12)
    (f,) = guard_findings([finding("stale", w)], guard, archives, now, timedelta(hours=24))
    assert f.detail.deletes_at == "2026-11-27T00:00:00Z" and f.detail.severity == "critical"


def test_without_ilm_the_configured_retention_applies() -> None:
    ilm = RecordedIlm(refuse=True)
    guard = retention_guard(source(ilm), retention=timedelta(days=3))
    w = Window(DAY1)
    deadline = guard.deadline(w)
    assert deadline is not None and deadline.at == w.end + timedelta(days=3)
    assert "source.retention = 3d" in deadline.basis
    assert retention_guard(source(RecordedIlm(refuse=True)), None).deadline(w) is None
