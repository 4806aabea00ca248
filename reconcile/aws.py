"""AWS sessions that share the SDK's service models within a process.

Every ``boto3.session.Session()`` gets a loader of its own and parses the service's model
files again: for S3 that is about 0.1 s of CPU per client (the model, the endpoint rules),
paid by each store, engine and metrics client a run creates. Sessions made here share one
loader, so each model file is parsed once per process. Everything that depends on the
environment (credentials, region, ``AWS_ENDPOINT_URL``, profiles) is still resolved per
session, as boto3 does, so a changed environment is honoured by the next session.
"""

from __future__ import annotations

from functools import cache
from typing import Any


@cache
def _shared_loader() -> Any:
    """The process's botocore loader: it caches each model file it has parsed."""
    from botocore.loaders import create_loader

    return create_loader()


def session(region_name: str | None = None) -> Any:
    """A ``boto3.session.Session`` on the standard AWS chain, with the shared model loader."""
    import boto3
    import botocore.session

    core = botocore.session.get_session()
    core.register_component("data_loader", _shared_loader())
    return boto3.session.Session(botocore_session=core, region_name=region_name)
