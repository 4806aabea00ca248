"""Alert fixtures: a local signature-checking receiver and a real Alertmanager."""

from __future__ import annotations

import base64
import os
import shutil
import subprocess
import time
import urllib.request
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest

from reconcile.egress.flowlogs import DrillDown
from reconcile.findings import Finding
from reconcile.job import JobSpec
from reconcile.talkers import TalkerRow
from reconcile.timewin import HOUR
from tests.alerts.receivers import Receiver
from tests.servers import free_port, stop_group, wait_http

ALERTMANAGER = os.environ.get("ALERTMANAGER_BIN", "/usr/bin/prometheus-alertmanager")
SECRET = "whsec_" + base64.b64encode(b"0123456789abcdef0123456789abcdef").decode()


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    """A fresh receiver that verifies Standard Webhooks signatures with SECRET."""
    rec = Receiver(free_port(), secret=SECRET).start()
    try:
        yield rec
    finally:
        rec.stop()


@pytest.fixture(scope="session")
def am_receiver() -> Iterator[Receiver]:
    """Where the test Alertmanager delivers its own notifications (webhook_configs)."""
    rec = Receiver(free_port()).start()
    try:
        yield rec
    finally:
        rec.stop()


@pytest.fixture(scope="session")
def alertmanager(tmp_path_factory: pytest.TempPathFactory, am_receiver: Receiver) -> Iterator[str]:
    """A real Alertmanager (Debian's prometheus-alertmanager) on a free loopback port."""
    exe = shutil.which(ALERTMANAGER) or ALERTMANAGER
    if not Path(exe).exists():
        raise RuntimeError(
            f"{exe} not found: apt-get install -y prometheus-alertmanager (or set ALERTMANAGER_BIN)"
        )
    work = tmp_path_factory.mktemp("alertmanager")
    config = work / "alertmanager.yml"
    config.write_text(
        f"""
route:
  receiver: hook
  group_by: ['alertname', 'incident']
  group_wait: 1s
  group_interval: 1s
  repeat_interval: 1h
receivers:
  - name: hook
    webhook_configs:
      - url: {am_receiver.url}/am
        send_resolved: true
"""
    )
    port = free_port()
    log = work / "alertmanager.log"
    with open(log, "wb") as fh:
        proc = subprocess.Popen(
            [
                exe,
                f"--config.file={config}",
                f"--storage.path={work / 'data'}",
                f"--web.listen-address=127.0.0.1:{port}",
                "--cluster.listen-address=",
                "--log.level=warn",
            ],
            stdout=fh,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            start_new_session=True,
            cwd=work,
        )
    url = f"http://127.0.0.1:{port}"
    try:
        wait_http(url + "/-/ready", 30, proc, log)
        with urllib.request.urlopen(url + "/-/ready", timeout=5) as resp:
            assert resp.status == 200
        yield url
    finally:
        stop_group(proc)


def hour(h: int, day: int = 20) -> datetime:
    return datetime(2026, 11, day, h, tzinfo=UTC)


def lf(
    h: int,
    status: str,
    expected: int = 1000,
    archived: int | None = None,
    resource: str = "app/hub/abc123",
    job: str = "hub",
    day: int = 20,
) -> Finding:
    """A log-flow finding for hour ``h``."""
    if archived is None:
        archived = {"gap": 900, "missing": 0, "surplus": 1100, "no_traffic": 0}.get(
            status, expected
        )
    return Finding(
        job=job,
        kind="logflow",
        resource=resource,
        window_start=hour(h, day),
        status=status,
        expected=expected,
        archived=archived,
        ratio=archived / expected if expected else None,
        message=f"{status} at {h:02d}:00",
    )


def eg(
    h: int, status: str, nbytes: int = 5_000_000_000, resource: str = "nat-0abc", job: str = "hub"
) -> Finding:
    """An egress finding for hour ``h``."""
    return Finding(
        job=job,
        kind="egress",
        resource=resource,
        window_start=hour(h),
        status=status,
        bytes=nbytes if status == "spike" else 100_000_000,
        baseline=120_000_000.0,
        threshold=1_000_000_000.0,
        message=f"{status} at {h:02d}:00",
        detail={"drilldown": drilldown(h)} if status == "spike" else {},
    )


def drilldown(h: int) -> dict[str, object]:
    """A spike's drill-down in the shape egress writes (DrillDown.as_detail)."""
    start = hour(h)
    dd = DrillDown("eni-0a1b2c3d4e5f60718", start, start + HOUR, "out", total_bytes=4_900_000_000)
    dd.sources.append(TalkerRow("10.0.1.23", 4_800_000_000, 3_400_000, 12))
    dd.destinations.append(TalkerRow("203.0.113.9", 4_800_000_000, 3_400_000, 6))
    return dd.as_detail()


def spec_for(state: str, **alerts: object) -> JobSpec:
    """A job spec with alert state at ``state`` and fast delivery settings."""
    cfg = {
        "state_uri": state,
        "timeout_s": 2.0,
        "retries": 3,
        "retry_initial_wait_s": 0.05,
        "retry_max_wait_s": 2.0,
        "lock_wait_s": 30.0,
        **alerts,
    }
    return JobSpec.model_validate({"name": "hub", "alerts": cfg})


def wait_for(pred, timeout: float = 15.0, interval: float = 0.2):  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = pred()
        if value:
            return value
        time.sleep(interval)
    return pred()
