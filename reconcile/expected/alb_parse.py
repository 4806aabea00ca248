"""Reading ALB access-log objects: streaming gunzip, line parsing, and the exclusions.

An object is stream-decompressed and split into Arrow batches of lines, so nothing holds
more than one chunk of one object. A line is an access-log entry when it matches
:data:`LINE_REGEX`, the same regular expression as the Athena table
(``sql/ddl/alb_access_logs.sql``), so both engines agree on what is malformed. Exclusions
(WAF, fixed response, redirect, not forwarded, host, path) are boolean masks over a batch.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from ..storage import ObjectStore
from .config import ExpectedConfig

if TYPE_CHECKING:
    import pyarrow as pa

#: One access-log entry, in the field order of the ALB user guide. Groups map 1:1 to
#: :data:`.alb_table.COLUMNS`. Same text as the Athena DDL's ``input.regex`` (Java, RE2 and Python
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
#: Reasons a request is left out, in the order they are tested (the first that applies wins).
REASONS = ("waf_blocked", "fixed_response", "redirect", "not_forwarded", "host", "path")
#: Decompressed bytes per batch of lines, and per ranged GET of an object.
CHUNK_BYTES = 8 << 20


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
