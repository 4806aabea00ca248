"""Pages of hits straight from the server's JSON into Arrow, for the common case.

Most pages hold documents that already fit their columns exactly. For those, the raw
``_source`` texts of a page are joined into NDJSON and parsed by Arrow's JSON reader with
an explicit schema, which is strict: a value of another type, an unknown key, a nested
array where a scalar is expected all make it refuse the page. A refused page goes to the
normalising :class:`~reconcile.archive.convert.RowConverter`, so both paths give the same
batch for any page the direct one takes (``tests/archive/test_direct.py`` checks that on
documents built to disagree). The direct path never quarantines and never fills
``_extra``: anything that would is the row path's job.

Two shapes common in Filebeat/ECS documents are taken directly all the same: a top-level
string column holding arrays (``tags``), stored as the row path stores it (one element as
itself, several as JSON text), and other date columns, parsed as ISO 8601 with an offset.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterator
from dataclasses import dataclass

import orjson
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.json as pj
from msgspec import Raw

from ..source.page import Page
from .convert import Reject, RowConverter
from .schema import EXTRA_COLUMN, ID_COLUMN, INDEX_COLUMN, FieldType, WindowSchema

log = logging.getLogger(__name__)

#: Hits the row path converts at a time: the Python dicts of a chunk, not of a page, are alive.
ROW_CHUNK = 1024

_TS = pa.timestamp("ms", tz="UTC")
_CHANGED = re.compile(r"Column\(/([^/)]+)\) changed from (\w+) to (\w+)")
#: Characters orjson escapes in a string; arrays holding them are left to the row path.
_ESCAPED = r'["\\\x00-\x1f]'


class _Decline(Exception):
    """The page needs the row path."""


@dataclass(slots=True)
class PathTally:
    """How many pages (and hits) each path converted."""

    direct_pages: int = 0
    direct_hits: int = 0
    row_pages: int = 0
    row_hits: int = 0


def _parse_type(ft: FieldType) -> pa.DataType:
    """What Arrow's JSON reader is asked to read for a column of type ``ft``."""
    if ft.kind == "struct":
        inner: pa.DataType = pa.struct([pa.field(n, _parse_type(t)) for n, t in ft.children])
    elif ft.kind in ("timestamp", "decimal"):
        inner = pa.string()
    else:
        inner = FieldType(ft.kind).to_arrow()
    return pa.list_(inner) if ft.repeated else inner


def _finish(arr: pa.Array, ft: FieldType) -> pa.Array:
    """A parsed column in its archive type; raises :class:`_Decline` when only the row path
    can say what the value becomes."""
    if ft.repeated:
        if ft.kind in ("struct", "timestamp", "decimal") and arr.null_count < len(arr):
            raise _Decline(f"list of {ft.kind}")
        return arr.cast(ft.to_arrow()) if arr.null_count == len(arr) else arr
    if ft.kind == "struct":
        kids = [_finish(arr.field(i), t) for i, (_, t) in enumerate(ft.children)]
        fields = [pa.field(n, t.to_arrow()) for n, t in ft.children]
        mask = arr.is_null() if arr.null_count else None
        return pa.StructArray.from_arrays(kids, fields=fields, mask=mask)
    if ft.kind == "timestamp":
        try:
            return arr.cast(_TS)
        except (pa.ArrowInvalid, pa.ArrowNotImplementedError) as exc:
            raise _Decline(f"date: {exc}") from None
    if ft.kind == "decimal" and arr.null_count < len(arr):
        raise _Decline("unsigned_long value")
    return arr.cast(ft.to_arrow()) if ft.kind == "decimal" else arr


def _array_text(arr: pa.Array) -> pa.Array:
    """Arrays in a string column as the row path stores them: empty is null, one element is
    itself, several are their JSON text (as orjson writes it)."""
    values = pc.list_flatten(arr)
    if values.null_count:
        raise _Decline("null inside an array")
    if len(values) and pc.any(pc.match_substring_regex(values, _ESCAPED)).as_py():
        raise _Decline("array element needing escapes")
    lengths = pc.list_value_length(arr)
    joined = pc.binary_join(arr, '","')
    text = pc.binary_join_element_wise('["', joined, '"]', "")
    out = pc.if_else(pc.equal(lengths, 1), joined, text)
    return pc.if_else(pc.equal(lengths, 0), pa.nulls(len(arr), pa.string()), out)


class PageConverter:
    """Converts pages of one window schema, directly where it can. One per slice."""

    def __init__(self, schema: WindowSchema, max_doc_bytes: int) -> None:
        self.rows = RowConverter(schema, max_doc_bytes)
        self.schema = schema
        self.arrow_schema = self.rows.arrow_schema
        self.max_doc_bytes = max_doc_bytes
        self.ts = schema.timestamp_field
        # Lenient paths move misfits to _extra; date_nanos needs the docvalue's fraction.
        self.enabled = not schema.lenient and self.rows.ns is None
        self.tally = PathTally()
        self._arrays: set[str] = set()  # top-level string columns seen holding arrays
        self._ts_type: pa.DataType = pa.string()  # the source's own copy of the timestamp
        self._options: pj.ParseOptions | None = None
        self._millis_frame = (b"{" + orjson.dumps(self.ts) + b':["', b'"]}')
        self._fields = pj.ParseOptions(
            explicit_schema=pa.schema([pa.field(self.ts, pa.list_(pa.string()))]),
            unexpected_field_behavior="error",
        )

    def convert(self, page: Page) -> Iterator[tuple[pa.RecordBatch | None, list[Reject]]]:
        """Record batches (and rejects) for the page's hits, in order."""
        if self.enabled and page.hits:
            try:
                batch = self._direct(page)
            except _Decline as why:
                log.debug("page of %d hits takes the row path: %s", len(page), why)
            else:
                self.tally.direct_pages += 1
                self.tally.direct_hits += len(page)
                yield batch, []
                return
        self.tally.row_pages += 1
        self.tally.row_hits += len(page)
        for lo in range(0, len(page), ROW_CHUNK):
            yield self.rows.convert(page.dicts(lo, lo + ROW_CHUNK))

    def _direct(self, page: Page) -> pa.RecordBatch:
        hits = page.hits
        sources = [h.source for h in hits]
        sizes = list(map(len, sources))
        if min(sizes) == 0:
            raise _Decline("a hit without _source")
        if max(sizes) > self.max_doc_bytes:
            raise _Decline("a source over max_doc_bytes")
        docvalues = [h.fields for h in hits]
        if min(map(len, docvalues)) == 0:
            raise _Decline("a hit without the timestamp docvalue")
        ts = self._timestamps(docvalues)
        parsed = self._parse_sources(sources)
        columns = {
            ID_COLUMN: pa.array([h.id for h in hits], pa.string()),
            INDEX_COLUMN: pa.array([h.index for h in hits], pa.string()),
            self.ts: ts,
            EXTRA_COLUMN: pa.nulls(len(hits), pa.string()),
        }
        for name, ft in self.schema.columns.items():
            col = parsed.column(name).combine_chunks()
            columns[name] = _array_text(col) if name in self._arrays else _finish(col, ft)
        return pa.RecordBatch.from_arrays(
            [columns[f.name] for f in self.arrow_schema], schema=self.arrow_schema
        )

    def _timestamps(self, docvalues: list[Raw]) -> pa.Array:
        """The timestamp docvalues (epoch millis text), as Elasticsearch indexed them."""
        text = b"\n".join(docvalues)
        millis = self._plain_millis(text, len(docvalues))
        if millis is not None:
            return millis
        try:
            table = _read(text, len(docvalues), self._fields)
        except pa.ArrowInvalid as exc:  # another docvalue, a number: the row path decides
            raise _Decline(f"timestamp docvalue: {exc}") from None
        first = pc.list_element(table.column(self.ts).combine_chunks(), 0)
        if first.null_count:
            raise _Decline("a hit without the timestamp docvalue")
        try:
            return first.cast(pa.int64()).cast(_TS)
        except pa.ArrowInvalid as exc:
            raise _Decline(f"timestamp docvalue: {exc}") from None

    def _plain_millis(self, text: bytes, rows: int) -> pa.Array | None:
        """The docvalues when every one is exactly ``{"<ts>":["<millis>"]}``, as servers
        write them, without a JSON parse; None for any other shape (the parse decides)."""
        head, tail = self._millis_frame
        if not (text.startswith(head) and text.endswith(tail)):
            return None
        digits = text[len(head) : -len(tail)].split(tail + b"\n" + head)
        if len(digits) != rows:
            return None
        try:  # the cast refuses anything but an integer: a second value, a quote, a space
            return pa.array(digits, pa.string()).cast(pa.int64()).cast(_TS)
        except pa.ArrowInvalid:
            return None

    def _source_options(self) -> pj.ParseOptions:
        if self._options is not None:
            return self._options
        fields = [pa.field(self.ts, self._ts_type)]
        for name, ft in self.schema.columns.items():
            kind = pa.list_(pa.string()) if name in self._arrays else _parse_type(ft)
            fields.append(pa.field(name, kind))
        self._options = pj.ParseOptions(
            explicit_schema=pa.schema(fields), unexpected_field_behavior="error"
        )
        return self._options

    def _parse_sources(self, sources: list[Raw]) -> pa.Table:
        """The page's sources as one table; learns (once per column) that a string column
        holds arrays, or that the source's timestamp is a number, and reads again."""
        text = b"\n".join(sources)
        for _ in range(3):
            try:
                return _read(text, len(sources), self._source_options())
            except pa.ArrowInvalid as exc:
                if not self._adapt(str(exc)):
                    raise _Decline(str(exc)) from None
        raise _Decline("column types keep changing within the page")

    def _adapt(self, message: str) -> bool:
        m = _CHANGED.search(message)
        if m is None:
            return False
        name, _, found = m.groups()
        ft = self.schema.columns.get(name)
        if found == "array" and ft == FieldType("string") and name not in self._arrays:
            self._arrays.add(name)
            self._options = None
            return True
        if name == self.ts and found == "number" and self._ts_type == pa.string():
            self._ts_type = pa.float64()
            self._options = None
            return True
        return False


def _read(text: bytes, rows: int, options: pj.ParseOptions) -> pa.Table:
    """NDJSON ``text`` of ``rows`` objects as a table (one block, this thread)."""
    multiline = text.count(b"\n") != rows - 1  # a source stored pretty-printed
    if multiline:
        options = pj.ParseOptions(
            explicit_schema=options.explicit_schema,
            unexpected_field_behavior=options.unexpected_field_behavior,
            newlines_in_values=True,
        )
    table = pj.read_json(
        pa.py_buffer(text),
        read_options=pj.ReadOptions(use_threads=False, block_size=max(len(text) + 1, 1 << 20)),
        parse_options=options,
    )
    if table.num_rows != rows:
        raise _Decline(f"{table.num_rows} objects parsed from {rows} sources")
    return table
