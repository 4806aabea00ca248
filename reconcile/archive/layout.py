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

    @property
    def source_count(self) -> int:
        return int(self.source.get("count", -1))

    def to_json(self) -> bytes:
        return orjson.dumps(asdict(self), option=orjson.OPT_INDENT_2 | orjson.OPT_SORT_KEYS)

    @classmethod
    def from_json(cls, data: bytes) -> Manifest:
        raw = orjson.loads(data)
        raw["files"] = [FileEntry(**f) for f in raw.get("files", [])]
        raw["rejects"] = [FileEntry(**f) for f in raw.get("rejects", [])]
        known = set(cls.__dataclass_fields__)
        return cls(**{k: v for k, v in raw.items() if k in known})
