"""jobs/example.toml: a complete, loadable example of every section a scheduled run uses."""

from __future__ import annotations

import tomllib
from datetime import timedelta
from pathlib import Path

import pytest

from reconcile.job import JobSpec, load_job

EXAMPLE = Path(__file__).resolve().parents[1] / "jobs" / "example.toml"
RUN_SECTIONS = {"source", "archive", "expected", "check", "egress", "alerts", "run"}


def test_example_covers_every_section_and_loads(monkeypatch: pytest.MonkeyPatch) -> None:
    raw = tomllib.loads(EXAMPLE.read_text())
    sections = {k for k, v in raw.items() if isinstance(v, dict)}
    assert sections == RUN_SECTIONS
    assert set(JobSpec.model_fields) - {"name"} == RUN_SECTIONS  # a new section needs an example
    monkeypatch.setenv("ES_URL", "https://logs.internal:9200")  # "${ES_URL}" in the file
    spec = load_job(EXAMPLE, environ={})
    assert spec.source.url == "https://logs.internal:9200"
    assert spec.expected.load_balancers and spec.egress.nat_gateways
    assert spec.check.grace == timedelta(minutes=45)
    assert spec.alerts.repeat_interval == timedelta(hours=4)
    assert spec.egress.static_for("nat-0a1b2c3d4e5f60718") == 80 << 30
    assert spec.egress.interfaces and spec.egress.flow_logs_uri.startswith("s3://")
    assert spec.alerts.alertmanager_url and spec.run.pushgateway_url


def test_every_section_is_commented() -> None:
    lines = EXAMPLE.read_text().splitlines()
    for section in RUN_SECTIONS:
        i = lines.index(f"[{section}]")
        assert lines[i - 1].startswith("#") or section in ("source", "archive"), section
