"""ALB access logs as the expected side: real key layout and line format, on moto's S3."""

from __future__ import annotations

import gzip
import json
import logging
import urllib.request
from datetime import UTC, datetime, timedelta

import pyarrow as pa
import pytest

from reconcile.demo.alb_traffic import DEFAULT_LB, SynthMix, write_alb_logs
from reconcile.errors import ConfigError, ReconcileError
from reconcile.expected import ExpectedConfig, ExpectedSourceError, expected_counts, read_alb_logs
from reconcile.expected.alb_keys import alb_logs_location, object_key
from reconcile.storage import open_store
from reconcile.timewin import Window

pytestmark = pytest.mark.integration

ACCOUNT, REGION = "123456789012", "us-east-1"
DAY = datetime(2026, 11, 20, tzinfo=UTC)
OTHER_LB = "app/admin-prod/0123456789abcdef"


def _cfg(uri: str, **kw: object) -> ExpectedConfig:
    base: dict[str, object] = {
        "source": "alb_logs",
        "alb_logs_uri": uri,
        "load_balancers": [DEFAULT_LB],
        "region": REGION,
    }
    return ExpectedConfig(**{**base, **kw})


def _labels(counts: dict[Window, int]) -> dict[str, int]:
    return {w.label: n for w, n in counts.items()}


def _hours(*spec: tuple[int, int]) -> dict[Window, int]:
    return {Window(DAY + timedelta(hours=h)): n for h, n in spec}


def test_counts_over_midnight_with_every_kind_of_line(s3_bucket: str, caplog) -> None:
    uri = f"s3://{s3_bucket}/alb"
    hourly = _hours((22, 180), (23, 240), (24, 90))
    res = write_alb_logs(uri, hourly, malformed_lines=4, seed=1)
    cfg = _cfg(uri)

    with caplog.at_level(logging.WARNING, logger="reconcile.expected.alb_logs"):
        got = expected_counts(cfg, DAY + timedelta(hours=22), DAY + timedelta(hours=25))

    assert got.source == "alb_logs"
    assert got.resource == DEFAULT_LB
    assert got.counts == hourly
    excluded = got.detail["excluded"]
    for reason in ("waf_blocked", "redirect", "fixed_response"):
        assert excluded[reason] == _labels(res.excluded[reason]), reason
        assert sum(res.excluded[reason].values()) > 0
    # Malformed lines are counted and located, never dropped silently.
    assert got.detail["malformed"]["count"] == 4
    found = [(e["key"], e["line"]) for e in got.detail["malformed"]["examples"]]
    assert found == res.malformed
    key, line = res.malformed[0]
    assert any(key in r.getMessage() and f":{line} " in r.getMessage() for r in caplog.records)
    # Delivery folders of both days were read, and the request spill was found there.
    assert got.detail["delivery_days"] == ["2026/11/20", "2026/11/21"]
    assert got.detail["objects_read"] == len(res.keys)
    assert got.detail["lines"] == res.lines
    assert got.detail["bytes_read"] == res.bytes


def test_midnight_spill_is_counted_in_the_day_it_was_made(s3_bucket: str) -> None:
    uri = f"s3://{s3_bucket}/alb"
    res = write_alb_logs(uri, _hours((23, 600), (24, 30)), seed=2)
    cfg = _cfg(uri)
    start, end = DAY + timedelta(hours=23), DAY + timedelta(hours=24)

    got = expected_counts(cfg, start, end)
    table = read_alb_logs(cfg, start, end)

    assert got.counts == {Window(start): 600}
    next_day = table.filter(pa.compute.equal(table["day"], "2026/11/21"))
    assert next_day.num_rows > 0  # made on the 20th, delivered in the 21st's folder
    assert all(
        t.startswith("2026-11-20T23:5") for t in next_day["request_creation_time"].to_pylist()
    )
    assert any("/2026/11/21/" in k for k in res.keys)


def test_requests_count_by_creation_time_not_log_time_or_folder(s3_bucket: str) -> None:
    uri = f"s3://{s3_bucket}/alb"
    store = open_store(uri)
    # AWS's documented HTTP example, made at 12:59:58 and answered at 13:02 (a slow target),
    # so it is logged in the 13:05 file, delivered in that file's folder.
    slow = (
        "http 2026-11-20T13:02:01.186641Z app/hub-prod/50dc6c495c0c9188 192.168.131.39:2817 "
        "10.0.0.1:80 0.000 123.001 0.000 200 200 34 366 "
        '"GET http://www.example.com:80/ HTTP/1.1" "curl/7.46.0" - - '
        "arn:aws:elasticloadbalancing:us-east-1:123456789012:targetgroup/my-targets/73e2d6bc24d8a067 "
        '"Root=1-58337262-36d228ad5d99923122bbe354" "-" "-" 0 2026-11-20T12:59:58.364000Z '
        '"forward" "-" "-" "10.0.0.1:80" "200" "-" "-" TID_1234abcd5678ef90'
    )
    quick = slow.replace("12:59:58.364000Z", "13:01:59.000000Z")
    key = object_key(
        ACCOUNT, REGION, DEFAULT_LB, DAY + timedelta(hours=13, minutes=5), "10.0.0.9", "abcd1234"
    )
    store.put_bytes(key, gzip.compress(f"{slow}\n{quick}\n".encode()))

    got = expected_counts(_cfg(uri), DAY + timedelta(hours=12), DAY + timedelta(hours=14))

    assert _labels(got.counts) == {"2026-11-20T12": 1, "2026-11-20T13": 1}


def test_newest_and_future_fields_parse(s3_bucket: str) -> None:
    uri = f"s3://{s3_bucket}/alb"
    mix = SynthMix(newest_fields=0.4, no_trace_id=0.2, future_fields=0.3)
    write_alb_logs(uri, _hours((10, 400)), mix=mix, seed=3)
    cfg = _cfg(uri)
    start, end = DAY + timedelta(hours=10), DAY + timedelta(hours=11)

    got = expected_counts(cfg, start, end)
    table = read_alb_logs(cfg, start, end)

    assert got.counts == {Window(start): 400}
    assert got.detail["malformed"]["count"] == 0
    conn = table["conn_trace_id"].to_pylist()
    rewrite = table["transformed_host"].to_pylist()
    assert any(c is None for c in conn)  # the format that ends at classification_reason
    assert any(c and c.startswith("TID_") for c in conn)
    assert rewrite.count("-") > 0  # lines with the newest fields
    assert any(r is None for r in rewrite)


def test_only_configured_load_balancers_count(s3_bucket: str) -> None:
    uri = f"s3://{s3_bucket}/alb"
    write_alb_logs(uri, _hours((5, 300)), seed=4)
    write_alb_logs(uri, _hours((5, 77)), load_balancer=OTHER_LB, seed=5)
    start, end = DAY + timedelta(hours=5), DAY + timedelta(hours=6)

    one = expected_counts(_cfg(uri), start, end)
    both = expected_counts(_cfg(uri, load_balancers=[OTHER_LB, DEFAULT_LB]), start, end)

    assert list(one.counts.values()) == [300]
    assert list(both.counts.values()) == [377]
    assert both.resource == f"{OTHER_LB},{DEFAULT_LB}"
    assert both.detail["load_balancers"] == {
        OTHER_LB: {"2026-11-20T05": 77},
        DEFAULT_LB: {"2026-11-20T05": 300},
    }


def test_accounts_are_discovered(s3_bucket: str) -> None:
    uri = f"s3://{s3_bucket}/org"
    write_alb_logs(uri, _hours((7, 50)), seed=6)
    write_alb_logs(uri, _hours((7, 9)), account_id="210987654321", load_balancer=OTHER_LB, seed=7)
    start, end = DAY + timedelta(hours=7), DAY + timedelta(hours=8)

    got = expected_counts(_cfg(uri, account_id=None), start, end)

    assert list(got.counts.values()) == [50]
    assert got.detail["accounts"] == ["123456789012", "210987654321"]
    with pytest.raises(ConfigError, match=r"expected\.account_id.*several accounts"):
        alb_logs_location(_cfg(uri))
    assert alb_logs_location(_cfg(uri, account_id=ACCOUNT)) == (
        f"s3://{s3_bucket}/org/AWSLogs/{ACCOUNT}/elasticloadbalancing/{REGION}"
    )


def test_objects_far_from_the_range_are_not_read(s3_bucket: str) -> None:
    uri = f"s3://{s3_bucket}/alb"
    res = write_alb_logs(uri, _hours((2, 100), (3, 100), (9, 100)), seed=8)
    got = expected_counts(_cfg(uri), DAY + timedelta(hours=3), DAY + timedelta(hours=4))
    assert list(got.counts.values()) == [100]
    assert got.detail["objects_skipped"] > 0
    assert got.detail["objects_read"] + got.detail["objects_skipped"] == len(res.keys)
    assert got.detail["outside_range"] > 0  # hour 2's and 4's entries in the boundary files


def _recorded(aws_endpoint: str, action: str) -> list[dict[str, object]]:
    req = urllib.request.Request(f"{aws_endpoint}/moto-api/recorder/{action}", method="POST")
    if action != "download-recording":
        urllib.request.urlopen(req).read()
        return []
    text = urllib.request.urlopen(f"{aws_endpoint}/moto-api/recorder/{action}").read().decode()
    return [json.loads(line) for line in text.splitlines() if line.strip()]


def test_one_get_per_object_and_one_list_per_prefix(s3_bucket: str, aws_endpoint: str) -> None:
    uri = f"s3://{s3_bucket}/alb"
    write_alb_logs(uri, _hours((12, 3000)), seed=10)
    _recorded(aws_endpoint, "reset-recording")
    _recorded(aws_endpoint, "start-recording")
    try:
        got = expected_counts(_cfg(uri), DAY + timedelta(hours=12), DAY + timedelta(hours=13))
    finally:
        _recorded(aws_endpoint, "stop-recording")
    calls = [c for c in _recorded(aws_endpoint, "download-recording") if s3_bucket in str(c)]
    gets = [c for c in calls if c["method"] == "GET" and ".log.gz" in str(c.get("url", ""))]
    lists = [c for c in calls if c["method"] == "GET" and "list-type" in str(c)]
    assert list(got.counts.values()) == [3000]
    assert len(gets) == got.detail["objects_read"] > 10
    assert len(lists) == got.detail["list_calls"] == 2  # account discovery, one day prefix
    assert got.detail["api_calls"] == len(gets) + len(lists)


def test_unreadable_sources_fail_with_their_names(s3_bucket: str) -> None:
    start, end = DAY, DAY + timedelta(hours=1)
    with pytest.raises(ReconcileError, match="no-such-bucket-x"):
        expected_counts(_cfg("s3://no-such-bucket-x/alb"), start, end)
    with pytest.raises(ConfigError, match=r"expected\.alb_logs_uri"):
        expected_counts(_cfg(""), start, end)
    with pytest.raises(
        ExpectedSourceError, match=f"no AWSLogs/<account>/ folders under s3://{s3_bucket}/empty"
    ):
        expected_counts(_cfg(f"s3://{s3_bucket}/empty", account_id=None), start, end)
    uri = f"s3://{s3_bucket}/broken"
    key = object_key(
        ACCOUNT, REGION, DEFAULT_LB, DAY + timedelta(minutes=5), "10.0.0.9", "deadbeef"
    )
    open_store(uri).put_bytes(key, b"\x1f\x8b\x08\x00 this is not gzip")
    with pytest.raises(ExpectedSourceError, match=key):
        expected_counts(_cfg(uri), start, end)


# -- filters (local copy of the logs: same code path below the store) ---------------------


@pytest.fixture(scope="module")
def local_logs(tmp_path_factory: pytest.TempPathFactory) -> tuple[str, object]:
    root = tmp_path_factory.mktemp("alb")
    res = write_alb_logs(
        str(root),
        _hours((14, 500), (15, 300)),
        hosts=("hub.example.com", "admin.example.com"),
        mix=SynthMix(health=0.1),
        seed=9,
    )
    return str(root), res


START, END = DAY + timedelta(hours=14), DAY + timedelta(hours=16)


def test_host_filters(local_logs) -> None:
    uri, res = local_logs
    only = expected_counts(_cfg(uri, include_only_hosts=["HUB.example.com"]), START, END)
    minus = expected_counts(_cfg(uri, exclude_hosts=["hub.example.com"]), START, END)
    assert only.counts == res.per_host["hub.example.com"]
    assert minus.counts == res.per_host["admin.example.com"]
    assert sum(only.detail["excluded_total"].values()) > 0


def test_path_filter(local_logs) -> None:
    uri, res = local_logs
    got = expected_counts(_cfg(uri, exclude_path_prefixes=["/health"]), START, END)
    assert got.counts == {w: n - res.health[w] for w, n in res.counted.items()}
    assert got.detail["excluded"]["path"] == _labels(res.health)


def test_default_exclusions_can_be_turned_off(local_logs) -> None:
    uri, res = local_logs
    got = expected_counts(_cfg(uri, exclude_waf_blocked=False), START, END)
    assert got.counts == {w: n + res.excluded["waf_blocked"][w] for w, n in res.counted.items()}
    assert "waf_blocked" not in got.detail["excluded"]


def test_not_forwarded_covers_every_answer_without_a_target(local_logs) -> None:
    uri, res = local_logs
    off = {
        "exclude_waf_blocked": False,
        "exclude_fixed_response": False,
        "exclude_redirects": False,
    }
    everything = expected_counts(_cfg(uri, **off), START, END)
    forwarded = expected_counts(_cfg(uri, **off, exclude_not_forwarded=True), START, END)
    extra = {w: sum(res.excluded[r][w] for r in res.excluded) for w in res.counted}
    assert everything.counts == {w: n + extra[w] for w, n in res.counted.items()}
    assert forwarded.counts == res.counted


# -- --alb-logs without --load-balancer ----------------------------------------------------


def test_the_only_load_balancer_in_the_bucket_is_used_and_said(tmp_path, caplog) -> None:
    from reconcile.expected.alb_logs import with_load_balancers

    root = str(tmp_path / "alb")
    write_alb_logs(root, _hours((10, 120)), seed=11)
    cfg = _cfg(root, load_balancers=[])
    start, end = DAY + timedelta(hours=10), DAY + timedelta(hours=11)
    with caplog.at_level(logging.INFO, logger="reconcile.expected.alb_logs"):
        resolved = with_load_balancers(cfg, start, end)
    assert resolved.load_balancers == [DEFAULT_LB] and cfg.load_balancers == []
    assert f"using {DEFAULT_LB}, the only load balancer with access logs" in caplog.text
    assert _labels(expected_counts(resolved, start, end).counts) == {"2026-11-20T10": 120}
    named = _cfg(root, load_balancers=[OTHER_LB])
    assert with_load_balancers(named, start, end) is named  # named ones are never replaced


def test_several_load_balancers_are_listed_in_the_error(tmp_path) -> None:
    from click.testing import CliRunner

    from reconcile.cli import cli

    root = str(tmp_path / "alb")
    write_alb_logs(root, _hours((10, 50)), seed=12)
    write_alb_logs(root, _hours((10, 7)), load_balancer=OTHER_LB, seed=13)
    args = ["check", "--archive", str(tmp_path / "archive"), "--alb-logs", root,
            "--region", REGION, "--from", "2026-11-20T10", "--to", "2026-11-20T11",
            "--no-results"]  # fmt: skip
    result = CliRunner().invoke(cli, args)
    assert result.exit_code == 1, result.output
    assert "holds the access logs of 2 load balancers" in result.output
    assert f"{OTHER_LB}, {DEFAULT_LB}" in result.output and "--load-balancer" in result.output
    later = [a.replace("2026-11-20", "2026-11-25") for a in args]  # no logs delivered then
    empty = CliRunner().invoke(cli, later)
    assert empty.exit_code == 1 and "no access logs found under" in empty.output
    assert "--load-balancer" in empty.output


def test_cli_check_with_alb_logs_alone(tmp_path) -> None:
    from click.testing import CliRunner

    from reconcile.cli import cli

    root = str(tmp_path / "alb")
    write_alb_logs(root, _hours((10, 50)), seed=14)
    args = ["check", "--archive", str(tmp_path / "archive"), "--alb-logs", root,
            "--region", REGION, "--from", "2026-11-20T10", "--to", "2026-11-20T11",
            "--format", "json", "--no-results", "--no-indexed"]  # fmt: skip
    result = CliRunner().invoke(cli, args)
    assert result.exit_code == 3, result.output  # nothing archived: missing
    (row,) = [json.loads(line) for line in result.stdout.splitlines() if line.strip()]
    assert row["status"] == "missing" and row["expected"] == 50
    assert f"using {DEFAULT_LB}, the only load balancer" in result.stderr
