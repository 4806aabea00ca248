"""Configuration of the NAT gateway egress watch."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Annotated, Any, Literal, Protocol

from pydantic import BaseModel, BeforeValidator, ByteSize, ConfigDict, Field, model_validator

from ..cwretention import MARGIN, kept_for
from ..timewin import parse_time

#: CloudWatch ``AWS/NATGateway`` metrics that count bytes or packets, summed per period.
#: ``out`` metrics measure traffic leaving towards the destination, ``in`` the replies.
BYTE_METRICS = {
    "BytesOutToDestination": "out",
    "BytesInFromSource": "out",
    "BytesInFromDestination": "in",
    "BytesOutToSource": "in",
}
PACKET_METRICS = {
    "PacketsOutToDestination": "out",
    "PacketsInFromSource": "out",
    "PacketsInFromDestination": "in",
    "PacketsOutToSource": "in",
}
METRIC_DIRECTION = {**BYTE_METRICS, **PACKET_METRICS}
Metric = Literal[
    "BytesOutToDestination",
    "BytesInFromSource",
    "BytesInFromDestination",
    "BytesOutToSource",
    "PacketsOutToDestination",
    "PacketsInFromSource",
    "PacketsInFromDestination",
    "PacketsOutToSource",
]
#: Periods that divide an hour (and so a week): the seasonal baseline compares the same slot.
PERIODS = (60, 300, 600, 900, 1200, 1800, 3600)
WEEK = timedelta(days=7)


def _utc(value: Any) -> Any:
    """Accept ``2026-11-20``, ``2026-11-20T13`` and ISO 8601; naive values are UTC."""
    if isinstance(value, str):
        return parse_time(value, "egress.maintenance")
    if isinstance(value, datetime):
        return parse_time(value.isoformat(), "egress.maintenance")
    return value


UtcTime = Annotated[datetime, BeforeValidator(_utc)]


class MaintenanceWindow(BaseModel):
    """A known period of unusual traffic (migration, backfill, load test) that is not judged."""

    model_config = ConfigDict(extra="forbid", use_attribute_docstrings=True)

    start: UtcTime
    """Start, UTC (inclusive)."""
    end: UtcTime
    """End, UTC (exclusive)."""
    gateways: list[str] = []
    """NAT gateway ids it applies to; empty means every gateway of the job."""
    reason: str = ""
    """Shown in the findings of the excluded hours."""

    @model_validator(mode="after")
    def _ordered(self) -> MaintenanceWindow:
        if self.end <= self.start:
            raise ValueError(
                f"maintenance window ends ({self.end}) before it starts ({self.start})"
            )
        return self

    def covers(self, gateway: str, start: datetime, end: datetime) -> bool:
        """True when this window applies to ``gateway`` and overlaps ``[start, end)``."""
        if self.gateways and gateway not in self.gateways:
            return False
        return self.start < end and start < self.end


class EgressConfig(BaseModel):
    """Which NAT gateways are watched, and how an hour of egress is judged."""

    model_config = ConfigDict(extra="forbid", use_attribute_docstrings=True)

    nat_gateways: list[str] = []
    """NAT gateway ids (nat-...) to judge, in the region of the AWS environment."""
    region: str | None = None
    """AWS region of the gateways and their metrics; default: the AWS environment's region."""
    metric: Metric = "BytesOutToDestination"
    """CloudWatch AWS/NATGateway metric judged (Sum per period); packet metrics count packets."""
    period_s: int = 3600
    """Seconds per judged period (a divisor of an hour); one finding per gateway and period."""
    settle_minutes: int = Field(15, ge=0)
    """A period is judged only this long after it ended, so CloudWatch has all its datapoints."""
    static_threshold: ByteSize | None = None
    """Static threshold per period for every gateway (e.g. "50GiB"); unset: no static layer."""
    static_thresholds: dict[str, ByteSize] = {}
    """Per-gateway static thresholds (gateway id -> size); override static_threshold."""
    history_weeks: int = Field(4, ge=1, le=12)
    """Trailing weeks of the same hour of the week that form the seasonal baseline; CloudWatch's retention caps it below period_s = 3600 (300-1800 s: 8 weeks, 60 s: 1)."""
    min_history_weeks: int = Field(3, ge=1, le=12)
    """Fewer usable weeks than this: say so and judge against the static threshold instead."""
    z_threshold: float = Field(5.0, gt=0)
    """Robust score (excess over the baseline median, in MAD-derived standard deviations)."""
    min_relative_increase: float = Field(1.0, ge=0)
    """The period must also exceed the baseline by this fraction (1.0: at least double)."""
    min_excess_bytes: ByteSize = ByteSize(1 << 30)
    """...and by at least this much in absolute terms, so quiet gateways never page anyone."""
    noise_floor: float = Field(0.1, ge=0)
    """Least spread assumed, as a fraction of the baseline, when past weeks agree too well."""
    level_adjust_hours: int = Field(24, ge=0)
    """Trailing periods whose median ratio to their own baselines lifts the baseline (0: off)."""
    max_level_factor: float = Field(3.0, ge=1)
    """Most the level adjustment may lift the baseline; it never lowers it."""
    maintenance: list[MaintenanceWindow] = []
    """Known maintenance windows: not judged, and left out of every baseline."""
    port_allocation_errors: bool = True
    """Also report ErrorPortAllocation > 0 as its own finding (resource <nat-id>/ErrorPortAllocation)."""
    flow_logs_uri: str = ""
    """VPC flow log destination (s3://bucket/prefix, Parquet, Hive-compatible, hourly); AWSLogs/ lies below it."""
    interfaces: dict[str, str] = {}
    """NAT gateway id -> its network interface id (eni-...); looked up through EC2 when missing."""
    top_n: int = Field(10, ge=1, le=1000)
    """Top talkers (sources, destinations, AWS services) listed per spike."""
    results: str = ""
    """Results dataset URI; empty: <archive uri>/_reconcile/results, or not stored without an archive."""

    @model_validator(mode="after")
    def _consistent(self) -> EgressConfig:
        if self.period_s not in PERIODS:
            raise ValueError(f"period_s must be one of {', '.join(map(str, PERIODS))}")
        if self.min_history_weeks > self.history_weeks:
            raise ValueError("min_history_weeks cannot exceed history_weeks")
        self._within_retention()
        return self

    def _within_retention(self) -> None:
        """The baseline must be readable at ``period_s`` (CloudWatch rolls fine data up)."""
        kept = kept_for(self.period_s)
        reach = (
            self.history_weeks * WEEK
            + timedelta(hours=self.level_adjust_hours, minutes=self.settle_minutes)
            + timedelta(seconds=self.period_s)
            + 2 * MARGIN
        )
        if reach <= kept:
            return
        fits = (kept - reach + self.history_weeks * WEEK) // WEEK
        coarser = next(p for p in PERIODS if kept_for(p) >= reach)
        raise ValueError(
            f"period_s = {self.period_s} with history_weeks = {self.history_weeks} (and "
            f"level_adjust_hours = {self.level_adjust_hours}) needs datapoints "
            f"{reach / timedelta(days=1):.1f} days old, but CloudWatch keeps {self.period_s} s "
            "datapoints for "
            f"{kept.days} days: set period_s = {coarser} or more, or history_weeks (and "
            f"min_history_weeks) to at most {fits}"
        )

    def static_for(self, gateway: str) -> int | None:
        """The static threshold that applies to ``gateway``, if any."""
        value = self.static_thresholds.get(gateway, self.static_threshold)
        return int(value) if value is not None else None

    @property
    def direction(self) -> str:
        """``out`` (towards destinations) or ``in`` (replies) for the configured metric."""
        return METRIC_DIRECTION[self.metric]

    @property
    def unit(self) -> str:
        return "Bytes" if self.metric in BYTE_METRICS else "Count"


class EgressJob(Protocol):
    """What the egress stage reads of a job: its name (labels findings), its section and
    where its findings go."""

    @property
    def name(self) -> str: ...

    @property
    def egress(self) -> EgressConfig: ...

    @property
    def egress_results_uri(self) -> str:
        """Where findings are written (the job puts it beside the archive unless set)."""
        ...
