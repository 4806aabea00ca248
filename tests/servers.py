"""Real local servers for the tests (see :mod:`reconcile.localstack`).

A server that does not come up fails the tests loudly; nothing is skipped.
"""

import os
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from reconcile.localstack import (  # noqa: F401 (re-exported for test modules)
    elasticsearch_server,
    free_port,
    moto_server,
    start_group,
    stop_group,
    wait_http,
)


@contextmanager
def pushgateway_server(workdir: Path) -> Iterator[str]:
    """Debian's prometheus-pushgateway on a free loopback port; yields its URL."""
    exe = (
        os.environ.get("PUSHGATEWAY_BIN")
        or shutil.which("prometheus-pushgateway")
        or "/usr/bin/prometheus-pushgateway"
    )
    if not Path(exe).exists():
        raise RuntimeError(
            "prometheus-pushgateway is not installed: run scripts/setup.sh (apt-get install prometheus-pushgateway)"
        )
    port = free_port()
    log = workdir / "pushgateway.log"
    proc = start_group([exe, f"--web.listen-address=127.0.0.1:{port}"], log, workdir)
    url = f"http://127.0.0.1:{port}"
    try:
        wait_http(url + "/-/ready", 30, proc, log)
        yield url
    finally:
        stop_group(proc)
