"""ALB access logs parsed once: a per-object tally kept beside the archive.

A delivered access-log object never changes, so what it says (entries per hour, per
exclusion reason, malformed lines) is worked out once and kept. A scheduled check over a
48-hour lookback then parses only the objects delivered since the last run, about one
hour of logs, instead of the whole lookback every hour.

Layout: ``<tally uri>/<fingerprint>/<object folder>.json``, one file per delivery-day
folder of one account, region and load balancer, keyed by object key; ``fingerprint``
hashes the settings that change the counts (the exclusions), so changing a filter starts
a new tally instead of reusing counts taken under another rule. An entry is used only
when the object's size still matches.

Safety: entries are facts about immutable objects, so writers merge by union under a
compare-and-swap (:meth:`ObjectStore.put_if`); two runs that parse the same object write
the same entry, and a run killed before its write only loses work, never counts.
"""

from __future__ import annotations

import hashlib
import logging
from collections import Counter
from dataclasses import asdict, dataclass, field
from datetime import datetime
from typing import Any

import orjson

from ..errors import ReconcileError
from ..storage import ObjectStore
from .config import ExpectedConfig

log = logging.getLogger(__name__)

FORMAT = 1
CAS_TRIES = 10
#: Settings that change what an object contributes (everything else only selects objects).
COUNTING_KEYS = (
    "exclude_waf_blocked",
    "exclude_fixed_response",
    "exclude_redirects",
    "exclude_not_forwarded",
    "include_only_hosts",
    "exclude_hosts",
    "exclude_path_prefixes",
)


def _hour(dt: datetime) -> str:
    return dt.strftime("%Y-%m-%dT%H")


def _unhour(text: str) -> datetime:
    return datetime.strptime(text, "%Y-%m-%dT%H")


@dataclass(slots=True)
class ObjectTally:
    """Everything one log object says, over all the hours its entries were created in."""

    size: int
    lines: int = 0
    malformed: int = 0
    examples: list[dict[str, Any]] = field(default_factory=list)
    entries: dict[str, int] = field(default_factory=dict)
    """Well-formed entries per creation hour (``YYYY-MM-DDTHH``, UTC)."""
    counted: dict[str, int] = field(default_factory=dict)
    """Entries per hour that count as requests (not excluded)."""
    excluded: dict[str, dict[str, int]] = field(default_factory=dict)
    """Reason -> hour -> entries left out."""

    @classmethod
    def build(
        cls,
        size: int,
        lines: int,
        malformed: int,
        examples: list[dict[str, Any]],
        entries: Counter[datetime],
        counted: Counter[datetime],
        excluded: dict[str, Counter[datetime]],
    ) -> ObjectTally:
        return cls(
            size=size,
            lines=lines,
            malformed=malformed,
            examples=examples,
            entries={_hour(h): n for h, n in sorted(entries.items())},
            counted={_hour(h): n for h, n in sorted(counted.items())},
            excluded={
                r: {_hour(h): n for h, n in sorted(c.items())} for r, c in sorted(excluded.items())
            },
        )

    def hours(self, table: dict[str, int]) -> Counter[datetime]:
        return Counter({_unhour(h): n for h, n in table.items()})

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> ObjectTally:
        return cls(**{k: data[k] for k in cls.__dataclass_fields__ if k in data})


def fingerprint(cfg: ExpectedConfig) -> str:
    """A short hash of the settings that change an object's counts."""
    settings = {k: getattr(cfg, k) for k in COUNTING_KEYS}
    return hashlib.sha256(orjson.dumps(settings, option=orjson.OPT_SORT_KEYS)).hexdigest()[:12]


def folder_of(key: str) -> str:
    return key.rpartition("/")[0]


class TallyCache:
    """Reads and merges per-object tallies under one fingerprint of the counting settings."""

    def __init__(self, store: ObjectStore, cfg: ExpectedConfig) -> None:
        self.store = store
        self.fingerprint = fingerprint(cfg)
        self.reads = 0
        self.writes = 0

    def _key(self, folder: str) -> str:
        return f"{self.fingerprint}/{folder}.json"

    def load(self, folder: str) -> dict[str, ObjectTally]:
        """The tallies kept for one delivery-day folder (empty when none, or unreadable)."""
        self.reads += 1
        data = self.store.get_bytes(self._key(folder))
        return self._parse(folder, data)

    def _parse(self, folder: str, data: bytes | None) -> dict[str, ObjectTally]:
        if data is None:
            return {}
        try:
            doc = orjson.loads(data)
            if doc.get("format") != FORMAT:
                return {}
            return {k: ObjectTally.from_dict(v) for k, v in doc.get("objects", {}).items()}
        except (orjson.JSONDecodeError, TypeError, AttributeError) as exc:
            # A cache, not a record: a bad file costs a re-parse, never a wrong count.
            log.warning("ignoring unreadable ALB log tally %s: %s", self._key(folder), exc)
            return {}

    def save(self, folder: str, new: dict[str, ObjectTally]) -> None:
        """Merge ``new`` into the folder's file, retrying when another run wrote first."""
        key = self._key(folder)
        for _ in range(CAS_TRIES):
            current = self.store.get_versioned(key)
            kept = self._parse(folder, current[0] if current else None)
            merged = {**kept, **new}
            body = orjson.dumps(
                {
                    "format": FORMAT,
                    "fingerprint": self.fingerprint,
                    "objects": {k: asdict(v) for k, v in sorted(merged.items())},
                },
                option=orjson.OPT_SORT_KEYS,
            )
            if self.store.put_if(key, body, current[1] if current else None) is not None:
                self.writes += 1
                return
        raise ReconcileError(f"ALB log tally {key}: gave up after {CAS_TRIES} concurrent writes")
