"""Choosing the source implementation: ``source.kind = auto | elasticsearch | opensearch``.

``auto`` asks the server's root endpoint once, on first use (so building an archiver or a
checker stays free of network calls), and logs what it found: an answer with
``version.distribution == "opensearch"`` is OpenSearch, anything else Elasticsearch.
"""

from __future__ import annotations

import logging
from contextlib import AbstractContextManager
from datetime import datetime
from typing import Any

from ..errors import ReconcileError
from ..redact import mask_url
from ..timewin import Window
from .base import HourlyCounts, Reader, Source
from .config import SourceConfig
from .retention import IndexLife

log = logging.getLogger(__name__)


def open_source(cfg: SourceConfig) -> Source:
    """The source for ``cfg``: Elasticsearch, OpenSearch, or one that decides on first use."""
    if cfg.kind == "elasticsearch":
        from .elastic import ElasticSource

        return ElasticSource(cfg)
    if cfg.kind == "opensearch":
        from .opensearch import OpenSearchSource

        return OpenSearchSource(cfg)
    if cfg.aws_sigv4:  # Amazon OpenSearch Service: no need to ask
        from .opensearch import OpenSearchSource

        return OpenSearchSource(cfg)
    return AutoSource(cfg)


def detect(cfg: SourceConfig) -> Source:
    """Ask the root endpoint which server this is; the implementation for it."""
    from .opensearch import OpenSearchSource
    from .opensearch import connect as os_connect

    # opensearch-py, unlike elasticsearch-py 8, reads any root answer (no product check).
    client = os_connect(cfg)
    probe = OpenSearchSource(cfg, client)
    try:
        info = probe.call("connect", client.info)
    except ReconcileError:
        client.close()
        raise
    version = info.get("version", {}) if isinstance(info, dict) else {}
    distribution = str(version.get("distribution") or "elasticsearch")
    number = str(version.get("number", "?"))
    log.info(
        "source.kind = auto: %s answers as %s %s",
        mask_url(cfg.url),
        distribution,
        number,
        extra={"event": "source_kind", "distribution": distribution, "version": number},
    )
    if distribution == "opensearch":
        # The probe's client came from cfg too: pages still get a raw-JSON client of their own.
        return OpenSearchSource(cfg, client, version=number, raw_pages=True)
    client.close()
    from .elastic import ElasticSource

    return ElasticSource(cfg)


class AutoSource:
    """A source that decides Elasticsearch or OpenSearch on its first request."""

    def __init__(self, cfg: SourceConfig) -> None:
        self.cfg = cfg
        self._impl: Source | None = None

    @property
    def impl(self) -> Source:
        if self._impl is None:
            self._impl = detect(self.cfg)
        return self._impl

    @property
    def kind(self) -> str:
        return self.impl.kind

    def ping(self) -> str:
        return self.impl.ping()

    def mappings(self) -> dict[str, dict[str, Any]]:
        return self.impl.mappings()

    def count(self, window: Window, index: str | None = None) -> int:
        return self.impl.count(window, index)

    def hourly_counts(self, start: datetime, end: datetime) -> HourlyCounts:
        return self.impl.hourly_counts(start, end)

    def touched_indices(self, window: Window, indices: list[str]) -> tuple[list[str] | None, int]:
        return self.impl.touched_indices(window, indices)

    def untimed(self, index: str) -> int:
        return self.impl.untimed(index)

    def point_in_time(self, indices: list[str]) -> AbstractContextManager[Reader]:
        return self.impl.point_in_time(indices)

    def one_search(self, indices: list[str]) -> AbstractContextManager[Reader]:
        return self.impl.one_search(indices)

    def index_lives(self) -> list[IndexLife] | None:
        return self.impl.index_lives()

    def data_streams(self) -> dict[str, list[str]]:
        return self.impl.data_streams()
