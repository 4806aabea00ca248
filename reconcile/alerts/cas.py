"""Compare-and-swap on object storage, in the words alert state uses.

The primitive lives in :mod:`reconcile.storage` (``get_versioned`` / ``put_if``): S3
conditional PUTs (``If-None-Match: *`` and ``If-Match: <ETag>``), enforced atomically by S3
and by moto's server; on local paths an exclusive ``flock`` beside the object, released by
the kernel if the process dies.
"""

from __future__ import annotations

from pathlib import Path

from ..storage import LocalStore, ObjectStore


class ConditionalStore:
    """Objects with version tags; writes that fail when someone else wrote first."""

    def __init__(self, store: ObjectStore) -> None:
        self.store = store
        self.uri = store.uri

    def get(self, key: str) -> tuple[bytes, str] | None:
        """``(content, etag)``, or ``None`` when the object does not exist."""
        return self.store.get_versioned(key)

    def create(self, key: str, data: bytes) -> str | None:
        """Write only if ``key`` does not exist: the new etag, or ``None`` if it exists."""
        return self.store.put_if(key, data, None)

    def replace(self, key: str, data: bytes, etag: str) -> str | None:
        """Write only if ``key`` still has ``etag``: the new etag, or ``None`` if it changed."""
        return self.store.put_if(key, data, etag)


class LocalConditionalStore(ConditionalStore):
    """A directory (convenience for tests and local state)."""

    def __init__(self, root: Path) -> None:
        super().__init__(LocalStore(root))


def conditional(store: ObjectStore) -> ConditionalStore:
    return ConditionalStore(store)
