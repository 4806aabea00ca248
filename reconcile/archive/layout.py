"""Where things live in the archive, and the manifest that commits a window.

::

    <archive>/dt=YYYY-MM-DD/hour=HH/part-SSS-NNNNN.parquet     slice SSS, file NNNNN
    <archive>/dt=YYYY-MM-DD/hour=HH/_rejects/part-SSS.jsonl.gz  quarantined documents
    <archive>/dt=YYYY-MM-DD/hour=HH/_manifest.json              commit record, written last
    <archive>/_staging/<run>/dt=YYYY-MM-DD/hour=HH/...          a run's uncommitted work

Names starting with ``_`` are skipped by Athena, Hive and pyarrow dataset discovery.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

import orjson

from ..timewin import Window

MANIFEST = "_manifest.json"
STAGING = "_staging"
REJECTS = "_rejects"
FORMAT_VERSION = 1


def window_prefix(window: Window) -> str:
    return f"{window.partition}/"


def staging_prefix(run_id: str, window: Window) -> str:
    return f"{STAGING}/{run_id}/{window.partition}/"


def part_name(slice_id: int, seq: int) -> str:
    return f"part-{slice_id:03d}-{seq:05d}.parquet"


def reject_name(slice_id: int) -> str:
    return f"{REJECTS}/part-{slice_id:03d}.jsonl.gz"


@dataclass(slots=True)
class FileEntry:
    """One file of a window, relative to the window's partition directory."""

    path: str
    rows: int
    bytes: int


@dataclass(slots=True)
class Manifest:
    """The commit record of one archived window."""

    window_start: str
    window_end: str
    partition: str
    run_id: str
    tool_version: str
    committed_at: str
    source: dict[str, Any]
    rows: int
    quarantined: int
    files: list[FileEntry] = field(default_factory=list)
    rejects: list[FileEntry] = field(default_factory=list)
    schema: dict[str, Any] = field(default_factory=dict)
    conflicts: list[dict[str, Any]] = field(default_factory=list)
    timings: dict[str, float] = field(default_factory=dict)
    format_version: int = FORMAT_VERSION
    revision: int = 1
    """1 for the first commit of the window; each re-archive (late documents) adds one."""
    replaced: list[dict[str, Any]] = field(default_factory=list)
    """The revisions this one replaced, oldest first: revision, run_id, committed_at, rows,
    quarantined, source_count, and why it was replaced."""
    table_schema_version: int = 0
    """Version of the archive's table schema (``_schema/table.json``) the files conform to;
    0 for windows written before the archive had one."""
    extra_counts: dict[str, int] = field(default_factory=dict)
    """Per field: rows that kept a value verbatim in ``_extra`` (unmapped, several values
    in a scalar column, or not convertible to the table's type)."""

    @property
    def source_count(self) -> int:
        return int(self.source.get("count", -1))

    @property
    def held(self) -> int:
        """Documents the window holds: rows in Parquet plus quarantined ones."""
        return self.rows + self.quarantined

    @property
    def indices(self) -> list[str]:
        """The indexes the window's documents came from."""
        return [str(i) for i in self.source.get("indices", [])]

    def successor_record(self, reason: str) -> dict[str, Any]:
        """What a new revision keeps of this one in ``replaced``."""
        return {
            "revision": self.revision,
            "run_id": self.run_id,
            "committed_at": self.committed_at,
            "rows": self.rows,
            "quarantined": self.quarantined,
            "source_count": self.source_count,
            "reason": reason,
        }

    def to_json(self) -> bytes:
        return orjson.dumps(asdict(self), option=orjson.OPT_INDENT_2 | orjson.OPT_SORT_KEYS)

    @classmethod
    def from_json(cls, data: bytes) -> Manifest:
        raw = orjson.loads(data)
        raw["files"] = [FileEntry(**f) for f in raw.get("files", [])]
        raw["rejects"] = [FileEntry(**f) for f in raw.get("rejects", [])]
        known = set(cls.__dataclass_fields__)
        return cls(**{k: v for k, v in raw.items() if k in known})
