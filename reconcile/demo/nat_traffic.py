"""Synthetic NAT gateway traffic for tests, the bench and the demo. Deterministic per seed.

- :func:`nat_series`: one gateway's per-hour byte series with daily and weekly seasonality,
  a weekly batch job, multiplicative noise, benign bursts and growth steps, and injected
  spikes that are labelled (:class:`Spike`).
- :func:`fleet`: the bench's labelled set (N gateways x W weeks).
- :func:`put_metric_series`: writes a series into CloudWatch (``AWS/NATGateway``) with
  ``put_metric_data``. Real CloudWatch refuses datapoints older than two weeks (and NAT
  gateway metrics are published by AWS itself); this is for moto and demos.
- :func:`write_flow_logs`: VPC flow log records (v5 fields, Parquet) for a NAT gateway's
  interface in the real Hive-compatible hourly layout, including S3-through-NAT traffic.
"""

from __future__ import annotations

import hashlib
import io
import math
import random
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from ..egress.flowlogs import flow_log_schema
from ..timewin import HOUR, floor_hour

GIB = float(1 << 30)
MIB = float(1 << 20)
NAMESPACE = "AWS/NATGateway"


@dataclass(frozen=True, slots=True)
class Spike:
    """An injected anomaly: ``periods`` periods from ``start`` carry ``factor`` x normal traffic."""

    gateway: str
    start: datetime
    periods: int
    factor: float

    def hours(self, period: timedelta = HOUR) -> list[datetime]:
        return [self.start + i * period for i in range(self.periods)]


@dataclass(slots=True)
class SynthGateway:
    """One generated gateway: its series and what was put into it."""

    gateway: str
    values: dict[datetime, float]
    spikes: list[Spike] = field(default_factory=list)
    steps: list[tuple[datetime, float]] = field(default_factory=list)
    """Benign lasting level changes (start, factor)."""
    level: float = 0.0
    """Mean bytes per hour before any growth."""

    def spike_hours(self) -> set[datetime]:
        return {h for s in self.spikes for h in s.hours()}


@dataclass(frozen=True, slots=True)
class Shape:
    """The normal behaviour of one gateway."""

    level: float = 20 * GIB
    """Mean bytes per hour."""
    daily_amplitude: float = 0.5
    """Relative swing of the day (peak at 14:00 local, trough at 02:00)."""
    weekend: float = 0.6
    """Saturday and Sunday traffic relative to weekdays."""
    tz_offset_h: int = 0
    """Local time of the workload, hours east of UTC."""
    noise: float = 0.1
    """Sigma of the multiplicative log-normal noise."""
    batch_factor: float = 1.0
    """A weekly batch job (Sunday 03:00 local) multiplies that hour by this (1: none)."""
    burst_rate: float = 0.003
    """Chance per hour of a benign, unlabelled burst of 1.2-1.6x (deploys, cache refills)."""


def gateway_id(rng: random.Random) -> str:
    return f"nat-{rng.getrandbits(68):017x}"


def _normal(shape: Shape, t: datetime) -> float:
    local = t + timedelta(hours=shape.tz_offset_h)
    daily = 1.0 + shape.daily_amplitude * math.cos(2 * math.pi * (local.hour - 14) / 24)
    weekly = shape.weekend if local.weekday() >= 5 else 1.0
    batch = shape.batch_factor if (local.weekday() == 6 and local.hour == 3) else 1.0
    return shape.level * daily * weekly * batch


def nat_series(
    gateway: str,
    start: datetime,
    hours: int,
    shape: Shape,
    *,
    seed: int | str = 0,
    steps: Sequence[tuple[datetime, float]] = (),
    spikes: Sequence[Spike] = (),
) -> SynthGateway:
    """An hourly byte series from ``start``; spikes multiply the (noisy) normal value."""
    rng = random.Random(f"series-{seed}-{gateway}")
    start = floor_hour(start)
    spike_at = {h: s.factor for s in spikes for h in s.hours()}
    values: dict[datetime, float] = {}
    for i in range(hours):
        t = start + i * HOUR
        v = _normal(shape, t)
        for when, factor in steps:
            if t >= when:
                v *= factor
        v *= math.exp(rng.gauss(0.0, shape.noise))
        if rng.random() < shape.burst_rate:
            v *= rng.uniform(1.2, 1.6)
        v *= spike_at.get(t, 1.0)
        values[t] = float(round(v))
    return SynthGateway(gateway, values, list(spikes), list(steps), shape.level)


def random_spikes(
    rng: random.Random,
    gateway: str,
    start: datetime,
    hours: int,
    count: int,
    factors: tuple[float, float] = (1.5, 10.0),
    max_periods: int = 4,
) -> list[Spike]:
    """``count`` non-overlapping spikes, factors log-uniform in ``factors``, 1..max_periods long."""
    taken: set[int] = set()
    out: list[Spike] = []
    lo, hi = math.log(factors[0]), math.log(factors[1])
    while len(out) < count:
        n = rng.randint(1, max_periods)
        i = rng.randrange(0, hours - n)
        span = set(range(i - 6, i + n + 6))
        if span & taken:
            continue
        taken |= span
        out.append(Spike(gateway, start + i * HOUR, n, round(math.exp(rng.uniform(lo, hi)), 2)))
    return sorted(out, key=lambda s: s.start)


def fleet(
    gateways: int = 10,
    weeks: int = 8,
    seed: int = 0,
    start: datetime | None = None,
    spikes_per_week: float = 1.0,
    quiet: int = 1,
) -> list[SynthGateway]:
    """The bench's labelled set: ``gateways`` gateways x ``weeks`` weeks of hourly bytes.

    Levels are log-uniform between 5 and 200 GiB/hour; ``quiet`` of the gateways idle at
    tens of MiB/hour with no injected spikes (only the absolute floor keeps them quiet).
    Each busy gateway gets up to two benign growth steps of 1.1-1.8x and
    ``spikes_per_week`` injected spikes of 1.5-10x lasting 1-4 hours.
    """
    rng = random.Random(f"fleet-{seed}")
    start = floor_hour(start or datetime(2026, 1, 5, tzinfo=UTC))  # a Monday
    hours = weeks * 7 * 24
    out = []
    for g in range(gateways):
        gw = gateway_id(rng)
        is_quiet = g >= gateways - quiet
        shape = Shape(
            level=rng.uniform(10, 60) * MIB
            if is_quiet
            else math.exp(rng.uniform(math.log(5 * GIB), math.log(200 * GIB))),
            daily_amplitude=rng.uniform(0.2, 0.7),
            weekend=rng.uniform(0.3, 0.9),
            tz_offset_h=rng.choice([-8, -5, 0, 1, 5, 9]),
            noise=rng.uniform(0.05, 0.2) if not is_quiet else rng.uniform(0.2, 0.5),
            batch_factor=rng.choice([1.0, 1.0, 3.0, 5.0]),
        )
        steps = [
            (start + rng.randrange(24 * 7, hours) * HOUR, round(rng.uniform(1.1, 1.8), 2))
            for _ in range(rng.randint(0, 2))
        ]
        spikes = (
            [] if is_quiet else random_spikes(rng, gw, start, hours, round(spikes_per_week * weeks))
        )
        out.append(nat_series(gw, start, hours, shape, seed=seed, steps=steps, spikes=spikes))
    return out


# -- CloudWatch --------------------------------------------------------------------------


def put_metric_series(
    client: Any,
    gateway: str,
    values: dict[datetime, float],
    metric: str = "BytesOutToDestination",
    unit: str | None = None,
    batch: int = 500,
) -> int:
    """Write ``values`` (period start -> sum) for one gateway; returns datapoints written."""
    unit = unit or ("Bytes" if metric.startswith("Bytes") else "Count")
    data = [
        {
            "MetricName": metric,
            "Dimensions": [{"Name": "NatGatewayId", "Value": gateway}],
            "Timestamp": t,
            "Value": float(v),
            "Unit": unit,
        }
        for t, v in sorted(values.items())
    ]
    for i in range(0, len(data), batch):
        client.put_metric_data(Namespace=NAMESPACE, MetricData=data[i : i + batch])
    return len(data)


# -- VPC flow logs -----------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Talker:
    """Traffic from a host in the VPC to a remote address through the NAT gateway."""

    src: str
    dst: str
    bytes_out: int
    aws_service: str | None = None
    """``pkt-dst-aws-service`` of the destination (``S3``, ``DYNAMODB``, ...), None otherwise."""
    bytes_in: int = 0
    dstport: int = 443


@dataclass(frozen=True, slots=True)
class NatInterface:
    """Where a NAT gateway's flow logs come from."""

    interface_id: str
    private_ip: str = "10.0.0.220"
    account_id: str = "123456789012"
    region: str = "us-east-1"
    vpc_id: str = "vpc-0a1b2c3d4e5f60718"
    subnet_id: str = "subnet-0a1b2c3d4e5f60718"
    az_id: str = "use1-az1"


def flow_records(
    nat: NatInterface, hour: datetime, talkers: Sequence[Talker], seed: int | str = 0
) -> Iterator[dict[str, Any]]:
    """The records the NAT gateway's interface logs for ``talkers`` during ``hour``.

    Each talker's bytes are spread over six 10-minute aggregation intervals; each interval
    yields the four records AWS documents for traffic through a NAT gateway (instance to
    NAT, NAT to destination, reply to NAT, NAT to instance).
    """
    rng = random.Random(f"flows-{seed}-{nat.interface_id}-{hour.isoformat()}")
    base = int(floor_hour(hour).timestamp())
    common = {
        "version": 5,
        "account_id": nat.account_id,
        "interface_id": nat.interface_id,
        "protocol": 6,
        "action": "ACCEPT",
        "log_status": "OK",
        "vpc_id": nat.vpc_id,
        "subnet_id": nat.subnet_id,
        "instance_id": "-",
        "type": "IPv4",
        "region": nat.region,
        "az_id": nat.az_id,
        "sublocation_type": "-",
        "sublocation_id": "-",
    }
    for talker in talkers:
        svc = talker.aws_service or "-"
        sport = rng.randrange(32768, 61000)
        nat_port = rng.randrange(1024, 65535)
        for k in range(6):
            start = base + k * 600 + rng.randrange(0, 60)
            end = start + rng.randrange(60, 540)
            out_b = talker.bytes_out // 6 + (talker.bytes_out % 6 if k == 0 else 0)
            in_b = talker.bytes_in // 6 + (talker.bytes_in % 6 if k == 0 else 0)
            pk_out, pk_in = max(1, out_b // 1400), max(1, in_b // 1400)

            def rec(**kw: Any) -> dict[str, Any]:
                return {**common, "start": start, "end": end, "tcp_flags": 0, **kw}  # noqa: B023

            yield rec(  # instance -> NAT (the packet is for the destination)
                srcaddr=talker.src, dstaddr=nat.private_ip, srcport=sport,
                dstport=talker.dstport, packets=pk_out, bytes=out_b,
                pkt_srcaddr=talker.src, pkt_dstaddr=talker.dst,
                pkt_src_aws_service="-", pkt_dst_aws_service=svc,
                flow_direction="ingress", traffic_path=None,
            )  # fmt: skip
            yield rec(  # NAT -> destination
                srcaddr=nat.private_ip, dstaddr=talker.dst, srcport=nat_port,
                dstport=talker.dstport, packets=pk_out, bytes=out_b,
                pkt_srcaddr=nat.private_ip, pkt_dstaddr=talker.dst,
                pkt_src_aws_service="-", pkt_dst_aws_service=svc,
                flow_direction="egress", traffic_path=8,
            )  # fmt: skip
            yield rec(  # destination -> NAT (reply)
                srcaddr=talker.dst, dstaddr=nat.private_ip, srcport=talker.dstport,
                dstport=nat_port, packets=pk_in, bytes=in_b,
                pkt_srcaddr=talker.dst, pkt_dstaddr=nat.private_ip,
                pkt_src_aws_service=svc, pkt_dst_aws_service="-",
                flow_direction="ingress", traffic_path=None,
            )  # fmt: skip
            yield rec(  # NAT -> instance (reply, original source kept in pkt_srcaddr)
                srcaddr=nat.private_ip, dstaddr=talker.src, srcport=talker.dstport,
                dstport=sport, packets=pk_in, bytes=in_b,
                pkt_srcaddr=talker.dst, pkt_dstaddr=talker.src,
                pkt_src_aws_service=svc, pkt_dst_aws_service="-",
                flow_direction="egress", traffic_path=1,
            )  # fmt: skip


def flow_log_key(nat: NatInterface, delivered: datetime, flow_log_id: str, part: int) -> str:
    """Key below ``AWSLogs/`` of a file delivered at ``delivered`` (Hive-compatible, hourly)."""
    d = delivered.astimezone(UTC)
    stamp = d.strftime("%Y%m%dT%H%MZ")
    seed = f"{flow_log_id}{nat.interface_id}{stamp}{part}"
    digest = hashlib.sha1(seed.encode()).hexdigest()[:8]
    return (
        f"aws-account-id={nat.account_id}/aws-service=vpcflowlogs/aws-region={nat.region}/"
        f"year={d:%Y}/month={d:%m}/day={d:%d}/hour={d:%H}/"
        f"{nat.account_id}_vpcflowlogs_{nat.region}_{flow_log_id}_{stamp}_{digest}.log.parquet"
    )


def write_flow_logs(
    store: Any,
    nat: NatInterface,
    hour: datetime,
    talkers: Sequence[Talker],
    *,
    prefix: str = "AWSLogs/",
    flow_log_id: str = "fl-0123456789abcdef0",
    seed: int | str = 0,
    fields: Sequence[str] | None = None,
) -> list[str]:
    """Write one hour of the interface's records as AWS would deliver them; returns the keys.

    ``fields`` is the flow log's format (Parquet names, e.g. ``flowlogs.V2_FIELDS`` for the
    default format); all v5 fields by default.

    Records are grouped into files by 5-minute delivery slot; a record lands in the hour
    partition of its delivery time (about ten minutes after its interval starts), so the
    hour's last records sit in the next hour's partition, as on AWS.
    """
    import pyarrow as pa
    import pyarrow.parquet as pq

    schema = flow_log_schema()
    if fields is not None:
        schema = pa.schema([schema.field(name) for name in fields])
    version = 5 if fields is None or "flow_direction" in fields else 2
    by_file: dict[datetime, list[dict[str, Any]]] = {}
    for r in flow_records(nat, hour, talkers, seed):
        delivered = datetime.fromtimestamp(r["start"] + 600, UTC)
        slot = delivered.replace(minute=delivered.minute - delivered.minute % 5, second=0)
        by_file.setdefault(slot, []).append(r)
    keys = []
    for i, (slot, rows) in enumerate(sorted(by_file.items())):
        rows = [{**r, "version": version} for r in rows]
        table = pa.Table.from_pylist(rows, schema=schema)
        buf = io.BytesIO()
        pq.write_table(table, buf, compression="gzip")
        key = prefix + flow_log_key(nat, slot, flow_log_id, i)
        store.put_bytes(key, buf.getvalue())
        keys.append(key)
    return keys
