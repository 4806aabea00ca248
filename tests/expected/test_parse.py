"""The access-log parser: AWS's documented lines, Athena's semantics, key names, chunking."""

from __future__ import annotations

import gzip
import io
import re
from datetime import UTC, datetime
from pathlib import Path

import pyarrow as pa
import pytest

from reconcile.demo.alb_traffic import SynthMix, write_alb_logs
from reconcile.expected.alb_keys import object_key, parse_key
from reconcile.expected.alb_parse import LINE_REGEX, iter_lines, parse_batch
from reconcile.expected.alb_table import COLUMNS, PARTITION, arrow_schema, entry_columns
from reconcile.timewin import Window

DDL = Path(__file__).resolve().parents[2] / "sql" / "ddl" / "alb_access_logs.sql"

ARN_TG = (
    "arn:aws:elasticloadbalancing:us-east-2:123456789012:targetgroup/my-targets/73e2d6bc24d8a067"
)
#: Entries shaped like the examples of the ALB user guide ("Access log entries").
HTTP = (
    "http 2018-07-02T22:23:00.186641Z app/my-loadbalancer/50dc6c495c0c9188 192.168.131.39:2817 "
    f'10.0.0.1:80 0.000 0.001 0.000 200 200 34 366 "GET http://www.example.com:80/ HTTP/1.1" '
    f'"curl/7.46.0" - - {ARN_TG} "Root=1-58337262-36d228ad5d99923122bbe354" "-" "-" 0 '
    '2018-07-02T22:22:48.364000Z "forward" "-" "-" "10.0.0.1:80" "200" "-" "-" TID_1234abcd5678ef90'
)
HTTPS_NEWEST = (
    "https 2018-07-02T22:23:00.186641Z app/my-loadbalancer/50dc6c495c0c9188 192.168.131.39:2817 "
    '10.0.0.1:80 0.086 0.048 0.037 200 200 0 57 "GET https://www.example.com:443/ HTTP/1.1" '
    f'"curl/7.46.0" ECDHE-RSA-AES128-GCM-SHA256 TLSv1.2 {ARN_TG} '
    '"Root=1-58337281-1d84f3d73c47ec4e58577259" "www.example.com" '
    '"arn:aws:acm:us-east-2:123456789012:certificate/12345678-1234-1234-1234-123456789012" 1 '
    '2018-07-02T22:22:48.364000Z "authenticate,forward" "-" "-" "10.0.0.1:80" "200" "-" "-" '
    'TID_1234abcd5678ef90 "internal.example.com" "/v2/" "TransformSuccess"'
)
LAMBDA_OLD = (
    "http 2018-11-30T22:23:00.186641Z app/my-loadbalancer/50dc6c495c0c9188 192.168.131.39:2817 - "
    '0.000 0.001 0.000 502 - 34 366 "GET http://www.example.com:80/ HTTP/1.1" "curl/7.46.0" - - '
    f'{ARN_TG} "Root=1-58337364-23a8c76965a2ef7629b185e3" "-" "-" 0 2018-11-30T22:22:48.364000Z '
    '"forward" "-" "LambdaInvalidResponse" "-" "-" "-" "-"'
)
MALFORMED_REQUEST = (
    "http 2018-11-30T22:23:00.186641Z app/my-loadbalancer/50dc6c495c0c9188 192.168.131.39:2817 - "
    '-1 -1 -1 400 - 0 0 "- - - " "-" - - - "-" "-" "-" - 2018-11-30T22:22:48.364000Z '
    '"-" "-" "-" "-" "-" "-" "-" TID_1 "-" "-" "-" "a-field-from-2030" 7'
)


def athena_row(line: str) -> dict[str, object] | None:
    """What Athena's RegexSerDe makes of a line with the DDL's regex (None: all-null row)."""
    m = re.fullmatch(LINE_REGEX, line)
    if m is None:
        return None
    out: dict[str, object] = {}
    for (name, kind), g in zip(COLUMNS, m.groups(), strict=True):
        if g is None or kind == "string":
            out[name] = g
        elif kind in ("int", "bigint"):
            out[name] = int(g) if re.fullmatch(r"-?[0-9]+", g) else None
        else:
            out[name] = float(g) if re.fullmatch(r"-?(?:[0-9]+\.?[0-9]*|\.[0-9]+)", g) else None
    return out


def ours(lines: list[str]) -> tuple[list[dict[str, object]], list[int]]:
    parsed = parse_batch(pa.array(lines, pa.string()))
    cols = entry_columns(parsed.lines)
    table = pa.table(cols)
    return table.to_pylist(), [i for i, _ in parsed.bad]


def test_regex_groups_are_the_columns_and_the_ddl_uses_both() -> None:
    assert re.compile(LINE_REGEX).groups == len(COLUMNS)
    ddl = DDL.read_text()
    assert f"'input.regex' = '{LINE_REGEX}'" in ddl
    declared = re.findall(r"^  ([a-z_]+) (string|int|bigint|double),?$", ddl, re.M)
    assert declared == COLUMNS
    assert f"PARTITIONED BY ({PARTITION[0]} {PARTITION[1]})" in ddl
    assert arrow_schema().names == [n for n, _ in COLUMNS] + ["day"]


def test_documented_entries() -> None:
    rows, bad = ours([HTTP, HTTPS_NEWEST, LAMBDA_OLD, MALFORMED_REQUEST])
    assert bad == []
    http, https, lam, mal = rows
    assert http["elb"] == "app/my-loadbalancer/50dc6c495c0c9188"
    assert (http["client_ip"], http["client_port"]) == ("192.168.131.39", 2817)
    assert (http["target_ip"], http["target_port"]) == ("10.0.0.1", 80)
    assert (http["request_verb"], http["request_url"], http["request_proto"]) == (
        "GET",
        "http://www.example.com:80/",
        "HTTP/1.1",
    )
    assert http["request_creation_time"] == "2018-07-02T22:22:48.364000Z"
    assert http["conn_trace_id"] == "TID_1234abcd5678ef90"
    assert http["transformed_host"] is None
    assert https["target_processing_time"] == pytest.approx(0.048)
    assert https["actions_executed"] == "authenticate,forward"
    assert (
        https["transformed_host"],
        https["transformed_uri"],
        https["request_transform_status"],
    ) == (
        "internal.example.com",
        "/v2/",
        "TransformSuccess",
    )
    assert (lam["target_ip"], lam["target_port"], lam["target_status_code"]) == ("", None, "-")
    assert lam["lambda_error_reason"] == "LambdaInvalidResponse"
    assert lam["conn_trace_id"] is None
    assert mal["elb_status_code"] == 400
    assert mal["request_processing_time"] == -1.0
    assert mal["request_verb"] == "-"


def test_same_values_as_athena_on_generated_logs(tmp_path: Path) -> None:
    day = datetime(2026, 11, 20, 6, tzinfo=UTC)
    mix = SynthMix(newest_fields=0.3, no_trace_id=0.3, future_fields=0.3)
    res = write_alb_logs(str(tmp_path), {Window(day): 300}, mix=mix, malformed_lines=6, seed=11)
    lines = [HTTP, HTTPS_NEWEST, LAMBDA_OLD, MALFORMED_REQUEST, 'x "y" z', "http -"]
    for key in res.keys:
        lines += gzip.decompress((tmp_path / key).read_bytes()).decode().splitlines()

    rows, bad = ours(lines)

    expected = [athena_row(line) for line in lines]
    assert bad == [i for i, r in enumerate(expected) if r is None]
    assert len(bad) == 6 + 2
    assert rows == [r for r in expected if r is not None]


def test_unparseable_creation_time_is_malformed() -> None:
    broken = HTTP.replace("2018-07-02T22:22:48.364000Z", "yesterday")
    parsed = parse_batch(pa.array([HTTP, broken], pa.string()))
    assert parsed.bad == [(1, "request_creation_time is not a timestamp")]
    assert len(parsed.lines) == 1


def test_lines_across_chunk_boundaries() -> None:
    text = "first\n\nthird line \xe9\nlast-without-newline"
    raw = text.encode()[:-5] + b"\xff\xfe" + text.encode()[-5:]  # invalid UTF-8 in the last line
    got: list[str] = []
    for arr in iter_lines(io.BytesIO(raw), chunk_bytes=4):
        got.extend(arr.to_pylist())
    assert got[:3] == ["first", "", "third line \xe9"]
    assert got[3] == "last-without-ne\ufffd\ufffdwline"  # replaced, not dropped
    assert len(got) == 4


def test_key_layout_round_trip() -> None:
    doc = (
        "AWSLogs/123456789012/elasticloadbalancing/us-east-2/2016/05/01/123456789012_"
        "elasticloadbalancing_us-east-2_app.my-loadbalancer.1234567890abcdef_20140215T2340Z_"
        "172.160.001.192_20sg8hgm.log.gz"
    )
    obj = parse_key(doc, 99)
    assert obj is not None
    assert obj.load_balancer == "app/my-loadbalancer/1234567890abcdef"
    assert obj.end == datetime(2014, 2, 15, 23, 40, tzinfo=UTC)
    assert (obj.day, obj.size) == ("2016/05/01", 99)
    end = datetime(2026, 11, 21, 0, 0, tzinfo=UTC)
    key = object_key("123456789012", "eu-west-1", "app/hub/50dc6c495c0c9188", end, "10.0.0.1", "ab")
    assert key.startswith("AWSLogs/123456789012/elasticloadbalancing/eu-west-1/2026/11/21/")
    again = parse_key(key)
    assert (
        again is not None and again.end == end and again.load_balancer == "app/hub/50dc6c495c0c9188"
    )
    assert parse_key("AWSLogs/123456789012/ELBAccessLogTestFile") is None
