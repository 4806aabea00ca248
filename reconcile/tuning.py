"""Process-wide settings for a batch run: the cyclic GC and glibc's malloc.

The CLI applies them when a command starts; a program importing the library decides for
its own process.
"""

from __future__ import annotations

import ctypes
import gc
import logging
import os
import platform

log = logging.getLogger(__name__)

#: glibc ``mallopt`` parameters (malloc.h).
_M_TRIM_THRESHOLD = -1
_M_MMAP_THRESHOLD = -3

#: Buffers at least this large are mapped on their own and returned to the system when freed.
MMAP_THRESHOLD = 1 << 20


def tune_gc() -> None:
    """Fewer cyclic-GC passes: a run allocates millions of short-lived, acyclic dicts
    (parsed hits), and the default thresholds spend a third of the client CPU scanning
    them. Objects alive at start-up are frozen out of the scans."""
    gc.freeze()
    gc.set_threshold(50_000, 20, 100)


def bound_malloc() -> dict[str, int]:
    """Keep freed large buffers out of the resident set.

    Each page of a point-in-time read is a response body of megabytes, joined again into
    NDJSON for Arrow. glibc maps such a buffer on its own, but raises its mapping threshold
    to the size of each one freed (up to 32 MiB), so from the second page on they come from
    the heap, and each thread's arena keeps what it freed. A fixed threshold keeps them
    mapped and gives them back on free. Fixing it also stops glibc raising the trim
    threshold with it, which left it at 128 KiB: the heap was shrunk and grown again all
    the time (the demo's archiving took 79 s instead of 67), so it is set to twice the
    threshold, as glibc's own adjustment would. Capping the arenas as well, at one, was
    measured and added nothing beyond the noise (docs/benchmarks.md). A threshold the
    environment sets (``MALLOC_*_``, ``GLIBC_TUNABLES``) is left alone.

    Returns what was set; empty when the C library is not glibc.
    """
    if platform.libc_ver()[0] != "glibc" or _set_by_environment("mmap_threshold"):
        return {}
    libc = ctypes.CDLL(None)
    if libc.mallopt(_M_MMAP_THRESHOLD, MMAP_THRESHOLD) != 1:
        log.debug("mallopt(M_MMAP_THRESHOLD, %d) refused", MMAP_THRESHOLD)
        return {}
    applied = {"mmap_threshold": MMAP_THRESHOLD}
    trim = 2 * MMAP_THRESHOLD
    if not _set_by_environment("trim_threshold") and libc.mallopt(_M_TRIM_THRESHOLD, trim) == 1:
        applied["trim_threshold"] = trim
    return applied


def _set_by_environment(name: str) -> bool:
    """Whether ``MALLOC_<NAME>_`` or ``GLIBC_TUNABLES`` already sets glibc's ``name``."""
    tunables = os.environ.get("GLIBC_TUNABLES", "")
    return f"MALLOC_{name.upper()}_" in os.environ or f"glibc.malloc.{name}=" in tunables
