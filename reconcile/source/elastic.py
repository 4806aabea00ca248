"""Reading one hour window from Elasticsearch: exactly, consistently, and politely.

Documents are read through a point in time with ``search_after`` on ``_shard_doc`` (the
cheapest total order Elasticsearch offers), optionally split into slices read in parallel.
The window's count is taken inside the same point in time, so it describes exactly the
snapshot that was read. A window counted at no more than a page is read by one search,
consistent on its own, without the point in time's open and close (:mod:`.reader`).
Throttling, 5xx, timeouts and dropped connections are retried with exponential backoff and
jitter; an expired point in time is reported as :class:`PitExpired` so the caller can
restart the window on a fresh one.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from functools import cached_property
from typing import Any, TypeVar

import orjson
from tenacity import (
    Retrying,
    before_sleep_log,
    retry_if_exception_type,
    stop_after_attempt,
    wait_random_exponential,
)

from ..errors import ConfigError, SourceError, TransientError
from ..redact import mask_url
from ..timewin import Window, windows
from .base import (
    HISTOGRAM_HOURS,
    HourlyCounts,
    PitExpired,
    backing_from_data_stream,
    cannot_aggregate,
)
from .config import SourceConfig
from .credentials import from_environment
from .page import Page, RawJson, decode_page
from .reader import OneSearch, PointInTime
from .retention import IndexLife, lives_from_ilm

log = logging.getLogger(__name__)

T = TypeVar("T")

RETRY_STATUS = frozenset({429, 500, 502, 503, 504})


def connect(cfg: SourceConfig, raw: bool = False) -> Any:
    """An Elasticsearch client from the config and ES_API_KEY / ES_USERNAME+ES_PASSWORD / ES_CA_CERTS.

    ``raw``: JSON responses come back as the bytes the server sent (for page reads)."""
    from elastic_transport import OrjsonSerializer
    from elasticsearch import Elasticsearch

    kwargs: dict[str, Any] = {
        "request_timeout": cfg.request_timeout_s,
        # Retries live in one place (tenacity below), with backoff; the transport's are immediate.
        "max_retries": 0,
        "retry_on_timeout": False,
        "verify_certs": cfg.verify_certs,
        "serializers": {"application/json": _RawSerializer() if raw else OrjsonSerializer()},
        "http_compress": os.environ.get("ES_HTTP_COMPRESS", "") == "1",
    }
    creds = from_environment()
    if creds.api_key:
        kwargs["api_key"] = creds.api_key
    elif creds.basic:
        kwargs["basic_auth"] = creds.basic
    if creds.ca_certs:
        kwargs["ca_certs"] = creds.ca_certs
    try:
        return Elasticsearch(cfg.url, **kwargs)
    except ValueError as exc:
        raise ConfigError(f"source.url {mask_url(cfg.url)!r}: {exc}") from exc


class _RawSerializer(RawJson):
    """:class:`RawJson` as an elastic-transport serializer."""


def classify(exc: BaseException) -> BaseException:
    """Turn client exceptions into :class:`TransientError`, :class:`PitExpired` or :class:`SourceError`."""
    from elasticsearch import ApiError, NotFoundError
    from elasticsearch import ConnectionError as EsConnectionError

    if isinstance(exc, EsConnectionError):  # includes ConnectionTimeout and TLS errors
        return TransientError(f"Elasticsearch connection failed: {exc}")
    if isinstance(exc, NotFoundError) and "search context" in str(exc).lower():
        return PitExpired(f"point in time expired: {exc.message}")
    if isinstance(exc, ApiError):
        if exc.meta.status in RETRY_STATUS:
            return TransientError(f"Elasticsearch answered {exc.meta.status}: {exc.message}")
        text = str(exc)
        if "search_context_missing" in text or "No search context found" in text:
            return PitExpired(f"point in time expired: {exc.message}")
        return SourceError(f"Elasticsearch answered {exc.meta.status}: {exc.message} {exc.info}")
    return exc


class ElasticSource:
    """Counts, mappings and point-in-time reads for hour windows of one index pattern."""

    kind = "elasticsearch"

    def __init__(self, cfg: SourceConfig, client: Any | None = None) -> None:
        self.cfg = cfg
        self.es = client if client is not None else connect(cfg)
        self._raw_pages = client is None

    @cached_property
    def page_es(self) -> Any | None:
        """A second client for page reads, whose responses stay raw JSON
        (:mod:`reconcile.source.page`); None with an injected client, whose pages are
        decoded and encoded again (tests)."""
        return connect(self.cfg, raw=True) if self._raw_pages else None

    def classify(self, exc: BaseException) -> BaseException:
        """This client's exceptions as :class:`TransientError`, :class:`PitExpired` or :class:`SourceError`."""
        return classify(exc)

    # -- plumbing -----------------------------------------------------------------------

    def call(self, what: str, fn: Callable[..., T], /, **kwargs: Any) -> T:
        """Run one request with retries on transient failures."""

        def attempt() -> T:
            try:
                return fn(**kwargs)
            except Exception as exc:
                mapped = self.classify(exc)
                if mapped is exc:
                    raise
                raise mapped from exc

        retrying = Retrying(
            retry=retry_if_exception_type(TransientError),
            stop=stop_after_attempt(self.cfg.max_retries + 1),
            wait=wait_random_exponential(multiplier=0.25, max=self.cfg.retry_max_wait_s),
            before_sleep=before_sleep_log(log, logging.WARNING),
            reraise=True,
        )
        try:
            return retrying(attempt)
        except TransientError as exc:
            raise SourceError(
                f"{what}: gave up after {self.cfg.max_retries + 1} attempts: {exc}"
            ) from exc

    def window_query(self, window: Window) -> dict[str, Any]:
        """Documents whose timestamp lies in ``[start, end)``, plus the configured filter."""
        rng = {
            "range": {
                self.cfg.timestamp_field: {
                    "gte": window.start_ms,
                    "lt": window.end_ms,
                    "format": "epoch_millis",
                }
            }
        }
        clauses: list[dict[str, Any]] = [rng]
        if self.cfg.filter:
            clauses.append(self.cfg.filter)
        return {"bool": {"filter": clauses}}

    # -- metadata -----------------------------------------------------------------------

    def ping(self) -> str:
        info = self.call("connect", self.es.info)
        return str(info["version"]["number"])

    def mappings(self) -> dict[str, dict[str, Any]]:
        """Index name -> mapping (``properties`` at the top) for every index of the pattern."""
        resp = self.call(
            f"get mappings of {self.cfg.index}",
            self.es.indices.get_mapping,
            index=self.cfg.index,
            allow_no_indices=True,
            expand_wildcards="open",
        )
        return {name: body.get("mappings", {}) for name, body in dict(resp).items()}

    def count(self, window: Window, index: str | None = None) -> int:
        """Live ``_count`` of a window (what Elasticsearch holds now)."""
        resp = self.call(
            f"count {window.label}",
            self.es.count,
            index=index or self.cfg.index,
            query=self.window_query(window),
            allow_no_indices=True,
            ignore_unavailable=True,
        )
        return int(resp["count"])

    def touched_indices(self, window: Window, indices: list[str]) -> tuple[list[str] | None, int]:
        """The indices holding documents of the window, and their live total.

        ``None`` instead of a list when the server cannot tell which indices (no terms
        aggregation on ``_index``): the caller then reads all of them and notes which
        indices the documents came from.
        """
        if len(indices) == 1:
            n = self.count(window, index=indices[0])
            return (indices if n else []), n
        resp = self.call(
            f"indices of {window.label}",
            self.es.search,
            index=self.cfg.index,
            size=0,
            query=self.window_query(window),
            aggs={"idx": {"terms": {"field": "_index", "size": max(len(indices), 10)}}},
            track_total_hits=True,
            allow_no_indices=True,
            ignore_unavailable=True,
        )
        buckets = resp.get("aggregations", {}).get("idx", {}).get("buckets", [])
        total = int(resp["hits"]["total"]["value"])
        if sum(int(b["doc_count"]) for b in buckets) == total:
            return sorted(str(b["key"]) for b in buckets), total
        return None, total

    def hourly_counts(self, start: datetime, end: datetime) -> HourlyCounts:
        """Documents per hour window of ``[start, end)`` now, and the oldest timestamp held.

        One request: an hourly ``date_histogram`` over the range (with the job's filter) and
        the pattern's oldest document, so the cost does not grow with the number of hours. Ranges beyond :data:`HISTOGRAM_HOURS` are split. A server that
        cannot aggregate gets one ``_count`` per hour instead (``method = "count"``).
        """
        wins = list(windows(start, end))
        start_ms, end_ms = wins[0].start_ms, wins[-1].end_ms
        out = HourlyCounts()
        step = HISTOGRAM_HOURS * 3_600_000
        for lo in range(start_ms, end_ms, step):
            hi = min(lo + step, end_ms)
            try:
                self._histogram(lo, hi, out)
            except SourceError as exc:
                if not cannot_aggregate(exc):
                    raise
                log.info("the server cannot aggregate (%s): counting hour by hour", exc)
                self._count_hours(lo, hi, out)
        return out

    def _histogram(self, lo: int, hi: int, out: HourlyCounts) -> None:
        ts = self.cfg.timestamp_field
        in_range = {"range": {ts: {"gte": lo, "lt": hi, "format": "epoch_millis"}}}
        out.requests += 1  # counted when sent, answered or not
        resp = self.call(
            "hourly counts",
            self.es.search,
            index=self.cfg.index,
            # The oldest matching document rides along as the one hit (a sorted top-1 on a
            # date field is cheap); its timestamp is where retention has cut the pattern.
            size=1,
            sort=[{ts: {"order": "asc"}}],
            source=False,
            track_total_hits=False,
            query=self.cfg.filter or {"match_all": {}},
            aggs={
                "window": {
                    "filter": in_range,
                    "aggs": {
                        "hours": {
                            "date_histogram": {
                                "field": ts,
                                "fixed_interval": "1h",
                                "min_doc_count": 0,
                                "extended_bounds": {"min": lo, "max": hi - 1},
                            }
                        }
                    },
                },
            },
            allow_no_indices=True,
            ignore_unavailable=True,
        )
        aggs = resp.get("aggregations")
        if not aggs or "window" not in aggs:
            if int(resp.get("_shards", {}).get("total", 0)) == 0:
                return  # no index of the pattern exists: nothing is held
            raise SourceError("hourly counts: the answer has no aggregations")
        for bucket in aggs["window"]["hours"]["buckets"]:
            key = int(bucket["key"])
            if lo <= key < hi:
                out.counts[key] = out.counts.get(key, 0) + int(bucket["doc_count"])
        hits = resp.get("hits", {}).get("hits", [])
        if hits and hits[0].get("sort"):
            value = int(hits[0]["sort"][0])
            out.earliest_ms = value if out.earliest_ms is None else min(out.earliest_ms, value)

    def _count_hours(self, lo: int, hi: int, out: HourlyCounts) -> None:
        for ms in range(lo, hi, 3_600_000):
            window = Window(datetime.fromtimestamp(ms / 1000, UTC))
            out.counts[ms] = self.count(window)
            out.requests += 1
        out.method = "count"
        out.horizon_known = False

    def ilm(self) -> tuple[dict[str, Any], dict[str, Any]] | None:
        """``_ilm/explain`` of the pattern and the policies it names; ``None`` without ILM.

        Servers without ILM (OpenSearch, serverless, stand-ins) answer 400/404/405; the
        caller then falls back to ``source.retention``.
        """
        try:
            explain = self.call("ILM explain", self.es.ilm.explain_lifecycle, index=self.cfg.index)
        except SourceError as exc:
            log.info("no ILM information (%s); using source.retention", exc)
            return None
        indices = dict(explain.get("indices", {}))
        names = sorted({str(i["policy"]) for i in indices.values() if i.get("policy")})
        policies: dict[str, Any] = {}
        if names:
            policies = dict(
                self.call("ILM policies", self.es.ilm.get_lifecycle, name=",".join(names))
            )
        return indices, policies

    def index_lives(self) -> list[IndexLife] | None:
        """Index lifetimes from ILM; ``None`` without ILM (then ``source.retention`` applies)."""
        answers = self.ilm()
        return lives_from_ilm(*answers) if answers else None

    def data_streams(self) -> dict[str, list[str]]:
        """Data streams of ``source.index`` and their backing indices (``GET _data_stream``).

        Servers without data streams (or a pattern naming none) give an empty answer.
        """
        try:
            resp = self.call("data streams", self.es.indices.get_data_stream, name=self.cfg.index)
        except SourceError as exc:
            log.debug("no data streams for %s: %s", self.cfg.index, exc)
            return {}
        return backing_from_data_stream(dict(resp))

    def untimed(self, index: str) -> int:
        """Documents of ``index`` without the timestamp field: they belong to no window."""
        resp = self.call(
            f"count untimed in {index}",
            self.es.count,
            index=index,
            query={"bool": {"must_not": {"exists": {"field": self.cfg.timestamp_field}}}},
            ignore_unavailable=True,
        )
        return int(resp["count"])

    # -- reading a window ---------------------------------------------------------------

    def search_page(self, what: str, **body: Any) -> Page:
        """One search request's hits as a :class:`Page` (a point-in-time page or a whole
        window), through the raw-JSON page client when there is one."""
        raw_client = self.page_es
        if raw_client is None:  # an injected client: decode, then re-encode (tests)
            resp = self.call(what, self.es.search, **body)
            return decode_page(orjson.dumps(getattr(resp, "body", resp)), what)
        resp = self.call(what, raw_client.search, **body)
        return decode_page(getattr(resp, "body", resp), what)

    def page_body(self, window: Window, sort: list[Any]) -> dict[str, Any]:
        """The search body of a window's first page: its documents' ``_id``, ``_index``,
        ``_source`` and timestamp docvalue, and the exact count of what it matches."""
        ts = self.cfg.timestamp_field
        return {
            "size": self.cfg.page_size,
            "query": self.window_query(window),
            "sort": sort,
            "docvalue_fields": [{"field": ts, "format": "epoch_millis"}],
            "track_total_hits": True,
        }

    @contextmanager
    def one_search(self, indices: list[str]) -> Iterator[OneSearch]:
        """A read of a window counted at no more than a page: one search request, moving to
        a point in time (closed on exit) only if the window has outgrown a page."""
        reader = OneSearch(self, indices)
        try:
            yield reader
        finally:
            reader.close()

    @contextmanager
    def point_in_time(self, indices: list[str]) -> Iterator[PointInTime]:
        """Open a point in time over ``indices``; always closed on exit."""
        resp = self.call(
            "open point in time",
            self.es.open_point_in_time,
            index=",".join(indices),
            keep_alive=self.cfg.keep_alive,
        )
        pit = PointInTime(self, str(resp["id"]))
        try:
            yield pit
        finally:
            pit.close()
