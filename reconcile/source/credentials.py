"""Credentials of a log store, from the environment only (never from the job file).

``ES_API_KEY``, or ``ES_USERNAME`` with ``ES_PASSWORD``, and ``ES_CA_CERTS`` for a private
CA: read and checked once here, whichever client (Elasticsearch or OpenSearch) uses them.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

from ..errors import ConfigError


@dataclass(frozen=True, slots=True)
class Credentials:
    api_key: str | None = None
    basic: tuple[str, str] | None = None
    ca_certs: str | None = None


def from_environment() -> Credentials:
    """The store's credentials; a half-set pair or a missing CA file is a clear error."""
    api_key = os.environ.get("ES_API_KEY") or None
    user, password = os.environ.get("ES_USERNAME"), os.environ.get("ES_PASSWORD")
    basic = None
    if not api_key and (user or password):
        if not (user and password):
            raise ConfigError("ES_USERNAME and ES_PASSWORD must be set together")
        basic = (user, password)
    ca = os.environ.get("ES_CA_CERTS") or None
    if ca and not os.path.exists(ca):
        raise ConfigError(f"ES_CA_CERTS: file {ca} does not exist")
    return Credentials(api_key, basic, ca)
