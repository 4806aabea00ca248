"""The embedded local stack: real servers on loopback, for the demo and the tests.

- Elasticsearch: ``noida-db`` (wire-compatible, from PyPI), ``--only elasticsearch``.
- OpenSearch: ``osmem-server`` (in-memory, OpenSearch 3 compatible, from PyPI).
- S3, CloudWatch, Athena: moto's server.

Each server runs in its own process group on a free port and is stopped as a group, so
nothing outlives the caller. A server that does not answer in time raises with its log.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from pathlib import Path

from ..errors import ReconcileError

NOIDA_VERSION = "0.2.3"
OSMEM_VERSION = "0.1.6"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _tail(log: Path | None) -> str:
    if log is None or not log.exists():
        return ""
    return log.read_text(errors="replace")[-4000:]


def wait_http(
    url: str, timeout: float, proc: subprocess.Popen[bytes] | None = None, log: Path | None = None
) -> None:
    """Wait until ``url`` answers below 500; raise with the server's log otherwise."""
    deadline = time.monotonic() + timeout
    last: Exception | None = None
    while time.monotonic() < deadline:
        if proc is not None and proc.poll() is not None:
            raise ReconcileError(
                f"server exited with {proc.returncode} before answering {url}:\n{_tail(log)}"
            )
        try:
            with urllib.request.urlopen(url, timeout=2) as resp:
                if resp.status < 500:
                    return
        except Exception as exc:
            last = exc
        time.sleep(0.2)
    raise ReconcileError(f"server at {url} did not answer within {timeout}s: {last}\n{_tail(log)}")


def stop_group(proc: subprocess.Popen[bytes], timeout: float = 10) -> None:
    """Stop a server started with :func:`start_group` and everything it spawned."""
    if proc.poll() is not None:
        return
    try:
        os.killpg(proc.pid, signal.SIGTERM)
        proc.wait(timeout=timeout)
    except (ProcessLookupError, subprocess.TimeoutExpired):
        with suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(timeout=timeout)


def start_group(cmd: list[str], log: Path, cwd: Path) -> subprocess.Popen[bytes]:
    with open(log, "wb") as fh:
        return subprocess.Popen(
            cmd,
            stdout=fh,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            start_new_session=True,
            cwd=cwd,
        )


def _script(name: str) -> str:
    # The one installed beside this interpreter first: an older copy elsewhere on PATH
    # (a system site-packages) may not speak what this environment's clients send.
    beside = Path(sys.executable).parent / name
    exe = str(beside) if beside.exists() else shutil.which(name) or str(beside)
    if not Path(exe).exists():
        raise ReconcileError(f"{name} is not installed: pip install -e '.[test]'")
    return exe


@contextmanager
def elasticsearch_server(workdir: Path | None = None, ready_s: float = 60) -> Iterator[str]:
    """noida-db's Elasticsearch service on a free port; yields its URL.

    Its data stays in ``workdir/noida-data``: another server started there after this one
    serves the same indexes (the server saves them as it stops, and this waits for that).
    """
    with _workdir(workdir) as wd:
        port = free_port()
        data = wd / "noida-data"
        data.mkdir(parents=True, exist_ok=True)
        log = wd / "noida.log"
        cmd = [
            _script("noida-db"),
            "start",
            "--only",
            "elasticsearch",
            "--elasticsearch-port",
            str(port),
            "--data-dir",
            str(data),
            "--host",
            "127.0.0.1",
        ]
        proc = start_group(cmd, log, wd)
        url = f"http://127.0.0.1:{port}"
        try:
            wait_http(url, ready_s, proc, log)
            yield url
        finally:
            stop_group(proc)
            _wait_released(data)


def _wait_released(data: Path, timeout: float = 600) -> None:
    """Wait for noida-db to let go of its data directory: its server process outlives the
    launcher that :func:`stop_group` waits for, while it saves the data."""
    control = data / "noida.control.json"
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            pid = int(json.loads(control.read_text())["pid"])
            os.kill(pid, 0)
        except (OSError, ValueError, KeyError):
            return  # no control file, an unreadable one, or its process is gone
        time.sleep(0.2)
    raise ReconcileError(f"noida-db still holds {data} {timeout:.0f} s after it was stopped")


@contextmanager
def opensearch_server(workdir: Path | None = None) -> Iterator[str]:
    """osmem-server (in-memory OpenSearch 3) on a free port; yields its URL.

    The bundled binary runs in its own process group with a pipe as its stdin: it exits
    when the pipe closes (this process gone, whatever the way) and is also stopped as a
    group, like the other servers.
    """
    try:
        from osmem_server import resolve_binary
    except ImportError as exc:
        raise ReconcileError("osmem-server is not installed: pip install -e '.[test]'") from exc
    with _workdir(workdir) as wd:
        port = free_port()
        log = wd / "osmem.log"
        cmd = [resolve_binary(), "--addr", f"127.0.0.1:{port}", "--no-ja"]
        with open(log, "wb") as fh:
            proc = subprocess.Popen(
                cmd,
                stdout=fh,
                stderr=subprocess.STDOUT,
                stdin=subprocess.PIPE,
                start_new_session=True,
                cwd=wd,
            )
        url = f"http://127.0.0.1:{port}"
        try:
            wait_http(url, 60, proc, log)
            yield url
        finally:
            if proc.stdin is not None:
                with suppress(OSError):
                    proc.stdin.close()
            stop_group(proc)


@contextmanager
def moto_server(workdir: Path | None = None) -> Iterator[str]:
    """moto's AWS server (S3, CloudWatch, Athena, ...) on a free port; yields its URL."""
    with _workdir(workdir) as wd:
        port = free_port()
        log = wd / "moto.log"
        proc = start_group([_script("moto_server"), "-H", "127.0.0.1", "-p", str(port)], log, wd)
        url = f"http://127.0.0.1:{port}"
        try:
            wait_http(url + "/moto-api/", 60, proc, log)
            yield url
        finally:
            stop_group(proc)


@contextmanager
def _workdir(workdir: Path | None) -> Iterator[Path]:
    if workdir is not None:
        workdir.mkdir(parents=True, exist_ok=True)
        yield workdir
        return
    with tempfile.TemporaryDirectory(prefix="reconcile-stack-") as tmp:
        yield Path(tmp)
