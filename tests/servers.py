"""Real local servers for the tests (see :mod:`reconcile.localstack`).

A server that does not come up fails the tests loudly; nothing is skipped.
"""

from reconcile.localstack import (  # noqa: F401 (re-exported for test modules)
    elasticsearch_server,
    free_port,
    moto_server,
    stop_group,
    wait_http,
)
