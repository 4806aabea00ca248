"""Reading one window from a source: through a point in time, or by one search.

A point in time reads a window of any size, page by page with ``search_after``, optionally
in slices read in parallel, and counts it inside the same snapshot. A window counted at no
more than a page is read by one search, which is as consistent and two requests cheaper.
Both serve Elasticsearch and OpenSearch (whose point in time differs only in how it opens,
sorts and closes: :mod:`reconcile.source.opensearch`).
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import AbstractContextManager, ExitStack
from typing import Any, Protocol

from ..errors import SourceError
from ..timewin import Window
from .base import Reader, Slice
from .config import SourceConfig
from .page import Page

log = logging.getLogger(__name__)


class PageSource(Protocol):
    """What the readers ask of their source (:class:`~.elastic.ElasticSource` and its
    OpenSearch subclass): one search as a page, a window's first page, a point in time."""

    cfg: SourceConfig
    es: Any

    def search_page(self, what: str, **body: Any) -> Page: ...

    def page_body(self, window: Window, sort: list[Any]) -> dict[str, Any]: ...

    def point_in_time(self, indices: list[str]) -> AbstractContextManager[Reader]: ...


class PointInTime:
    """A point in time and the reads made through it."""

    def __init__(self, source: PageSource, pit_id: str) -> None:
        self.source = source
        self.id = pit_id
        self._closed = False

    def sort(self) -> list[Any]:
        """The total order of ``search_after``: ``_shard_doc`` (shard ordinal and Lucene doc
        id, unique and stable within a point in time) is the cheapest one."""
        return [{"_shard_doc": "asc"}]

    def _search_page(self, what: str, pit_id: str, body: dict[str, Any]) -> Page:
        pit = {"id": pit_id, "keep_alive": self.source.cfg.keep_alive}
        return self.source.search_page(what, pit=pit, **body)

    def pages(
        self, window: Window, part: Slice | None = None, totals: dict[int, int] | None = None
    ) -> Iterator[Page]:
        """Pages of hits (``_id``, ``_index``, ``_source``, timestamp docvalue) of one slice.

        The first request also counts the slice exactly (``totals[slice id]``), so the
        window's point-in-time count costs no request of its own.
        """
        body = self.source.page_body(window, self.sort())
        if part is not None and part.max > 1:
            body["slice"] = {"id": part.id, "max": part.max}
        pit_id = self.id
        after: list[Any] | None = None
        page_no = read = total = 0
        while True:
            if after is not None:
                body["search_after"] = after
            page = self._search_page(f"read {window.label} page {page_no}", pit_id, body)
            pit_id = page.pit_id or pit_id
            if page_no == 0:
                body["track_total_hits"] = False
                if page.total is None:
                    raise SourceError(f"read {window.label}: the first page carries no total")
                total = page.total
                if totals is not None:
                    totals[part.id if part else 0] = total
            if not page.hits:
                return
            _check_order(page, after, window)
            read += len(page)
            after = page.last_sort
            yield page
            # Drop the page before fetching the next: one page per slice in memory, not two.
            del page
            if read >= total:
                return  # the slice's exact count in this point in time is reached
            page_no += 1

    def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        try:
            self.source.es.close_point_in_time(id=self.id)
        except Exception as exc:  # an expired or already-closed PIT is fine to leave
            log.debug("closing point in time failed: %s", exc)


class OneSearch:
    """A window of at most one page, read in one search request.

    One search is consistent by itself: on each shard its query and fetch phases share one
    reader, and the total it tracks counts that reader. So a window counted at no more than
    a page needs no point in time, whose open and close would be two more requests for the
    same guarantee. A window that has outgrown a page since it was counted is read again
    from the start through a point in time (closed with this reader).
    """

    def __init__(self, source: PageSource, indices: list[str]) -> None:
        self.source = source
        self.indices = indices
        self._stack = ExitStack()

    def pages(
        self, window: Window, part: Slice | None = None, totals: dict[int, int] | None = None
    ) -> Iterator[Page]:
        """The window's hits in one page; the request stores its exact count in ``totals``."""
        if part is not None and part.max > 1:
            raise ValueError("one search reads a whole window, not a slice of it")
        src = self.source
        what = f"read {window.label}"
        body = src.page_body(window, ["_doc"])
        page = src.search_page(what, index=",".join(self.indices), **body)
        if page.total is None:
            raise SourceError(f"{what}: the search carries no total")
        if len(page) >= page.total:
            if totals is not None:
                totals[part.id if part else 0] = page.total
            if page.hits:
                yield page
            return
        log.info(
            "window %s: %d documents, more than a page of %d since it was counted: "
            "reading it through a point in time",
            window.label,
            page.total,
            len(page),
        )
        del page
        pit = self._stack.enter_context(src.point_in_time(self.indices))
        yield from pit.pages(window, part, totals)

    def close(self) -> None:
        self._stack.close()


def _check_order(page: Page, after: list[Any] | None, window: Window) -> None:
    """Refuse to go on when the sort values are not strictly increasing.

    ``search_after`` is exact only under a total order: with ties, the documents after a
    tied page boundary are skipped silently. Ties sort next to each other, so a tie inside a
    page (or one equal to the previous page's last value) shows the order is not total.
    """
    prev = after
    for h in page.hits:
        cur = h.sort
        if prev is not None and cur is not None and not cur > prev:
            raise SourceError(
                f"read {window.label}: sort values {prev} then {cur} are not strictly "
                "increasing: the server's search_after order is not a total order, so pages "
                "would skip documents (see docs/opensearch.md, source.tiebreak)"
            )
        prev = cur
