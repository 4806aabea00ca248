"""The HTML report: structure, offline-ness, stored results round trip, and a real render
in headless Chromium (Debian package ``chromium``)."""

from __future__ import annotations

import math
import random
import re
import shutil
import struct
import subprocess
import zlib
from datetime import UTC, datetime, timedelta
from html.parser import HTMLParser
from pathlib import Path

import pytest
from click.testing import CliRunner

from reconcile.cli import cli
from reconcile.egress.flowlogs import DrillDown
from reconcile.findings import EGRESS, LOGFLOW, Finding
from reconcile.report import build_report, incidents, load_findings
from reconcile.results import write_findings
from reconcile.storage import open_store
from reconcile.talkers import TalkerRow

START = datetime(2026, 11, 16, tzinfo=UTC)
END = datetime(2026, 11, 20, tzinfo=UTC)
HOUR = timedelta(hours=1)
JOB = "hub"
LB = "app/hub-prod/50dc6c495c0c9188"
NATS = ("nat-0a1b2c3d4e5f60718", "nat-0fedcba9876543210")

#: The incidents injected into the generated findings: (kind, resource, status, hours).
GAP = [START + timedelta(days=1, hours=13), START + timedelta(days=1, hours=14)]
MISSING = [START + timedelta(days=2, hours=4)]
SURPLUS = [START + timedelta(days=3, hours=9)]
PENDING = [END - HOUR]
SPIKE = [START + timedelta(days=2, hours=20), START + timedelta(days=2, hours=21)]
GIB = 1 << 30


def _requests(t: datetime) -> int:
    """A diurnal curve: quiet at night, busy in the afternoon (UTC)."""
    return int(4000 + 3000 * math.sin((t.hour - 8) / 24 * 2 * math.pi) + 200 * (t.day % 3))


def logflow_findings(rng: random.Random) -> list[Finding]:
    out = []
    t = START
    while t < END:
        expected = _requests(t)
        tol = round(0.001 * expected, 3)
        status, archived, detail = "ok", expected + rng.randint(-int(tol), int(tol)), {}
        message = f"{archived:,} rows archived for {expected:,} requests: within tolerance"
        if t in GAP:
            status, archived = "gap", int(expected * 0.965)
            message = f"{expected - archived:,} log lines missing ({archived:,} of {expected:,})"
        elif t in MISSING:
            status, archived = "missing", 0
            message = "window closed but has no committed archive (no _manifest.json)"
            detail = {"committed": False}
        elif t in SURPLUS:
            status, archived = "surplus", int(expected * 1.03)
            message = f"{archived - expected:,} more log lines than requests: duplicates"
        elif t in PENDING:
            status, archived, message = "pending", 0, "window is still open"
        out.append(
            Finding(
                job=JOB,
                kind=LOGFLOW,
                resource=LB,
                window_start=t,
                status=status,
                expected=expected,
                archived=archived,
                ratio=round(archived / expected, 6),
                baseline=1.0,
                threshold=tol,
                message=message,
                detail={"expected_logs": float(expected), **detail},
            )
        )
        t += HOUR
    return out


def egress_findings(rng: random.Random) -> list[Finding]:
    out = []
    for n, nat in enumerate(NATS):
        t = START
        while t < END:
            base = (2 + n + 1.5 * math.sin((t.hour - 6) / 24 * 2 * math.pi)) * GIB
            value = base * rng.uniform(0.85, 1.15)
            status, detail, message = "ok", {}, "within the seasonal baseline"
            if n == 0 and t in SPIKE:
                status, value = "spike", base * 7.5
                dd = DrillDown("eni-0a1b2c3d4e5f60718", t, t + HOUR, "out", int(value * 0.9))
                dd.sources.append(TalkerRow("10.0.3.17", int(value * 0.8), 1, 6))
                dd.destinations.append(TalkerRow("52.216.8.11", int(value * 0.8), 1, 6, "S3"))
                dd.services.append(TalkerRow("S3", int(value * 0.8), 1, 6, "S3"))
                detail = {"drilldown": dd.as_detail()}
                message = "egress spike: S3 traffic through the NAT gateway"
            out.append(
                Finding(
                    job=JOB,
                    kind=EGRESS,
                    resource=nat,
                    window_start=t,
                    status=status,
                    bytes=int(value),
                    baseline=base,
                    threshold=base * 2 + GIB,
                    message=message,
                    detail=detail,
                )
            )
            t += HOUR
    return out


@pytest.fixture(scope="module")
def findings() -> tuple[list[Finding], list[Finding]]:
    rng = random.Random(7)
    return logflow_findings(rng), egress_findings(rng)


@pytest.fixture(scope="module")
def report_html(findings: tuple[list[Finding], list[Finding]]) -> str:
    return build_report(findings[0], findings[1], JOB, START, END)


class Elements(HTMLParser):
    """Every start tag with its attributes, in order."""

    def __init__(self) -> None:
        super().__init__()
        self.tags: list[tuple[str, dict[str, str | None]]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, dict(attrs)))

    def find(self, tag: str, **attrs: str) -> list[dict[str, str | None]]:
        return [
            a for t, a in self.tags if t == tag and all(a.get(k) == v for k, v in attrs.items())
        ]


def parse(text: str) -> Elements:
    p = Elements()
    p.feed(text)
    return p


def test_report_is_self_contained(report_html: str) -> None:
    doc = parse(report_html)
    assert report_html.startswith("<!DOCTYPE html>")
    assert not doc.find("script") and not doc.find("link") and not doc.find("img")
    for _tag, attrs in doc.tags:
        for name in ("src", "href"):
            assert attrs.get(name) is None, (name, attrs)
    assert "url(" not in report_html and "@import" not in report_html
    # The only URLs are SVG namespace declarations, which the browser never fetches.
    urls = set(re.findall(r"https?://[^\s\"'<>]+", report_html))
    assert urls <= {"http://www.w3.org/2000/svg"}, urls
    csp = doc.find("meta", **{"http-equiv": "Content-Security-Policy"})
    assert csp and "default-src 'none'" in (csp[0]["content"] or "")


def test_report_charts_shade_every_incident_hour(report_html: str) -> None:
    doc = parse(report_html)
    svgs = doc.find("svg")
    # One status strip, requests and ratio charts for the load balancer, one chart per gateway.
    assert len(svgs) == 3 + len(NATS)
    shaded = {
        (a["data-status"], a["data-window"]) for a in doc.find("rect") if a.get("data-window")
    }
    for status, hours in (("gap", GAP), ("missing", MISSING), ("surplus", SURPLUS)):
        for t in hours:
            # Shaded in both log-flow charts.
            assert (status, f"{t:%Y-%m-%dT%H:%M}") in shaded
            assert (
                sum(
                    1
                    for a in doc.find("rect", **{"data-status": status})
                    if a.get("data-window") == f"{t:%Y-%m-%dT%H:%M}"
                )
                == 2
            )
    for t in SPIKE:
        assert ("spike", f"{t:%Y-%m-%dT%H:%M}") in shaded
    # Nothing else is shaded as a problem.
    problems = {w for s, w in shaded if s != "pending"}
    expected = {f"{t:%Y-%m-%dT%H:%M}" for t in GAP + MISSING + SURPLUS + SPIKE}
    assert problems == expected
    assert len(doc.find("circle", **{"class": "spike"})) == len(SPIKE)
    assert len(doc.find("polygon", **{"class": "band"})) >= 1  # the tolerance band
    assert len(doc.find("polygon", **{"class": "band egress"})) >= len(NATS)


def test_report_table_lists_problems_first(
    report_html: str, findings: tuple[list[Finding], list[Finding]]
) -> None:
    doc = parse(report_html)
    rows = [a for a in doc.find("tr") if a.get("data-status")]
    total = len(findings[0]) + len(findings[1])
    assert len(rows) == total
    statuses = [a["data-status"] for a in rows]
    n_problems = len(GAP) + len(MISSING) + len(SURPLUS) + len(SPIKE)
    assert set(statuses[:n_problems]) == {"gap", "missing", "surplus", "spike"}
    assert statuses[0] == "missing"  # the worst first
    assert set(statuses[n_problems:]) == {"ok", "pending"}
    # The summary names each incident with its figures.
    runs = incidents(findings[0] + findings[1])
    assert [(i.status, len(i.findings)) for i in runs if i.status != "pending"] == [
        ("missing", 1),
        ("gap", 2),
        ("spike", 2),
        ("surplus", 1),
    ]
    assert "4 incidents to look at" in report_html
    assert "log lines lost" in report_html and "10.0.3.17" in report_html


def test_report_escapes_text() -> None:
    f = Finding(
        job="<job>",
        kind=LOGFLOW,
        resource="lb<script>",
        window_start=START,
        status="gap",
        expected=10,
        archived=5,
        ratio=0.5,
        baseline=1.0,
        threshold=0.0,
        message='<img src="https://evil.example/x.png">',
    )
    out = build_report([f], [], "<job>", START, START + HOUR)
    assert "<script>" not in out and "<img" not in out and "&lt;img" in out
    assert "No egress findings" in out


def test_load_findings_round_trip(
    tmp_path: Path, findings: tuple[list[Finding], list[Finding]]
) -> None:
    store = open_store(str(tmp_path / "results"))
    write_findings(store, findings[0] + findings[1])
    other = Finding(JOB + "-other", LOGFLOW, LB, START, "gap", expected=1, archived=0)
    write_findings(store, [other])
    t0, t1 = START + timedelta(days=1), START + timedelta(days=3)
    logflow, egress = load_findings(store, JOB, t0, t1)
    assert logflow == [f for f in findings[0] if t0 <= f.window_start < t1]
    assert sorted(egress, key=lambda f: (f.window_start, f.resource)) == sorted(
        (f for f in findings[1] if t0 <= f.window_start < t1),
        key=lambda f: (f.window_start, f.resource),
    )


def test_report_command_reads_stored_results(
    tmp_path: Path, findings: tuple[list[Finding], list[Finding]]
) -> None:
    archive = tmp_path / "archive"
    write_findings(open_store(f"{archive}/_reconcile/results"), findings[0] + findings[1])
    out = tmp_path / "report.html"
    args = ["report", "--archive", str(archive), "--name", JOB, "--from", "2026-11-16"]
    result = CliRunner().invoke(cli, [*args, "--to", "2026-11-20", "--output", str(out)])
    assert result.exit_code == 0, result.output
    doc = parse(out.read_text())
    assert len([a for a in doc.find("tr") if a.get("data-status")]) == 4 * 24 * 3
    # A range with nothing stored is an error, not an empty page.
    empty = CliRunner().invoke(
        cli, [*args[:-1], "2025-01-01", "--to", "2025-01-02", "--output", str(out)]
    )
    assert empty.exit_code == 1
    assert "no stored findings" in empty.output


def test_report_command_reads_s3(
    s3_bucket: str, tmp_path: Path, findings: tuple[list[Finding], list[Finding]]
) -> None:
    """Against moto's real HTTP server: results in S3, report written locally."""
    archive = f"s3://{s3_bucket}/hub"
    write_findings(open_store(f"{archive}/_reconcile/results"), findings[0][:48])
    job = tmp_path / "job.toml"
    job.write_text(f'name = "{JOB}"\n[archive]\nuri = "{archive}"\n')
    out = tmp_path / "r.html"
    result = CliRunner().invoke(
        cli,
        ["report", "--job", str(job), "--from", "2026-11-16", "--to", "2026-11-18", "-o", str(out)],
    )
    assert result.exit_code == 0, result.output
    assert len([a for a in parse(out.read_text()).find("tr") if a.get("data-status")]) == 48


# --- headless Chromium -------------------------------------------------------------------


def chromium() -> str:
    for name in ("chromium", "chromium-browser", "google-chrome"):
        path = shutil.which(name)
        if path:
            return path
    raise AssertionError("Chromium not found: install the Debian package `chromium`")


def run_chromium(tmp: Path, *args: str) -> subprocess.CompletedProcess[str]:
    cmd = [
        chromium(),
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-dev-shm-usage",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--no-first-run",
        "--hide-scrollbars",
        f"--user-data-dir={tmp / 'profile'}",
        *args,
    ]
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, f"chromium failed ({proc.returncode}): {proc.stderr[-2000:]}"
    return proc


def decode_png(data: bytes) -> tuple[int, int, list[bytes]]:
    """Width, height and unfiltered RGB(A) rows of an 8-bit non-interlaced PNG."""
    assert data[:8] == b"\x89PNG\r\n\x1a\n", "not a PNG"
    pos, idat, header = 8, bytearray(), b""
    while pos < len(data):
        (length,) = struct.unpack(">I", data[pos : pos + 4])
        ctype, body = data[pos + 4 : pos + 8], data[pos + 8 : pos + 8 + length]
        if ctype == b"IHDR":
            header = body
        elif ctype == b"IDAT":
            idat += body
        pos += 12 + length
    width, height, depth, colour, _c, _f, interlace = struct.unpack(">IIBBBBB", header)
    assert depth == 8 and interlace == 0 and colour in (2, 6), (depth, colour, interlace)
    bpp = 3 if colour == 2 else 4
    raw = zlib.decompress(bytes(idat))
    stride = width * bpp
    rows, prev = [], bytes(stride)
    for y in range(height):
        ftype, line = (
            raw[y * (stride + 1)],
            bytearray(raw[y * (stride + 1) + 1 : (y + 1) * (stride + 1)]),
        )
        if ftype == 1:
            for i in range(bpp, stride):
                line[i] = (line[i] + line[i - bpp]) & 255
        elif ftype == 2:
            line = bytearray((a + b) & 255 for a, b in zip(line, prev, strict=True))
        elif ftype == 3:
            for i in range(stride):
                left = line[i - bpp] if i >= bpp else 0
                line[i] = (line[i] + ((left + prev[i]) >> 1)) & 255
        elif ftype == 4:
            for i in range(stride):
                a = line[i - bpp] if i >= bpp else 0
                b, c = prev[i], prev[i - bpp] if i >= bpp else 0
                p = a + b - c
                pa, pb, pc = abs(p - a), abs(p - b), abs(p - c)
                pred = a if pa <= pb and pa <= pc else (b if pb <= pc else c)
                line[i] = (line[i] + pred) & 255
        rows.append(bytes(line))
        prev = rows[-1]
    return width, height, rows


def pixels(rows: list[bytes], bpp: int) -> set[tuple[int, int, int]]:
    """The distinct RGB colours of every other row and column (enough to find solid fills)."""
    seen = set()
    for row in rows[::2]:
        for i in range(0, len(row) - bpp + 1, bpp * 2):
            seen.add((row[i], row[i + 1], row[i + 2]))
    return seen


def rgb(colour: str) -> tuple[int, int, int]:
    return int(colour[1:3], 16), int(colour[3:5], 16), int(colour[5:7], 16)


@pytest.fixture(scope="module")
def report_file(tmp_path_factory: pytest.TempPathFactory, report_html: str) -> Path:
    path = tmp_path_factory.mktemp("report") / "report.html"
    path.write_text(report_html, encoding="utf-8")
    return path


def test_report_renders_in_chromium(tmp_path: Path, report_file: Path) -> None:
    """A real browser paints the page: right size, not blank, every status colour visible."""
    from reconcile.report import COLOURS

    png = tmp_path / "report.png"
    run_chromium(tmp_path, f"--screenshot={png}", "--window-size=1400,2000", report_file.as_uri())
    assert png.exists(), "chromium wrote no screenshot"
    width, height, rows = decode_png(png.read_bytes())
    assert (width, height) == (1400, 2000)
    bpp = len(rows[0]) // width
    colours = pixels(rows, bpp)
    assert len(colours) > 200, f"page looks blank: {len(colours)} colours"
    white = sum(
        1
        for row in rows[::10]
        for i in range(0, len(row), bpp * 10)
        if row[i : i + 3] == b"\xff\xff\xff"
    )
    total = sum(1 for row in rows[::10] for _ in range(0, len(row), bpp * 10))
    assert white / total < 0.9, f"{white / total:.0%} of the page is white"
    # Solid fills of the status pills and the status strip, exactly as the report declares them.
    for status in ("ok", "gap", "missing", "surplus", "spike"):
        assert rgb(COLOURS[status]) in colours, f"{status} colour not painted"


def test_report_dom_after_load(tmp_path: Path, report_file: Path) -> None:
    """The DOM Chromium built holds the charts, the shaded hours and the table."""
    dom = run_chromium(tmp_path, "--dump-dom", report_file.as_uri()).stdout
    doc = parse(dom)
    assert len(doc.find("svg")) == 3 + len(NATS)
    assert len(doc.find("rect", **{"data-status": "gap"})) >= 2 * len(GAP)
    assert len(doc.find("rect", **{"data-status": "missing"})) >= 2 * len(MISSING)
    assert len(doc.find("circle", **{"class": "spike"})) == len(SPIKE)
    assert len([a for a in doc.find("tr") if a.get("data-status")]) == 4 * 24 * 3
    assert "4 incidents to look at" in dom
