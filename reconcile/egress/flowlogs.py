"""Drill-down: who sent the bytes through a NAT gateway, from VPC flow logs in S3.

Flow logs are read where AWS delivers them (Parquet, Hive-compatible prefixes, hourly
partitions; see ``sql/ddl/vpc_flow_logs.sql``) through the object store's pyarrow
filesystem, and queried through the engine interface (:mod:`reconcile.engines`; DuckDB
in-process by default) using the very query text Athena runs
(``sql/queries/egress_top_talkers.sql``). Only the partitions of the hours asked for are
listed and read.

Traffic from the VPC to S3 or DynamoDB through a NAT gateway pays NAT processing for
bytes that a gateway VPC endpoint would carry privately and free of charge; the
drill-down names that explicitly.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from ..engines import Engine, EngineError, LocalTable
from ..engines.registry import open_engine
from ..errors import ConfigError, ReconcileError
from ..sqlfiles import Raw, get_file
from ..talkers import TalkerRow, endpoint_callout
from ..timewin import HOUR, floor_hour

if TYPE_CHECKING:
    import pyarrow.dataset as ds

    from ..storage import ObjectStore

log = logging.getLogger(__name__)

QUERY = "queries/egress_top_talkers"
#: The same figures from flow logs without the v5 fields: destinations and sources, no services.
QUERY_V2 = "queries/egress_top_talkers_v2"
TABLE = "vpc_flow_logs"
PARTITION_KEYS = ("aws-account-id", "aws-service", "aws-region", "year", "month", "day", "hour")
#: Partition keys whose path names are not SQL names: the table's column names for them.
COLUMN_NAMES = {"aws-account-id": "aws_account_id", "aws-service": "aws_service",
                "aws-region": "aws_region"}  # fmt: skip
#: DuckDB threads a drill-down uses (it runs beside the check's own work).
DUCKDB_THREADS = 2

#: AWS services that a *gateway* VPC endpoint serves (no hourly or per-GB charge).
GATEWAY_ENDPOINT_SERVICES = {"S3": "S3", "DYNAMODB": "DynamoDB"}
#: Flow logs land in the hour they are delivered (up to ~10 min after the interval, and
#: best effort beyond that): read this many following hour partitions as well.
LATE_HOURS = 1

_ENI = re.compile(r"^eni-[0-9a-f]{8,17}$")

#: The default (version 2) format's fields, as Parquet names them.
V2_FIELDS = (
    "version", "account_id", "interface_id", "srcaddr", "dstaddr", "srcport", "dstport",
    "protocol", "packets", "bytes", "start", "end", "action", "log_status",
)  # fmt: skip
#: Fields the full drill-down needs beyond v2: which host's packets went where...
PAIRING_FIELDS = ("flow_direction", "pkt_srcaddr", "pkt_dstaddr")
#: ...and which AWS service (S3, DynamoDB) was at the other end.
SERVICE_FIELDS = ("pkt_src_aws_service", "pkt_dst_aws_service")
V5_FIELDS = PAIRING_FIELDS + SERVICE_FIELDS
#: Without these no drill-down is possible at all.
REQUIRED_FIELDS = ("interface_id", "srcaddr", "dstaddr", "bytes", "packets", "start")


def log_format() -> str:
    """The custom flow log format with every field the drill-down reads (``--log-format``)."""
    return " ".join(f"${{{name.replace('_', '-')}}}" for name in flow_log_schema().names)


def missing_fields_note(missing: Sequence[str]) -> str:
    """What the flow logs lack, what that costs, and the custom format that fixes it."""
    names = ", ".join(m.replace("_", "-") for m in missing)
    cost = (
        "sources cannot be paired with their destinations and AWS services (S3, DynamoDB) "
        "are not named; top destinations and sources come from the version 2 fields alone"
        if any(m in PAIRING_FIELDS for m in missing)
        else "AWS services reached through the NAT gateway (S3, DynamoDB) are not named"
    )
    return (
        f"the flow logs lack {names} (version 5 fields), so {cost}. Create a flow log (the "
        f"format of an existing one cannot change) with --log-format '{log_format()}'"
    )


def render_query(values: dict[str, Any], name: str = QUERY) -> str:
    """The top-talkers query with ``values`` inlined verbatim (:func:`query_values` checks them)."""
    f = get_file(name)
    return f.render({k: Raw(str(v)) for k, v in values.items()})


def flow_log_schema() -> Any:
    """The v5 field set as AWS delivers it in Parquet (names with underscores)."""
    import pyarrow as pa

    s, i32, i64 = pa.string(), pa.int32(), pa.int64()
    return pa.schema(
        [
            ("version", i32),
            ("account_id", s),
            ("interface_id", s),
            ("srcaddr", s),
            ("dstaddr", s),
            ("srcport", i32),
            ("dstport", i32),
            ("protocol", i32),
            ("packets", i64),
            ("bytes", i64),
            ("start", i64),
            ("end", i64),
            ("action", s),
            ("log_status", s),
            ("vpc_id", s),
            ("subnet_id", s),
            ("instance_id", s),
            ("tcp_flags", i32),
            ("type", s),
            ("pkt_srcaddr", s),
            ("pkt_dstaddr", s),
            ("region", s),
            ("az_id", s),
            ("sublocation_type", s),
            ("sublocation_id", s),
            ("pkt_src_aws_service", s),
            ("pkt_dst_aws_service", s),
            ("flow_direction", s),
            ("traffic_path", i32),
        ]
    )


@dataclass(slots=True)
class DrillDown:
    """Top talkers through one gateway interface for one time range."""

    interface_id: str
    start: datetime
    end: datetime
    direction: str
    total_bytes: int = 0
    sources: list[TalkerRow] = field(default_factory=list)
    destinations: list[TalkerRow] = field(default_factory=list)
    services: list[TalkerRow] = field(default_factory=list)
    files: int = 0
    missing_fields: list[str] = field(default_factory=list)
    """v5 fields the flow log files lack (the drill-down then uses the v2 fields only)."""

    def endpoint_avoidance(self) -> list[dict[str, Any]]:
        """AWS services reached through the NAT gateway that a gateway endpoint would serve."""
        out = []
        for row in self.services:
            name = GATEWAY_ENDPOINT_SERVICES.get(row.talker.upper())
            if name and row.bytes > 0:
                share = row.bytes / self.total_bytes if self.total_bytes else 0.0
                out.append({"service": name, "bytes": row.bytes, "share": round(share, 4)})
        return out

    def callout(self) -> str:
        """One sentence naming the avoided gateway endpoints, or ``""``."""
        return endpoint_callout(self.endpoint_avoidance())

    def as_detail(self) -> dict[str, Any]:
        return {
            "interface_id": self.interface_id,
            "direction": self.direction,
            "flow_log_bytes": self.total_bytes,
            "flow_log_files": self.files,
            "top_sources": [r.as_dict() for r in self.sources],
            "top_destinations": [r.as_dict() for r in self.destinations],
            "aws_services": [r.as_dict() for r in self.services],
            "gateway_endpoint_avoided": self.endpoint_avoidance(),
            **(
                {
                    "missing_fields": [m.replace("_", "-") for m in self.missing_fields],
                    "format_note": missing_fields_note(self.missing_fields),
                }
                if self.missing_fields
                else {}
            ),
        }


def hours_to_read(start: datetime, end: datetime, late: int = LATE_HOURS) -> list[datetime]:
    """Hour partitions that can hold records of ``[start, end)``."""
    out, cur = [], floor_hour(start)
    last = floor_hour(end - timedelta(microseconds=1)) + late * HOUR
    while cur <= last:
        out.append(cur)
        cur += HOUR
    return out


def _quoted(values: set[str]) -> str:
    return ", ".join(f"'{v}'" for v in sorted(values))


def query_values(
    interface_id: str, start: datetime, end: datetime, direction: str, limit: int
) -> dict[str, Any]:
    """Placeholder values for the top-talkers query (validated: they are inlined)."""
    if not _ENI.match(interface_id):
        raise ConfigError(f"network interface id {interface_id!r} is not of the form eni-...")
    if direction not in ("out", "in"):
        raise ConfigError(f"direction must be 'out' or 'in', got {direction!r}")
    hours = hours_to_read(start, end)
    return {
        "interface_id": interface_id,
        "start_epoch": int(start.timestamp()),
        "end_epoch": int(end.timestamp()),
        "direction": direction,
        "years": _quoted({f"{h:%Y}" for h in hours}),
        "months": _quoted({f"{h:%m}" for h in hours}),
        "days": _quoted({f"{h:%d}" for h in hours}),
        "hours": _quoted({f"{h:%H}" for h in hours}),
        "limit": int(limit),
    }


def logs_root(store: ObjectStore) -> tuple[Any, str]:
    """The pyarrow filesystem and the ``AWSLogs`` directory of a flow log destination."""
    fs, base = store.arrow()
    base = base.rstrip("/")
    return fs, base if base.endswith("AWSLogs") else f"{base}/AWSLogs"


def _subdirs(fs: Any, path: str, key: str) -> list[str]:
    import pyarrow.fs as pafs

    infos = fs.get_file_info(pafs.FileSelector(path, allow_not_found=True, recursive=False))
    return [
        i.path
        for i in infos
        if i.type == pafs.FileType.Directory and i.base_name.startswith(f"{key}=")
    ]


def flow_log_files(fs: Any, root: str, hours: list[datetime]) -> list[str]:
    """Parquet files of the given hour partitions, for every account and region under root."""
    import pyarrow.fs as pafs

    files: list[str] = []
    for account in _subdirs(fs, root, "aws-account-id"):
        for service in _subdirs(fs, account, "aws-service"):
            if not service.endswith("=vpcflowlogs"):
                continue
            for region in _subdirs(fs, service, "aws-region"):
                for h in hours:
                    path = f"{region}/year={h:%Y}/month={h:%m}/day={h:%d}/hour={h:%H}"
                    sel = pafs.FileSelector(path, allow_not_found=True, recursive=False)
                    files += [
                        i.path
                        for i in fs.get_file_info(sel)
                        if i.type == pafs.FileType.File
                        and i.base_name.endswith(".parquet")
                        and not i.base_name.startswith(("_", "."))
                    ]
    return sorted(files)


def flow_log_dataset(fs: Any, root: str, files: list[str]) -> ds.Dataset:
    """A pyarrow dataset over ``files`` with the v5 schema and the Hive partition columns."""
    import pyarrow as pa
    import pyarrow.dataset as ds

    part_schema = pa.schema([(k, pa.string()) for k in PARTITION_KEYS])
    schema = pa.unify_schemas([flow_log_schema(), part_schema])
    return ds.dataset(
        files,
        schema=schema,
        format="parquet",
        filesystem=fs,
        partitioning=ds.partitioning(part_schema, flavor="hive"),
        partition_base_dir=root,
    )


def present_fields(dataset: ds.Dataset) -> set[str]:
    """Fields every file of the dataset holds (its Parquet footers; formats differ per flow log)."""
    import pyarrow as pa

    present: set[str] | None = None
    try:
        for fragment in dataset.get_fragments():
            names = set(fragment.physical_schema.names)
            present = names if present is None else present & names
    except (pa.ArrowException, OSError) as exc:
        raise ReconcileError(f"cannot read flow log footers: {exc}") from exc
    return present or set()


def run_query(dataset: ds.Dataset, sql: str, engine: Engine | None = None) -> list[tuple[Any, ...]]:
    """Rows of ``sql`` over the dataset as ``vpc_flow_logs`` (Athena's column names).

    Runs on ``engine`` (its :meth:`~reconcile.engines.Engine.query_local`), else on a
    DuckDB engine of its own, opened and closed here.
    """
    own = engine is None
    runner = engine or open_engine("duckdb", threads=DUCKDB_THREADS)
    try:
        table = runner.query_local(sql, {TABLE: LocalTable(dataset, COLUMN_NAMES)})
    except EngineError as exc:
        raise ReconcileError(f"flow log query failed: {exc}") from exc
    finally:
        if own:
            runner.close()
    return list(zip(*(column.to_pylist() for column in table.columns), strict=True))


def top_talkers(
    store: ObjectStore,
    interface_id: str,
    start: datetime,
    end: datetime,
    *,
    direction: str = "out",
    limit: int = 10,
    engine: Engine | None = None,
) -> DrillDown:
    """Top sources, destinations and AWS services through ``interface_id`` in ``[start, end)``.

    The query runs on ``engine`` when given (see :func:`run_query`), else in DuckDB.
    """
    values = query_values(interface_id, start, end, direction, limit)
    fs, root = logs_root(store)
    try:
        files = flow_log_files(fs, root, hours_to_read(start, end))
    except OSError as exc:
        raise ReconcileError(f"cannot list flow logs under {store.uri}: {exc}") from exc
    result = DrillDown(interface_id, start, end, direction, files=len(files))
    if not files:
        log.info(
            "no flow log files under %s for %s",
            root,
            [h.isoformat() for h in hours_to_read(start, end)],
        )
        return result
    dataset = flow_log_dataset(fs, root, files)
    present = present_fields(dataset)
    lacking = [f for f in REQUIRED_FIELDS if f not in present]
    if lacking:
        raise ReconcileError(
            f"flow logs under {root} lack {', '.join(f.replace('_', '-') for f in lacking)}: "
            f"no drill-down is possible; create a flow log with --log-format '{log_format()}'"
        )
    result.missing_fields = [f for f in V5_FIELDS if f not in present]
    query = QUERY_V2 if any(f in result.missing_fields for f in PAIRING_FIELDS) else QUERY
    if result.missing_fields:
        log.warning("%s: %s", interface_id, missing_fields_note(result.missing_fields))
    rows = run_query(dataset, render_query(values, query), engine)
    for dimension, talker, service, nbytes, packets, flows, _rank in rows:
        row = TalkerRow(str(talker), int(nbytes or 0), int(packets or 0), int(flows), service)
        if dimension == "total":
            result.total_bytes = row.bytes
        elif dimension == "source":
            result.sources.append(row)
        elif dimension == "destination":
            result.destinations.append(row)
        elif dimension == "aws_service":
            result.services.append(row)
    return result


def lookup_interfaces(gateways: list[str], region: str | None = None) -> dict[str, str]:
    """NAT gateway id -> primary network interface id, through EC2 DescribeNatGateways."""
    from botocore.exceptions import BotoCoreError, ClientError

    from ..aws import session

    client = session().client("ec2", region_name=region)
    try:
        resp = client.describe_nat_gateways(NatGatewayIds=gateways)
    except (ClientError, BotoCoreError) as exc:
        raise ReconcileError(f"EC2 DescribeNatGateways for {', '.join(gateways)}: {exc}") from exc
    out = {}
    for gw in resp.get("NatGateways", []):
        addresses = gw.get("NatGatewayAddresses") or []
        primary = next(
            (a for a in addresses if a.get("IsPrimary")), addresses[0] if addresses else None
        )
        if primary and primary.get("NetworkInterfaceId"):
            out[gw["NatGatewayId"]] = primary["NetworkInterfaceId"]
    return out
