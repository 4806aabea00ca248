"""``reconcile egress`` end to end against moto: output formats and exit codes."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import orjson
import pytest
from click.testing import CliRunner

from reconcile.cli import cli
from reconcile.demo.nat_traffic import GIB, Shape, Spike, nat_series, put_metric_series
from reconcile.timewin import HOUR
from tests.egress.conftest import new_gateway

pytestmark = pytest.mark.integration


def fmt(t: datetime) -> str:
    return t.strftime("%Y-%m-%dT%H")


def test_cli_json_exit_codes(cloudwatch: Any, region: str, hour: datetime, now: datetime) -> None:
    gw = new_gateway()
    t = hour - 2 * HOUR
    shape = Shape(level=20 * GIB, daily_amplitude=0.3, noise=0.03, burst_rate=0.0)
    start = hour - 5 * 7 * 24 * HOUR
    values = nat_series(gw, start, 5 * 7 * 24, shape, seed=gw, spikes=[Spike(gw, t, 1, 5.0)]).values
    put_metric_series(cloudwatch, gw, values)
    base = [
        "egress",
        "--nat-gateway",
        gw,
        "--region",
        region,
        "--now",
        now.isoformat(),
        "--no-results",
    ]
    runner = CliRunner()

    res = runner.invoke(
        cli, [*base, "--from", fmt(hour - 4 * HOUR), "--to", fmt(hour), "--format", "json"]
    )
    assert res.exit_code == 3, res.output
    rows = [orjson.loads(line) for line in res.stdout.splitlines()]
    assert len(rows) == 4
    assert {r["window_start"] for r in rows if r["status"] == "spike"} == {
        t.strftime("%Y-%m-%dT%H:%M:%SZ")
    }
    assert all(
        {"bytes", "baseline", "threshold", "status", "window_start"} <= r.keys() for r in rows
    )
    assert all(r["kind"] == "egress" and r["resource"] == gw for r in rows)

    res = runner.invoke(
        cli,
        [*base, "--from", fmt(hour - 6 * HOUR), "--to", fmt(hour - 3 * HOUR), "--format", "csv"],
    )
    assert res.exit_code == 0, res.output
    lines = res.stdout.splitlines()
    assert lines[0].startswith("job,kind,resource,window_start,status,bytes,baseline,threshold")
    assert len(lines) == 4 and all(",ok," in line for line in lines[1:])

    # A higher bar for "spike": five times the baseline is not ten.
    res = runner.invoke(cli, [*base, "--from", fmt(t), "--to", fmt(hour), "--min-increase", "9"])
    assert res.exit_code == 0, res.output
    assert "2 periods judged, 0 spikes, 0 with port allocation errors" in res.stdout


def test_cli_could_not_run(aws_endpoint: str) -> None:
    runner = CliRunner()
    res = runner.invoke(cli, ["egress", "--from", "2026-11-20", "--to", "2026-11-21"])
    assert res.exit_code == 1
    assert "egress.nat_gateways is empty" in res.stderr
    res = runner.invoke(
        cli, ["egress", "--nat-gateway", "nat-1", "--from", "2026-11-20", "--to", "2026-11-21",
              "--static-threshold", "many"],
    )  # fmt: skip
    assert res.exit_code == 1 and "egress.static_threshold" in res.stderr
    res = runner.invoke(
        cli, ["egress", "--nat-gateway", "nat-1", "--from", "2026-11-21", "--to", "2026-11-20"]
    )
    assert res.exit_code == 1 and "must be after" in res.stderr
