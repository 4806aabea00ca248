"""Real local servers for the tests: the Elasticsearch-compatible noida-db and moto's AWS server.

Each starts on a free loopback port in its own process group and is stopped as a group,
so no server outlives the test session. A server that does not come up fails the tests
loudly; nothing is skipped.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from pathlib import Path

NOIDA_VERSION = "0.2.3"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_http(
    url: str, timeout: float, proc: subprocess.Popen[bytes] | None = None, log: Path | None = None
) -> None:
    deadline = time.monotonic() + timeout
    last: Exception | None = None
    while time.monotonic() < deadline:
        if proc is not None and proc.poll() is not None:
            out = log.read_text() if log and log.exists() else ""
            raise RuntimeError(
                f"server exited with {proc.returncode} before answering {url}:\n{out}"
            )
        try:
            with urllib.request.urlopen(url, timeout=2) as resp:
                if resp.status < 500:
                    return
        except Exception as exc:
            last = exc
        time.sleep(0.2)
    out = log.read_text() if log and log.exists() else ""
    raise RuntimeError(f"server at {url} did not answer within {timeout}s: {last}\n{out}")


def noida_binary() -> str:
    exe = shutil.which("noida-db") or str(Path(sys.executable).parent / "noida-db")
    if not Path(exe).exists():
        raise RuntimeError(f"noida-db {NOIDA_VERSION} is not installed: pip install -e '.[test]'")
    return exe


def stop_group(proc: subprocess.Popen[bytes], timeout: float = 10) -> None:
    if proc.poll() is not None:
        return
    try:
        os.killpg(proc.pid, signal.SIGTERM)
        proc.wait(timeout=timeout)
    except (ProcessLookupError, subprocess.TimeoutExpired):
        with suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(timeout=timeout)


@contextmanager
def elasticsearch_server(workdir: Path) -> Iterator[str]:
    """Start noida-db's Elasticsearch service; yields its URL."""
    port = free_port()
    log = workdir / "noida.log"
    data = workdir / "noida-data"
    data.mkdir(parents=True, exist_ok=True)
    with open(log, "wb") as fh:
        proc = subprocess.Popen(
            [
                noida_binary(),
                "start",
                "--only",
                "elasticsearch",
                "--elasticsearch-port",
                str(port),
                "--data-dir",
                str(data),
                "--host",
                "127.0.0.1",
            ],
            stdout=fh,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            start_new_session=True,
            cwd=workdir,
        )
    url = f"http://127.0.0.1:{port}"
    try:
        wait_http(url, 60, proc, log)
        yield url
    finally:
        stop_group(proc)


@contextmanager
def moto_server() -> Iterator[str]:
    """moto's AWS server (S3, CloudWatch, Athena, ...) over real HTTP; yields its URL."""
    from moto.server import ThreadedMotoServer

    port = free_port()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    url = f"http://127.0.0.1:{port}"
    try:
        wait_http(url + "/moto-api/", 30)
        yield url
    finally:
        server.stop()
