"""Requests per window: what one small window costs in Elasticsearch and S3 requests.

    python -m bench.requests                      # this checkout
    python -m bench.requests --ref 92c905f        # an older commit (a git worktree of it)
    python -m bench.requests --ref 92c905f --write-docs   # before and after, into the docs

Starts the servers the tests use (noida-db for Elasticsearch, moto's server for S3),
indexes ``--docs`` documents into each of ``--windows`` hour windows of one daily index (a
second daily index of the pattern holds an older day, so the pattern matches more than one
index, as it does in production), then runs the real CLI in a subprocess:

- ``reconcile archive --from .. --to ..`` over 1, 2 and N windows, each into a fresh
  archive, then once more over the N committed windows (everything skipped);
- ``reconcile run`` (the scheduled job, from a job file, ``--now`` just after the last
  window settled) over 1, 2 and N hours, then once more with everything committed.

Elasticsearch requests go through a counting proxy (by method and endpoint kind); S3
requests are counted by moto's request recorder (LIST, GET, HEAD, PUT, COPY, DELETE).
Per window = (N-window run - 2-window run) / (N - 2); fixed cost per run = the 2-window
run minus two windows. Not the 1-window run: one window is planned with a ``_count`` where
a range is planned with one histogram, so one window is not the general case.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from bench.archive import MAPPING
from bench.docs import replace_section

ROOT = Path(__file__).resolve().parent.parent
SECTION = "## Requests per window (`bench/requests.py`)"
RESULTS = ROOT / "bench" / "results" / "requests-latest.json"
INDEX_PREFIX = "bench-logs-"
BUCKET = "bench-requests"
FIRST = datetime(2026, 11, 20, 0, tzinfo=UTC)  # windows FIRST .. FIRST + N hours
OLDER_DAY = datetime(2026, 11, 19, 10, tzinfo=UTC)  # a second index of the pattern

ES_KINDS = (
    "_mapping",
    "_data_stream / _resolve",
    "_ilm",
    "_search histogram (range)",
    "_search terms on _index (touched)",
    "_count untimed",
    "_search window (one search)",
    "_pit open",
    "_search pages (pit)",
    "DELETE _pit",
    "_count window (live)",
    "GET / (server info)",
    "other",
)
S3_KINDS = ("LIST", "GET", "HEAD", "PUT", "COPY", "DELETE", "other")


# -- counting ------------------------------------------------------------------------------


def es_kind(method: str, path: str, body: bytes) -> str:
    """The endpoint kind of one Elasticsearch request."""
    p = urlsplit(path).path
    if "/_pit" in p:
        return "DELETE _pit" if method == "DELETE" else "_pit open"
    if "/_search" in p:
        if b'"pit"' in body:
            return "_search pages (pit)"
        if b"date_histogram" in body:
            return "_search histogram (range)"
        if b'"_index"' in body:
            return "_search terms on _index (touched)"
        if b'"docvalue_fields"' in body:
            return "_search window (one search)"
        return "other"
    if "/_count" in p:
        return "_count untimed" if b"must_not" in body else "_count window (live)"
    if "/_mapping" in p:
        return "_mapping"
    if "/_data_stream" in p or "/_resolve" in p:
        return "_data_stream / _resolve"
    if "/_ilm" in p:
        return "_ilm"
    if p == "/" and method == "GET":
        return "GET / (server info)"
    return "other"


class CountingProxy:
    """Forwards every request to ``upstream`` and counts it by :func:`es_kind`."""

    def __init__(self, upstream: str) -> None:
        import urllib3

        self.upstream = upstream.rstrip("/")
        self.counts: Counter[str] = Counter()
        self.others: Counter[str] = Counter()
        self.lock = threading.Lock()
        self.pool = urllib3.PoolManager(maxsize=16)
        self.url = ""

    def reset(self) -> dict[str, int]:
        with self.lock:
            out = dict(self.counts)
            self.counts.clear()
            return out

    def handler(self) -> type[BaseHTTPRequestHandler]:
        proxy = self
        hop = {"connection", "keep-alive", "transfer-encoding", "content-length", "host"}

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args: object) -> None:
                pass

            def _handle(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else b""
                kind = es_kind(self.command, self.path, body)
                with proxy.lock:
                    proxy.counts[kind] += 1
                    if kind == "other":
                        proxy.others[f"{self.command} {urlsplit(self.path).path}"] += 1
                headers = {k: v for k, v in self.headers.items() if k.lower() not in hop}
                resp = proxy.pool.request(
                    self.command,
                    proxy.upstream + self.path,
                    body=body or None,
                    headers=headers,
                    preload_content=True,
                    retries=False,
                )
                self.send_response(resp.status)
                for k, v in resp.headers.items():
                    if k.lower() not in hop and k.lower() != "content-encoding":
                        self.send_header(k, v)
                self.send_header("Content-Length", str(len(resp.data)))
                self.end_headers()
                self.wfile.write(resp.data)

            do_GET = do_POST = do_PUT = do_DELETE = do_HEAD = _handle

        return Handler


@contextmanager
def counting_proxy(upstream: str) -> Iterator[CountingProxy]:
    proxy = CountingProxy(upstream)
    server = ThreadingHTTPServer(("127.0.0.1", 0), proxy.handler())
    server.daemon_threads = True
    proxy.url = f"http://127.0.0.1:{server.server_address[1]}"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield proxy
    finally:
        server.shutdown()
        server.server_close()


def s3_kind(entry: dict[str, Any]) -> str:
    method = entry["method"]
    parts = urlsplit(entry["url"])
    headers = {k.lower(): v for k, v in entry.get("headers", {}).items()}
    key = parts.path.lstrip("/").partition("/")[2]
    if method == "GET":
        return "LIST" if not key or "list-type=" in parts.query else "GET"
    if method == "HEAD":
        return "HEAD"
    if method == "PUT":
        return "COPY" if "x-amz-copy-source" in headers else "PUT"
    if method == "DELETE" or (method == "POST" and "delete" in parts.query):
        return "DELETE"
    return "other"


class S3Recorder:
    """moto's request recorder, restarted around each scenario."""

    def __init__(self, moto: str, path: Path) -> None:
        self.moto, self.path = moto, path

    def _post(self, what: str) -> None:
        import urllib.request

        req = urllib.request.Request(f"{self.moto}/moto-api/recorder/{what}", method="POST")
        urllib.request.urlopen(req, timeout=10).close()

    def start(self) -> None:
        self._post("reset-recording")
        self._post("start-recording")

    def stop(self, prefix: str) -> dict[str, int]:
        self._post("stop-recording")
        counts: Counter[str] = Counter()
        for line in self.path.read_text().splitlines():
            entry = json.loads(line)
            if f"/{BUCKET}" in entry["url"] or f"{BUCKET}." in entry["url"]:
                counts[s3_kind(entry)] += 1
        return dict(counts)


# -- data and runs --------------------------------------------------------------------------


def load(es_url: str, windows: int, docs: int) -> int:
    from elasticsearch import Elasticsearch

    from reconcile.demo.es_docs import bulk_index, daily_index, window_docs
    from reconcile.timewin import Window

    es = Elasticsearch(es_url, request_timeout=120)
    wins = [Window(FIRST + timedelta(hours=h)) for h in range(windows)]
    older = Window(OLDER_DAY)
    for w in (older, wins[0]):
        es.indices.create(index=daily_index(INDEX_PREFIX, w.start), mappings=MAPPING)
    pairs = [
        (daily_index(INDEX_PREFIX, w.start), d)
        for w in [older, *wins]
        for d in window_docs(w, docs, seed=w.start.hour)
    ]
    n = bulk_index(es, pairs)
    es.close()
    return n


def hour(dt: datetime) -> str:
    return dt.strftime("%Y-%m-%dT%H")


@dataclass
class Checkout:
    """Where the CLI runs from: this checkout, or a git worktree of ``ref``."""

    ref: str | None
    path: Path

    @property
    def label(self) -> str:
        return self.ref or "working tree"

    def env(self, base: dict[str, str]) -> dict[str, str]:
        env = dict(base)
        if self.ref:
            env["PYTHONPATH"] = str(self.path)
        return env


@contextmanager
def checkout(ref: str | None) -> Iterator[Checkout]:
    if not ref:
        yield Checkout(None, ROOT)
        return
    tmp = Path(tempfile.mkdtemp(prefix="reconcile-ref-"))
    tree = tmp / "tree"
    subprocess.run(
        ["git", "-C", str(ROOT), "worktree", "add", "--detach", str(tree), ref],
        check=True,
        capture_output=True,
    )
    try:
        yield Checkout(ref, tree)
    finally:
        subprocess.run(
            ["git", "-C", str(ROOT), "worktree", "remove", "--force", str(tree)],
            check=False,
            capture_output=True,
        )
        shutil.rmtree(tmp, ignore_errors=True)


@dataclass
class Counted:
    name: str
    windows: int
    es: dict[str, int]
    s3: dict[str, int]
    statuses: dict[str, int]
    seconds: float


class Bench:
    def __init__(
        self, co: Checkout, proxy: CountingProxy, s3: S3Recorder, env: dict[str, str], work: Path
    ) -> None:
        self.co, self.proxy, self.s3, self.env, self.work = co, proxy, s3, env, work
        self.tag = (co.ref or "tree").replace("/", "-")

    def cli(self, args: list[str]) -> tuple[float, dict[str, int]]:
        cmd = [sys.executable, "-m", "reconcile", "--log-format", "json", *args, "--format", "json"]
        t0 = time.perf_counter()
        proc = subprocess.run(
            cmd, env=self.co.env(self.env), cwd=self.co.path, capture_output=True, text=True
        )
        seconds = time.perf_counter() - t0
        if proc.returncode not in (0, 3):
            raise SystemExit(f"{' '.join(cmd)} failed ({proc.returncode}):\n{proc.stderr[-3000:]}")
        statuses: Counter[str] = Counter()
        for line in proc.stderr.splitlines():
            try:
                rec = json.loads(line)
            except ValueError:
                continue
            if rec.get("event") == "window":
                statuses[str(rec.get("status"))] += 1
        return seconds, dict(statuses)

    def counted(self, name: str, windows: int, args: list[str]) -> Counted:
        self.proxy.reset()
        self.s3.start()
        seconds, statuses = self.cli(args)
        s3 = self.s3.stop(BUCKET)
        es = self.proxy.reset()
        print(f"{self.co.label}: {name}: es {es} s3 {s3} {statuses}", file=sys.stderr)
        return Counted(name, windows, es, s3, statuses, round(seconds, 2))

    def archive(self, name: str, prefix: str, n: int) -> Counted:
        uri = f"s3://{BUCKET}/{self.tag}/{prefix}"
        args = [
            "archive",
            "--es-url",
            self.proxy.url,
            "--index",
            f"{INDEX_PREFIX}*",
            "--archive",
            uri,
            "--from",
            hour(FIRST),
            "--to",
            hour(FIRST + timedelta(hours=n)),
        ]
        return self.counted(name, n, args)

    def run(self, name: str, prefix: str, n: int) -> Counted:
        job = self.work / f"{self.tag}-{prefix}.toml"
        job.write_text(
            f'''name = "bench"
[source]
url = "{self.proxy.url}"
index = "{INDEX_PREFIX}*"
[archive]
uri = "s3://{BUCKET}/{self.tag}/{prefix}"
[run]
archive_lookback_hours = {n}
recheck_lookback_hours = {n}
'''
        )
        now = FIRST + timedelta(hours=n, minutes=30)  # the last window has settled (20 min)
        return self.counted(name, n, ["run", "--job", str(job), "--now", now.isoformat()])


def scenarios(b: Bench, n: int) -> list[Counted]:
    return [
        b.archive("archive, 1 window", "archive-1", 1),
        b.archive("archive, 2 windows", "archive-2", 2),
        b.archive(f"archive, {n} windows", "archive-n", n),
        b.archive(f"archive again, {n} committed windows", "archive-n", n),
        b.run("run, 1 hour", "run-1", 1),
        b.run("run, 2 hours", "run-2", 2),
        b.run(f"run, {n} hours", "run-n", n),
        b.run(f"run again, {n} committed hours", "run-n", n),
    ]


def measure(ref: str | None, n: int, docs: int, work: Path) -> dict[str, Any]:
    import boto3

    from reconcile.demo.localstack import elasticsearch_server, moto_server

    recording = work / "moto-recording.jsonl"
    recording.touch()
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("RECONCILE_", "ES_", "AWS_PROFILE", "AWS_SESSION"))
    }
    env.update(
        AWS_ACCESS_KEY_ID="bench",
        AWS_SECRET_ACCESS_KEY="bench",
        AWS_DEFAULT_REGION="us-east-1",
        AWS_REGION="us-east-1",
        AWS_EC2_METADATA_DISABLED="true",
        MOTO_RECORDER_FILEPATH=str(recording),
    )
    # moto's server reads the recorder's path from its environment, boto3 here the keys.
    os.environ.update({k: env[k] for k in env if k.startswith(("AWS_", "MOTO_"))})
    tag = ref or "tree"
    with (
        checkout(ref) as co,
        elasticsearch_server(work / f"es-{tag}") as es_url,
        moto_server(work / f"moto-{tag}") as moto,
    ):
        env["AWS_ENDPOINT_URL"] = moto
        boto3.client("s3", endpoint_url=moto).create_bucket(Bucket=BUCKET)
        loaded = load(es_url, n, docs)
        probe = subprocess.run(
            [sys.executable, "-c", "import reconcile; print(reconcile.__file__)"],
            env=co.env(env),
            cwd=co.path,
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
        if not probe.startswith(str(co.path)):
            raise SystemExit(f"{co.label}: the CLI would import {probe}, not {co.path}")
        with counting_proxy(es_url) as proxy:
            runs = scenarios(Bench(co, proxy, S3Recorder(moto, recording), env, work), n)
            if proxy.others:
                print(f"other requests: {dict(proxy.others)}", file=sys.stderr)
    sha = subprocess.run(
        ["git", "-C", str(ROOT), "rev-parse", "--short", ref or "HEAD"],
        capture_output=True,
        text=True,
    ).stdout.strip()
    return {
        "ref": ref,
        "label": f"{sha}" if ref else f"{sha} + working tree",
        "windows": n,
        "docs_per_window": docs,
        "loaded": loaded,
        "runs": [asdict(r) for r in runs],
    }


# -- report ---------------------------------------------------------------------------------


def total(d: dict[str, int]) -> int:
    return sum(d.values())


def split(
    two: dict[str, int], many: dict[str, int], n: int
) -> tuple[dict[str, float], dict[str, float]]:
    """Fixed cost per run and cost per window, from a 2-window and an n-window run."""
    kinds = set(two) | set(many)
    per = {k: (many.get(k, 0) - two.get(k, 0)) / (n - 2) for k in kinds}
    fixed = {k: two.get(k, 0) - 2 * per[k] for k in kinds}
    return fixed, per


def _num(x: float) -> str:
    return f"{x:g}" if abs(x - round(x)) > 1e-9 else str(round(x))


def table(res: dict[str, Any]) -> list[str]:
    n = res["windows"]
    runs = {r["name"]: Counted(**r) for r in res["runs"]}
    a2, an, aa = (
        runs[k]
        for k in (
            "archive, 2 windows",
            f"archive, {n} windows",
            f"archive again, {n} committed windows",
        )
    )
    r2, rn, ra = (
        runs[k] for k in ("run, 2 hours", f"run, {n} hours", f"run again, {n} committed hours")
    )
    afe, ape = split(a2.es, an.es, n)
    afs, aps = split(a2.s3, an.s3, n)
    rfe, rpe = split(r2.es, rn.es, n)
    rfs, rps = split(r2.s3, rn.s3, n)
    lines = [
        f"| request | archive: per run | archive: per window | archive again ({n} committed) "
        f"| run: per run | run: per window | run again ({n} committed) |",
        "|---|---:|---:|---:|---:|---:|---:|",
    ]

    def row(label: str, cols: list[float]) -> str:
        return f"| {label} | " + " | ".join(_num(c) for c in cols) + " |"

    for side, kinds, parts in (
        ("Elasticsearch", ES_KINDS, (afe, ape, aa.es, rfe, rpe, ra.es)),
        ("S3", S3_KINDS, (afs, aps, aa.s3, rfs, rps, ra.s3)),
    ):
        for k in kinds:
            cols = [float(p.get(k, 0)) for p in parts]
            if any(cols):
                lines.append(row(f"{side} `{k}`" if side == "Elasticsearch" else f"S3 {k}", cols))
        lines.append(row(f"**{side} total**", [float(sum(p.values())) for p in parts]))
    return lines


def _kinds(res: dict[str, Any], name: str) -> str:
    es = next(r["es"] for r in res["runs"] if r["name"] == name)
    return ", ".join(f"`{k}` {es[k]}" for k in ES_KINDS if es.get(k))


def report(before: dict[str, Any] | None, after: dict[str, Any], command: str) -> str:
    n = after["windows"]
    out = [
        f"Run {after['when']}. `{command}`: noida-db and moto's S3 server on loopback; "
        f"{n} hour windows x {after['docs_per_window']} documents in one daily index (a "
        "second daily index of the pattern holds an older day, as in production where the "
        "pattern matches many days), the explicit mapping of `bench/archive.py`. Each "
        "scenario is the real CLI in a subprocess: `reconcile archive --from .. --to ..` "
        f"into a fresh archive over 1, 2 and {n} windows, then again over the {n} "
        "committed windows (all skipped); `reconcile run` (job file, `--now` 30 minutes "
        f"after the last hour, `run.archive_lookback_hours = run.recheck_lookback_hours` = "
        "the hours) likewise. Elasticsearch requests are counted by a proxy in front of "
        "noida-db, S3 requests by moto's request recorder (COPY is a PUT with "
        "`x-amz-copy-source`, DELETE is a multi-object delete). Per window = "
        f"(the {n}-window run - the 2-window run) / {n - 2}; per run = the 2-window run - "
        "two windows (one window alone is planned with a `_count`, a range with one "
        "histogram).",
        "",
    ]
    for label, res in (("Before", before), ("After", after)):
        if res is None:
            continue
        out += [f"**{label}** ({res['label']}):", "", *table(res), ""]
    if before is not None:
        out += [
            "Before -> after (Elasticsearch + S3 requests):",
            "",
            "| | per run | per window | 1 window in all | "
            f"{n} windows in all | again, {n} committed |",
            "|---|---:|---:|---:|---:|---:|",
        ]
        for scen, one, two, many, again in (
            (
                "`reconcile archive`",
                "archive, 1 window",
                "archive, 2 windows",
                f"archive, {n} windows",
                f"archive again, {n} committed windows",
            ),
            (
                "`reconcile run`",
                "run, 1 hour",
                "run, 2 hours",
                f"run, {n} hours",
                f"run again, {n} committed hours",
            ),
        ):
            cells = []
            for res in (before, after):
                runs = {r["name"]: r for r in res["runs"]}
                es_fixed, es_per = split(runs[two]["es"], runs[many]["es"], n)
                s3_fixed, s3_per = split(runs[two]["s3"], runs[many]["s3"], n)
                cells.append(
                    [
                        f"{_num(sum(es_fixed.values()))} + {_num(sum(s3_fixed.values()))}",
                        f"{_num(sum(es_per.values()))} + {_num(sum(s3_per.values()))}",
                        *(
                            f"{total(runs[k]['es'])} + {total(runs[k]['s3'])}"
                            for k in (one, many, again)
                        ),
                    ]
                )
            out.append(
                f"| {scen} | "
                + " | ".join(f"{b} -> {a}" for b, a in zip(*cells, strict=True))
                + " |"
            )
        out.append("")
        out += [
            "One window alone (`reconcile archive` over 1 hour), Elasticsearch requests by kind:",
            "",
            *(
                f"- {label}: {_kinds(res, 'archive, 1 window')}"
                for label, res in (("before", before), ("after", after))
            ),
            "",
        ]
    out += NOTES
    return "\n".join(out)


NOTES = [
    "What one window costs now, and why each request stays. Elasticsearch: one search "
    "that reads the window and counts it exactly in the same request (a window of more "
    "than a page, `source.page_size`, or of more than one slice is read as before through "
    "a point in time: open, one page per slice and per page, close), and the live `_count` "
    "that verifies the archive against what Elasticsearch holds after reading. S3: the "
    "committed manifest (GET: skip, re-archive or first revision), the data files and the staged manifest (PUT; the staged manifest "
    "is the commit point), one server-side COPY per file into the partition, one LIST of "
    "the partition (nothing staged missing, stale files found), the published manifest "
    "(PUT) and one multi-object DELETE of the stage. Mappings, data streams, untimed counts "
    "(per index read), the range's histogram, the listing of `_staging/` and the table "
    "schema are asked once per run (noida-db cannot say which indices a window touches, "
    "so after one refused `terms` on `_index` every index is read and counted untimed "
    "once).",
    "",
    "Cut (issue 13), on the Elasticsearch side: a window counted at no more than a page "
    "is read by one search instead of a point in time (the open and the close cut, 4 -> 2 "
    "requests per window: one search is consistent by itself, since each shard's query "
    "and fetch phases share one reader and the total it tracks counts that reader; a "
    "window that has outgrown its page since it was counted is read again through a point "
    "in time); a run of one window is planned with a "
    "`_count` instead of a histogram of one bucket (the same request count, a cheaper "
    "request: at 250,000 documents 6.6 s against 9.6 s on noida-db, 0.5 s against 3.7 s "
    "on osmem-server); not shown: a window the range's histogram found empty no longer "
    "asks which of several indices it touches. On the S3 side: `_staging/` "
    "was listed for every window, now once per run (what a "
    "crashed run left is there before the run starts; the run cleans its own stages); the "
    "commit no longer reads back the staged manifest or lists the stage twice (the "
    "archiver passes what it just wrote; recovery still works from what storage holds), "
    "copies with CopyObject (the managed copy sent a HEAD per file) and deletes the "
    "sources with the stage in one request instead of one per file; the table schema is "
    "read once per run and again only when a window brings a column it lacks; the "
    "scheduled run passes the manifests it read while planning to the archiver instead "
    "of reading each again. Not cut: the close of a point in time, where a window needs "
    "one, and the live count (the guarantees), the LIST of the partition (stale files and "
    "orphans of any origin), and the GET of each window's manifest (idempotence). The fixed cost per run grows by "
    "the two requests that moved there from every window (the listing of `_staging/` and "
    "the read of the table schema).",
    "",
]


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("--ref", help="Also measure this git commit (the before), in a worktree.")
    ap.add_argument("--windows", type=int, default=6)
    ap.add_argument("--docs", type=int, default=50, help="Documents per window.")
    ap.add_argument("--results", type=Path, default=RESULTS)
    ap.add_argument("--write-docs", action="store_true", help="Update docs/benchmarks.md.")
    args = ap.parse_args(argv)
    if args.windows < 3:
        raise SystemExit("--windows must be at least 3 (per window = N-window run - 2-window run)")
    when = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    with tempfile.TemporaryDirectory(prefix="reconcile-bench-requests-") as tmp:
        work = Path(tmp)
        before = measure(args.ref, args.windows, args.docs, work) if args.ref else None
        after = measure(None, args.windows, args.docs, work)
    for res in (before, after):
        if res is not None:
            res["when"] = when
    args.results.parent.mkdir(parents=True, exist_ok=True)
    args.results.write_text(json.dumps({"before": before, "after": after}, indent=2))
    command = "python -m bench.requests" + (f" --ref {args.ref}" if args.ref else "")
    if args.write_docs:
        command += " --write-docs"
    body = report(before, after, command)
    sys.stdout.write(body + "\n")
    if args.write_docs:
        replace_section(SECTION, body, create=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
