"""Configuration of the log source (Elasticsearch or OpenSearch). Credentials never live here."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from ..durations import Duration


class SourceConfig(BaseModel):
    """Where the logs are and how to read them."""

    model_config = ConfigDict(extra="forbid", use_attribute_docstrings=True)

    url: str = "http://localhost:9200"
    """Elasticsearch or OpenSearch URL. Credentials go in ES_API_KEY or ES_USERNAME/ES_PASSWORD, not here."""
    kind: Literal["auto", "elasticsearch", "opensearch"] = "auto"
    """Which server: auto asks the root endpoint (version.distribution) and logs what it found."""
    aws_sigv4: bool = False
    """Sign requests with AWS SigV4 (Amazon OpenSearch Service); credentials from the standard AWS chain (IRSA)."""
    aws_service: Literal["es", "aoss"] = "es"
    """SigV4 service name: es for an OpenSearch Service domain, aoss for an OpenSearch Serverless collection."""
    aws_region: str | None = None
    """SigV4 region (default AWS_REGION / AWS_DEFAULT_REGION)."""
    tiebreak: Literal["auto", "shard_doc", "id"] = "auto"
    """OpenSearch search_after total order: auto/id = (timestamp, _index, _id) on every version; shard_doc needs 3.3+."""
    index: str = "logs-*"
    """Index pattern (or comma-separated list, aliases, data streams) holding the logs."""
    timestamp_field: str = "@timestamp"
    """Top-level date field that places a document in an hour window."""
    filter: dict[str, Any] | None = None
    """Optional query DSL clause ANDed to the window, e.g. {"term": {"service": "hub"}}."""
    page_size: int = Field(5000, ge=1, le=10000)
    """Documents per search_after page; a window counted at no more is read by one search,
    without a point in time."""
    slices: int = Field(4, ge=1, le=64)
    """Most point-in-time slices read in parallel for one window."""
    slice_min_docs: int = Field(100_000, ge=1)
    """A window gets one slice per this many documents, up to `slices`."""
    keep_alive: str = "5m"
    """Point-in-time keep-alive between two pages."""
    request_timeout_s: float = Field(120.0, gt=0)
    """Timeout for one Elasticsearch request."""
    max_retries: int = Field(8, ge=0)
    """Retries of one request on 429, 5xx, timeouts and dropped connections."""
    retry_max_wait_s: float = Field(30.0, gt=0)
    """Ceiling of the exponential backoff between retries."""
    retention: Duration | None = None
    """How long the source keeps a window's documents after it ends, when no ILM/ISM policy says (e.g. "7d"); used to warn before missing hours are lost for good."""
    verify_certs: bool = True
    """Verify TLS certificates (custom CA from ES_CA_CERTS)."""

    @model_validator(mode="after")
    def _sigv4_is_opensearch(self) -> SourceConfig:
        if self.aws_sigv4 and self.kind == "elasticsearch":
            raise ValueError(
                "source.aws_sigv4 signs requests for Amazon OpenSearch Service; it cannot be "
                "used with source.kind = 'elasticsearch' (use 'auto' or 'opensearch')"
            )
        return self
