"""OpenSearch source behaviour no local server can show, from recorded answers.

osmem-server has no ISM plugin (``_plugins/_ism`` answers 400) and neither local server
hosts data streams, so ISM explain/policy answers and data-stream resolutions are recorded
in the documented shapes of OpenSearch 2.x/3.x and Elasticsearch 8 and served by stub
clients. Version rules (point in time from 2.4, ``_shard_doc`` from 3.3, no Serverless)
are checked against versions the local server is not.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from reconcile.check.indexed import retention_guard
from reconcile.errors import ConfigError, SourceError
from reconcile.source.base import backing_from_data_stream, backing_from_resolve
from reconcile.source.config import SourceConfig
from reconcile.source.elastic import ElasticSource
from reconcile.source.opensearch import (
    OpenSearchSource,
    ism_delete_age,
    lives_from_ism,
    parse_version,
)
from reconcile.timewin import Window

DAY1 = datetime(2026, 11, 20, tzinfo=UTC)


def ms(dt: datetime) -> int:
    return int(dt.timestamp() * 1000)


#: GET _plugins/_ism/explain/hub-logs-* (OpenSearch 2.11).
ISM_EXPLAIN = {
    "hub-logs-2026.11.20": {
        "index.plugins.index_state_management.policy_id": "hub-logs-14d",
        "index.opendistro.index_state_management.policy_id": "hub-logs-14d",
        "index": "hub-logs-2026.11.20",
        "index_uuid": "gCFlS_zcTdih8xyxf3jQ-A",
        "policy_id": "hub-logs-14d",
        "enabled": True,
        "state": {"name": "hot", "start_time": ms(DAY1)},
    },
    "hub-logs-2026.11.21": {
        "index.plugins.index_state_management.policy_id": "hub-logs-14d",
        "index": "hub-logs-2026.11.21",
        "policy_id": "hub-logs-14d",
        "enabled": True,
    },
    "hub-logs-manual": {"index.plugins.index_state_management.policy_id": None},
    "total_managed_indices": 2,
}

#: GET _plugins/_ism/policies/hub-logs-14d: hot -> warm at 7d -> delete at 14d (index age).
ISM_POLICY = {
    "_id": "hub-logs-14d",
    "_version": 3,
    "_seq_no": 12,
    "_primary_term": 1,
    "policy": {
        "policy_id": "hub-logs-14d",
        "default_state": "hot",
        "states": [
            {
                "name": "hot",
                "actions": [{"rollover": {"min_index_age": "1d"}}],
                "transitions": [{"state_name": "warm", "conditions": {"min_index_age": "7d"}}],
            },
            {
                "name": "warm",
                "actions": [{"replica_count": {"number_of_replicas": 0}}],
                "transitions": [{"state_name": "delete", "conditions": {"min_index_age": "14d"}}],
            },
            {"name": "delete", "actions": [{"delete": {}}], "transitions": []},
        ],
    },
}

#: GET hub-logs-*/_settings/index.creation_date?flat_settings=true
SETTINGS = {
    "hub-logs-2026.11.20": {"settings": {"index.creation_date": str(ms(DAY1))}},
    "hub-logs-2026.11.21": {"settings": {"index.creation_date": str(ms(DAY1 + timedelta(days=1)))}},
    "hub-logs-manual": {"settings": {"index.creation_date": str(ms(DAY1 - timedelta(days=30)))}},
}

#: GET _resolve/index/logs-nginx-* (OpenSearch 2.x and Elasticsearch 8 answer alike).
RESOLVE = {
    "indices": [
        {
            "name": ".ds-logs-nginx-default-000001",
            "attributes": ["open"],
            "data_stream": "logs-nginx-default",
        },
        {
            "name": ".ds-logs-nginx-default-000002",
            "attributes": ["open"],
            "data_stream": "logs-nginx-default",
        },
    ],
    "aliases": [],
    "data_streams": [
        {
            "name": "logs-nginx-default",
            "backing_indices": [".ds-logs-nginx-default-000002", ".ds-logs-nginx-default-000001"],
            "timestamp_field": "@timestamp",
        }
    ],
}

#: GET _data_stream/logs-nginx-* (Elasticsearch 8.x, trimmed).
DATA_STREAM = {
    "data_streams": [
        {
            "name": "logs-nginx-default",
            "timestamp_field": {"name": "@timestamp"},
            "indices": [
                {"index_name": ".ds-logs-nginx-default-2026.11.19-000001", "index_uuid": "a"},
                {"index_name": ".ds-logs-nginx-default-2026.11.20-000002", "index_uuid": "b"},
            ],
            "generation": 2,
            "status": "GREEN",
            "template": "logs",
            "ilm_policy": "logs",
        }
    ]
}


class Transport:
    def __init__(self, answers: dict[str, Any]) -> None:
        self.answers = answers
        self.calls: list[str] = []

    def perform_request(self, method: str, url: str, **_: Any) -> Any:
        self.calls.append(f"{method} {url}")
        if url not in self.answers:
            from opensearchpy import TransportError

            raise TransportError(400, "no handler found for uri", {})
        return self.answers[url]


class Indices:
    def get_settings(self, **_: Any) -> Any:
        return SETTINGS

    def resolve_index(self, name: str, **_: Any) -> Any:
        assert name == "logs-nginx-*"
        return RESOLVE


class RecordedOpenSearch:
    def __init__(self, answers: dict[str, Any]) -> None:
        self.transport = Transport(answers)
        self.indices = Indices()


def os_source(answers: dict[str, Any], index: str = "hub-logs-*", **cfg: Any) -> OpenSearchSource:
    return OpenSearchSource(
        SourceConfig(index=index, max_retries=0, **cfg),
        client=RecordedOpenSearch(answers),
        version="2.11.1",
    )


ISM_ANSWERS = {
    "/_plugins/_ism/explain/hub-logs-*": ISM_EXPLAIN,
    "/_plugins/_ism/policies/hub-logs-14d": ISM_POLICY,
}


def test_the_delete_age_is_the_index_age_of_the_transition_into_the_deleting_state() -> None:
    assert ism_delete_age(ISM_POLICY) == timedelta(days=14)
    keep = {"policy": {"states": [{"name": "hot", "actions": [], "transitions": []}]}}
    assert ism_delete_age(keep) is None


def test_index_lives_from_ism_count_from_the_index_creation() -> None:
    lives = {
        life.name: life
        for life in lives_from_ism(
            ISM_EXPLAIN,
            {"hub-logs-14d": ISM_POLICY},
            {n: int(s["settings"]["index.creation_date"]) for n, s in SETTINGS.items()},
        )
    }
    assert lives["hub-logs-2026.11.20"].deletes_at == DAY1 + timedelta(days=14)
    assert lives["hub-logs-2026.11.21"].deletes_at == DAY1 + timedelta(days=15)
    assert "ISM policy hub-logs-14d" in lives["hub-logs-2026.11.20"].basis
    assert lives["hub-logs-manual"].deletes_at is None
    assert lives["hub-logs-manual"].created == DAY1 - timedelta(days=30)


def test_the_retention_guard_takes_ism_deadlines_from_an_opensearch_source() -> None:
    src = os_source(ISM_ANSWERS)
    guard = retention_guard(src, None)
    deadline = guard.deadline(Window(DAY1 + timedelta(hours=13)))
    assert deadline is not None and deadline.at == DAY1 + timedelta(days=14)
    assert "ISM policy hub-logs-14d" in deadline.basis
    assert src.client.transport.calls == [
        "GET /_plugins/_ism/explain/hub-logs-*",
        "GET /_plugins/_ism/policies/hub-logs-14d",
    ]


def test_without_ism_the_configured_retention_applies() -> None:
    src = os_source({})  # the plugin is absent: 400, as osmem-server answers
    assert src.index_lives() is None
    guard = retention_guard(src, timedelta(days=3))
    window = Window(DAY1 + timedelta(hours=13))
    deadline = guard.deadline(window)
    assert deadline is not None and deadline.at == window.end + timedelta(days=3)


def test_data_stream_backing_indices_from_recorded_answers() -> None:
    assert backing_from_resolve(RESOLVE) == {
        "logs-nginx-default": [".ds-logs-nginx-default-000001", ".ds-logs-nginx-default-000002"]
    }
    assert backing_from_data_stream(DATA_STREAM) == {
        "logs-nginx-default": [
            ".ds-logs-nginx-default-2026.11.19-000001",
            ".ds-logs-nginx-default-2026.11.20-000002",
        ]
    }
    assert (
        backing_from_resolve({"indices": [{"name": "a"}], "aliases": [], "data_streams": []}) == {}
    )


def test_both_sources_resolve_a_data_stream_pattern() -> None:
    assert os_source({}, index="logs-nginx-*").data_streams() == backing_from_resolve(RESOLVE)

    class EsIndices:
        def get_data_stream(self, name: str) -> Any:
            assert name == "logs-nginx-*"
            return DATA_STREAM

    class EsClient:
        indices = EsIndices()

    es = ElasticSource(SourceConfig(index="logs-nginx-*", max_retries=0), client=EsClient())
    assert es.data_streams() == backing_from_data_stream(DATA_STREAM)


def test_version_rules() -> None:
    assert parse_version("2.11.1") == (2, 11, 1)
    assert parse_version("3.3.0-SNAPSHOT") == (3, 3, 0)
    assert parse_version("3") == (3, 0, 0)
    # _shard_doc is a total order only from OpenSearch 3.3.0 (OpenSearch#18924).
    with pytest.raises(ConfigError, match=r"3\.3\.0 or later; this server is 2\.11\.1"):
        os_source({}, tiebreak="shard_doc").tiebreak()
    assert os_source({}).tiebreak() == "id"
    late = OpenSearchSource(
        SourceConfig(tiebreak="shard_doc"), client=RecordedOpenSearch({}), version="3.3.0"
    )
    assert late.tiebreak() == "shard_doc"
    # Point in time exists from 2.4.
    old = OpenSearchSource(SourceConfig(), client=RecordedOpenSearch({}), version="2.3.0")
    with (
        pytest.raises(SourceError, match=r"2\.3\.0 has no point in time \(2\.4\+\)"),
        old.point_in_time(["x"]),
    ):
        pass


def test_opensearch_serverless_reads_through_a_point_in_time_without_asking_a_version() -> None:
    # Serverless collections serve POST /<index>/_search/point_in_time, search_after and
    # slices (AWS: "Using PIT with Amazon OpenSearch Serverless"), not ISM nor _shard_doc.
    from reconcile.source.factory import open_source

    cfg = SourceConfig(
        url="https://abc.eu-west-1.aoss.amazonaws.com",
        aws_sigv4=True,
        aws_service="aoss",
        aws_region="eu-west-1",
        max_retries=0,
    )
    src = open_source(cfg)
    assert isinstance(src, OpenSearchSource) and src.serverless

    class Pits(RecordedOpenSearch):
        def create_pit(self, index: str, params: dict[str, Any]) -> Any:
            self.transport.calls.append(f"POST /{index}/_search/point_in_time")
            return {"pit_id": "p1"}

        def delete_pit(self, body: dict[str, Any]) -> Any:
            self.transport.calls.append(f"DELETE /_search/point_in_time {body['pit_id']}")
            return {}

    src.client = Pits({})
    with src.point_in_time(["hub-logs-a"]) as pit:
        assert pit.sort() == [{"@timestamp": "asc"}, {"_index": "asc"}, {"_id": "asc"}]
    assert src.index_lives() is None  # Serverless lifecycle policies are not ISM
    assert src.client.transport.calls == [
        "POST /hub-logs-a/_search/point_in_time",
        "DELETE /_search/point_in_time ['p1']",
    ]  # no GET / for a version, no ISM request
    with pytest.raises(ConfigError, match="Serverless"):
        OpenSearchSource(
            cfg.model_copy(update={"tiebreak": "shard_doc"}), client=Pits({})
        ).tiebreak()


def test_sigv4_with_elasticsearch_is_a_configuration_error() -> None:
    from reconcile.job import load_job

    with pytest.raises(ConfigError, match="aws_sigv4 signs requests for Amazon OpenSearch"):
        load_job(
            None,
            {"source.aws_sigv4": (True, "test"), "source.kind": ("elasticsearch", "test")},
            environ={},
        )
