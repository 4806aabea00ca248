"""Object storage behind one small interface: S3 (or any S3-compatible store) and local paths.

Stages address objects by keys relative to a base URI (``s3://bucket/prefix`` or a
directory), so the archive layout code never cares where the bytes live. Readers that want
Arrow get a ``pyarrow.fs`` filesystem and base path from :meth:`ObjectStore.arrow`.
"""

from __future__ import annotations

import fcntl
import hashlib
import os
import shutil
import tempfile
from abc import ABC, abstractmethod
from collections.abc import Iterable
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import urlparse

from .errors import ConfigError, StorageError

if TYPE_CHECKING:
    import pyarrow.fs


@dataclass(frozen=True, slots=True)
class ObjectInfo:
    """A stored object: key relative to the store's base, and its size in bytes."""

    key: str
    size: int


@dataclass(frozen=True, slots=True)
class UploadOptions:
    """How objects are written to S3 (ignored for local paths)."""

    sse: str | None = None
    """Server-side encryption: ``AES256`` or ``aws:kms``; ``None`` uses the bucket default."""
    sse_kms_key_id: str | None = None
    """KMS key for ``aws:kms``; ``None`` uses the AWS-managed key."""
    multipart_chunk_mb: int = 16
    """Part size for multipart uploads; files above it are uploaded in parts."""


class ObjectStore(ABC):
    """Keys are ``/``-separated and relative to :attr:`uri`."""

    uri: str

    @abstractmethod
    def put_file(self, local: Path, key: str) -> None:
        """Upload a local file; the object appears whole or not at all."""

    @abstractmethod
    def put_bytes(self, key: str, data: bytes) -> None: ...

    @abstractmethod
    def get_bytes(self, key: str) -> bytes | None:
        """The object's content, or ``None`` when it does not exist."""

    @abstractmethod
    def list(self, prefix: str = "") -> list[ObjectInfo]:
        """Every object under ``prefix`` (recursive), sorted by key."""

    @abstractmethod
    def delete(self, keys: Iterable[str]) -> None: ...

    @abstractmethod
    def move(self, src: str, dst: str) -> None:
        """Put ``src`` at ``dst`` (replacing it), then remove ``src``."""

    def place(self, moves: Iterable[tuple[str, str, int]]) -> None:
        """Put each ``(src, dst, size)``'s ``src`` at ``dst`` (replacing it).

        The sources may stay behind (S3: server-side copies, so a caller that deletes other
        keys as well deletes them in the same request) or be gone (local paths: renames);
        deleting them afterwards is the caller's job and always safe. ``size`` is the
        source's size in bytes, when the caller knows it (so S3 needs no HEAD to choose
        between a single and a multipart copy)."""
        for src, dst, _size in moves:
            self.move(src, dst)

    @abstractmethod
    def arrow(self) -> tuple[pyarrow.fs.FileSystem, str]:
        """A pyarrow filesystem and the base path inside it, for Arrow/DuckDB readers."""

    @abstractmethod
    def get_versioned(self, key: str) -> tuple[bytes, str] | None:
        """The object's content and an opaque version (S3 ETag) for :meth:`put_if`."""

    @abstractmethod
    def put_if(self, key: str, data: bytes, version: str | None) -> str | None:
        """Write only if the object is still at ``version`` (``None``: only if absent).

        Returns the new version, or ``None`` when someone else wrote first. This is the
        compare-and-swap that leases and alert state are built on.
        """

    def exists(self, key: str) -> bool:
        return self.get_bytes(key) is not None


class LocalStore(ObjectStore):
    """A directory. Writes go to a temporary file and are renamed into place."""

    def __init__(self, root: Path) -> None:
        self.root = root.resolve()
        self.uri = self.root.as_uri()

    def _path(self, key: str) -> Path:
        return self.root / key

    def _mkstemp(self, parent: Path) -> tuple[int, str]:
        # Another process may prune an empty parent between mkdir and mkstemp: try again.
        for _ in range(5):
            parent.mkdir(parents=True, exist_ok=True)
            try:
                return tempfile.mkstemp(prefix=".tmp-", dir=parent)
            except FileNotFoundError:
                continue
        raise StorageError(f"cannot create a file in {parent}: it keeps disappearing")

    def _replace_with(self, key: str, fill: Any) -> None:
        dest = self._path(key)
        fd, tmp = self._mkstemp(dest.parent)
        try:
            with os.fdopen(fd, "wb") as fh:
                fill(fh)
                fh.flush()
                os.fsync(fh.fileno())
            os.replace(tmp, dest)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise

    def put_file(self, local: Path, key: str) -> None:
        def fill(fh: Any) -> None:
            with open(local, "rb") as src:
                shutil.copyfileobj(src, fh, 1 << 20)

        self._replace_with(key, fill)

    def put_bytes(self, key: str, data: bytes) -> None:
        self._replace_with(key, lambda fh: fh.write(data))

    def get_bytes(self, key: str) -> bytes | None:
        try:
            return self._path(key).read_bytes()
        except FileNotFoundError:
            return None

    def get_versioned(self, key: str) -> tuple[bytes, str] | None:
        data = self.get_bytes(key)
        return None if data is None else (data, hashlib.sha256(data).hexdigest())

    def put_if(self, key: str, data: bytes, version: str | None) -> str | None:
        lock = self._path(key).with_name(self._path(key).name + ".lock")
        lock.parent.mkdir(parents=True, exist_ok=True)
        with open(lock, "a+b") as fh:
            fcntl.flock(fh, fcntl.LOCK_EX)
            current = self.get_versioned(key)
            if (current[1] if current else None) != version:
                return None
            self.put_bytes(key, data)
            return hashlib.sha256(data).hexdigest()

    def list(self, prefix: str = "") -> list[ObjectInfo]:
        base = self._path(prefix)
        top = base if base.is_dir() else base.parent
        if not top.exists():
            return []
        out = []
        for dirpath, _dirs, files in os.walk(top):
            for name in files:
                if name.startswith(".tmp-") or name.endswith(".lock"):
                    continue
                full = Path(dirpath) / name
                key = full.relative_to(self.root).as_posix()
                if key.startswith(prefix):
                    try:
                        out.append(ObjectInfo(key, full.stat().st_size))
                    except FileNotFoundError:  # deleted while we walked
                        continue
        return sorted(out, key=lambda o: o.key)

    def delete(self, keys: Iterable[str]) -> None:
        for key in keys:
            self._path(key).unlink(missing_ok=True)
        # Empty staging directories are noise for people browsing the archive.
        for key in keys:
            parent = self._path(key).parent
            while parent != self.root:
                try:
                    parent.rmdir()  # only succeeds when empty
                except OSError:
                    break
                parent = parent.parent

    def move(self, src: str, dst: str) -> None:
        dest = self._path(dst)
        for _ in range(5):
            dest.parent.mkdir(parents=True, exist_ok=True)
            try:
                os.replace(self._path(src), dest)
                return
            except FileNotFoundError:
                if not self._path(src).exists():
                    raise
        raise StorageError(f"cannot move {src} to {dst}: the target directory keeps disappearing")

    def arrow(self) -> tuple[pyarrow.fs.FileSystem, str]:
        import pyarrow.fs

        return pyarrow.fs.LocalFileSystem(), self.root.as_posix()


def _endpoint_url() -> str | None:
    return os.environ.get("AWS_ENDPOINT_URL_S3") or os.environ.get("AWS_ENDPOINT_URL") or None


#: The largest object one CopyObject request copies (S3's limit; above it, multipart).
SINGLE_COPY_MAX = 5 * 1024**3


class S3Store(ObjectStore):
    """An S3 bucket and prefix, through the standard AWS chain and ``AWS_ENDPOINT_URL``."""

    def __init__(self, bucket: str, prefix: str, options: UploadOptions | None = None) -> None:
        self.bucket = bucket
        self.prefix = prefix.strip("/")
        self.options = options or UploadOptions()
        self.uri = f"s3://{bucket}/{self.prefix}".rstrip("/")

    @cached_property
    def client(self) -> Any:
        from botocore.config import Config

        from .aws import session

        cfg = Config(retries={"mode": "standard", "max_attempts": 8}, max_pool_connections=32)
        return session().client("s3", endpoint_url=_endpoint_url(), config=cfg)

    def _key(self, key: str) -> str:
        return f"{self.prefix}/{key}" if self.prefix else key

    def _rel(self, full: str) -> str:
        return full[len(self.prefix) + 1 :] if self.prefix else full

    def _extra_args(self) -> dict[str, str]:
        args: dict[str, str] = {}
        if self.options.sse:
            args["ServerSideEncryption"] = self.options.sse
        if self.options.sse_kms_key_id:
            args["SSEKMSKeyId"] = self.options.sse_kms_key_id
        return args

    def _call(self, what: str, fn: Any, *args: Any, **kwargs: Any) -> Any:
        from botocore.exceptions import BotoCoreError, ClientError

        try:
            return fn(*args, **kwargs)
        except (ClientError, BotoCoreError) as exc:
            raise StorageError(f"{what} on {self.uri}: {exc}") from exc

    def put_file(self, local: Path, key: str) -> None:
        from boto3.s3.transfer import TransferConfig

        chunk = self.options.multipart_chunk_mb * 1024 * 1024
        cfg = TransferConfig(multipart_threshold=chunk, multipart_chunksize=chunk, use_threads=True)
        self._call(
            f"upload {key}",
            self.client.upload_file,
            str(local),
            self.bucket,
            self._key(key),
            ExtraArgs=self._extra_args(),
            Config=cfg,
        )

    def put_bytes(self, key: str, data: bytes) -> None:
        self._call(
            f"put {key}",
            self.client.put_object,
            Bucket=self.bucket,
            Key=self._key(key),
            Body=data,
            **self._extra_args(),
        )

    def get_bytes(self, key: str) -> bytes | None:
        from botocore.exceptions import ClientError

        try:
            resp = self.client.get_object(Bucket=self.bucket, Key=self._key(key))
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") in ("NoSuchKey", "404"):
                return None
            raise StorageError(f"get {key} on {self.uri}: {exc}") from exc
        return resp["Body"].read()

    def get_versioned(self, key: str) -> tuple[bytes, str] | None:
        from botocore.exceptions import ClientError

        try:
            resp = self.client.get_object(Bucket=self.bucket, Key=self._key(key))
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") in ("NoSuchKey", "404"):
                return None
            raise StorageError(f"get {key} on {self.uri}: {exc}") from exc
        return resp["Body"].read(), str(resp["ETag"])

    def put_if(self, key: str, data: bytes, version: str | None) -> str | None:
        from botocore.exceptions import ClientError

        cond = {"IfNoneMatch": "*"} if version is None else {"IfMatch": version}
        try:
            resp = self.client.put_object(
                Bucket=self.bucket, Key=self._key(key), Body=data, **cond, **self._extra_args()
            )
        except ClientError as exc:
            code = exc.response.get("Error", {}).get("Code")
            if code in (
                "PreconditionFailed",
                "ConditionalRequestConflict",
                "412",
                "409",
                "NoSuchKey",
            ):
                return None
            raise StorageError(f"conditional put {key} on {self.uri}: {exc}") from exc
        return str(resp["ETag"])

    def list(self, prefix: str = "") -> list[ObjectInfo]:
        paginator = self.client.get_paginator("list_objects_v2")
        out: list[ObjectInfo] = []

        def walk() -> None:
            for page in paginator.paginate(Bucket=self.bucket, Prefix=self._key(prefix)):
                for obj in page.get("Contents", []):
                    out.append(ObjectInfo(self._rel(obj["Key"]), obj["Size"]))

        self._call(f"list {prefix or '/'}", walk)
        return sorted(out, key=lambda o: o.key)

    def delete(self, keys: Iterable[str]) -> None:
        batch = [{"Key": self._key(k)} for k in keys]
        for i in range(0, len(batch), 1000):
            resp = self._call(
                "delete",
                self.client.delete_objects,
                Bucket=self.bucket,
                Delete={"Objects": batch[i : i + 1000], "Quiet": True},
            )
            if resp.get("Errors"):
                first = resp["Errors"][0]
                raise StorageError(
                    f"delete {first.get('Key')} on {self.uri}: {first.get('Message')}"
                )

    def _managed_copy(self, src: str, dst: str) -> None:
        # Server-side, multipart above 5 GB; no bytes pass through this process.
        self._call(
            f"copy {src} -> {dst}",
            self.client.copy,
            {"Bucket": self.bucket, "Key": self._key(src)},
            self.bucket,
            self._key(dst),
            ExtraArgs=self._extra_args() or None,
        )

    def move(self, src: str, dst: str) -> None:
        self._managed_copy(src, dst)
        self.delete([src])

    def place(self, moves: Iterable[tuple[str, str, int]]) -> None:
        # One CopyObject per object up to S3's 5 GiB single-copy limit (the managed copy
        # would HEAD each source first to learn its size); the sources stay (see above).
        for src, dst, size in moves:
            if size > SINGLE_COPY_MAX:
                self._managed_copy(src, dst)
                continue
            self._call(
                f"copy {src} -> {dst}",
                self.client.copy_object,
                CopySource={"Bucket": self.bucket, "Key": self._key(src)},
                Bucket=self.bucket,
                Key=self._key(dst),
                **self._extra_args(),
            )

    def arrow(self) -> tuple[pyarrow.fs.FileSystem, str]:
        import pyarrow.fs

        from .aws import session as aws_session

        session = aws_session()
        creds = session.get_credentials()
        kwargs: dict[str, Any] = {"region": session.region_name or "us-east-1"}
        endpoint = _endpoint_url()
        if endpoint:
            parsed = urlparse(endpoint)
            kwargs["endpoint_override"] = parsed.netloc or parsed.path
            kwargs["scheme"] = parsed.scheme or "https"
        if creds is not None:
            frozen = creds.get_frozen_credentials()
            kwargs.update(
                access_key=frozen.access_key,
                secret_key=frozen.secret_key,
                session_token=frozen.token,
            )
        fs = pyarrow.fs.S3FileSystem(**kwargs)
        return fs, f"{self.bucket}/{self.prefix}".rstrip("/")


def open_store(uri: str, options: UploadOptions | None = None) -> ObjectStore:
    """The store for ``s3://bucket/prefix``, ``file:///path`` or a plain local path."""
    if not uri:
        raise ConfigError("archive URI is empty; set archive.uri, --archive or RECONCILE_ARCHIVE")
    parsed = urlparse(uri)
    if parsed.scheme == "s3":
        if not parsed.netloc:
            raise ConfigError(f"archive URI {uri!r} has no bucket; use s3://bucket/prefix")
        return S3Store(parsed.netloc, parsed.path, options)
    if parsed.scheme == "file":
        return LocalStore(Path(parsed.path))
    if parsed.scheme in ("", "local") or (len(parsed.scheme) == 1 and os.name == "nt"):
        return LocalStore(Path(uri))
    raise ConfigError(
        f"archive URI {uri!r}: unsupported scheme {parsed.scheme!r} (use s3:// or a path)"
    )
