"""Configuration of the Parquet archive."""

from __future__ import annotations

from datetime import timedelta
from typing import Literal, Protocol

from pydantic import BaseModel, ConfigDict, Field

from ..durations import Duration
from ..source.config import SourceConfig


class ArchiveConfig(BaseModel):
    """Where windows are archived and how the Parquet files are shaped."""

    model_config = ConfigDict(extra="forbid", use_attribute_docstrings=True)

    uri: str = ""
    """s3://bucket/prefix, file:///path or a local path. Hive layout dt=YYYY-MM-DD/hour=HH below it."""
    compression: Literal["zstd", "snappy", "gzip", "none"] = "zstd"
    """Parquet compression codec."""
    compression_level: int | None = 1
    """Codec level (zstd 1-22); None for the codec default. Level 1 is Arrow's default: on
    access logs it encodes about a quarter faster than 3 for files within a few percent."""
    row_group_rows: int = Field(131_072, ge=1_000)
    """Most rows in one Parquet row group."""
    buffer_mb: int = Field(32, ge=4)
    """Arrow megabytes buffered for row groups, shared by a window's slices (bounds memory)."""
    max_file_rows: int = Field(2_000_000, ge=1_000)
    """Most rows in one Parquet file; a slice rolls to a new part file beyond it."""
    max_doc_bytes: int = Field(1_048_576, ge=1)
    """Documents whose JSON source is larger go to the window's quarantine (_rejects/)."""
    array_fields: list[str] = []
    """Dotted field names archived as lists; other fields keep scalar columns."""
    sse: Literal["AES256", "aws:kms"] | None = None
    """S3 server-side encryption; None keeps the bucket default."""
    sse_kms_key_id: str | None = None
    """KMS key id or ARN for sse = "aws:kms"."""
    multipart_chunk_mb: int = Field(16, ge=5)
    """S3 multipart part size; larger files are uploaded in parts."""
    allow_open_windows: bool = False
    """Archive windows that have not closed yet, or not settled (their counts will still move)."""
    settle: Duration = timedelta(minutes=20)
    """How long after a window closes it is first archived, so logs still in flight (Filebeat and Logstash retry backoffs of up to about a minute each, Logstash queues, refresh) arrive first; later arrivals are re-archived."""
    tmp_dir: str | None = None
    """Local scratch directory for Parquet files before upload; default: the system temp dir."""


class ArchiveJob(Protocol):
    """What the archive stage reads of a job: the source it copies from and its own section.

    :class:`reconcile.job.JobSpec` provides it; so can anything holding just these two."""

    @property
    def source(self) -> SourceConfig: ...

    @property
    def archive(self) -> ArchiveConfig: ...
