"""Archive benchmark: ``reconcile archive`` against the read limit and what people use instead.

One command, one machine, one run, the same index for every variant (see bench/README.md)::

    python -m bench.archive --docs 250000 1000000

For each size a fresh local Elasticsearch-compatible server (noida-db) is loaded once with
synthetic access-log documents, all in one hour window (loading is not measured). Then
each variant runs in its own subprocess, one after the other:

``raw``          the limit: point-in-time + ``search_after`` on ``_shard_doc`` with the same
                 client and settings as reconcile (elasticsearch-py, orjson serializer,
                 request body, page size, slices, one thread per slice), no-op consumer;
``reconcile``    the ``reconcile archive`` CLI writing zstd Parquet to moto's S3 server;
``naive``        ``elasticsearch.helpers.scan`` into a pandas DataFrame, ``to_parquet``;
``elasticdump``  elasticdump (npm) in point-in-time mode to an NDJSON file.

``--server osmem`` runs raw and reconcile against osmem-server (in-memory, OpenSearch 3 API)
instead: the raw reader then uses OpenSearch's point in time and reconcile's OpenSearch
order, ``[@timestamp, _index, _id]``, through opensearch-py (naive and elasticdump are
Elasticsearch-client tools and are not run there). Its figures go to their own section.

Measured for each: wall-clock docs/s of the whole process, the client process tree's CPU
(user + sys from ``wait4``) per million documents, and its peak RSS (``VmHWM`` sampled every
20 ms; ``ru_maxrss`` would include the bench parent's own high-water mark). The
Python variants also report their import (startup) CPU separately. The servers (noida-db,
moto) run outside the measured process; noida-db's own CPU per variant is reported beside.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager, suppress
from dataclasses import asdict, dataclass, field, replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
NODE_DIR = ROOT / "bench" / ".node"
ELASTICDUMP_VERSION = "6.125.1"
ELASTICDUMP_BIN = NODE_DIR / "node_modules" / "elasticdump" / "bin" / "elasticdump"
RESULTS = ROOT / "bench" / "results" / "archive-latest.json"
#: The environment variable naming a Python worker's RSS trace file (``--rss-trace``).
RSS_TRACE_ENV = "BENCH_RSS_TRACE"
DOCS = ROOT / "docs" / "benchmarks.md"
SECTION = "## Archive (`bench/archive.py`)"
SERVERS = ("noida", "osmem")
SECTIONS = {
    "noida": SECTION,
    "osmem": "## Archive on OpenSearch (`bench/archive.py --server osmem`)",
}
RESULTS_OSMEM = ROOT / "bench" / "results" / "archive-osmem-latest.json"

WINDOW_START = datetime(2026, 11, 1, 12, tzinfo=UTC)  # a closed hour; holds every document
INDEX_PREFIX = "bench-logs-"
BUCKET = "bench-archive"
VARIANTS = ("raw", "reconcile", "naive", "elasticdump")

#: Targets of issue 2, as ratios of reconcile to the raw reader on the same machine.
MIN_WALL_RATIO = 0.9  # reconcile docs/s >= 0.9 x raw docs/s
MAX_CPU_RATIO = 1.5  # reconcile CPU/doc <= 1.5 x raw CPU/doc, start-up excluded (both reported)
MAX_RSS_MB = 300.0
MAX_RSS_GROWTH = 0.10  # from the smallest to the largest size

#: An explicit index mapping, as a Filebeat/Logstash template would give these documents.
MAPPING: dict[str, Any] = {
    "properties": {
        "@timestamp": {"type": "date"},
        "service": {"type": "keyword"},
        "trace_id": {"type": "keyword"},
        "http": {
            "properties": {
                "method": {"type": "keyword"},
                "path": {"type": "keyword"},
                "status": {"type": "short"},
                "bytes_sent": {"type": "long"},
                "duration_ms": {"type": "float"},
            }
        },
        "client": {"properties": {"ip": {"type": "ip"}}},
        "user_agent": {"type": "keyword"},
        "host": {"properties": {"name": {"type": "keyword"}}},
        "tags": {"type": "keyword"},
        "message": {"type": "text"},
    }
}


# -- records -----------------------------------------------------------------------------


#: The requests of a point-in-time read; everything else is "outside the read".
READ_KINDS = ("_pit open", "_search pages (pit)", "DELETE _pit")

#: Figures computed from a run's measurements; written to the results file beside them.
DERIVED = (
    "cpu_s",
    "docs_per_s",
    "cpu_s_per_mdocs",
    "work_cpu_s_per_mdocs",
    "server_cpu_s_per_mdocs",
)


@dataclass(slots=True)
class Run:
    """One variant's run over one index: what the client process cost."""

    variant: str
    size: int
    docs: int
    ok: bool
    wall_s: float
    user_s: float
    sys_s: float
    peak_rss_mb: float
    startup_cpu_s: float | None = None
    work_cpu_s: float | None = None
    work_wall_s: float | None = None
    server_cpu_s: float | None = None
    #: The server's own peak RSS (``VmHWM``): on noida-db, a server started for this run.
    server_peak_rss_mb: float | None = None
    message: str = ""
    #: Modules the measured work imported (start-up should have imported them all).
    imported_in_work: list[str] = field(default_factory=list)
    #: Server requests by kind (see :class:`RequestClock`) and their summed seconds.
    requests: dict[str, int] = field(default_factory=dict)
    request_s: dict[str, float] = field(default_factory=dict)
    #: Seconds from opening the point in time to closing it (``None``: no point in time).
    read_span_s: float | None = None
    #: Median and 90th percentile of the worker's RSS, sampled every half second
    #: (``--rss-trace``; ``None`` without it): steadier figures than the peak.
    rss_p50_mb: float | None = None
    rss_p90_mb: float | None = None

    @property
    def rss_spread(self) -> tuple[float, float] | None:
        """The RSS median and p90 (MB), when the run was traced."""
        if self.rss_p50_mb is None or self.rss_p90_mb is None:
            return None
        return self.rss_p50_mb, self.rss_p90_mb

    @property
    def outside_read(self) -> dict[str, int]:
        """Requests made outside the point-in-time read, by kind."""
        return {k: n for k, n in sorted(self.requests.items()) if k not in READ_KINDS}

    @property
    def cpu_s(self) -> float:
        return self.user_s + self.sys_s

    @property
    def docs_per_s(self) -> float:
        return self.size / self.wall_s if self.wall_s > 0 else 0.0

    @property
    def cpu_s_per_mdocs(self) -> float:
        return self.cpu_s * 1e6 / self.size

    @property
    def work_cpu_s_per_mdocs(self) -> float | None:
        return None if self.work_cpu_s is None else self.work_cpu_s * 1e6 / self.size

    @property
    def server_cpu_s_per_mdocs(self) -> float | None:
        return None if self.server_cpu_s is None else self.server_cpu_s * 1e6 / self.size

    def as_dict(self) -> dict[str, Any]:
        d = asdict(self)
        for key in DERIVED:
            value = getattr(self, key)
            d[key] = None if value is None else round(value, 3)
        return d


@dataclass(slots=True)
class SizeResult:
    """Every variant at one index size."""

    size: int
    load_s: float
    index_mb: float
    runs: list[Run] = field(default_factory=list)


@dataclass(frozen=True, slots=True)
class Params:
    """What every variant reads: the same index, window, page size and slices."""

    es_url: str
    index: str
    page_size: int
    slices: int
    workdir: Path
    server: str = "noida"
    #: Where each Python worker writes its RSS samples (``--rss-trace``), if anywhere.
    rss_trace: Path | None = None

    @property
    def window_query(self) -> dict[str, Any]:
        # The same clause as reconcile.source.elastic.ElasticSource.window_query.
        start = int(WINDOW_START.timestamp() * 1000)
        rng = {"gte": start, "lt": start + 3_600_000, "format": "epoch_millis"}
        return {"bool": {"filter": [{"range": {"@timestamp": rng}}]}}


# -- workers: run inside the measured subprocess -----------------------------------------


class RequestClock:
    """Times every request the worker's server clients send: where the wall-clock goes.

    Both transports are wrapped (elasticsearch-py's and opensearch-py's), so pages, the
    point in time and whatever else a variant asks (reconcile's planning histogram, untimed
    counts, live count, metadata) are all seen, each with its kind (as ``bench/requests``
    names them), start and duration. The wrapper costs microseconds per request.
    """

    def __init__(self) -> None:
        #: (method, path, body, start, end) per request; classified after the work.
        self.sent: list[tuple[str, str, Any, float, float]] = []

    def install(self) -> None:
        """Wrap the transports the worker has imported (called at the end of its start-up,
        so that the clock imports nothing a variant would not)."""
        import bench.requests  # noqa: F401  (its request kinds, imported before the work)

        for module in ("elastic_transport", "opensearchpy.transport"):
            if module in sys.modules:
                self._wrap(sys.modules[module].Transport)

    def _wrap(self, cls: Any) -> None:
        original = cls.perform_request
        sent = self.sent

        def timed(transport: Any, method: str, path: str, *args: Any, **kwargs: Any) -> Any:
            t0 = time.perf_counter()
            try:
                return original(transport, method, path, *args, **kwargs)
            finally:
                sent.append((method, path, kwargs.get("body"), t0, time.perf_counter()))

        cls.perform_request = timed

    def facts(self) -> dict[str, Any]:
        """Requests and their summed seconds by kind, and the read's span: from opening the
        point in time to closing it (the part of the work both readers share)."""
        timed = [(_request_kind(m, p, body), t0, t1) for m, p, body, t0, t1 in self.sent]
        count: dict[str, int] = {}
        seconds: dict[str, float] = {}
        for kind, t0, t1 in timed:
            count[kind] = count.get(kind, 0) + 1
            seconds[kind] = round(seconds.get(kind, 0.0) + t1 - t0, 3)
        opened = [t0 for kind, t0, _ in timed if kind == READ_KINDS[0]]
        closed = [t1 for kind, _, t1 in timed if kind in READ_KINDS[1:]]
        span = round(max(closed) - min(opened), 3) if opened and closed else None
        return {"requests": count, "request_s": seconds, "read_span_s": span}


def _request_kind(method: str, path: str, body: Any) -> str:
    from bench.requests import es_kind

    if "/point_in_time" in path:  # OpenSearch's point in time
        return "DELETE _pit" if method == "DELETE" else "_pit open"
    if isinstance(body, str):
        body = body.encode()
    raw = body if isinstance(body, bytes) else json.dumps(body or {}, default=str).encode()
    return es_kind(method, path, raw)


#: The worker's request clock, installed by each worker as its work starts.
CLOCK = RequestClock()


def _stats(path: str, **facts: Any) -> None:
    Path(path).write_text(json.dumps({**facts, **CLOCK.facts()}))


def worker_raw(a: argparse.Namespace) -> None:
    """The read limit: reconcile's client and request body, nothing done with the hits."""
    if a.server == "osmem":
        worker_raw_opensearch(a)
        return
    from concurrent.futures import ThreadPoolExecutor

    from reconcile.source.config import SourceConfig
    from reconcile.source.elastic import connect

    es = connect(SourceConfig(url=a.es_url, index=a.index, page_size=a.page_size))
    CLOCK.install()
    cpu0, wall0 = time.process_time(), time.perf_counter()
    pit = es.open_point_in_time(index=a.index, keep_alive="5m")["id"]

    def read(slice_id: int) -> int:
        # The same body as reconcile.source.reader.PointInTime.pages.
        body: dict[str, Any] = {
            "size": a.page_size,
            "query": json.loads(a.query),
            "sort": [{"_shard_doc": "asc"}],
            "docvalue_fields": [{"field": "@timestamp", "format": "epoch_millis"}],
            "track_total_hits": False,
        }
        if a.slices > 1:
            body["slice"] = {"id": slice_id, "max": a.slices}
        pit_id, n = pit, 0
        while True:
            resp = es.search(pit={"id": pit_id, "keep_alive": "5m"}, **body)
            pit_id = resp.get("pit_id", pit_id)
            hits = resp["hits"]["hits"]
            n += len(hits)
            if len(hits) < a.page_size:  # a short page is the last: no empty one to ask
                return n
            body["search_after"] = hits[-1]["sort"]

    if a.slices == 1:
        docs = read(0)
    else:
        with ThreadPoolExecutor(a.slices, thread_name_prefix="slice") as pool:
            docs = sum(pool.map(read, range(a.slices)))
    es.close_point_in_time(id=pit)
    _stats(
        a.stats,
        docs=docs,
        startup_cpu_s=cpu0,
        work_cpu_s=time.process_time() - cpu0,
        work_wall_s=time.perf_counter() - wall0,
    )


def worker_raw_opensearch(a: argparse.Namespace) -> None:
    """The read limit on OpenSearch: opensearch-py, its point in time, reconcile's order."""
    from concurrent.futures import ThreadPoolExecutor

    from reconcile.source.config import SourceConfig
    from reconcile.source.opensearch import connect

    client = connect(SourceConfig(url=a.es_url, index=a.index, page_size=a.page_size))
    CLOCK.install()
    cpu0, wall0 = time.process_time(), time.perf_counter()
    pit = client.create_pit(index=a.index, params={"keep_alive": "5m"})["pit_id"]

    def read(slice_id: int) -> int:
        # The same body as reconcile.source.opensearch.OpenSearchPointInTime (order "id").
        body: dict[str, Any] = {
            "size": a.page_size,
            "query": json.loads(a.query),
            "sort": [{"@timestamp": "asc"}, {"_index": "asc"}, {"_id": "asc"}],
            "docvalue_fields": [{"field": "@timestamp", "format": "epoch_millis"}],
            "track_total_hits": False,
        }
        if a.slices > 1:
            body["slice"] = {"id": slice_id, "max": a.slices}
        pit_id, n = pit, 0
        while True:
            body["pit"] = {"id": pit_id, "keep_alive": "5m"}
            resp = client.search(body=body)
            pit_id = resp.get("pit_id", pit_id)
            hits = resp["hits"]["hits"]
            n += len(hits)
            if len(hits) < a.page_size:  # a short page is the last: no empty one to ask
                return n
            body["search_after"] = hits[-1]["sort"]

    if a.slices == 1:
        docs = read(0)
    else:
        with ThreadPoolExecutor(a.slices, thread_name_prefix="slice") as pool:
            docs = sum(pool.map(read, range(a.slices)))
    client.delete_pit(body={"pit_id": [pit]})
    _stats(
        a.stats,
        docs=docs,
        startup_cpu_s=cpu0,
        work_cpu_s=time.process_time() - cpu0,
        work_wall_s=time.perf_counter() - wall0,
    )


def worker_reconcile(a: argparse.Namespace) -> None:
    """The ``reconcile`` console script's entry point, with the flags a user would give."""
    # Start-up, as for raw (which imports its client and creates it before the clock
    # starts): the modules the archive command loads (its CLI module, both server clients:
    # source.kind = auto asks with opensearch-py), and the AWS SDK's S3 model, which every
    # S3 client of the process shares (reconcile.aws). The clients themselves are still
    # created inside the measured work; modules imported there are listed in the stats.
    import elasticsearch  # noqa: F401
    import opensearchpy  # noqa: F401
    import pyarrow.json
    import pyarrow.parquet  # noqa: F401
    import pythonjsonlogger.json  # noqa: F401  (the CLI's JSON logs)

    import reconcile.archive.run
    import reconcile.cli.archive
    import reconcile.source.elastic
    import reconcile.source.opensearch  # noqa: F401
    from reconcile.aws import session
    from reconcile.cli import cli

    session().client("s3", region_name="us-east-1")
    CLOCK.install()
    before = set(sys.modules)

    args = [
        "archive",
        "--es-url",
        a.es_url,
        "--index",
        f"{INDEX_PREFIX}*",
        "--archive",
        a.archive,
        "--from",
        WINDOW_START.strftime("%Y-%m-%dT%H"),
        "--to",
        (WINDOW_START + timedelta(hours=1)).strftime("%Y-%m-%dT%H"),
        "--page-size",
        str(a.page_size),
        "--slices",
        str(a.slices),
        "--force",
        "--format",
        "json",
    ]
    cpu0, wall0 = time.process_time(), time.perf_counter()
    code: int | str | None = 0
    try:
        cli.main(args=args, prog_name="reconcile", standalone_mode=False)
    except SystemExit as exc:
        code = exc.code
    _stats(
        a.stats,
        exit_code=code,
        imported_in_work=sorted(set(sys.modules) - before),
        startup_cpu_s=cpu0,
        work_cpu_s=time.process_time() - cpu0,
        work_wall_s=time.perf_counter() - wall0,
    )
    sys.stdout.flush()
    if code:
        sys.exit(code if isinstance(code, int) else 1)


def worker_naive(a: argparse.Namespace) -> None:
    """The script people write: scroll everything into a DataFrame, then write it."""
    import pandas as pd
    from elasticsearch import Elasticsearch, helpers

    es = Elasticsearch(a.es_url, request_timeout=120)
    CLOCK.install()
    cpu0, wall0 = time.process_time(), time.perf_counter()
    query = {"query": json.loads(a.query)}
    rows = [
        hit["_source"] for hit in helpers.scan(es, index=a.index, query=query, size=a.page_size)
    ]
    df = pd.json_normalize(rows)
    df.to_parquet(a.out, index=False)
    _stats(
        a.stats,
        docs=len(df),
        startup_cpu_s=cpu0,
        work_cpu_s=time.process_time() - cpu0,
        work_wall_s=time.perf_counter() - wall0,
    )


WORKERS = {"raw": worker_raw, "reconcile": worker_reconcile, "naive": worker_naive}


class _NoPandas:
    """An import hook that makes ``import pandas`` fail as it would without the package."""

    def find_spec(self, name: str, path: Any = None, target: Any = None) -> None:
        if name == "pandas" or name.startswith("pandas."):
            raise ModuleNotFoundError(f"No module named {name!r}", name=name)


def worker_main(argv: list[str]) -> None:
    p = argparse.ArgumentParser(prog="python -m bench.archive worker")
    p.add_argument("variant", choices=sorted(WORKERS))
    p.add_argument("--es-url", required=True)
    p.add_argument("--index", required=True)
    p.add_argument("--query", required=True, help="window query clause, JSON")
    p.add_argument("--page-size", type=int, required=True)
    p.add_argument("--slices", type=int, required=True)
    p.add_argument("--stats", required=True, help="file for the worker's own figures")
    p.add_argument("--server", choices=SERVERS, default="noida")
    p.add_argument("--archive", help="reconcile: archive URI")
    p.add_argument("--out", help="naive: Parquet file")
    a = p.parse_args(argv)
    if a.variant in ("raw", "reconcile"):
        # Production installs have no pandas, but the bench extra does (for the naive
        # script); pyarrow imports it lazily on first use (~47 MB RSS). Hide it, as in prod.
        sys.meta_path.insert(0, _NoPandas())
    if a.variant == "raw":
        # The same process settings the reconcile CLI applies, so the two differ only in
        # work done.
        from reconcile.tuning import bound_malloc, tune_gc

        tune_gc()
        bound_malloc()
    if trace := os.environ.get(RSS_TRACE_ENV):
        start_rss_trace(Path(trace))
    WORKERS[a.variant](a)


def start_rss_trace(path: Path, interval: float = 0.5) -> None:
    """Sample this process's RSS and Arrow's allocated bytes into ``path`` (seconds, MB, MB)."""
    import pyarrow as pa

    def sample() -> None:
        t0 = time.perf_counter()
        with path.open("w") as fh:
            while True:
                mb = _status_kb("self", "VmRSS") / 1024
                arrow = pa.total_allocated_bytes() / 2**20
                fh.write(f"{time.perf_counter() - t0:.1f}\t{mb:.0f}\t{arrow:.0f}\n")
                fh.flush()
                time.sleep(interval)

    threading.Thread(target=sample, name="rss-trace", daemon=True).start()


def rss_percentiles(path: Path) -> tuple[float, float] | None:
    """The median and 90th percentile RSS (MB) of a trace; None without samples."""
    if not path.exists():
        return None
    samples = sorted(float(line.split("\t")[1]) for line in path.read_text().splitlines() if line)
    if not samples:
        return None
    return samples[len(samples) // 2], samples[int(len(samples) * 0.9)]


# -- measuring a subprocess ---------------------------------------------------------------


def _servers() -> list[Any]:
    """The server processes (noida-db, osmem-server) started here, as psutil processes."""
    import psutil

    found = []
    for proc in psutil.Process().children(recursive=True):
        try:
            line = " ".join(proc.cmdline())
        except psutil.Error:
            continue
        if "noida" in line or "osmem" in line:
            found.append(proc)
    return found


def _server_cpu() -> float | None:
    """CPU seconds used so far by the server processes started here."""
    try:
        import psutil
    except ImportError:
        return None
    total = 0.0
    for proc in _servers():
        try:
            t = proc.cpu_times()
        except psutil.Error:
            continue
        total += t.user + t.system
    return total


def _server_hwm_mb() -> float | None:
    """The server processes' peak resident sets so far, summed."""
    try:
        procs = _servers()
    except ImportError:
        return None
    return sum(_hwm_kb(p.pid) for p in procs) / 1024


@dataclass(slots=True)
class Measured:
    exit_code: int
    wall_s: float
    user_s: float
    sys_s: float
    peak_rss_mb: float
    server_cpu_s: float | None
    timed_out: bool
    server_peak_rss_mb: float | None = None


def _status_kb(pid: int | str, key: str) -> int:
    """A kB figure of ``/proc/<pid>/status`` (``VmHWM``, ``VmRSS``), 0 once it is gone."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith(f"{key}:"):
                return int(line.split()[1])
    except (OSError, ValueError):
        pass
    return 0


def _hwm_kb(pid: int) -> int:
    """``VmHWM`` of one process (its own peak resident set), 0 once it is gone."""
    return _status_kb(pid, "VmHWM")


def _tree_hwm_kb(pid: int) -> int:
    """The peak resident sets of ``pid`` and its descendants, summed (an upper bound)."""
    total = _hwm_kb(pid)
    try:
        import psutil

        for child in psutil.Process(pid).children(recursive=True):
            total += _hwm_kb(child.pid)
    except Exception:  # the tree changes under us; the next sample sees it
        pass
    return total


class PeakSampler(threading.Thread):
    """Samples the process tree's ``VmHWM`` until stopped.

    ``ru_maxrss`` from ``wait4`` is not the child's own: at exec the kernel carries over the
    high-water mark of the parent's address space, so a bench parent holding 400 MB makes a
    no-op child report 411 MB. ``VmHWM`` starts afresh with the new program."""

    def __init__(self, pid: int, interval: float = 0.02) -> None:
        super().__init__(daemon=True)
        self.pid, self.interval, self.peak_kb = pid, interval, 0
        self.done = threading.Event()

    def run(self) -> None:
        while not self.done.is_set():
            self.peak_kb = max(self.peak_kb, _tree_hwm_kb(self.pid))
            self.done.wait(self.interval)


def measure(cmd: list[str], env: dict[str, str], log: Path, timeout: float) -> Measured:
    """Run ``cmd`` in its own process group; its own wall clock and CPU from wait4, its peak
    RSS from sampled ``VmHWM`` (see :class:`PeakSampler`)."""
    server0 = _server_cpu()
    with open(log.with_suffix(".out"), "wb") as out, open(log.with_suffix(".err"), "wb") as err:
        t0 = time.perf_counter()
        proc = subprocess.Popen(
            cmd,
            stdout=out,
            stderr=err,
            stdin=subprocess.DEVNULL,
            env=env,
            cwd=ROOT,
            start_new_session=True,
        )
        expired = threading.Event()

        def kill() -> None:
            expired.set()
            _killpg(proc.pid)

        timer = threading.Timer(timeout, kill)
        timer.start()
        sampler = PeakSampler(proc.pid)
        sampler.start()
        try:
            _, status, usage = os.wait4(proc.pid, 0)
        except BaseException:
            _killpg(proc.pid)
            raise
        finally:
            timer.cancel()
            sampler.done.set()
            sampler.join()
        wall = time.perf_counter() - t0
    proc.returncode = os.waitstatus_to_exitcode(status)
    server1 = _server_cpu()
    return Measured(
        exit_code=proc.returncode,
        wall_s=wall,
        user_s=usage.ru_utime,
        sys_s=usage.ru_stime,
        peak_rss_mb=sampler.peak_kb / 1024,
        server_cpu_s=None if server0 is None or server1 is None else server1 - server0,
        timed_out=expired.is_set(),
        server_peak_rss_mb=_server_hwm_mb(),
    )


def _killpg(pid: int) -> None:
    """Kill the group of a child that has not been reaped yet (so its id cannot be reused)."""
    with suppress(ProcessLookupError, PermissionError):
        os.killpg(pid, signal.SIGKILL)


# -- the variants, from the parent's side ----------------------------------------------------


def client_env(s3_url: str) -> dict[str, str]:
    """The environment of every measured process: no developer settings, local S3 only."""
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("RECONCILE_", "AWS_", "ES_")) and k != "ELASTICSEARCH_URL"
    }
    env.update(
        AWS_ACCESS_KEY_ID="bench",
        AWS_SECRET_ACCESS_KEY="bench",
        AWS_DEFAULT_REGION="us-east-1",
        AWS_REGION="us-east-1",
        AWS_EC2_METADATA_DISABLED="true",
        AWS_ENDPOINT_URL=s3_url,
        # Exactly --slices slices whatever the size, like the raw reader.
        RECONCILE_SOURCE_SLICE_MIN_DOCS="1",
        RECONCILE_LOG_FORMAT="json",
        PYTHONUNBUFFERED="1",
    )
    return env


def worker_cmd(variant: str, p: Params, stats: Path) -> list[str]:
    """The command line of a Python variant's measured process."""
    return [
        sys.executable,
        "-m",
        "bench.archive",
        "worker",
        variant,
        "--es-url",
        p.es_url,
        "--index",
        p.index,
        "--query",
        json.dumps(p.window_query),
        "--page-size",
        str(p.page_size),
        "--slices",
        str(p.slices),
        "--stats",
        str(stats),
        "--server",
        p.server,
    ]


def run_variant(variant: str, p: Params, size: int, rep: int, s3_url: str, timeout: float) -> Run:
    tag = f"{size}-{variant}-{rep}"
    log = p.workdir / tag
    stats = p.workdir / f"{tag}.stats.json"
    out_file = p.workdir / f"{tag}.output"
    base = worker_cmd(variant, p, stats)
    archive_prefix = f"size-{size}/rep-{rep}"
    if variant == "raw":
        cmd = base
    elif variant == "reconcile":
        cmd = [*base, "--archive", f"s3://{BUCKET}/{archive_prefix}"]
    elif variant == "naive":
        cmd = [*base, "--out", str(out_file)]
    else:
        cmd = elasticdump_cmd(p, out_file)
    env = client_env(s3_url)
    trace = p.rss_trace / f"{tag}.tsv" if p.rss_trace else None
    if trace is not None:
        env[RSS_TRACE_ENV] = str(trace)
    m = measure(cmd, env, log, timeout)
    run = Run(
        variant=variant,
        size=size,
        docs=0,
        ok=False,
        wall_s=round(m.wall_s, 3),
        user_s=round(m.user_s, 3),
        sys_s=round(m.sys_s, 3),
        peak_rss_mb=round(m.peak_rss_mb, 1),
        server_cpu_s=None if m.server_cpu_s is None else round(m.server_cpu_s, 3),
        server_peak_rss_mb=None if m.server_peak_rss_mb is None else round(m.server_peak_rss_mb),
    )
    if stats.exists():
        facts = json.loads(stats.read_text())
        run.startup_cpu_s = round(facts["startup_cpu_s"], 3)
        run.work_cpu_s = round(facts["work_cpu_s"], 3)
        run.work_wall_s = round(facts["work_wall_s"], 3)
        run.docs = int(facts.get("docs", 0))
        run.imported_in_work = list(facts.get("imported_in_work", []))
        run.requests = dict(facts.get("requests", {}))
        run.request_s = dict(facts.get("request_s", {}))
        run.read_span_s = facts.get("read_span_s")
    if trace is not None and (spread := rss_percentiles(trace)) is not None:
        run.rss_p50_mb, run.rss_p90_mb = spread
    if variant == "reconcile":
        run.docs = archived_rows(log.with_suffix(".out"), s3_url, archive_prefix)
    elif variant == "elasticdump" and out_file.exists():
        run.docs = count_lines(out_file)
    out_file.unlink(missing_ok=True)
    run.ok = m.exit_code == 0 and not m.timed_out and run.docs == size
    if not run.ok:
        err = log.with_suffix(".err")
        tail = err.read_text(errors="replace")[-600:] if err.exists() else ""
        why = "timed out" if m.timed_out else f"exit {m.exit_code}"
        run.message = f"{why}, {run.docs} of {size} docs; stderr tail: {tail.strip()}"
    return run


def profile_variant(variant: str, p: Params, size: int, s3_url: str, outdir: Path) -> Path:
    """Run a Python variant once more under py-spy (all threads); returns the flame graph."""
    outdir.mkdir(parents=True, exist_ok=True)
    svg = outdir.resolve() / f"archive-{size}-{variant}.svg"
    cmd = worker_cmd(variant, p, p.workdir / f"profile-{variant}.stats.json")
    if variant == "reconcile":
        cmd += ["--archive", f"s3://{BUCKET}/size-{size}/profile"]
    spy = [shutil.which("py-spy") or "py-spy", "record", "--rate", "100", "--output", str(svg)]
    subprocess.run(
        [*spy, "--", *cmd],
        env=client_env(s3_url),
        cwd=ROOT,
        check=True,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    return svg


def s3_client(s3_url: str) -> Any:
    import boto3

    return boto3.client(
        "s3",
        endpoint_url=s3_url,
        region_name="us-east-1",
        aws_access_key_id="bench",
        aws_secret_access_key="bench",
    )


def archived_rows(stdout: Path, s3_url: str, prefix: str) -> int:
    """Rows reconcile committed, from the manifest it wrote to S3 (0 if none)."""
    lines = [ln for ln in stdout.read_text().splitlines() if ln.startswith("{")]
    if not lines or json.loads(lines[-1]).get("status") != "archived":
        return 0
    s3 = s3_client(s3_url)
    key = f"{prefix}/dt={WINDOW_START:%Y-%m-%d}/hour={WINDOW_START:%H}/_manifest.json"
    manifest = json.loads(s3.get_object(Bucket=BUCKET, Key=key)["Body"].read())
    files = manifest.get("files", [])
    return sum(int(f["rows"]) for f in files)


def count_lines(path: Path) -> int:
    n = 0
    with open(path, "rb") as fh:
        while chunk := fh.read(1 << 22):
            n += chunk.count(b"\n")
    return n


def elasticdump_cmd(p: Params, out: Path) -> list[str]:
    node = shutil.which("node") or "node"
    return [
        node,
        str(ELASTICDUMP_BIN),
        f"--input={p.es_url}/{p.index}",
        f"--output={out}",
        "--type=data",
        f"--limit={p.page_size}",
        "--searchAfter=true",
        "--pit=true",
        "--pitKeepAlive=5m",
        f"--searchBody={json.dumps({'query': p.window_query})}",
    ]


def ensure_elasticdump() -> None:
    """Install the pinned elasticdump into bench/.node when it is missing."""
    if ELASTICDUMP_BIN.exists():
        return
    npm = shutil.which("npm")
    if npm is None or shutil.which("node") is None:
        raise SystemExit("elasticdump needs node and npm (apt-get install nodejs npm)")
    print(f"installing elasticdump {ELASTICDUMP_VERSION} into {NODE_DIR}", file=sys.stderr)
    subprocess.run(
        [
            npm,
            "install",
            "--prefix",
            str(NODE_DIR),
            "--no-audit",
            "--no-fund",
            f"elasticdump@{ELASTICDUMP_VERSION}",
        ],
        check=True,
    )


# -- servers and data -------------------------------------------------------------------------


def load_index(es_url: str, index: str, size: int, server: str = "noida") -> float:
    """Create the index with an explicit mapping and bulk-load ``size`` documents; seconds."""
    from elasticsearch import Elasticsearch

    from reconcile.demo.es_docs import bulk_index, window_docs
    from reconcile.timewin import Window
    from tests.servers import OpenSearchTestClient

    es: Any = (
        OpenSearchTestClient(es_url)
        if server == "osmem"
        else Elasticsearch(es_url, request_timeout=300)
    )
    t0 = time.perf_counter()
    es.indices.create(index=index, mappings=MAPPING)
    docs = window_docs(Window(WINDOW_START), size, seed=size)
    loaded = bulk_index(es, ((index, d) for d in docs), chunk=5000)
    count = int(es.count(index=index)["count"])
    es.close()
    if loaded != size or count != size:
        raise SystemExit(f"loading {index}: indexed {loaded}, counted {count}, wanted {size}")
    return time.perf_counter() - t0


def dir_mb(path: Path) -> float:
    return sum(f.stat().st_size for f in path.rglob("*") if f.is_file()) / 2**20


def settle(limit_s: float = 60, idle_cpu: float = 0.05) -> float:
    """Wait until noida-db has finished post-load work (merges), so no variant pays for it."""
    t0 = time.monotonic()
    last = _server_cpu()
    while last is not None and time.monotonic() - t0 < limit_s:
        time.sleep(2)
        now = _server_cpu()
        if now is None or (now - last) / 2 < idle_cpu:
            break
        last = now
    return time.monotonic() - t0


@contextmanager
def scratch_dir(prefix: str) -> Iterator[Path]:
    """A temporary directory (server data, outputs, logs), removed afterwards."""
    path = Path(tempfile.mkdtemp(prefix=prefix))
    try:
        yield path
    finally:
        shutil.rmtree(path, ignore_errors=True)


# -- report ---------------------------------------------------------------------------------


def ratios(results: list[SizeResult]) -> dict[str, Any]:
    """Reconcile against the raw reader per size, and RSS growth from smallest to largest."""
    per_size = []
    for r in results:
        by = {run.variant: run for run in r.runs}
        raw, rec = by.get("raw"), by.get("reconcile")
        if not (raw and rec and raw.ok and rec.ok):
            continue
        wall = rec.docs_per_s / raw.docs_per_s
        cpu = rec.cpu_s / raw.cpu_s
        entry: dict[str, Any] = {
            "size": r.size,
            "wall_ratio": round(wall, 3),
            "wall_ok": wall >= MIN_WALL_RATIO,
            "cpu_ratio": round(cpu, 3),
            "cpu_ok": cpu <= MAX_CPU_RATIO,
            "peak_rss_mb": rec.peak_rss_mb,
            "rss_ok": rec.peak_rss_mb < MAX_RSS_MB,
        }
        if raw.read_span_s and rec.read_span_s:
            # The point-in-time read both make, from open to close: what is left of the
            # wall-clock once reconcile's planning and verification requests are set aside.
            entry["read_span_ratio"] = round(raw.read_span_s / rec.read_span_s, 3)
        if raw.work_cpu_s and rec.work_cpu_s and raw.work_wall_s and rec.work_wall_s:
            entry["work_wall_ratio"] = round(raw.work_wall_s / rec.work_wall_s, 3)
            entry["work_cpu_ratio"] = round(rec.work_cpu_s / raw.work_cpu_s, 3)
            # The CPU target is per document of work: start-up is a constant, not a rate.
            entry["cpu_ok"] = entry["work_cpu_ratio"] <= MAX_CPU_RATIO
        per_size.append(entry)
    growth: dict[str, Any] = {}
    if len(results) >= 2:
        first, last = results[0], results[-1]
        for variant in VARIANTS:
            a = next((x for x in first.runs if x.variant == variant and x.ok), None)
            b = next((x for x in last.runs if x.variant == variant and x.ok), None)
            if a and b:
                growth[variant] = round(b.peak_rss_mb / a.peak_rss_mb - 1, 3)
    out: dict[str, Any] = {"per_size": per_size, "rss_growth": growth}
    if "reconcile" in growth:
        out["rss_growth_ok"] = growth["reconcile"] < MAX_RSS_GROWTH
    return out


def _mark(ok: bool) -> str:
    return "met" if ok else "**missed**"


METHOD = """\
One command loads a local noida-db with N synthetic access-log documents
(`reconcile.demo.es_docs`, about 450 bytes of JSON each, explicit mapping) in **one index and one
hour window**, then runs each variant in its own subprocess over that same index. Loading
is not measured. Each variant gets a noida-db of its own, started over the loaded data
directory (its document count checked), because noida-db keeps what every point in time
touched: its memory grows run after run. The bench waits for the server to go idle first.

- **raw**: the limit. Point in time + `search_after` on `_shard_doc` with reconcile's own
  client settings (elasticsearch-py, orjson serializer, no transport retries) and request
  body, the same page size and slices, one thread per slice; the hits are counted, nothing
  else. A page shorter than the page size ends a slice (reconcile stops at the slice's
  exact count, which its first page carries), so neither asks for an empty page.
- **reconcile**: `reconcile archive` (the CLI entry point) to moto's S3 server: convert to
  Arrow, zstd Parquet, upload, verify counts, commit the manifest. Default archive settings.
- **naive**: `elasticsearch.helpers.scan` (scroll, default client) into
  `pandas.json_normalize`, then `DataFrame.to_parquet` to a local file.
- **elasticdump** (npm, pinned): `--searchAfter=true --pit=true` to an NDJSON file, one
  stream (it has no slices).

Every server request of a Python variant is timed in its client's transport: the tables
say how much of the wall-clock went to the point-in-time read (open, pages, close) and how
much to the requests made outside it (reconcile's planning histogram, untimed count, live
count and metadata).

Client figures are the measured process tree's own (`wait4`): wall-clock from spawn to
exit (docs/s = N / wall), user + sys CPU seconds per million documents, and peak RSS
(`VmHWM`, sampled; not `ru_maxrss`, which carries the bench parent's own peak). With
`--rss-trace`, each Python worker also samples its own RSS every half second over its
life; the median and 90th percentile of those samples move less between runs than the peak.
"Startup" is the CPU a Python variant spent before its work began: imports and client
set-up. For raw that is its client library and its client; for reconcile the modules the
archive command imports (both server clients, since `source.kind = auto` asks with
opensearch-py) and the AWS SDK's S3 model, which all of a process's S3 clients share
(`reconcile/aws.py`). The clients reconcile creates stay inside its measured work, and the
bench records any module the work imports. Server CPU and peak RSS are noida-db's, for the
server started for that run. noida-db shares the two cores with the client, is far slower
than Elasticsearch (its counts and aggregations scan every document), and its scroll is
cheaper than its point-in-time search (see the server column for naive), so read the
ratios, not the absolute rates. Every run's document count is checked (reconcile's from
its manifest in S3).
"""


METHOD_OSMEM = """\
The same bench against osmem-server, an in-memory OpenSearch 3 compatible server: one index,
N synthetic documents in one hour window, loaded once (not measured), then:

- **raw**: OpenSearch's point in time (`POST /<index>/_search/point_in_time`) +
  `search_after` on reconcile's OpenSearch order `[@timestamp, _index, _id]` through
  opensearch-py with reconcile's client settings and request body, same page size and
  slices, one thread per slice; hits counted only; a short page ends a slice.
- **reconcile**: `reconcile archive` (the CLI; `source.kind = auto` finds OpenSearch) to
  moto's S3 server, every step as on Elasticsearch (convert, zstd Parquet, upload, verify,
  commit).

Client and server figures as in the section above; osmem-server's CPU is its own process.
It shares the two cores with the client and keeps everything in memory (no disk figure).
"""


def markdown(results: list[SizeResult], summary: dict[str, Any], meta: dict[str, Any]) -> str:
    """The body of the Archive section of docs/benchmarks.md."""
    m, v = meta["machine"], meta["versions"]
    loads = ", ".join(
        f"{r.size:,} in {r.load_s:.0f} s ({r.index_mb:,.0f} MB on disk)" for r in results
    )
    head: list[str] = []
    if meta.get("server") == "osmem":
        loads = ", ".join(f"{r.size:,} in {r.load_s:.0f} s" for r in results)
        head = [
            METHOD_OSMEM,
            f"Run {meta['date']}: {m['cpu']}, {m['cores']} cores, {m['ram_gib']} GiB, {m['os']}; "
            f"Python {v['python']}, logflow-reconcile {v['logflow-reconcile']}, opensearch-py "
            f"{v.get('opensearch-py', '?')}, pyarrow {v['pyarrow']}, osmem-server "
            f"{v.get('osmem-server', '?')}. Page size {meta['page_size']}, {meta['slices']} "
            f"slices, {meta['repeat']} run(s) per variant. Loaded: {loads}.",
            "",
        ]
    lines = head or [
        METHOD,
        f"Run {meta['date']}: {m['cpu']}, {m['cores']} cores, {m['ram_gib']} GiB, {m['os']}; "
        f"Python {v['python']}, logflow-reconcile {v['logflow-reconcile']}, elasticsearch-py "
        f"{v['elasticsearch']}, pyarrow {v['pyarrow']}, pandas {v['pandas']}, noida-db "
        f"{v['noida-db']}, node {v.get('node', '?')}, elasticdump {v['elasticdump']}. Page size "
        f"{meta['page_size']}, {meta['slices']} slices, {meta['repeat']} run(s) per variant "
        f"(median by wall-clock, worst peak RSS). Loaded: {loads}.",
        "",
    ]
    if results and results[-1].size < 250_000:
        lines += [
            "**Validation run at small sizes only** (the issue's figures are at 250,000 and "
            "1,000,000 documents); startup dominates here.",
            "",
        ]
    lines += [
        "| docs | variant | docs/s | client CPU s / M docs | of which startup s "
        "| peak RSS MB | RSS median / p90 MB | server CPU s / M docs | server peak RSS MB |",
        "|---:|---|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for r in results:
        for run in r.runs:
            if not run.ok:
                why = _failure(run.message)
                lines.append(f"| {r.size:,} | {run.variant} | failed: {why} | | | | | | |")
                continue
            startup = "" if run.startup_cpu_s is None else f"{run.startup_cpu_s:.1f}"
            server = run.server_cpu_s_per_mdocs
            server_mb = run.server_peak_rss_mb
            rss = run.rss_spread
            spread = "" if rss is None else f"{rss[0]:,.0f} / {rss[1]:,.0f}"
            lines.append(
                f"| {r.size:,} | {run.variant} | {run.docs_per_s:,.0f} | "
                f"{run.cpu_s_per_mdocs:,.0f} | {startup} | {run.peak_rss_mb:,.0f} | {spread} | "
                f"{'' if server is None else f'{server:,.0f}'} | "
                f"{'' if server_mb is None else f'{server_mb:,.0f}'} |"
            )
    lines += ["", *wall_clock_table(results)]
    lines += ["", "Targets, reconcile against raw on the same index:", ""]
    for e in summary["per_size"]:
        if "work_cpu_ratio" in e:
            cpu = (
                f"client CPU excluding startup {e['work_cpu_ratio']:.2f}x (target ≤ "
                f"{MAX_CPU_RATIO:g}: {_mark(e['cpu_ok'])}), with startup {e['cpu_ratio']:.2f}x "
                f"(wall excluding startup {e['work_wall_ratio']:.2f}x)"
            )
        else:
            cpu = f"client CPU {e['cpu_ratio']:.2f}x (target ≤ {MAX_CPU_RATIO:g}: {_mark(e['cpu_ok'])})"
        read = (
            f", the point-in-time read alone {e['read_span_ratio']:.2f}x"
            if "read_span_ratio" in e
            else ""
        )
        lines.append(
            f"- {e['size']:,} docs: wall-clock {e['wall_ratio']:.2f}x "
            f"(target ≥ {MIN_WALL_RATIO}: {_mark(e['wall_ok'])}{read}); {cpu}; "
            f"peak RSS {e['peak_rss_mb']:.0f} MB (target < {MAX_RSS_MB:.0f}: "
            f"{_mark(e['rss_ok'])})."
        )
    growth = summary["rss_growth"]
    if growth:
        sizes = f"{results[0].size:,} → {results[-1].size:,} docs"
        parts = ", ".join(f"{name} {g:+.0%}" for name, g in growth.items())
        line = f"- Peak RSS growth {sizes}: {parts}"
        if "rss_growth_ok" in summary:
            line += f" (reconcile target < {MAX_RSS_GROWTH:.0%}: {_mark(summary['rss_growth_ok'])})"
        lines.append(line + ".")
    lines += ["", f"Command: `{meta['command']}`; raw figures in `{meta['results']}`."]
    return "\n".join(lines) + "\n"


def _failure(message: str) -> str:
    """Why a run failed, for a table cell: the exit and the last line of its stderr."""
    head, _, tail = message.partition("stderr tail:")
    lines = [ln.strip() for ln in tail.splitlines() if ln.strip()]
    why = f"{head.strip()} {lines[-1] if lines else ''}".strip()
    return why[:200].replace("|", "/")


def wall_clock_table(results: list[SizeResult]) -> list[str]:
    """Where each variant's wall-clock went, from its transport's request clock."""
    lines = [
        "Where the wall-clock went (every server request timed in the client's transport): "
        "the point-in-time read (open, pages, close) and the requests made outside it.",
        "",
        "| docs | variant | server requests | point-in-time read s | requests outside the "
        "read | their s | rest of the work s |",
        "|---:|---|---:|---:|---:|---:|---:|",
    ]
    for r in results:
        for run in r.runs:
            if not run.ok or not run.requests:
                continue
            outside = run.outside_read
            n = sum(outside.values())
            secs = sum(run.request_s.get(k, 0.0) for k in outside)
            span = run.read_span_s
            rest = (
                ""
                if span is None or run.work_wall_s is None
                else f"{run.work_wall_s - span - secs:.1f}"
            )
            kinds = ", ".join(f"{k} {c}" for k, c in outside.items())
            lines.append(
                f"| {r.size:,} | {run.variant} | {sum(run.requests.values())} | "
                f"{'' if span is None else f'{span:.1f}'} | {n}{f' ({kinds})' if kinds else ''} "
                f"| {secs:.1f} | {rest} |"
            )
    return lines


def write_docs(body: str, path: Path = DOCS, section: str = SECTION) -> None:
    """Replace the body of this bench's section in docs/benchmarks.md, nothing else."""
    text = path.read_text()
    if section not in text:  # a new section goes right after the Elasticsearch one
        nxt = text.find("\n## ", text.index(SECTION) + len(SECTION))
        at = len(text) if nxt == -1 else nxt + 1
        text = text[:at] + section + "\n\n" + text[at:]
    start = text.index(section) + len(section)
    nxt = text.find("\n## ", start)
    end = len(text) if nxt == -1 else nxt + 1
    path.write_text(text[:start] + "\n\n" + body.strip() + "\n\n" + text[end:])


def machine() -> dict[str, Any]:
    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    ram = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30
    return {"cpu": cpu, "cores": os.cpu_count(), "ram_gib": round(ram), "os": platform.platform()}


def versions() -> dict[str, str]:
    from importlib.metadata import PackageNotFoundError, version

    out = {"python": platform.python_version()}
    for dist in (
        "logflow-reconcile",
        "elasticsearch",
        "opensearch-py",
        "pyarrow",
        "pandas",
        "noida-db",
        "osmem-server",
        "moto",
    ):
        try:
            out[dist] = version(dist)
        except PackageNotFoundError:
            out[dist] = "missing"
    node = shutil.which("node")
    if node:
        out["node"] = subprocess.run(
            [node, "--version"], capture_output=True, text=True
        ).stdout.strip()
    out["elasticdump"] = ELASTICDUMP_VERSION
    return out


# -- main -----------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Options:
    sizes: list[int]
    variants: list[str]
    page_size: int
    slices: int
    repeat: int
    timeout: float
    tmp: Path
    results: Path
    profile: Path | None
    write_docs: bool
    report: Path | None
    server: str = "noida"
    rss_trace: Path | None = None


def parse_args(argv: list[str]) -> Options:
    from reconcile.source.config import SourceConfig

    defaults = SourceConfig()
    p = argparse.ArgumentParser(
        prog="python -m bench.archive",
        description="Benchmark reconcile archive against raw PIT reads, the naive script and elasticdump.",
    )
    p.add_argument(
        "--docs",
        type=int,
        nargs="+",
        default=[250_000, 1_000_000],
        help="index sizes, smallest first (default: 250000 1000000)",
    )
    p.add_argument(
        "--server",
        choices=SERVERS,
        default="noida",
        help="noida (Elasticsearch API, every variant) or osmem (OpenSearch API: raw and reconcile)",
    )
    p.add_argument("--variants", nargs="+", choices=VARIANTS, help="default: all the server runs")
    p.add_argument(
        "--page-size",
        type=int,
        default=defaults.page_size,
        help="search_after page size for every variant (default: reconcile's)",
    )
    p.add_argument(
        "--slices",
        type=int,
        default=defaults.slices,
        help="point-in-time slices for raw and reconcile (default: reconcile's)",
    )
    p.add_argument(
        "--repeat",
        type=int,
        default=1,
        help="runs of each variant per size; the median run is kept",
    )
    p.add_argument("--timeout", type=float, default=1800, help="seconds per variant run")
    p.add_argument(
        "--tmp",
        type=Path,
        default=Path(tempfile.gettempdir()),
        help="where server data and outputs go (removed after each size)",
    )
    p.add_argument(
        "--results",
        type=Path,
        help=f"JSON results file (default {RESULTS.name}, {RESULTS_OSMEM.name} for osmem)",
    )
    p.add_argument(
        "--profile",
        type=Path,
        metavar="DIR",
        help="after measuring, run raw and reconcile once more under py-spy; flame graphs to DIR",
    )
    p.add_argument(
        "--rss-trace",
        type=Path,
        metavar="DIR",
        help="Python workers sample their RSS every 0.5 s into DIR/<size>-<variant>-<rep>.tsv; "
        "the runs then carry its median and 90th percentile",
    )
    p.add_argument(
        "--write-docs",
        action="store_true",
        help="replace the Archive section of docs/benchmarks.md with this run's report",
    )
    p.add_argument(
        "--report",
        type=Path,
        metavar="JSON",
        help="run nothing: print (and with --write-docs write) the report of a results file",
    )
    a = p.parse_args(argv)
    if a.variants is None:
        a.variants = list(VARIANTS) if a.server == "noida" else ["raw", "reconcile"]
    if a.server == "osmem" and set(a.variants) - {"raw", "reconcile"}:
        p.error("--server osmem runs raw and reconcile only (the others are Elasticsearch clients)")
    if a.results is None:
        a.results = RESULTS if a.server == "noida" else RESULTS_OSMEM
    if a.profile and shutil.which("py-spy") is None:
        p.error("--profile needs py-spy on PATH (pip install py-spy)")
    return Options(
        sorted(a.docs),
        a.variants,
        a.page_size,
        a.slices,
        a.repeat,
        a.timeout,
        a.tmp,
        a.results,
        a.profile,
        a.write_docs,
        a.report,
        a.server,
        a.rss_trace,
    )


def median_run(runs: list[Run]) -> Run:
    ok = [r for r in runs if r.ok]
    if not ok:
        return runs[-1]
    best = sorted(ok, key=lambda r: r.wall_s)[len(ok) // 2]
    best.peak_rss_mb = max(r.peak_rss_mb for r in ok)  # the worst peak is the honest one
    return best


@dataclass(slots=True)
class Bench:
    opts: Options
    s3_url: str = ""
    results: list[SizeResult] = field(default_factory=list)

    def run(self) -> None:
        from tests.servers import moto_server

        with moto_server() as s3_url:
            self.s3_url = s3_url
            s3_client(s3_url).create_bucket(Bucket=BUCKET)
            for size in self.opts.sizes:
                self.results.append(self.one_size(size))

    def one_size(self, size: int) -> SizeResult:
        from reconcile.demo.es_docs import daily_index
        from tests.servers import elasticsearch_server, opensearch_server

        index = daily_index(INDEX_PREFIX, WINDOW_START)
        server = self.opts.server
        trace = self.opts.rss_trace
        if trace is not None:
            trace.mkdir(parents=True, exist_ok=True)
        with scratch_dir(f"bench-archive-{size}-") as work:
            if server == "osmem":  # in memory: one server holds the index for every variant
                with opensearch_server(work) as es_url:
                    result = self.load(size, es_url, index, work)
                    self.measure(
                        result,
                        Params(
                            es_url,
                            index,
                            self.opts.page_size,
                            self.opts.slices,
                            work,
                            server,
                            trace,
                        ),
                        None,
                    )
                return result
            # noida-db keeps what each point in time touched (its RSS grows run after run),
            # so every variant gets a server of its own, started over the loaded data.
            with elasticsearch_server(work) as es_url:
                result = self.load(size, es_url, index, work)
            params = Params("", index, self.opts.page_size, self.opts.slices, work, server, trace)
            self.measure(result, params, lambda: elasticsearch_server(work, ready_s=900))
        return result

    def load(self, size: int, es_url: str, index: str, work: Path) -> SizeResult:
        server = self.opts.server
        _say(f"[{size:,}] loading into {server} at {es_url} (not measured) ...")
        load_s = load_index(es_url, index, size, server)
        index_mb = dir_mb(work / "noida-data")  # osmem-server holds it in memory: 0
        _say(
            f"[{size:,}] loaded in {load_s:.0f}s ({size / load_s:,.0f} docs/s), "
            f"{index_mb:,.0f} MB on disk"
        )
        return SizeResult(size, round(load_s, 1), round(index_mb, 1))

    def measure(
        self,
        result: SizeResult,
        params: Params,
        fresh: Callable[[], AbstractContextManager[str]] | None,
    ) -> None:
        """Every variant (and profile), each on a fresh server when ``fresh`` starts one."""
        size = result.size

        @contextmanager
        def serving() -> Iterator[Params]:
            if fresh is None:
                _say(f"[{size:,}] waited {settle():.0f}s for the server to go idle")
                yield params
                return
            with fresh() as url:
                _check_count(url, params.index, size)
                _say(f"[{size:,}] fresh server at {url}; idle after {settle():.0f}s")
                yield replace(params, es_url=url)

        runs: dict[str, list[Run]] = {v: [] for v in self.opts.variants}
        for rep in range(self.opts.repeat):
            for variant in self.opts.variants:
                with serving() as p:
                    run = run_variant(variant, p, size, rep, self.s3_url, self.opts.timeout)
                runs[variant].append(run)
                _say(f"[{size:,}] {_describe(run)}")
        result.runs = [median_run(runs[v]) for v in self.opts.variants]
        if self.opts.profile:
            for variant in ("raw", "reconcile"):
                with serving() as p:
                    svg = profile_variant(variant, p, size, self.s3_url, self.opts.profile)
                _say(f"[{size:,}] {variant} profile: {svg}")


def _check_count(es_url: str, index: str, size: int) -> None:
    """The restarted server holds the loaded documents, all of them."""
    from elasticsearch import Elasticsearch

    es = Elasticsearch(es_url, request_timeout=300)
    try:
        count = int(es.count(index=index)["count"])
    finally:
        es.close()
    if count != size:
        raise SystemExit(f"{index}: the restarted server counts {count}, {size} were loaded")


def _describe(run: Run) -> str:
    if not run.ok:
        return f"{run.variant}: FAILED {run.message}"
    late = (
        f"; {len(run.imported_in_work)} modules imported after start-up"
        if run.imported_in_work
        else ""
    )
    rss = run.rss_spread
    spread = "" if rss is None else f" (median {rss[0]:,.0f}, p90 {rss[1]:,.0f})"
    return (
        f"{run.variant}: {run.docs_per_s:,.0f} docs/s, {run.cpu_s_per_mdocs:,.0f} CPU s/M docs, "
        f"peak RSS {run.peak_rss_mb:,.0f} MB{spread} ({run.wall_s:.1f}s wall){late}"
    )


def _say(text: str) -> None:
    print(text, file=sys.stderr, flush=True)


def load_results(path: Path) -> tuple[list[SizeResult], dict[str, Any]]:
    """Results and metadata back from a results file."""
    doc = json.loads(path.read_text())
    names = set(Run.__dataclass_fields__)
    results = [
        SizeResult(
            x["size"],
            x["load_s"],
            x["index_mb"],
            [Run(**{k: v for k, v in r.items() if k in names}) for r in x["runs"]],
        )
        for x in doc["sizes"]
    ]
    return results, doc["meta"]


def save_results(path: Path, results: list[SizeResult], meta: dict[str, Any]) -> None:
    doc = {
        "meta": meta,
        "sizes": [
            {
                "size": r.size,
                "load_s": r.load_s,
                "index_mb": r.index_mb,
                "runs": [x.as_dict() for x in r.runs],
            }
            for r in results
        ],
        "summary": ratios(results),
    }
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".json.tmp")
    tmp.write_text(json.dumps(doc, indent=1) + "\n")
    tmp.replace(path)


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if argv[:1] == ["worker"]:
        worker_main(argv[1:])
        return 0
    opts = parse_args(argv)
    if opts.report:
        results, meta = load_results(opts.report)
    else:
        if "elasticdump" in opts.variants:
            ensure_elasticdump()
        tempfile.tempdir = str(opts.tmp)
        started = datetime.now(UTC)
        bench = Bench(opts)
        bench.run()
        results = bench.results
        meta = {
            "date": started.strftime("%Y-%m-%d %H:%M UTC"),
            "command": " ".join(["python -m bench.archive", *argv]),
            "results": _display_path(opts.results),
            "machine": machine(),
            "versions": versions(),
            "page_size": opts.page_size,
            "slices": opts.slices,
            "repeat": opts.repeat,
            "window": WINDOW_START.isoformat(),
            "layout": "one index, every document in one hour window",
            "server": opts.server,
        }
        save_results(opts.results, results, meta)
        _say(f"results: {opts.results}")
    body = markdown(results, ratios(results), meta)
    print(body)
    if opts.write_docs:
        section = SECTIONS[meta.get("server", "noida")]
        write_docs(body, section=section)
        _say(f"updated {section!r} in {DOCS}")
    failed = [run for r in results for run in r.runs if not run.ok]
    return 1 if failed else 0


def _display_path(path: Path) -> str:
    try:
        return path.resolve().relative_to(ROOT).as_posix()
    except ValueError:
        return str(path)


if __name__ == "__main__":
    sys.exit(main())
