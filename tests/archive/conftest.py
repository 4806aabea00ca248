"""Helpers for archive tests: job specs, loading documents, reading back the archive."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

import pyarrow.parquet as pq
import pytest

from reconcile.archive.layout import Manifest
from reconcile.demo.es_docs import bulk_index, window_docs
from reconcile.job import JobSpec, load_job
from reconcile.storage import ObjectStore, open_store
from reconcile.timewin import Window, parse_time

W = Window(parse_time("2026-11-20T13"))
NOW = parse_time("2026-11-22T00")


def spec_for(es_url: str, prefix: str, archive: str, **extra: Any) -> JobSpec:
    """A job spec; ``extra`` holds dotted keys, e.g. ``**{"archive.max_doc_bytes": 900}``."""
    overrides = {
        "source.url": (es_url, "test"),
        "source.index": (f"{prefix}*", "test"),
        "source.page_size": (500, "test"),
        "archive.uri": (archive, "test"),
    }
    overrides.update({k: (v, "test") for k, v in extra.items()})
    return load_job(None, overrides, environ={})


def load(es: Any, index: str, docs: list[dict[str, Any]]) -> None:
    bulk_index(es, ((index, d) for d in docs))


def gen(window: Window, n: int, seed: int = 0) -> list[dict[str, Any]]:
    return list(window_docs(window, n, seed=seed))


def manifest(store: ObjectStore, window: Window = W) -> Manifest | None:
    data = store.get_bytes(f"{window.partition}/_manifest.json")
    return Manifest.from_json(data) if data else None


def parquet_keys(store: ObjectStore, window: Window = W) -> list[str]:
    return [o.key for o in store.list(f"{window.partition}/") if o.key.endswith(".parquet")]


def read_rows(store: ObjectStore, window: Window = W) -> list[dict[str, Any]]:
    fs, base = store.arrow()
    rows: list[dict[str, Any]] = []
    for key in parquet_keys(store, window):
        with fs.open_input_file(f"{base}/{key}") as fh:
            rows.extend(pq.read_table(fh).to_pylist())
    return rows


def staging_keys(store: ObjectStore) -> list[str]:
    return [o.key for o in store.list("_staging/")]


@pytest.fixture(params=["local", "s3"])
def archive_uri(request: pytest.FixtureRequest, tmp_path: Any) -> str:
    """Every archive test runs against a local directory and the S3 server."""
    if request.param == "local":
        return str(tmp_path / "archive")
    bucket = request.getfixturevalue("s3_bucket")
    return f"s3://{bucket}/archive/hub"


@pytest.fixture
def store(archive_uri: str) -> ObjectStore:
    return open_store(archive_uri)


def hour_after(window: Window, minutes: int) -> datetime:
    return window.start + timedelta(minutes=minutes)
