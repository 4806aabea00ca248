"""HTTP delivery to a sink: timeouts, retries with exponential backoff and jitter on 429, 5xx
and network errors (honouring ``Retry-After``), no retry on other 4xx.

Secrets never leave this module in text: every error message and log line goes through the
run's :class:`~reconcile.alerts.config.Redactor`, and messages are built here rather than
passed through from urllib3 (whose errors can quote URLs).
"""

from __future__ import annotations

import logging
import random
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC
from email.utils import parsedate_to_datetime
from typing import Any

import urllib3
from tenacity import (
    RetryCallState,
    Retrying,
    retry_if_exception,
    stop_after_attempt,
)
from tenacity.stop import stop_base

from .config import Redactor

log = logging.getLogger(__name__)

USER_AGENT = "logflow-reconcile-alerts"
_BODY_EXCERPT = 300


@dataclass(frozen=True, slots=True)
class HttpRequest:
    """One POST to a sink; ``url`` may hold a secret and is never shown."""

    url: str
    body: bytes
    headers: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    """How hard one delivery tries (from :class:`~reconcile.alerts.config.AlertsConfig`)."""

    timeout_s: float = 10.0
    retries: int = 4
    initial_wait_s: float = 1.0
    max_wait_s: float = 30.0


class DeliveryError(Exception):
    """One failed attempt. ``retryable`` for 429, 5xx and network errors."""

    def __init__(
        self,
        message: str,
        *,
        retryable: bool,
        status: int | None = None,
        retry_after: float | None = None,
    ) -> None:
        super().__init__(message)
        self.retryable = retryable
        self.status = status
        self.retry_after = retry_after


@dataclass(frozen=True, slots=True)
class Outcome:
    """The result of delivering one notification to one sink (all attempts)."""

    ok: bool
    attempts: int
    status: int | None = None
    error: str | None = None
    body: str = ""


def parse_retry_after(value: str | None, now: float | None = None) -> float | None:
    """Seconds to wait from a ``Retry-After`` header (delta-seconds or an HTTP date)."""
    if not value:
        return None
    value = value.strip()
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, when.timestamp() - (time.time() if now is None else now))


class Transport:
    """A pooled urllib3 client without its own retries or redirects (policy lives here)."""

    def __init__(self) -> None:
        self.http = urllib3.PoolManager(retries=False, headers={"User-Agent": USER_AGENT})

    def post(self, req: HttpRequest, timeout_s: float, redact: Redactor) -> tuple[int, str]:
        """Status and a short, redacted body excerpt; :class:`DeliveryError` on failure."""
        headers = {"Content-Type": "application/json", **req.headers}
        try:
            resp = self.http.request(
                "POST",
                req.url,
                body=req.body,
                headers=headers,
                timeout=urllib3.Timeout(connect=timeout_s, read=timeout_s),
                redirect=False,
                preload_content=True,
            )
        # ``from None``: urllib3's own text (which can quote the URL) stays out of tracebacks.
        except urllib3.exceptions.NewConnectionError as exc:  # (a ConnectTimeoutError subclass)
            raise DeliveryError(_network_reason(exc, redact), retryable=True) from None
        except urllib3.exceptions.TimeoutError:
            raise DeliveryError(f"timed out after {timeout_s:g}s", retryable=True) from None
        except urllib3.exceptions.HTTPError as exc:
            raise DeliveryError(_network_reason(exc, redact), retryable=True) from None
        text = redact(resp.data[:2000].decode("utf-8", "replace")).strip()
        excerpt = " ".join(text.split())[:_BODY_EXCERPT]
        status = resp.status
        if 200 <= status < 300:
            return status, excerpt
        detail = f"HTTP {status}" + (f": {excerpt}" if excerpt else "")
        if status == 429 or status >= 500 or status == 408:
            raise DeliveryError(
                detail,
                retryable=True,
                status=status,
                retry_after=parse_retry_after(resp.headers.get("Retry-After")),
            )
        if 300 <= status < 400:
            detail = f"HTTP {status}: the sink redirects; configure the final URL"
        raise DeliveryError(detail + " (not retried)", retryable=False, status=status)


def _network_reason(exc: BaseException, redact: Redactor) -> str:
    reason: BaseException = exc
    inner = getattr(exc, "reason", None)
    if isinstance(inner, BaseException):
        reason = inner
    text = str(reason)
    for marker in (
        "Connection refused",
        "Name or service not known",
        "No route to host",
        "Connection reset",
        "Remote end closed",
        "timed out",
        "certificate verify failed",
        "Temporary failure in name resolution",
        "Network is unreachable",
    ):
        if marker.lower() in text.lower():
            return f"network error: {marker.lower()}"
    return f"network error: {type(reason).__name__}: {redact(text)[:200]}"


def send(
    sink: str,
    build: Callable[[], HttpRequest],
    policy: RetryPolicy,
    redact: Redactor,
    transport: Transport,
    sleep: Callable[[float], Any] = time.sleep,
) -> Outcome:
    """POST ``build()`` (rebuilt per attempt, so signatures carry a fresh timestamp) with retries."""
    attempts = 0

    def attempt() -> tuple[int, str]:
        nonlocal attempts
        attempts += 1
        return transport.post(build(), policy.timeout_s, redact)

    def wait(state: RetryCallState) -> float:
        exc = state.outcome.exception() if state.outcome else None
        if isinstance(exc, DeliveryError) and exc.retry_after is not None:
            return max(exc.retry_after, 0.0)
        # Exponential backoff plus up to one initial wait of jitter, under the ceiling.
        base = policy.initial_wait_s * 2 ** (state.attempt_number - 1)
        return min(policy.max_wait_s, base + random.uniform(0, policy.initial_wait_s))

    class TooLong(stop_base):
        """Stop when the sink asks to wait longer than the policy's ceiling."""

        def __call__(self, state: RetryCallState) -> bool:
            exc = state.outcome.exception() if state.outcome else None
            return (
                isinstance(exc, DeliveryError)
                and exc.retry_after is not None
                and exc.retry_after > policy.max_wait_s
            )

    def before_sleep(state: RetryCallState) -> None:
        exc = state.outcome.exception() if state.outcome else None
        wait_s = state.next_action.sleep if state.next_action else 0.0
        log.warning(
            "alerts: %s attempt %d failed (%s); retrying in %.2fs",
            sink,
            state.attempt_number,
            redact(str(exc)),
            wait_s,
        )

    retrying = Retrying(
        retry=retry_if_exception(lambda e: isinstance(e, DeliveryError) and e.retryable),
        stop=stop_after_attempt(policy.retries + 1) | TooLong(),
        wait=wait,
        sleep=sleep,
        before_sleep=before_sleep,
        reraise=True,
    )
    try:
        status, body = retrying(attempt)
    except DeliveryError as exc:
        msg = redact(str(exc))
        if exc.retry_after is not None and exc.retry_after > policy.max_wait_s:
            msg += (
                f"; the sink asked to retry after {exc.retry_after:.0f}s, more than "
                f"alerts.retry_max_wait_s={policy.max_wait_s:g}"
            )
        elif exc.retryable:
            msg += f" (gave up after {attempts} attempts)"
        return Outcome(False, attempts, exc.status, msg)
    return Outcome(True, attempts, status, None, body)
