"""Session-wide fixtures: real local servers, AWS isolation, unique names per test."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.servers import (
    OpenSearchTestClient,
    elasticsearch_server,
    moto_server,
    opensearch_server,
)

# Never let a test reach real AWS, whatever the developer's environment holds.
for _var in (
    "AWS_PROFILE",
    "AWS_SESSION_TOKEN",
    "AWS_SECURITY_TOKEN",
    "AWS_ROLE_ARN",
    "AWS_WEB_IDENTITY_TOKEN_FILE",
):
    os.environ.pop(_var, None)
os.environ.update(
    AWS_ACCESS_KEY_ID="testing",
    AWS_SECRET_ACCESS_KEY="testing",
    AWS_DEFAULT_REGION="us-east-1",
    AWS_REGION="us-east-1",
    AWS_EC2_METADATA_DISABLED="true",
)
# Keep developer settings out of the tests' job specs.
for _var in [v for v in os.environ if v.startswith("RECONCILE_")]:
    os.environ.pop(_var)


#: The local servers a source test can run against (``server`` fixture values).
SERVERS = ("noida", "osmem")


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    """Tests marked ``both_servers`` run once per server: noida-db (Elasticsearch API) and
    osmem-server (OpenSearch API); every other test that needs a server gets noida-db."""
    if "server" in metafunc.fixturenames and metafunc.definition.get_closest_marker("both_servers"):
        metafunc.parametrize("server", SERVERS, indirect=True, scope="session")


@pytest.fixture(scope="session")
def server(request: pytest.FixtureRequest) -> str:
    """Which local server backs ``es_url``: ``noida`` unless parametrised."""
    return str(getattr(request, "param", "noida"))


@pytest.fixture(scope="session")
def es_url(server: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """The source under test: Elasticsearch (ES_URL, else noida-db) or OpenSearch (OS_URL,
    else osmem-server)."""
    external = os.environ.get("ES_URL" if server == "noida" else "OS_URL")
    if external:
        yield external
        return
    if server == "osmem":
        with opensearch_server(tmp_path_factory.mktemp("os")) as url:
            yield url
        return
    with elasticsearch_server(tmp_path_factory.mktemp("es")) as url:
        yield url


@pytest.fixture(scope="session")
def es(server: str, es_url: str) -> Any:
    """A client of ``es_url`` for setting up data (elasticsearch-py's call shapes)."""
    if server == "osmem":
        client: Any = OpenSearchTestClient(es_url)
    else:
        from elasticsearch import Elasticsearch

        client = Elasticsearch(es_url, request_timeout=120)
    yield client
    client.close()


@pytest.fixture(scope="session")
def aws_endpoint() -> Iterator[str]:
    """moto's server; AWS_ENDPOINT_URL points every AWS client (boto3, pyarrow) at it."""
    with moto_server() as url:
        os.environ["AWS_ENDPOINT_URL"] = url
        try:
            yield url
        finally:
            os.environ.pop("AWS_ENDPOINT_URL", None)


@pytest.fixture
def s3_bucket(aws_endpoint: str) -> str:
    """A fresh, empty bucket on the moto server."""
    import boto3

    name = f"test-{uuid.uuid4().hex[:12]}"
    boto3.client("s3", endpoint_url=aws_endpoint).create_bucket(Bucket=name)
    return name


@pytest.fixture
def index_prefix(request: pytest.FixtureRequest) -> str:
    """A unique index name prefix per test, so tests never see each other's documents."""
    return f"t{uuid.uuid4().hex[:8]}-logs-"


@pytest.fixture
def archive_dir(tmp_path: Path) -> Path:
    return tmp_path / "archive"
