"""OpenSearch (self-managed 2.x/3.x and Amazon OpenSearch Service) as a log source.

The requests are the Elasticsearch source's (see :mod:`.elastic`: the same window query,
hourly histogram, counts and slices), sent through ``opensearch-py``, the project's
official client, which also signs requests with AWS SigV4 for Amazon OpenSearch Service.
What differs is:

- **Point in time**: OpenSearch's own API, ``POST /<indices>/_search/point_in_time``
  (answers ``pit_id``) and ``DELETE /_search/point_in_time`` with a ``pit_id`` list.
- **Total order of search_after**: by default ``[timestamp, _index, _id]``. ``_id`` is
  unique within an index and ``_index`` tells indices apart, so no two documents of the
  point in time share a sort value on any version (2.4+). ``_shard_doc`` exists only from
  OpenSearch 3.3.0 and may be chosen there (``source.tiebreak = "shard_doc"``). ``_doc``
  alone is not a total order across shards: every shard applies the same ``search_after``
  value to its own Lucene doc ids. See docs/opensearch.md.
- **Retention**: ISM (``_plugins/_ism/explain`` and the policies' delete state) instead of ILM.
"""

from __future__ import annotations

import logging
import os
import re
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from functools import cached_property
from typing import Any

from ..durations import format_duration
from ..errors import ConfigError, SourceError, TransientError
from ..redact import mask_url
from .base import PitExpired, backing_from_resolve
from .config import SourceConfig
from .credentials import from_environment
from .elastic import RETRY_STATUS, ElasticSource
from .page import RawJson
from .reader import PointInTime
from .retention import IndexLife, es_time

log = logging.getLogger(__name__)

#: First version with point in time (and slices within it).
PIT_SINCE = (2, 4)
#: First version whose ``_shard_doc`` is a total order (opensearch-project/OpenSearch#18924).
SHARD_DOC_SINCE = (3, 3)

#: Keys of an Elasticsearch-style keyword request that belong in an OpenSearch request body.
_BODY_KEYS = frozenset(
    {
        "query",
        "aggs",
        "sort",
        "size",
        "track_total_hits",
        "search_after",
        "slice",
        "pit",
        "docvalue_fields",
        "_source",
    }
)


def parse_version(number: str) -> tuple[int, int, int]:
    """``"2.11.1"`` -> ``(2, 11, 1)``; suffixes such as ``-SNAPSHOT`` are ignored."""
    parts = [int(p) for p in re.findall(r"\d+", number)[:3]]
    while len(parts) < 3:
        parts.append(0)
    return parts[0], parts[1], parts[2]


def aws_auth(cfg: SourceConfig) -> Any:
    """A SigV4 signer with credentials from botocore's standard chain (env, IRSA, profile, IMDS)."""
    import botocore.session
    from opensearchpy import Urllib3AWSV4SignerAuth

    session = botocore.session.get_session()
    credentials = session.get_credentials()
    if credentials is None:
        raise ConfigError(
            "source.aws_sigv4 is on but no AWS credentials were found in the standard chain "
            "(AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY, AWS_WEB_IDENTITY_TOKEN_FILE for IRSA, "
            "a profile, or instance metadata)"
        )
    region = (
        cfg.aws_region
        or os.environ.get("AWS_REGION")
        or os.environ.get("AWS_DEFAULT_REGION")
        or session.get_config_variable("region")
    )
    if not region:
        raise ConfigError("source.aws_sigv4 needs a region: source.aws_region or AWS_REGION")
    return Urllib3AWSV4SignerAuth(credentials, region, cfg.aws_service)


def connect(cfg: SourceConfig, raw: bool = False) -> Any:
    """An OpenSearch client: SigV4, ES_API_KEY, or ES_USERNAME+ES_PASSWORD; ES_CA_CERTS.

    ``raw``: JSON responses come back as the text the server sent (for page reads)."""
    from opensearchpy import OpenSearch

    kwargs: dict[str, Any] = {
        "timeout": cfg.request_timeout_s,
        # Retries live in one place (tenacity in ElasticSource.call), with backoff.
        "max_retries": 0,
        "retry_on_timeout": False,
        "verify_certs": cfg.verify_certs,
        "http_compress": os.environ.get("ES_HTTP_COMPRESS", "") == "1",
    }
    if raw:
        kwargs["serializer"] = _raw_serializer()
    creds = from_environment()
    if cfg.aws_sigv4:
        kwargs["http_auth"] = aws_auth(cfg)
    elif creds.api_key:
        kwargs["headers"] = {"Authorization": f"ApiKey {creds.api_key}"}
    elif creds.basic:
        kwargs["http_auth"] = creds.basic
    if creds.ca_certs:
        kwargs["ca_certs"] = creds.ca_certs
    try:
        return OpenSearch(hosts=[cfg.url], **kwargs)
    except (ValueError, TypeError) as exc:
        raise ConfigError(f"source.url {mask_url(cfg.url)!r}: {exc}") from exc


def _raw_serializer() -> Any:
    from opensearchpy.serializer import JSONSerializer

    class Raw(RawJson, JSONSerializer):
        """:class:`RawJson` as an opensearch-py serializer."""

    return Raw()


def classify(exc: BaseException) -> BaseException:
    """opensearch-py exceptions as :class:`TransientError`, :class:`PitExpired` or :class:`SourceError`."""
    from opensearchpy import ConnectionError as OsConnectionError
    from opensearchpy import TransportError

    if isinstance(exc, OsConnectionError):  # includes timeouts and TLS errors
        return TransientError(f"OpenSearch connection failed: {exc}")
    if isinstance(exc, TransportError):
        status = exc.status_code
        text = str(exc)
        if "search_context_missing" in text or "No search context found" in text:
            return PitExpired(f"point in time expired: {exc.error}")
        if isinstance(status, int) and status in RETRY_STATUS:
            return TransientError(f"OpenSearch answered {status}: {exc.error}")
        return SourceError(f"OpenSearch answered {status}: {exc.error} {exc.info}")
    return exc


class _Indices:
    def __init__(self, client: Any) -> None:
        self._c = client

    def get_mapping(self, index: str, **params: Any) -> Any:
        return self._c.indices.get_mapping(index=index, params=_params(params))


class _Compat:
    """opensearch-py behind the keyword shape the shared requests of :class:`ElasticSource`
    are written in (elasticsearch-py 8 takes body keys as keywords, opensearch-py a body)."""

    def __init__(self, client: Any) -> None:
        self.client = client
        self.indices = _Indices(client)

    def info(self) -> Any:
        return self.client.info()

    def count(self, index: str, query: dict[str, Any], **params: Any) -> Any:
        return self.client.count(index=index, body={"query": query}, params=_params(params))

    def search(self, index: str | None = None, **kwargs: Any) -> Any:
        if "source" in kwargs:
            kwargs["_source"] = kwargs.pop("source")
        body = {k: v for k, v in kwargs.items() if k in _BODY_KEYS}
        params = _params({k: v for k, v in kwargs.items() if k not in _BODY_KEYS})
        if index is None:  # a point-in-time search names no index
            return self.client.search(body=body, params=params)
        return self.client.search(index=index, body=body, params=params)

    def close(self) -> None:
        self.client.close()


def _params(params: dict[str, Any]) -> dict[str, Any]:
    return {k: (str(v).lower() if isinstance(v, bool) else v) for k, v in params.items()}


class OpenSearchSource(ElasticSource):
    """The Elasticsearch source's reads, through OpenSearch's point in time, order and ISM."""

    kind = "opensearch"

    def __init__(
        self,
        cfg: SourceConfig,
        client: Any | None = None,
        version: str | None = None,
        *,
        raw_pages: bool | None = None,
    ) -> None:
        """``raw_pages``: read pages through a raw-JSON client built from ``cfg``; by
        default only when no client is given. A caller that built ``client`` from ``cfg``
        itself (``source.kind = auto``) passes True: pages are most of what is read."""
        self.cfg = cfg
        self.client = client if client is not None else connect(cfg)
        self.es = _Compat(self.client)
        self._raw_pages = client is None if raw_pages is None else raw_pages
        self._version = version
        #: OpenSearch Serverless (SigV4 service ``aoss``): point in time, search_after and
        #: slices as on a domain, but no version to ask, no ISM and no ``_shard_doc``.
        self.serverless = cfg.aws_sigv4 and cfg.aws_service == "aoss"

    def classify(self, exc: BaseException) -> BaseException:
        return classify(exc)

    @cached_property
    def page_es(self) -> Any | None:
        return _Compat(connect(self.cfg, raw=True)) if self._raw_pages else None

    @property
    def version(self) -> tuple[int, int, int]:
        if self._version is None:
            self._version = self.ping()
        return parse_version(self._version)

    def ping(self) -> str:
        info = self.call("connect", self.client.info)
        self._version = str(info["version"]["number"])
        return self._version

    def tiebreak(self) -> str:
        """``shard_doc`` or ``id``: the total order the point-in-time reads use."""
        choice = self.cfg.tiebreak
        if choice == "shard_doc" and self.serverless:
            raise ConfigError(
                "source.tiebreak = 'shard_doc' is not known to work on OpenSearch Serverless; "
                "use 'auto' (timestamp, _index, _id)"
            )
        if choice == "shard_doc" and self.version < (*SHARD_DOC_SINCE, 0):
            raise ConfigError(
                f"source.tiebreak = 'shard_doc' needs OpenSearch 3.3.0 or later; this server "
                f"is {'.'.join(map(str, self.version))}. Use 'auto' (timestamp, _index, _id)"
            )
        return "shard_doc" if choice == "shard_doc" else "id"

    # -- point in time ------------------------------------------------------------------

    @contextmanager
    def point_in_time(self, indices: list[str]) -> Iterator[PointInTime]:
        """Open an OpenSearch point in time over ``indices``; always deleted on exit."""
        if not self.serverless and self.version < (*PIT_SINCE, 0):
            raise SourceError(
                f"OpenSearch {'.'.join(map(str, self.version))} has no point in time (2.4+): "
                "windows cannot be read from one consistent snapshot"
            )
        order = self.tiebreak()
        resp = self.call(
            "open point in time",
            self.client.create_pit,
            index=",".join(indices),
            params={"keep_alive": self.cfg.keep_alive},
        )
        pit = OpenSearchPointInTime(self, str(resp["pit_id"]), order)
        try:
            yield pit
        finally:
            pit.close()

    # -- metadata -----------------------------------------------------------------------

    def ilm(self) -> tuple[dict[str, Any], dict[str, Any]] | None:
        return None  # OpenSearch has ISM, not ILM: see index_lives

    def index_lives(self) -> list[IndexLife] | None:
        """Index lifetimes from ISM (``_plugins/_ism/explain`` and the policies it names)."""
        if self.serverless:  # Serverless data lifecycle policies are not ISM: source.retention
            return None
        tr = self.client.transport
        try:
            explain = self.call(
                "ISM explain",
                tr.perform_request,
                method="GET",
                url=f"/_plugins/_ism/explain/{self.cfg.index}",
            )
        except SourceError as exc:
            log.info("no ISM information (%s); using source.retention", exc)
            return None
        managed = {
            name: info
            for name, info in dict(explain).items()
            if isinstance(info, dict) and _policy_id(info)
        }
        policies: dict[str, Any] = {}
        for pid in sorted({_policy_id(i) for i in managed.values()}):
            policies[pid] = self.call(
                f"ISM policy {pid}",
                tr.perform_request,
                method="GET",
                url=f"/_plugins/_ism/policies/{pid}",
            )
        created = self._creation_dates()
        return lives_from_ism(dict(explain), policies, created)

    def _creation_dates(self) -> dict[str, int]:
        resp = self.call(
            "index creation dates",
            self.client.indices.get_settings,
            index=self.cfg.index,
            name="index.creation_date",
            params={"flat_settings": "true", "allow_no_indices": "true"},
        )
        out = {}
        for name, body in dict(resp).items():
            value = body.get("settings", {}).get("index.creation_date")
            if value is not None:
                out[name] = int(value)
        return out

    def data_streams(self) -> dict[str, list[str]]:
        """Data streams of ``source.index`` and their backing indices (``GET _resolve/index``)."""
        try:
            resp = self.call(
                "resolve index",
                self.client.indices.resolve_index,
                name=self.cfg.index,
            )
        except SourceError as exc:
            log.debug("no data streams for %s: %s", self.cfg.index, exc)
            return {}
        return backing_from_resolve(dict(resp))


class OpenSearchPointInTime(PointInTime):
    """Reads through an OpenSearch point in time."""

    def __init__(self, source: OpenSearchSource, pit_id: str, order: str) -> None:
        super().__init__(source, pit_id)
        self.order = order

    def sort(self) -> list[Any]:
        if self.order == "shard_doc":
            return [{"_shard_doc": "asc"}]
        ts = self.source.cfg.timestamp_field
        return [{ts: "asc"}, {"_index": "asc"}, {"_id": "asc"}]

    def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        src = self.source
        assert isinstance(src, OpenSearchSource)
        try:
            src.client.delete_pit(body={"pit_id": [self.id]})
        except Exception as exc:  # an expired or already-deleted PIT is fine to leave
            log.debug("deleting point in time failed: %s", exc)


def _policy_id(info: dict[str, Any]) -> str:
    return str(
        info.get("index.plugins.index_state_management.policy_id")
        or info.get("index.opendistro.index_state_management.policy_id")
        or info.get("policy_id")
        or ""
    )


def _ms(value: int) -> datetime:
    return datetime.fromtimestamp(value / 1000, UTC)


def ism_delete_age(policy: dict[str, Any]) -> Any:
    """The smallest ``min_index_age`` of a transition into a state that deletes the index.

    ISM measures ``min_index_age`` from the index's creation, so this is how long after its
    creation the policy deletes an index at the earliest. ``None`` when no age-triggered
    transition leads to a delete action.
    """
    body = policy.get("policy", policy)
    states = body.get("states", [])
    deleting = {s["name"] for s in states if any("delete" in a for a in s.get("actions", []))}
    ages = []
    for s in states:
        for t in s.get("transitions", []) or []:
            age = (t.get("conditions") or {}).get("min_index_age")
            if t.get("state_name") in deleting and age:
                ages.append(es_time(age))
    return min(ages) if ages else None


def lives_from_ism(
    explain: dict[str, Any], policies: dict[str, Any], created: dict[str, int]
) -> list[IndexLife]:
    """Index lifetimes from ``_plugins/_ism/explain``, the policies and creation dates."""
    out = []
    names = sorted(set(created) | {n for n, i in explain.items() if isinstance(i, dict)})
    for name in names:
        info = explain.get(name)
        ms = created.get(name)
        if ms is None and isinstance(info, dict) and info.get("index_creation_date"):
            ms = int(info["index_creation_date"])
        deletes_at, basis = None, ""
        pid = _policy_id(info) if isinstance(info, dict) else ""
        enabled = info.get("enabled", True) is not False if isinstance(info, dict) else False
        if pid and ms is not None and enabled:
            after = ism_delete_age(policies.get(pid, {}))
            if after is not None:
                deletes_at = _ms(ms) + after
                basis = (
                    f"ISM policy {pid} deletes {name} {format_duration(after)} after its creation"
                )
        out.append(IndexLife(name, _ms(ms) if ms is not None else None, deletes_at, basis))
    return out
