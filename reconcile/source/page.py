"""One page of a point-in-time read, decoded only as far as the archive needs.

A search response is mostly ``_source`` text that the archive turns into Arrow columns.
Decoding it into Python dicts first (and then converting those) was the biggest client
cost of archiving; here each hit's id, index and sort values are decoded (msgspec, typed),
while its ``_source`` and docvalue ``fields`` stay the exact JSON text the server sent
(``msgspec.Raw``, views into the response), for the archive to parse in C++ (see
:mod:`reconcile.archive.direct`). Python dicts are built only for pages that need the
normalising row path.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import msgspec
import orjson

from ..errors import SourceError

_EMPTY = msgspec.Raw()


class Hit(msgspec.Struct, gc=False):
    """One hit: metadata decoded, ``_source`` and ``fields`` as raw JSON (empty when absent)."""

    id: str = msgspec.field(name="_id")
    index: str = msgspec.field(name="_index")
    source: msgspec.Raw = msgspec.field(name="_source", default=_EMPTY)
    fields: msgspec.Raw = _EMPTY
    sort: list[Any] | None = None


class _Total(msgspec.Struct, gc=False):
    value: int


class _Hits(msgspec.Struct, gc=False):
    hits: list[Hit]
    total: _Total | None = None


class _Shards(msgspec.Struct, gc=False):
    failed: int = 0
    failures: list[Any] = []


class _Response(msgspec.Struct, gc=False):
    hits: _Hits
    pit_id: str | None = None
    timed_out: bool = False
    shards: _Shards | None = msgspec.field(name="_shards", default=None)


_DECODER = msgspec.json.Decoder(_Response)


class Page:
    """The hits of one search request, in the order the server sorted them."""

    __slots__ = ("hits", "pit_id", "total")

    def __init__(self, hits: list[Hit], pit_id: str | None, total: int | None) -> None:
        self.hits = hits
        self.pit_id = pit_id
        #: The slice's exact count, when the request tracked total hits.
        self.total = total

    def __len__(self) -> int:
        return len(self.hits)

    def __iter__(self) -> Iterator[dict[str, Any]]:
        return iter(self.dicts())

    @property
    def indices(self) -> set[str]:
        return {h.index for h in self.hits}

    @property
    def last_sort(self) -> list[Any] | None:
        return self.hits[-1].sort if self.hits else None

    def dicts(self, lo: int = 0, hi: int | None = None) -> list[dict[str, Any]]:
        """Hits ``lo:hi`` as the Python dicts the row converter takes."""
        out = []
        for h in self.hits[lo:hi]:
            hit: dict[str, Any] = {"_id": h.id, "_index": h.index}
            if h.source:
                hit["_source"] = orjson.loads(bytes(h.source))
            if h.fields:
                hit["fields"] = orjson.loads(bytes(h.fields))
            if h.sort is not None:
                hit["sort"] = h.sort
            out.append(hit)
        return out


def decode_page(body: bytes | str, what: str) -> Page:
    """A search response as a :class:`Page`; refuses partial answers (failed shards, time-outs)."""
    try:
        resp = _DECODER.decode(body)
    except msgspec.DecodeError as exc:
        raise SourceError(f"{what}: unexpected search response: {exc}") from exc
    shards = resp.shards
    if shards is not None and shards.failed:
        reasons = "; ".join(str(f)[:200] for f in shards.failures[:3])
        raise SourceError(f"{what}: {shards.failed} shards failed: {reasons}")
    if resp.timed_out:
        raise SourceError(f"{what}: the search timed out on the server (partial results)")
    total = resp.hits.total.value if resp.hits.total is not None else None
    return Page(resp.hits.hits, resp.pit_id, total)


class RawJson:
    """A client serializer whose ``loads`` returns the response body untouched.

    Only the point-in-time page reads use it, through a client of their own; error bodies
    (``{"error": ...}``) are still decoded so the client's exceptions keep their message.
    """

    mimetype = "application/json"

    def dumps(self, data: Any) -> bytes:
        if isinstance(data, bytes | str):
            return data.encode() if isinstance(data, str) else data
        return orjson.dumps(data)

    def loads(self, data: bytes | str) -> Any:
        head = data[:16]
        is_error = b'"error"' in head if isinstance(head, bytes) else '"error"' in head
        return orjson.loads(data) if is_error else data
