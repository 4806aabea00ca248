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
    mapped and gives them back on free (setting it also stops the adjustment). Capping the
    arenas as well, at one, was measured and added nothing beyond the noise
    (docs/benchmarks.md). A threshold the environment sets (``MALLOC_MMAP_THRESHOLD_``,
    ``GLIBC_TUNABLES``) is left alone.

    Returns what was set; empty when the C library is not glibc.
    """
    if platform.libc_ver()[0] != "glibc":
        return {}
    tunables = os.environ.get("GLIBC_TUNABLES", "")
    if "MALLOC_MMAP_THRESHOLD_" in os.environ or "glibc.malloc.mmap_threshold=" in tunables:
        return {}
    libc = ctypes.CDLL(None)
    if libc.mallopt(_M_MMAP_THRESHOLD, MMAP_THRESHOLD) != 1:
        log.debug("mallopt(M_MMAP_THRESHOLD, %d) refused", MMAP_THRESHOLD)
        return {}
    # A fixed threshold also freezes the trim threshold at 128 KiB, and the heap is then
    # shrunk and grown again all the time: the demo's archiving took 79 s instead of 67.
    # Twice the threshold is what glibc's own adjustment would have set.
    applied = {"mmap_threshold": MMAP_THRESHOLD}
    trim_set = "MALLOC_TRIM_THRESHOLD_" in os.environ or "glibc.malloc.trim_threshold=" in tunables
    if not trim_set and libc.mallopt(_M_TRIM_THRESHOLD, 2 * MMAP_THRESHOLD) == 1:
        applied["trim_threshold"] = 2 * MMAP_THRESHOLD
    return applied
