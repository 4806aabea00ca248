"""Expected counts from Application Load Balancer access logs in S3 (or a local copy).

The public API of the ALB side: :func:`alb_log_counts` (requests per hour window, minus the
exclusions), :func:`read_alb_logs` (the entries as the ``alb_access_logs`` Arrow table) and
:func:`with_load_balancers` (the load balancer to count when none is named). Requests are
counted by ``request_creation_time``, never by ``time`` (when the response was sent) or by
the folder date. Where the objects are is :mod:`.alb_keys`; reading and parsing them is
:mod:`.alb_parse`; the table's columns are :mod:`.alb_table`. Malformed lines are counted,
reported with object key and line number, and logged.
"""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from ..errors import ConfigError, ReconcileError
from ..storage import open_store
from ..timewin import Window
from .alb_keys import (
    LogObject,
    discover_load_balancers,
    list_objects,
    logs_store,
    object_key,
)
from .alb_parse import REASONS, Source, iter_lines, parse_batch, reason_masks
from .alb_table import arrow_schema, entry_columns
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

__all__ = [
    "Tally",
    "alb_log_counts",
    "count_object",
    "object_key",  # re-exported: the synthetic logs write keys with it
    "parse_object",
    "range_tally",
    "read_alb_logs",
    "read_object",
    "with_load_balancers",
]

log = logging.getLogger(__name__)

#: Malformed lines quoted per object, and in a range's detail.
MAX_EXAMPLES = 5


# -- the load balancer to count ------------------------------------------------------------


def with_load_balancers(cfg: ExpectedConfig, start: datetime, end: datetime) -> ExpectedConfig:
    """``cfg`` itself when it names load balancers (or reads CloudWatch); else ``cfg`` with
    the only load balancer whose access logs cover the range, said in a log line.

    Raises :class:`ConfigError` listing them when the bucket holds several, or none.
    """
    if cfg.source != "alb_logs" or cfg.load_balancers:
        return cfg
    found = discover_load_balancers(cfg, start, end)
    where = f"{logs_store(cfg).uri} ({start:%Y-%m-%dT%H}..{end:%Y-%m-%dT%H})"
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
    store = logs_store(cfg)
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
    store = logs_store(cfg)
    listing = list_objects(cfg, store, start, end)
    src = Source.of(store)
    batches: list[pa.RecordBatch] = []
    with ThreadPoolExecutor(max_workers=cfg.read_workers) as pool:
        for part, _tally in pool.map(
            lambda o: read_object(src, o, cfg, start, end), listing.objects
        ):
            batches.extend(part)
    return pa.Table.from_batches(batches, schema=arrow_schema())
