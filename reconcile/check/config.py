"""Configuration of the check: how hours are judged, where results go, which engine runs SQL."""

from __future__ import annotations

from datetime import timedelta
from typing import Literal, Protocol

from pydantic import BaseModel, ConfigDict, Field

from ..archive.config import ArchiveConfig
from ..durations import Duration
from ..expected.config import ExpectedConfig
from ..source.config import SourceConfig


class CheckConfig(BaseModel):
    """How hours are judged and where results go."""

    model_config = ConfigDict(extra="forbid", use_attribute_docstrings=True)

    abs_tolerance: int = Field(0, ge=0)
    """Log rows an hour may differ from its expected log count and still be ok."""
    rel_tolerance: float = Field(0.001, ge=0, lt=1)
    """Fraction of the expected log count an hour may differ and still be ok; the larger of the two tolerances applies."""
    expected_ratio: float = Field(1.0, gt=0)
    """Log rows the application writes per load-balancer request (0.5 if it logs half); used unless learned."""
    learn_ratio: bool = False
    """Learn the ratio per hour as the median archived/expected of the trailing ratio_days of complete hours."""
    ratio_days: int = Field(7, ge=1, le=90)
    """Days of history a learned ratio looks back over."""
    ratio_min_samples: int = Field(24, ge=1)
    """Fewest trailing hours a learned ratio needs; with fewer, expected_ratio applies."""
    grace: Duration = timedelta(minutes=30)
    """Time after a window closes before it is judged (pending until then): "30m", "2h", "PT45M" or seconds."""
    read_indexed: bool = True
    """Read what Elasticsearch holds per hour now (the middle of the three figures; one aggregation request per check) to find stale windows and name the hop that lost logs."""
    count_quarantined: bool = True
    """Count documents the archive quarantined to _rejects/ (stored as JSON, not Parquet) as archived."""
    results_uri: str = ""
    """Results dataset (Parquet, Hive kind=/dt=); empty means <archive uri>/_reconcile/results."""
    engine: Literal["duckdb", "athena"] = "duckdb"
    """SQL engine for the query files: duckdb (in-process) or athena (the tables must exist; see docs/check.md)."""
    read_workers: int = Field(16, ge=1, le=128)
    """Parquet footers and manifests read in parallel (object-storage requests in flight)."""
    athena_database: str = "default"
    """Athena database (Glue) holding archive_logs, alb_access_logs and reconcile_results; one per job."""
    athena_catalog: str = "AwsDataCatalog"
    """Athena data catalog."""
    athena_workgroup: str = "primary"
    """Athena workgroup the queries run in (its settings may enforce the output location)."""
    athena_output_location: str | None = None
    """s3:// prefix for Athena query results; None uses the workgroup's setting."""
    athena_poll_interval_s: float = Field(0.5, gt=0)
    """First wait between polls of a running Athena query; it grows 1.5x per poll up to 5 s."""
    athena_timeout_s: float = Field(600.0, gt=0)
    """A query still running after this is stopped and the check fails."""


def default_results_uri(archive_uri: str) -> str:
    """``<archive uri>/_reconcile/results`` (``_`` keeps it out of the archive's readers)."""
    return archive_uri.rstrip("/") + "/_reconcile/results"


class CheckJob(Protocol):
    """What the check reads of a job: its name, the source (what Elasticsearch holds now),
    the archive, the expected side, its own section, where findings go, and how far ahead a
    retention deadline becomes critical."""

    @property
    def name(self) -> str: ...

    @property
    def source(self) -> SourceConfig: ...

    @property
    def archive(self) -> ArchiveConfig: ...

    @property
    def expected(self) -> ExpectedConfig: ...

    @property
    def check(self) -> CheckConfig: ...

    @property
    def retention_warning(self) -> timedelta: ...

    @property
    def results_uri(self) -> str:
        """Where findings are written (the job puts it beside the archive unless set)."""
        ...
