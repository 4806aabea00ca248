"""Compare-and-swap writes on object storage, so concurrent runs never both win.

:mod:`reconcile.storage` writes unconditionally; alert state needs "create only if absent"
and "replace only if unchanged". On S3 these are conditional PUTs (``If-None-Match: *``
and ``If-Match: <ETag>``), which S3 enforces atomically and moto's server honours too. On a
local path the same contract is kept with an exclusive ``flock`` on a lock file beside the
object: the kernel releases it if the process dies, so a crash never leaves it stuck.
"""

from __future__ import annotations

import fcntl
import hashlib
import os
import tempfile
from abc import ABC, abstractmethod
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from ..errors import StorageError
from ..storage import LocalStore, ObjectStore, S3Store


class ConditionalStore(ABC):
    """Objects with version tags (ETags); writes that fail when someone else wrote first."""

    uri: str

    @abstractmethod
    def get(self, key: str) -> tuple[bytes, str] | None:
        """``(content, etag)``, or ``None`` when the object does not exist."""

    @abstractmethod
    def create(self, key: str, data: bytes) -> str | None:
        """Write only if ``key`` does not exist: the new etag, or ``None`` if it exists."""

    @abstractmethod
    def replace(self, key: str, data: bytes, etag: str) -> str | None:
        """Write only if ``key`` still has ``etag``: the new etag, or ``None`` if it changed."""


class LocalConditionalStore(ConditionalStore):
    """A directory; each compare-and-swap runs under an exclusive ``flock`` of ``<key>.lock``."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.uri = root.as_uri()

    @staticmethod
    def _etag(data: bytes) -> str:
        return hashlib.sha256(data).hexdigest()

    @contextmanager
    def _locked(self, key: str) -> Iterator[Path]:
        path = self.root / key
        path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(path.with_name(path.name + ".lock"), os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            yield path
        finally:
            fcntl.flock(fd, fcntl.LOCK_UN)
            os.close(fd)

    def get(self, key: str) -> tuple[bytes, str] | None:
        try:
            data = (self.root / key).read_bytes()
        except FileNotFoundError:
            return None
        return data, self._etag(data)

    def _write(self, path: Path, data: bytes) -> str:
        fd, tmp = tempfile.mkstemp(prefix=".tmp-", dir=path.parent)
        try:
            with os.fdopen(fd, "wb") as fh:
                fh.write(data)
                fh.flush()
                os.fsync(fh.fileno())
            os.replace(tmp, path)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
        return self._etag(data)

    def create(self, key: str, data: bytes) -> str | None:
        with self._locked(key) as path:
            if path.exists():
                return None
            return self._write(path, data)

    def replace(self, key: str, data: bytes, etag: str) -> str | None:
        with self._locked(key) as path:
            try:
                current = path.read_bytes()
            except FileNotFoundError:
                return None
            if self._etag(current) != etag:
                return None
            return self._write(path, data)


#: S3 answers a lost compare-and-swap with 412, or 409 while another conditional write is in
#: flight; 404 when If-Match names an object that is gone.
_CONFLICT = {"PreconditionFailed", "ConditionalRequestConflict", "NoSuchKey", "412", "409", "404"}


class S3ConditionalStore(ConditionalStore):
    """Conditional PUTs on an :class:`~reconcile.storage.S3Store`'s bucket and prefix."""

    def __init__(self, store: S3Store) -> None:
        self.store = store
        self.uri = store.uri

    def _key(self, key: str) -> str:
        return f"{self.store.prefix}/{key}" if self.store.prefix else key

    def _extra(self) -> dict[str, Any]:
        args: dict[str, Any] = {}
        if self.store.options.sse:
            args["ServerSideEncryption"] = self.store.options.sse
        if self.store.options.sse_kms_key_id:
            args["SSEKMSKeyId"] = self.store.options.sse_kms_key_id
        return args

    def get(self, key: str) -> tuple[bytes, str] | None:
        from botocore.exceptions import BotoCoreError, ClientError

        try:
            resp = self.store.client.get_object(Bucket=self.store.bucket, Key=self._key(key))
            return resp["Body"].read(), resp["ETag"]
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") in ("NoSuchKey", "404"):
                return None
            raise StorageError(f"get {key} on {self.uri}: {exc}") from exc
        except BotoCoreError as exc:
            raise StorageError(f"get {key} on {self.uri}: {exc}") from exc

    def _put(self, key: str, data: bytes, **cond: str) -> str | None:
        from botocore.exceptions import BotoCoreError, ClientError

        try:
            resp = self.store.client.put_object(
                Bucket=self.store.bucket, Key=self._key(key), Body=data, **cond, **self._extra()
            )
        except ClientError as exc:
            err = exc.response.get("Error", {})
            status = str(exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode", ""))
            if err.get("Code") in _CONFLICT or status in ("412", "409"):
                return None
            raise StorageError(f"conditional put {key} on {self.uri}: {exc}") from exc
        except BotoCoreError as exc:
            raise StorageError(f"conditional put {key} on {self.uri}: {exc}") from exc
        return str(resp["ETag"])

    def create(self, key: str, data: bytes) -> str | None:
        return self._put(key, data, IfNoneMatch="*")

    def replace(self, key: str, data: bytes, etag: str) -> str | None:
        return self._put(key, data, IfMatch=etag)


def conditional(store: ObjectStore) -> ConditionalStore:
    """The compare-and-swap view of an object store."""
    if isinstance(store, S3Store):
        return S3ConditionalStore(store)
    if isinstance(store, LocalStore):
        return LocalConditionalStore(store.root)
    raise StorageError(f"{store.uri}: conditional writes are not supported for this store")
