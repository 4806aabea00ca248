"""Real local servers for the tests (see :mod:`reconcile.demo.localstack`).

A server that does not come up fails the tests loudly; nothing is skipped.
"""

import os
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from reconcile.demo.localstack import (  # noqa: F401 (re-exported for test modules)
    elasticsearch_server,
    free_port,
    moto_server,
    opensearch_server,
    start_group,
    stop_group,
    wait_http,
)


@contextmanager
def pushgateway_server(workdir: Path) -> Iterator[str]:
    """Debian's prometheus-pushgateway on a free loopback port; yields its URL."""
    exe = (
        os.environ.get("PUSHGATEWAY_BIN")
        or shutil.which("prometheus-pushgateway")
        or "/usr/bin/prometheus-pushgateway"
    )
    if not Path(exe).exists():
        raise RuntimeError(
            "prometheus-pushgateway is not installed: run scripts/setup.sh (apt-get install prometheus-pushgateway)"
        )
    port = free_port()
    log = workdir / "pushgateway.log"
    proc = start_group([exe, f"--web.listen-address=127.0.0.1:{port}"], log, workdir)
    url = f"http://127.0.0.1:{port}"
    try:
        wait_http(url + "/-/ready", 30, proc, log)
        yield url
    finally:
        stop_group(proc)


class _OsIndices:
    def __init__(self, client: Any) -> None:
        self._c = client

    def create(
        self,
        index: str,
        mappings: dict[str, Any] | None = None,
        settings: dict[str, Any] | None = None,
    ) -> Any:
        body: dict[str, Any] = {}
        if mappings:
            body["mappings"] = mappings
        if settings:
            body["settings"] = settings
        return self._c.indices.create(index=index, body=body)

    def delete(self, index: str) -> Any:
        return self._c.indices.delete(index=index)

    def refresh(self, index: str) -> Any:
        return self._c.indices.refresh(index=index)


class OpenSearchTestClient:
    """opensearch-py with the few elasticsearch-py call shapes the tests set data up with
    (elasticsearch-py 8 cannot talk to OpenSearch: it sends compatibility media types)."""

    def __init__(self, url: str) -> None:
        from opensearchpy import OpenSearch

        self.client = OpenSearch(hosts=[url], timeout=120)
        self.indices = _OsIndices(self.client)

    def bulk(self, operations: bytes) -> Any:
        return self.client.bulk(body=operations)

    def count(self, index: str, query: dict[str, Any] | None = None) -> Any:
        return self.client.count(index=index, body={"query": query} if query else None)

    def close(self) -> None:
        self.client.close()
