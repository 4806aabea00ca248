"""Where ALB access logs are: the S3 key layout, account and load-balancer discovery, listing.

Layout, per the ALB user guide::

    <uri>/AWSLogs/<account>/elasticloadbalancing/<region>/yyyy/mm/dd/
        <account>_elasticloadbalancing_<region>_app.<lb-name>.<lb-id>_<end-time>_<ip>_<random>.log.gz

``yyyy/mm/dd`` is the *delivery* date and ``<end-time>`` (``20261120T2340Z``) the end of the
five-minute interval the file covers, so requests created at 23:58 sit in the next day's
folder. Objects are chosen by load balancer (file name) and interval end, across every
delivery day that can hold the range; nothing here reads an object's content.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta

from ..errors import ConfigError
from ..storage import ObjectStore, open_store
from .config import ExpectedConfig
from .model import ExpectedSourceError

FILE_NAME = re.compile(
    r"^(?P<account>\d{12})_elasticloadbalancing_(?P<region>[a-z0-9-]+)_"
    r"app\.(?P<name>[A-Za-z0-9-]+)\.(?P<id>[0-9a-f]+)_(?P<end>\d{8}T\d{4}Z)_"
    r"(?P<ip>[^_]+)_(?P<random>[^_]+)\.log\.gz$"
)
#: A file covers the five minutes before its end time; allow one more interval of skew.
INTERVAL = timedelta(minutes=5)
SLACK = timedelta(minutes=5)
#: Delivery can lag the interval end; the folder date may be one day past the end time.
DELIVERY_LAG = timedelta(minutes=15)


# -- key layout ----------------------------------------------------------------------------


def region_prefix(account: str, region: str) -> str:
    """``AWSLogs/<account>/elasticloadbalancing/<region>/``."""
    return f"AWSLogs/{account}/elasticloadbalancing/{region}/"


def day_folder(day: date) -> str:
    """The delivery-date folder and ``day`` partition value, ``yyyy/mm/dd``."""
    return day.strftime("%Y/%m/%d")


def file_prefix(account: str, region: str, load_balancer: str) -> str:
    """Start of every log file name of one load balancer: ``<account>_..._app.<name>.<id>_``."""
    return f"{account}_elasticloadbalancing_{region}_{load_balancer.replace('/', '.')}_"


def object_key(
    account: str, region: str, load_balancer: str, end: datetime, ip: str, random: str
) -> str:
    """The key ELB writes a log file to; its folder is the delivery date (here: ``end``'s date)."""
    return (
        f"{region_prefix(account, region)}{day_folder(end.date())}/"
        f"{file_prefix(account, region, load_balancer)}{end:%Y%m%dT%H%MZ}_{ip}_{random}.log.gz"
    )


@dataclass(frozen=True, slots=True)
class LogObject:
    """One access-log file: key relative to the store, and what its name says."""

    key: str
    size: int
    load_balancer: str
    end: datetime
    day: str


def parse_key(key: str, size: int = 0) -> LogObject | None:
    """The :class:`LogObject` for an access-log key, or ``None`` when the name is not one."""
    folder, _, name = key.rpartition("/")
    m = FILE_NAME.match(name)
    if not m:
        return None
    end = datetime.strptime(m["end"], "%Y%m%dT%H%MZ").replace(tzinfo=UTC)
    day = "/".join(folder.split("/")[-3:])
    return LogObject(key, size, f"app/{m['name']}/{m['id']}", end, day)


# -- where the logs are --------------------------------------------------------------------


def resolve_region(cfg: ExpectedConfig) -> str:
    """``expected.region``, else the AWS chain's region; ``ConfigError`` when neither is set."""
    if cfg.region:
        return cfg.region
    from ..aws import session

    region = session().region_name
    if not region:
        raise ConfigError(
            "expected.region: not set and no AWS region configured "
            "(set expected.region, AWS_REGION or AWS_DEFAULT_REGION)"
        )
    return str(region)


def logs_store(cfg: ExpectedConfig) -> ObjectStore:
    """The store ``expected.alb_logs_uri`` names; ``ConfigError`` when it is empty."""
    if not cfg.alb_logs_uri:
        raise ConfigError(
            "expected.alb_logs_uri: empty; set it (or --alb-logs) to the s3://bucket/prefix "
            "the load balancer writes its access logs to"
        )
    return open_store(cfg.alb_logs_uri)


def discover_accounts(store: ObjectStore) -> list[str]:
    """The 12-digit account folders under ``AWSLogs/``."""
    import pyarrow.fs as pafs

    fs, base = store.arrow()
    where = f"{base}/AWSLogs"
    try:
        infos = fs.get_file_info(pafs.FileSelector(where, recursive=False, allow_not_found=True))
    except (OSError, ValueError) as exc:
        raise ExpectedSourceError(f"cannot list {store.uri}/AWSLogs/: {exc}") from exc
    accounts = sorted(
        i.base_name
        for i in infos
        if i.type == pafs.FileType.Directory and re.fullmatch(r"\d{12}", i.base_name)
    )
    if not accounts:
        raise ExpectedSourceError(
            f"no AWSLogs/<account>/ folders under {store.uri}; expected.alb_logs_uri must be "
            "the bucket and prefix the load balancer delivers its access logs to"
        )
    return accounts


def alb_logs_location(cfg: ExpectedConfig) -> str:
    """``<uri>/AWSLogs/<account>/elasticloadbalancing/<region>``: the Athena table's location."""
    store = logs_store(cfg)
    accounts = [cfg.account_id] if cfg.account_id else discover_accounts(store)
    if len(accounts) > 1:
        raise ConfigError(
            f"expected.account_id: {store.uri}/AWSLogs/ holds several accounts "
            f"({', '.join(accounts)}); set the one that owns the load balancer"
        )
    return f"{store.uri.rstrip('/')}/{region_prefix(accounts[0], resolve_region(cfg)).rstrip('/')}"


def _delivery_days(cfg: ExpectedConfig, start: datetime, end: datetime) -> list[date]:
    """Delivery-date folders that can hold requests created in ``[start, end)``."""
    lo = start - SLACK
    hi = end + timedelta(minutes=cfg.spill_minutes) + INTERVAL + DELIVERY_LAG
    first, last = lo.date(), hi.date()
    return [first + timedelta(days=i) for i in range((last - first).days + 1)]


def discover_load_balancers(cfg: ExpectedConfig, start: datetime, end: datetime) -> list[str]:
    """The load balancers with access logs under ``alb_logs_uri`` for ``[start, end)``,
    from the file names of the range's delivery-day folders (one list request per day and
    account, stopping at the first day that has logs)."""
    store = logs_store(cfg)
    region = resolve_region(cfg)
    accounts = [cfg.account_id] if cfg.account_id else discover_accounts(store)
    found: set[str] = set()
    for day in _delivery_days(cfg, start, end):
        for account in accounts:
            prefix = f"{region_prefix(account, region)}{day_folder(day)}/"
            found.update(
                obj.load_balancer
                for info in store.list(prefix)
                if (obj := parse_key(info.key, info.size)) is not None
            )
        if found:
            break
    return sorted(found)


@dataclass
class Listing:
    """The objects to read for a range, and what finding them cost."""

    objects: list[LogObject]
    list_calls: int = 0
    """List requests: account discovery, then one per (account, day, load balancer) prefix
    (more when a prefix holds over 1000 objects)."""
    days: list[str] = field(default_factory=list)
    accounts: list[str] = field(default_factory=list)
    skipped: int = 0
    """Objects of the right load balancer whose interval cannot hold the range."""


def list_objects(
    cfg: ExpectedConfig, store: ObjectStore, range_start: datetime, range_end: datetime
) -> Listing:
    """Every log object of the configured load balancers that may hold requests created in
    ``[range_start, range_end)``: delivery days from the start's day to ``spill_minutes``
    (plus delivery lag) past the end, files whose interval ends after ``range_start`` and
    no later than ``range_end + spill_minutes``."""
    if not cfg.load_balancers:
        raise ConfigError(
            "expected.load_balancers: empty; name the load balancer(s) whose logs count, "
            "e.g. app/hub-prod/50dc6c495c0c9188 (--load-balancer)"
        )
    region = resolve_region(cfg)
    accounts = [cfg.account_id] if cfg.account_id else discover_accounts(store)
    spill = timedelta(minutes=cfg.spill_minutes)
    lo = range_start - SLACK
    hi = range_end + spill + INTERVAL
    first, last = lo.date(), (hi + DELIVERY_LAG).date()
    days = [first + timedelta(days=i) for i in range((last - first).days + 1)]
    out = Listing([], days=[day_folder(d) for d in days], accounts=accounts)
    out.list_calls = 0 if cfg.account_id else 1
    for account in accounts:
        for day in days:
            for lb in sorted(cfg.load_balancers):
                prefix = (
                    f"{region_prefix(account, region)}{day_folder(day)}/"
                    f"{file_prefix(account, region, lb)}"
                )
                out.list_calls += 1
                for info in store.list(prefix):
                    obj = parse_key(info.key, info.size)
                    if obj is None or obj.load_balancer != lb:
                        continue
                    if obj.end < lo or obj.end > hi:
                        out.skipped += 1
                        continue
                    out.objects.append(obj)
    out.objects.sort(key=lambda o: (o.end, o.key))
    return out
