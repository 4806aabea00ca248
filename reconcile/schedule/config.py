"""Configuration of the scheduled run."""

from __future__ import annotations

from datetime import timedelta
from typing import Protocol

from pydantic import BaseModel, ConfigDict, Field

from ..alerts.config import AlertsJob
from ..archive.config import ArchiveJob
from ..check.config import CheckJob
from ..durations import Duration
from ..egress.config import EgressJob


class RunConfig(BaseModel):
    """What one scheduled run covers, and how runs keep out of each other's way."""

    model_config = ConfigDict(extra="forbid", use_attribute_docstrings=True)

    archive: bool = True
    """Archive closed, uncommitted hours (turn off when another system archives)."""
    archive_lookback_hours: int = Field(48, ge=1, le=24 * 90)
    """How far back a run looks for hours still to archive (catch-up after downtime)."""
    max_windows_per_run: int = Field(24, ge=1)
    """Most hours one run archives, oldest first; the next run continues."""
    recheck_lookback_hours: int = Field(48, ge=0, le=24 * 90)
    """How far back a run looks for committed hours that Elasticsearch now holds more documents for (late arrivals) and re-archives them."""
    max_rearchive_per_run: int = Field(12, ge=0)
    """Most committed hours one run re-archives for late documents, oldest first; the next run continues."""
    retention_warning: Duration = timedelta(hours=24)
    """A missing or stale hour whose index Elasticsearch deletes within this time is critical, and says by when to backfill."""
    check_lookback_hours: int = Field(48, ge=1, le=24 * 90)
    """Hours judged by each run, ending at the current hour (re-judging lets alerts resolve)."""
    egress_lookback_hours: int = Field(6, ge=1, le=24 * 14)
    """Hours of NAT gateway egress judged by each run."""
    lease_ttl_s: float = Field(1800.0, gt=0)
    """Lifetime of the run lease; renewed while the run works, so only a crashed run lets it lapse."""
    lease_wait_s: float = Field(0.0, ge=0)
    """How long to wait for another run to finish before giving up (exit 1)."""
    pushgateway_url: str | None = None
    """Prometheus Pushgateway to push run metrics to (e.g. http://pushgateway:9091)."""


class RunJob(ArchiveJob, CheckJob, EgressJob, AlertsJob, Protocol):
    """What a scheduled run reads of a job: what each stage it runs reads, and its section."""

    @property
    def run(self) -> RunConfig: ...
