"""Expected counts from Application Load Balancer access logs in S3 (or a local copy).

Layout, per the ALB user guide::

    <uri>/AWSLogs/<account>/elasticloadbalancing/<region>/yyyy/mm/dd/
        <account>_elasticloadbalancing_<region>_app.<lb-name>.<lb-id>_<end-time>_<ip>_<random>.log.gz

``yyyy/mm/dd`` is the *delivery* date and ``<end-time>`` (``20261120T2340Z``) the end of the
five-minute interval the file covers, so requests created at 23:58 sit in the next day's
folder. Requests are counted by ``request_creation_time``, never by ``time`` (when the
response was sent) or by the folder date. Objects are chosen by load balancer (file name)
and interval end, across every delivery day that can hold the range, then stream-decompressed
and parsed in Arrow batches: nothing holds more than one chunk of one object.

A line is an access-log entry when it matches :data:`LINE_REGEX`, the same regular expression
as the Athena table (``sql/ddl/alb_access_logs.sql``), so both engines agree on what is
malformed. Malformed lines are counted, reported with object key and line number, and logged.
"""

from __future__ import annotations

import logging
import re
from collections import Counter
from collections.abc import Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import TYPE_CHECKING, Any

from ..errors import ConfigError, ReconcileError
from ..storage import ObjectStore, open_store
from ..timewin import Window
from .config import ExpectedConfig
from .model import (
    ExpectedCounts,
    ExpectedSourceError,
    by_label,
    resource_name,
    window_range,
    zero_filled,
)
from .tally import ObjectTally, TallyCache, folder_of

if TYPE_CHECKING:
    import pyarrow as pa

log = logging.getLogger(__name__)

#: One access-log entry, in the field order of the ALB user guide. Groups map 1:1 to
#: :data:`COLUMNS`. Same text as the Athena DDL's ``input.regex`` (Java, RE2 and Python
#: agree on it). Derived from AWS's documented table, with two changes: quoted fields are
#: ``[^"]*`` and unquoted ones ``[^ "]*`` (no quote can shift a field, and RE2 stays fast),
#: and everything after ``classification_reason`` is optional so older, current and future
#: lines all match: ``conn_trace_id``, the three rewrite fields, then any new fields.
LINE_REGEX = (
    r'([^ "]*) ([^ "]*) ([^ "]*) ([^ "]*):([0-9]*) ([^ "]*)[:-]([0-9]*) '
    r"([-.0-9]*) ([-.0-9]*) ([-.0-9]*) (|[-0-9]*) (-|[-0-9]*) ([-0-9]*) ([-0-9]*) "
    r'"([^ "]*) ([^"]*) (- |[^ "]*)" "([^"]*)" ([A-Z0-9_-]+) ([A-Za-z0-9.-]*) ([^ "]*) '
    r'"([^"]*)" "([^"]*)" "([^"]*)" ([-.0-9]*) ([^ "]*) "([^"]*)" "([^"]*)" "([^"]*)" '
    r'"([^"]*)" "([^"]*)" "([^"]*)" "([^"]*)"'
    r'(?: ([^ "]*))?(?: "([^"]*)" "([^"]*)" "([^"]*)")?(?: .*)?'
)

#: Columns of the ``alb_access_logs`` table (name, Athena type), in DDL order.
COLUMNS: list[tuple[str, str]] = [
    ("type", "string"),
    ("time", "string"),
    ("elb", "string"),
    ("client_ip", "string"),
    ("client_port", "int"),
    ("target_ip", "string"),
    ("target_port", "int"),
    ("request_processing_time", "double"),
    ("target_processing_time", "double"),
    ("response_processing_time", "double"),
    ("elb_status_code", "int"),
    ("target_status_code", "string"),
    ("received_bytes", "bigint"),
    ("sent_bytes", "bigint"),
    ("request_verb", "string"),
    ("request_url", "string"),
    ("request_proto", "string"),
    ("user_agent", "string"),
    ("ssl_cipher", "string"),
    ("ssl_protocol", "string"),
    ("target_group_arn", "string"),
    ("trace_id", "string"),
    ("domain_name", "string"),
    ("chosen_cert_arn", "string"),
    ("matched_rule_priority", "string"),
    ("request_creation_time", "string"),
    ("actions_executed", "string"),
    ("redirect_url", "string"),
    ("lambda_error_reason", "string"),
    ("target_port_list", "string"),
    ("target_status_code_list", "string"),
    ("classification", "string"),
    ("classification_reason", "string"),
    ("conn_trace_id", "string"),
    ("transformed_host", "string"),
    ("transformed_uri", "string"),
    ("request_transform_status", "string"),
]
#: The table's partition column: the delivery date folder, ``yyyy/MM/dd``.
PARTITION = ("day", "string")

#: Reasons a request is left out, in the order they are tested (the first that applies wins).
REASONS = ("waf_blocked", "fixed_response", "redirect", "not_forwarded", "host", "path")

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
CHUNK_BYTES = 8 << 20
MAX_EXAMPLES = 5


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
    import boto3

    region = boto3.session.Session().region_name
    if not region:
        raise ConfigError(
            "expected.region: not set and no AWS region configured "
            "(set expected.region, AWS_REGION or AWS_DEFAULT_REGION)"
        )
    return str(region)


def _store(cfg: ExpectedConfig) -> ObjectStore:
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
    store = _store(cfg)
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
    store = _store(cfg)
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


def with_load_balancers(cfg: ExpectedConfig, start: datetime, end: datetime) -> ExpectedConfig:
    """``cfg`` itself when it names load balancers (or reads CloudWatch); else ``cfg`` with
    the only load balancer whose access logs cover the range, said in a log line.

    Raises :class:`ConfigError` listing them when the bucket holds several, or none.
    """
    if cfg.source != "alb_logs" or cfg.load_balancers:
        return cfg
    found = discover_load_balancers(cfg, start, end)
    where = f"{_store(cfg).uri} ({start:%Y-%m-%dT%H}..{end:%Y-%m-%dT%H})"
    if not found:
        raise ConfigError(
            f"expected.load_balancers: not set, and no access logs found under {where} to "
            "take it from; name the load balancer with --load-balancer app/<name>/<id>"
        )
    if len(found) > 1:
        raise ConfigError(
            f"expected.load_balancers: not set, and {where} holds the access logs of "
            f"{len(found)} load balancers: {', '.join(found)}; choose with --load-balancer "
            "(repeat it to reconcile several together)"
        )
    log.info(
        "expected.load_balancers not set: using %s, the only load balancer with access logs "
        "under %s",
        found[0],
        where,
    )
    return cfg.model_copy(update={"load_balancers": found})


def alb_query_params(cfg: ExpectedConfig, start: datetime, end: datetime) -> dict[str, Any]:
    """Values for the placeholders of ``sql/queries/expected_from_alb_logs.sql``."""
    from ..sqlfiles import Raw

    if not cfg.load_balancers:
        raise ConfigError("expected.load_balancers: empty; name the load balancer(s) to count")
    lbs = ", ".join("'" + lb.replace("'", "''") + "'" for lb in sorted(cfg.load_balancers))
    return {"start": start, "end": end, "load_balancers": Raw(lbs)}


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


# -- reading lines -------------------------------------------------------------------------


@dataclass(frozen=True)
class Source:
    """The store holding the logs, with its Arrow filesystem opened once."""

    store: ObjectStore
    fs: Any
    base: str

    @classmethod
    def of(cls, store: ObjectStore) -> Source:
        fs, base = store.arrow()
        return cls(store, fs, base)

    def open(self, key: str) -> Any:
        """A streaming, decompressing reader of one ``.log.gz`` object.

        Buffered: unbuffered, Arrow's S3 stream sends one ranged GET per 64 KiB the
        decompressor asks for; with the buffer, an object costs one GET per ``CHUNK_BYTES``.
        """
        return self.fs.open_input_stream(
            f"{self.base}/{key}", compression="gzip", buffer_size=CHUNK_BYTES
        )

    def where(self, key: str) -> str:
        return f"{self.store.uri}/{key}"


def iter_lines(stream: Any, chunk_bytes: int = CHUNK_BYTES) -> Iterator[pa.Array]:
    """Decompressed lines (without ``\\n``) as Arrow string arrays of about ``chunk_bytes``.

    Lines that are not valid UTF-8 are decoded with replacement characters (they will not
    match the entry pattern, so they are reported as malformed rather than lost).
    """
    import pyarrow as pa
    import pyarrow.compute as pc

    carry = b""
    while True:
        buf = stream.read(chunk_bytes)
        if not buf:
            break
        blob = carry + buf if carry else buf
        parts = pc.split_pattern(pa.array([blob], pa.binary()), b"\n").flatten()
        carry = parts[-1].as_py()
        if len(parts) > 1:
            yield _to_text(parts.slice(0, len(parts) - 1))
    if carry:
        yield _to_text(pa.array([carry], pa.binary()))


def _to_text(arr: pa.Array) -> pa.Array:
    import pyarrow as pa

    try:
        return arr.cast(pa.string())
    except (pa.ArrowInvalid, UnicodeDecodeError):
        return pa.array([b.decode("utf-8", "replace") for b in arr.to_pylist()], pa.string())


# -- parsing -------------------------------------------------------------------------------


@dataclass(slots=True)
class Parsed:
    """The entries of one batch of lines, as Arrow arrays over the matching lines."""

    lines: pa.Array
    """The matching lines."""
    parts: pa.Array
    """Each matching line split at its first 12 quotes (segment 1 is the request, 11 the actions)."""
    created: pa.Array
    """``request_creation_time`` as a timestamp (seconds); null when it does not parse."""
    bad: list[tuple[int, str]]
    """(position, reason) of lines that are not entries."""


_ANCHORED = "^" + LINE_REGEX + "$"


def parse_batch(lines: pa.Array) -> Parsed:
    """Split a batch into entries and malformed lines, and read each entry's creation time."""
    import pyarrow.compute as pc

    ok = pc.match_substring_regex(lines, _ANCHORED)
    bad: list[tuple[int, str]] = []
    good = lines
    if ok.false_count:
        bad = [
            (i, "not an access-log entry") for i in pc.indices_nonzero(pc.invert(ok)).to_pylist()
        ]
        good = lines.filter(ok)
    # After the regex, quotes delimit fields exactly: segment 10 is ` priority created `.
    parts = pc.split_pattern(good, '"', max_splits=12)
    mid = pc.split_pattern(pc.list_element(parts, 10), " ")
    created_text = pc.list_element(mid, 2)
    created = pc.strptime(
        pc.utf8_slice_codeunits(created_text, 0, 19),
        format="%Y-%m-%dT%H:%M:%S",
        unit="s",
        error_is_null=True,
    )
    if created.null_count:
        idx = pc.indices_nonzero(ok).to_pylist()
        nulls = pc.indices_nonzero(pc.is_null(created)).to_pylist()
        bad.extend((idx[i], "request_creation_time is not a timestamp") for i in nulls)
        keep = pc.is_valid(created)
        good, parts, created = good.filter(keep), parts.filter(keep), created.filter(keep)
        bad.sort()
    return Parsed(good, parts, created, bad)


def _last_action(actions: pa.Array, name: str) -> pa.Array:
    import pyarrow.compute as pc

    return pc.or_(pc.equal(actions, name), pc.ends_with(actions, "," + name))


def reason_masks(parsed: Parsed, cfg: ExpectedConfig) -> dict[str, pa.Array]:
    """One boolean array per enabled exclusion, each row true for at most one reason."""
    import pyarrow as pa
    import pyarrow.compute as pc

    n = len(parsed.lines)
    masks: dict[str, pa.Array] = {}
    wanted = {
        "waf_blocked": cfg.exclude_waf_blocked,
        "fixed_response": cfg.exclude_fixed_response,
        "redirect": cfg.exclude_redirects,
        "not_forwarded": cfg.exclude_not_forwarded,
        "host": bool(cfg.include_only_hosts or cfg.exclude_hosts),
        "path": bool(cfg.exclude_path_prefixes),
    }
    if not any(wanted.values()) or n == 0:
        return masks
    parts = parsed.parts
    actions = pc.list_element(parts, 11)
    taken = pa.array([False] * n, pa.bool_())

    def add(name: str, mask: pa.Array) -> None:
        nonlocal taken
        mask = pc.and_(pc.fill_null(mask, False), pc.invert(taken))
        masks[name] = mask
        taken = pc.or_(taken, mask)

    if wanted["waf_blocked"]:
        add("waf_blocked", _last_action(actions, "waf"))
    if wanted["fixed_response"]:
        add("fixed_response", _last_action(actions, "fixed-response"))
    if wanted["redirect"]:
        add("redirect", _last_action(actions, "redirect"))
    if wanted["not_forwarded"]:
        head = pc.split_pattern(pc.list_element(parts, 0), " ")
        add("not_forwarded", pc.equal(pc.list_element(head, 4), "-"))
    if wanted["host"] or wanted["path"]:
        url = pc.extract_regex(
            pc.list_element(parts, 1),
            r"^[^ ]* [A-Za-z][A-Za-z0-9+.-]*://(?P<host>[^/:?# ]*)(?::[0-9]*)?(?P<path>/[^?# ]*)?",
        )
        host = pc.utf8_lower(pc.struct_field(url, "host"))
        if wanted["host"]:
            out = pa.array([False] * n, pa.bool_())
            if cfg.include_only_hosts:
                allowed = pa.array(cfg.include_only_hosts, pa.string())
                out = pc.invert(pc.fill_null(pc.is_in(host, value_set=allowed), False))
            if cfg.exclude_hosts:
                denied = pa.array(cfg.exclude_hosts, pa.string())
                out = pc.or_(out, pc.fill_null(pc.is_in(host, value_set=denied), False))
            add("host", out)
        if wanted["path"]:
            path = pc.struct_field(url, "path")
            out = pa.array([False] * n, pa.bool_())
            for prefix in cfg.exclude_path_prefixes:
                out = pc.or_(out, pc.fill_null(pc.starts_with(path, prefix), False))
            add("path", out)
    return masks


# -- counting ------------------------------------------------------------------------------


@dataclass
class Tally:
    """What one or more objects contributed, keyed by hour start (UTC, naive seconds)."""

    counted: Counter[tuple[str, datetime]] = field(default_factory=Counter)
    excluded: dict[str, Counter[datetime]] = field(default_factory=dict)
    lines: int = 0
    out_of_range: int = 0
    malformed: int = 0
    examples: list[dict[str, Any]] = field(default_factory=list)
    objects: int = 0
    bytes: int = 0

    def merge(self, other: Tally) -> None:
        self.counted.update(other.counted)
        for reason, c in other.excluded.items():
            self.excluded.setdefault(reason, Counter()).update(c)
        self.lines += other.lines
        self.out_of_range += other.out_of_range
        self.malformed += other.malformed
        room = MAX_EXAMPLES - len(self.examples)
        self.examples.extend(other.examples[: max(room, 0)])
        self.objects += other.objects
        self.bytes += other.bytes


def _hour_counts(hours: pa.Array) -> Counter[datetime]:
    import pyarrow.compute as pc

    out: Counter[datetime] = Counter()
    if len(hours) == 0:
        return out
    for item in pc.value_counts(hours).to_pylist():
        out[item["values"]] += int(item["counts"])
    return out


def _report_malformed(
    tally: Tally,
    src: Source,
    key: str,
    offset: int,
    bad: Sequence[tuple[int, str]],
    lines: pa.Array,
) -> None:
    tally.malformed += len(bad)
    for pos, reason in bad[:MAX_EXAMPLES]:
        line_no = offset + pos + 1
        text = lines[pos].as_py()
        log.warning(
            "malformed ALB log line %s:%d (%s): %.200s", src.where(key), line_no, reason, text
        )
        if len(tally.examples) < MAX_EXAMPLES:
            tally.examples.append(
                {"key": key, "line": line_no, "reason": reason, "text": text[:300]}
            )
    if len(bad) > MAX_EXAMPLES:
        log.warning(
            "%d more malformed lines in %s not shown", len(bad) - MAX_EXAMPLES, src.where(key)
        )


def parse_object(src: Source, obj: LogObject, cfg: ExpectedConfig) -> ObjectTally:
    """Everything one object says, per creation hour: entries, counted, excluded by reason."""
    import pyarrow as pa
    import pyarrow.compute as pc

    entries: Counter[datetime] = Counter()
    counted: Counter[datetime] = Counter()
    excluded: dict[str, Counter[datetime]] = {}
    scratch = Tally()
    lines_seen = offset = 0
    try:
        with src.open(obj.key) as stream:
            for lines in iter_lines(stream):
                parsed = parse_batch(lines)
                lines_seen += len(lines)
                if parsed.bad:
                    _report_malformed(scratch, src, obj.key, offset, parsed.bad, lines)
                offset += len(lines)
                hours = pc.floor_temporal(parsed.created, unit="hour")
                entries.update(_hour_counts(hours))
                keep = pa.array([True] * len(hours), pa.bool_())
                for reason, mask in reason_masks(parsed, cfg).items():
                    excluded.setdefault(reason, Counter()).update(_hour_counts(hours.filter(mask)))
                    keep = pc.and_(keep, pc.invert(mask))
                counted.update(_hour_counts(hours.filter(keep)))
    except ReconcileError:
        raise
    except (OSError, pa.ArrowException, EOFError, ValueError) as exc:
        raise ExpectedSourceError(f"ALB log object {src.where(obj.key)}: {exc}") from exc
    return ObjectTally.build(
        obj.size, lines_seen, scratch.malformed, scratch.examples, entries, counted, excluded
    )


def range_tally(obj: LogObject, ot: ObjectTally, start: datetime, end: datetime) -> Tally:
    """What one object contributes to ``[start, end)`` (hour boundaries, naive UTC)."""
    lo, hi = start.astimezone(UTC).replace(tzinfo=None), end.astimezone(UTC).replace(tzinfo=None)

    def inside(c: Counter[datetime]) -> Counter[datetime]:
        return Counter({h: n for h, n in c.items() if lo <= h < hi})

    entries = ot.hours(ot.entries)
    tally = Tally(objects=1, bytes=obj.size, lines=ot.lines, malformed=ot.malformed)
    tally.examples = list(ot.examples)
    tally.out_of_range = sum(entries.values()) - sum(inside(entries).values())
    for hour, n in inside(ot.hours(ot.counted)).items():
        tally.counted[(obj.load_balancer, hour)] += n
    for reason, by_hour in ot.excluded.items():
        tally.excluded[reason] = inside(ot.hours(by_hour))
    return tally


def count_object(
    src: Source, obj: LogObject, cfg: ExpectedConfig, start: datetime, end: datetime
) -> Tally:
    """Count one object's entries created in ``[start, end)`` per hour, minus exclusions."""
    return range_tally(obj, parse_object(src, obj, cfg), start, end)


def _tallies(
    cfg: ExpectedConfig, src: Source, objects: list[LogObject]
) -> tuple[list[ObjectTally], dict[str, int]]:
    """Each object's tally: from the cache where it has one, parsed (and then kept) where not."""
    cache = TallyCache(open_store(cfg.tally_uri), cfg) if cfg.tally_uri else None
    known: dict[str, ObjectTally] = {}
    if cache is not None:
        for folder in sorted({folder_of(o.key) for o in objects}):
            known.update(cache.load(folder))
    todo = [o for o in objects if o.key not in known or known[o.key].size != o.size]
    with ThreadPoolExecutor(max_workers=cfg.read_workers) as pool:
        parsed = dict(
            zip(
                (o.key for o in todo),
                pool.map(lambda o: parse_object(src, o, cfg), todo),
                strict=True,
            )
        )
    if cache is not None and parsed:
        by_folder: dict[str, dict[str, ObjectTally]] = {}
        for key, ot in parsed.items():
            by_folder.setdefault(folder_of(key), {})[key] = ot
        for folder, new in sorted(by_folder.items()):
            cache.save(folder, new)
    stats = {
        "objects_parsed": len(todo),
        "objects_from_tally": len(objects) - len(todo),
        "tally_reads": cache.reads if cache else 0,
        "tally_writes": cache.writes if cache else 0,
    }
    return [parsed.get(o.key) or known[o.key] for o in objects], stats


def alb_log_counts(cfg: ExpectedConfig, start: datetime, end: datetime) -> ExpectedCounts:
    """Requests per hour window from the access logs of ``cfg.load_balancers``."""
    wins = window_range(start, end)
    range_start, range_end = wins[0].start, wins[-1].end
    store = _store(cfg)
    listing = list_objects(cfg, store, range_start, range_end)
    src = Source.of(store)
    total = Tally()
    tallies, cache_stats = _tallies(cfg, src, listing.objects)
    for obj, ot in zip(listing.objects, tallies, strict=True):
        total.merge(range_tally(obj, ot, range_start, range_end))

    def win(hour: datetime) -> Window:
        return Window(hour.replace(tzinfo=UTC))

    per_lb: dict[str, Counter[Window]] = {lb: Counter() for lb in sorted(cfg.load_balancers)}
    for (lb, hour), n in total.counted.items():
        per_lb[lb][win(hour)] += n
    counts: Counter[Window] = Counter()
    for c in per_lb.values():
        counts.update(c)
    excluded = {
        reason: by_label(zero_filled(wins, {win(h): n for h, n in c.items()}))
        for reason, c in sorted(total.excluded.items(), key=lambda kv: REASONS.index(kv[0]))
    }
    detail: dict[str, Any] = {
        "load_balancers": {lb: by_label(zero_filled(wins, c)) for lb, c in per_lb.items()},
        "excluded": excluded,
        "excluded_total": {r: sum(v.values()) for r, v in excluded.items()},
        "malformed": {"count": total.malformed, "examples": total.examples},
        "lines": total.lines,
        "outside_range": total.out_of_range,
        "objects_read": total.objects,
        **cache_stats,
        "objects_skipped": listing.skipped,
        "bytes_read": total.bytes,
        "list_calls": listing.list_calls,
        "api_calls": listing.list_calls
        + cache_stats["objects_parsed"]
        + cache_stats["tally_reads"]
        + cache_stats["tally_writes"],
        "delivery_days": listing.days,
        "accounts": listing.accounts,
        "uri": store.uri,
    }
    if total.malformed:
        log.warning(
            "%d malformed ALB log lines under %s (first: %s line %s)",
            total.malformed,
            store.uri,
            total.examples[0]["key"] if total.examples else "?",
            total.examples[0]["line"] if total.examples else "?",
        )
    return ExpectedCounts(
        source="alb_logs",
        resource=resource_name(cfg.load_balancers),
        counts=zero_filled(wins, counts),
        detail=detail,
    )


# -- the table -----------------------------------------------------------------------------


def arrow_schema() -> pa.Schema:
    """The ``alb_access_logs`` table as Arrow: the DDL's columns and types, then ``day``."""
    import pyarrow as pa

    types = {"string": pa.string(), "int": pa.int32(), "bigint": pa.int64(), "double": pa.float64()}
    return pa.schema([(n, types[t]) for n, t in [*COLUMNS, PARTITION]])


_INT = r"^-?[0-9]+$"
_DOUBLE = r"^-?(?:[0-9]+\.?[0-9]*|\.[0-9]+)$"


def _number(values: pa.Array, kind: str) -> pa.Array:
    """Text to int/bigint/double; what does not parse is null (as Athena's SerDe reads it)."""
    import pyarrow as pa
    import pyarrow.compute as pc

    target = {"int": pa.int32(), "bigint": pa.int64(), "double": pa.float64()}[kind]
    ok = pc.match_substring_regex(values, _DOUBLE if kind == "double" else _INT)
    return pc.if_else(ok, values, pa.scalar(None, pa.string())).cast(target)


def entry_columns(good: pa.Array) -> dict[str, pa.Array]:
    """Every column of :data:`COLUMNS` for lines that match :data:`LINE_REGEX`.

    Quoted fields never contain ``"`` in a matching line, so splitting at quotes gives the
    regex's groups; the few composite fields are split with the regex's own sub-patterns.
    Optional trailing groups that did not take part are null, as in Athena.
    """
    import pyarrow as pa
    import pyarrow.compute as pc

    parts = pc.split_pattern(good, '"', max_splits=24)

    def seg(i: int) -> pa.Array:
        return pc.list_element(parts, i)

    head = pc.split_pattern(seg(0), " ")
    h = [pc.list_element(head, i) for i in range(12)]
    client = pc.extract_regex(h[3], r"^(?P<ip>[^ \x22]*):(?P<port>[0-9]*)$")
    target = pc.extract_regex(h[4], r"^(?P<ip>[^ \x22]*)[:-](?P<port>[0-9]*)$")
    request = pc.extract_regex(
        seg(1), r"^(?P<verb>[^ \x22]*) (?P<url>[^\x22]*) (?P<proto>- |[^ \x22]*)$"
    )
    tls = pc.split_pattern(seg(4), " ")
    mid = pc.split_pattern(seg(10), " ")
    tail = seg(24)
    rest = pc.extract_regex(
        tail,
        r"^(?: (?P<conn>[^ \x22]*))?(?: \x22(?P<th>[^\x22]*)\x22 \x22(?P<tu>[^\x22]*)\x22"
        r" \x22(?P<ts>[^\x22]*)\x22)?(?: .*)?$",
    )
    null = pa.scalar(None, pa.string())
    has_conn = pc.starts_with(tail, " ")
    has_rewrite = pc.match_substring_regex(tail, r'^ [^ "]* "[^"]*" "[^"]*" "[^"]*"')

    def opt(cond: pa.Array, values: pa.Array) -> pa.Array:
        return pc.if_else(cond, values, null)

    f = pc.struct_field
    text = {
        "type": h[0],
        "time": h[1],
        "elb": h[2],
        "client_ip": f(client, "ip"),
        "client_port": f(client, "port"),
        "target_ip": f(target, "ip"),
        "target_port": f(target, "port"),
        "request_processing_time": h[5],
        "target_processing_time": h[6],
        "response_processing_time": h[7],
        "elb_status_code": h[8],
        "target_status_code": h[9],
        "received_bytes": h[10],
        "sent_bytes": h[11],
        "request_verb": f(request, "verb"),
        "request_url": f(request, "url"),
        "request_proto": f(request, "proto"),
        "user_agent": seg(3),
        "ssl_cipher": pc.list_element(tls, 1),
        "ssl_protocol": pc.list_element(tls, 2),
        "target_group_arn": pc.list_element(tls, 3),
        "trace_id": seg(5),
        "domain_name": seg(7),
        "chosen_cert_arn": seg(9),
        "matched_rule_priority": pc.list_element(mid, 1),
        "request_creation_time": pc.list_element(mid, 2),
        "actions_executed": seg(11),
        "redirect_url": seg(13),
        "lambda_error_reason": seg(15),
        "target_port_list": seg(17),
        "target_status_code_list": seg(19),
        "classification": seg(21),
        "classification_reason": seg(23),
        "conn_trace_id": opt(has_conn, f(rest, "conn")),
        "transformed_host": opt(has_rewrite, f(rest, "th")),
        "transformed_uri": opt(has_rewrite, f(rest, "tu")),
        "request_transform_status": opt(has_rewrite, f(rest, "ts")),
    }
    return {
        name: (text[name] if kind == "string" else _number(text[name], kind))
        for name, kind in COLUMNS
    }


def read_object(
    src: Source, obj: LogObject, cfg: ExpectedConfig, start: datetime, end: datetime
) -> tuple[list[pa.RecordBatch], Tally]:
    """The entries of one object created in ``[start, end)`` that pass the host and path
    filters (which SQL cannot see), as record batches of :func:`arrow_schema`."""
    import pyarrow as pa
    import pyarrow.compute as pc

    schema = arrow_schema()
    lo = pa.scalar(start.astimezone(UTC).replace(tzinfo=None), pa.timestamp("s"))
    hi = pa.scalar(end.astimezone(UTC).replace(tzinfo=None), pa.timestamp("s"))
    scope = cfg.model_copy(
        update={
            "exclude_waf_blocked": False,
            "exclude_fixed_response": False,
            "exclude_redirects": False,
            "exclude_not_forwarded": False,
        }
    )
    batches: list[pa.RecordBatch] = []
    tally = Tally(objects=1, bytes=obj.size)
    offset = 0
    try:
        with src.open(obj.key) as stream:
            for lines in iter_lines(stream):
                parsed = parse_batch(lines)
                tally.lines += len(lines)
                if parsed.bad:
                    _report_malformed(tally, src, obj.key, offset, parsed.bad, lines)
                offset += len(lines)
                keep = pc.and_(pc.greater_equal(parsed.created, lo), pc.less(parsed.created, hi))
                for mask in reason_masks(parsed, scope).values():
                    keep = pc.and_(keep, pc.invert(mask))
                good = parsed.lines.filter(keep)
                if len(good) == 0:
                    continue
                cols = entry_columns(good)
                cols["day"] = pa.array([obj.day] * len(good), pa.string())
                batches.append(pa.RecordBatch.from_pydict(cols, schema=schema))
    except ReconcileError:
        raise
    except (OSError, pa.ArrowException, EOFError, ValueError) as exc:
        raise ExpectedSourceError(f"ALB log object {src.where(obj.key)}: {exc}") from exc
    return batches, tally


def read_alb_logs(cfg: ExpectedConfig, start: datetime, end: datetime) -> pa.Table:
    """Parsed entries of the configured load balancers created in ``[start, end)``.

    Columns are exactly those of ``sql/ddl/alb_access_logs.sql`` (``day`` last), so DuckDB can
    register the table as ``alb_access_logs`` and run the same query files as Athena. The
    host and path filters of ``cfg`` are applied here (the query files cannot see them); the
    WAF, fixed-response and redirect exclusions are left to the query.
    """
    import pyarrow as pa

    if end <= start:
        raise ConfigError(f"--to ({end.isoformat()}) must be after --from ({start.isoformat()})")
    store = _store(cfg)
    listing = list_objects(cfg, store, start, end)
    src = Source.of(store)
    batches: list[pa.RecordBatch] = []
    with ThreadPoolExecutor(max_workers=cfg.read_workers) as pool:
        for part, _tally in pool.map(
            lambda o: read_object(src, o, cfg, start, end), listing.objects
        ):
            batches.extend(part)
    return pa.Table.from_batches(batches, schema=arrow_schema())
