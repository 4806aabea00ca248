"""Synthetic ALB access logs and RequestCount metrics, for the tests, the demo and benchmarks.

:func:`write_alb_logs` writes ``.log.gz`` objects in the real key layout and line format: one
file per load-balancer node and five-minute interval, in the folder of its delivery date
(so requests created at 23:55-23:59 land in the next day's folder), with WAF-blocked,
redirected and fixed-response requests beside the forwarded ones, slow requests logged in a
later interval than they were created in, and lines in the three formats seen in the wild
(up to ``classification_reason``; with ``conn_trace_id``; with the newest rewrite fields)
plus, optionally, fields newer than any parser knows. :func:`put_request_counts` puts the
matching one-minute ``RequestCount`` datapoints into CloudWatch (or moto's server).

Both take the hourly number of requests the *application* should see (what
``expected_counts`` returns with the default filters), so the two sources agree.
Deterministic for a seed.
"""

from __future__ import annotations

import gzip
import random
from collections import Counter, defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from ..expected.alb_keys import object_key
from ..expected.cloudwatch import make_client
from ..storage import ObjectStore, open_store
from ..timewin import Window, floor_hour

DEFAULT_LB = "app/hub-prod/50dc6c495c0c9188"
DEFAULT_TG = "targetgroup/hub-prod-web/73e2d6bc24d8a067"
PATHS = [
    "/api/v1/orders",
    "/api/v1/users/42",
    "/api/v1/search?q=shoes",
    "/static/app.js",
    "/api/v2/cart",
]
AGENTS = ["Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36", "curl/8.5.0", "okhttp/4.12.0"]
CIPHER, TLS = "ECDHE-RSA-AES128-GCM-SHA256", "TLSv1.2"
#: Lines a broken writer or a truncated upload might leave (every fourth is a cut-off entry).
BROKEN = ["this is not an access log line", "", "https 2026-11-20T10:00:00.000000Z app/truncated"]


@dataclass(frozen=True)
class SynthMix:
    """Extra requests the application never sees, and line-format shares."""

    waf_blocked: float = 0.03
    """WAF-blocked requests per counted request (403, actions "waf", no target)."""
    redirect: float = 0.02
    """Requests answered by a redirect rule (301, actions "redirect")."""
    fixed_response: float = 0.01
    """Requests answered by a fixed-response rule (actions "fixed-response")."""
    health: float = 0.05
    """Share of counted requests to /health (counted by default; a path filter can drop them)."""
    slow: float = 0.01
    """Share of counted requests taking 1-4 minutes (logged in a later interval)."""
    newest_fields: float = 0.4
    """Share of lines with the newest trailing fields (transformed_host, transformed_uri, request_transform_status)."""
    no_trace_id: float = 0.1
    """Share of lines in the older format ending at classification_reason."""
    future_fields: float = 0.05
    """Share of lines carrying fields newer than any known ("future-field" ...)."""


@dataclass
class SynthResult:
    """What was written, so tests know the right answers."""

    keys: list[str] = field(default_factory=list)
    counted: dict[Window, int] = field(default_factory=dict)
    """Requests the default filters count, per window (the ``hourly`` argument)."""
    excluded: dict[str, dict[Window, int]] = field(default_factory=dict)
    """Extra requests per exclusion reason (waf_blocked, redirect, fixed_response) per window."""
    health: dict[Window, int] = field(default_factory=dict)
    """Counted requests to /health per window."""
    per_host: dict[str, dict[Window, int]] = field(default_factory=dict)
    """Counted requests per URL host per window."""
    malformed: list[tuple[str, int]] = field(default_factory=list)
    """(key, line number) of every malformed line written."""
    lines: int = 0
    bytes: int = 0


def _window(hour: datetime | Window) -> Window:
    return hour if isinstance(hour, Window) else Window(floor_hour(hour))


def _ceil5(t: datetime) -> datetime:
    """The end of the five-minute interval holding ``t`` (an exact boundary ends its own)."""
    base = t.replace(second=0, microsecond=0, minute=t.minute - t.minute % 5)
    return base if base == t else base + timedelta(minutes=5)


def _iso(t: datetime) -> str:
    return t.strftime("%Y-%m-%dT%H:%M:%S.%fZ")


@dataclass
class _Request:
    kind: str  # forward, waf_blocked, redirect, fixed_response
    created: datetime
    host: str
    path: str
    duration: float


#: One entry up to ``classification_reason``, field order of the ALB user guide.
ENTRY = (
    "{type} {time} {elb} {client} {target} {rpt} {tpt} {rspt} {elb_status} {target_status} "
    '{received} {sent} "{request}" "{user_agent}" {ssl_cipher} {ssl_protocol} {target_group_arn} '
    '"{trace_id}" "{domain_name}" "{chosen_cert_arn}" {matched_rule_priority} '
    '{request_creation_time} "{actions_executed}" "{redirect_url}" "{error_reason}" '
    '"{target_port_list}" "{target_status_code_list}" "{classification}" "{classification_reason}"'
)
CERT = "arn:aws:acm:us-east-1:123456789012:certificate/1"


def _fields(rng: random.Random, r: _Request, lb: str, tg_arn: str) -> dict[str, str]:
    """The entry's fields for one request; the load balancer answers all but ``forward``."""
    done = r.created + timedelta(seconds=r.duration)
    url = f"https://{r.host}:443{r.path}"
    f = {
        "type": "https",
        "time": _iso(done),
        "elb": lb,
        "client": f"203.0.{rng.randrange(256)}.{rng.randrange(1, 255)}:{rng.randrange(1024, 65535)}",
        "target": "-",
        "rpt": "-1",
        "tpt": "-1",
        "rspt": "-1",
        "target_status": "-",
        "received": str(rng.randrange(200, 2000)),
        "sent": str(rng.randrange(150, 600)),
        "request": f"GET {url} HTTP/1.1",
        "user_agent": rng.choice(AGENTS),
        "ssl_cipher": CIPHER,
        "ssl_protocol": TLS,
        "target_group_arn": "-",
        "trace_id": f"Root=1-{int(r.created.timestamp()):08x}-{rng.getrandbits(96):024x}",
        "domain_name": r.host,
        "chosen_cert_arn": CERT,
        "matched_rule_priority": "1",
        "request_creation_time": _iso(r.created),
        "redirect_url": "-",
        "error_reason": "-",
        "target_port_list": "-",
        "target_status_code_list": "-",
        "classification": "-",
        "classification_reason": "-",
    }
    if r.kind == "forward":
        target = f"10.0.{rng.randrange(4)}.{rng.randrange(1, 255)}:8080"
        status = rng.choice(["200"] * 18 + ["201", "404", "500"])
        f.update(
            target=target,
            rpt="0.001",
            tpt=f"{r.duration:.3f}",
            rspt="0.000",
            elb_status=status,
            target_status=status,
            sent=str(rng.randrange(300, 60000)),
            target_group_arn=tg_arn,
            actions_executed=rng.choice(["forward"] * 6 + ["waf,forward", "authenticate,forward"]),
            target_port_list=target,
            target_status_code_list=status,
        )
    elif r.kind == "waf_blocked":
        f.update(elb_status="403", matched_rule_priority="-", actions_executed="waf")
    elif r.kind == "redirect":
        f.update(
            type="http",
            request=f"GET http://{r.host}:80{r.path} HTTP/1.1",
            ssl_cipher="-",
            ssl_protocol="-",
            domain_name="-",
            chosen_cert_arn="-",
            elb_status="301",
            actions_executed="redirect",
            redirect_url=url,
        )
    else:
        f.update(elb_status="404", matched_rule_priority="2", actions_executed="fixed-response")
    return f


def _line(rng: random.Random, r: _Request, lb: str, tg_arn: str, mix: SynthMix) -> str:
    """One log line, in one of the formats ALBs have written (and may write next)."""
    line = ENTRY.format(**_fields(rng, r, lb, tg_arn))
    roll = rng.random()
    if roll < mix.no_trace_id:
        return line
    line += f" TID_{rng.getrandbits(128):032x}"
    if roll < mix.no_trace_id + mix.newest_fields:
        line += ' "-" "-" "-"'
    if rng.random() < mix.future_fields:
        line += ' "future-field" 42'
    return line


def _requests(
    rng: random.Random, window: Window, n: int, mix: SynthMix, hosts: list[str]
) -> Iterable[_Request]:
    extra = {
        "waf_blocked": round(n * mix.waf_blocked),
        "redirect": round(n * mix.redirect),
        "fixed_response": round(n * mix.fixed_response),
    }
    kinds = ["forward"] * n + [k for k, m in extra.items() for _ in range(m)]
    rng.shuffle(kinds)
    step = 3600.0 / max(len(kinds), 1)
    for i, kind in enumerate(kinds):
        created = window.start + timedelta(
            seconds=i * step + rng.random() * step, microseconds=rng.randrange(1000)
        )
        created = min(created, window.end - timedelta(microseconds=1))
        path = "/health" if kind == "forward" and rng.random() < mix.health else rng.choice(PATHS)
        slow = kind == "forward" and rng.random() < mix.slow
        duration = rng.uniform(60, 240) if slow else rng.uniform(0.002, 0.4)
        yield _Request(kind, created, hosts[i % len(hosts)], path, duration)


def write_alb_logs(
    store: ObjectStore | str,
    hourly: Mapping[datetime | Window, int],
    *,
    load_balancer: str = DEFAULT_LB,
    account_id: str = "123456789012",
    region: str = "us-east-1",
    target_group: str = DEFAULT_TG,
    hosts: Iterable[str] = ("hub.example.com",),
    mix: SynthMix | None = None,
    nodes: int = 2,
    malformed_lines: int = 0,
    seed: int = 0,
) -> SynthResult:
    """Write access-log objects under ``store`` for ``hourly`` counted requests per window.

    ``store`` is an :class:`ObjectStore` or a URI (``s3://bucket/prefix`` or a path): the same
    value a job gives as ``expected.alb_logs_uri``. ``malformed_lines`` broken lines (garbage
    and truncated entries) are slipped into the first object; their places are returned.
    """
    mix = mix or SynthMix()
    dest = open_store(store) if isinstance(store, str) else store
    rng = random.Random(seed)
    hosts_list = list(hosts)
    tg_arn = f"arn:aws:elasticloadbalancing:{region}:{account_id}:{target_group}"
    node_ips = [f"10.0.{200 + i}.{10 + i}" for i in range(nodes)]
    result = SynthResult()
    files: dict[tuple[datetime, str], list[tuple[datetime, str]]] = defaultdict(list)
    excluded: dict[str, Counter[Window]] = defaultdict(Counter)
    health: Counter[Window] = Counter()
    per_host: dict[str, Counter[Window]] = defaultdict(Counter)
    for hour, n in sorted(((_window(h), n) for h, n in hourly.items()), key=lambda x: x[0]):
        result.counted[hour] = result.counted.get(hour, 0) + n
        for req in _requests(rng, hour, n, mix, hosts_list):
            if req.kind == "forward":
                per_host[req.host][hour] += 1
                if req.path == "/health":
                    health[hour] += 1
            else:
                excluded[req.kind][hour] += 1
            done = req.created + timedelta(seconds=req.duration)
            line = _line(rng, req, load_balancer, tg_arn, mix)
            files[(_ceil5(done), rng.choice(node_ips))].append((done, line))
    for i, ((end, ip), entries) in enumerate(sorted(files.items())):
        entries.sort()
        rows = [(text, False) for _, text in entries]
        key = object_key(account_id, region, load_balancer, end, ip, f"{rng.getrandbits(32):08x}")
        if i == 0:
            for j in range(malformed_lines):
                bad = BROKEN[j % len(BROKEN)] if j % 4 != 3 else entries[0][1][:80]
                rows.insert(rng.randrange(len(rows) + 1), (bad, True))
            result.malformed = [(key, n + 1) for n, (_, bad) in enumerate(rows) if bad]
        lines = [text for text, _ in rows]
        body = gzip.compress(("\n".join(lines) + "\n").encode(), compresslevel=5)
        dest.put_bytes(key, body)
        result.keys.append(key)
        result.lines += len(lines)
        result.bytes += len(body)
    wins = sorted(result.counted)
    result.excluded = {k: {w: c[w] for w in wins} for k, c in excluded.items()}
    result.health = {w: health[w] for w in wins}
    result.per_host = {h: {w: c[w] for w in wins} for h, c in per_host.items()}
    return result


def minute_values(n: int) -> list[int]:
    """``n`` requests spread over the 60 minutes of an hour (earlier minutes get the rest)."""
    base, rest = divmod(n, 60)
    return [base + (1 if m < rest else 0) for m in range(60)]


def put_request_counts(
    hourly: Mapping[datetime | Window, int],
    load_balancer: str = DEFAULT_LB,
    *,
    target_group: str | None = None,
    client: Any = None,
    region: str | None = None,
) -> int:
    """Put one-minute ``AWS/ApplicationELB`` ``RequestCount`` datapoints for ``hourly`` counts.

    Minutes without requests get no datapoint, as the ALB publishes them (an hour with
    fewer than 60 requests has gaps). With ``target_group`` the series has dimensions LoadBalancer and TargetGroup.
    Returns the number of ``PutMetricData`` calls made.
    """
    if client is None:
        client = make_client(region)
    dims = [{"Name": "LoadBalancer", "Value": load_balancer}]
    if target_group:
        dims.append({"Name": "TargetGroup", "Value": target_group})
    data: list[dict[str, Any]] = []
    for hour, n in sorted(((_window(h), n) for h, n in hourly.items()), key=lambda x: x[0]):
        for minute, v in enumerate(minute_values(n)):
            if v:
                data.append(
                    {
                        "MetricName": "RequestCount",
                        "Dimensions": dims,
                        "Timestamp": hour.start + timedelta(minutes=minute),
                        "Value": float(v),
                        "Unit": "Count",
                    }
                )
    calls = 0
    for i in range(0, len(data), 1000):
        client.put_metric_data(Namespace="AWS/ApplicationELB", MetricData=data[i : i + 1000])
        calls += 1
    return calls


__all__ = [
    "DEFAULT_LB",
    "DEFAULT_TG",
    "SynthMix",
    "SynthResult",
    "minute_values",
    "put_request_counts",
    "write_alb_logs",
]
