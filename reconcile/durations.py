"""One duration type for every configuration section.

``Duration`` accepts ``"90s"``, ``"15m"``, ``"4h"``, ``"1h30m"``, ``"1h 30m"``, ``"1.5h"``,
``"2d"``, ``"30min"``, a number of seconds (``90`` or ``"90"``), ISO 8601 (``"PT1H30M"``)
or a :class:`~datetime.timedelta`; it is never negative.
"""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Annotated, Any

from pydantic import AfterValidator, BeforeValidator

_UNITS = {"s": 1, "sec": 1, "m": 60, "min": 60, "h": 3600, "d": 86400}
_PART = r"(\d+(?:\.\d+)?)\s*(sec|min|s|m|h|d)"
_WHOLE = re.compile(rf"^(?:\s*{_PART})+\s*$", re.IGNORECASE)
_PARTS = re.compile(_PART, re.IGNORECASE)
_SECONDS = re.compile(r"^\s*\d+(?:\.\d+)?\s*$")


def parse_duration(value: Any) -> Any:
    """``"1h30m"``-style text or a bare number of seconds -> timedelta.

    Anything else is left to pydantic (ISO 8601 ``PT30M``, ``HH:MM:SS``, a timedelta), which
    rejects what it cannot read with a message naming the key.
    """
    if isinstance(value, str):
        if _SECONDS.match(value):
            return timedelta(seconds=float(value))
        if _WHOLE.match(value):
            seconds = sum(float(n) * _UNITS[u.lower()] for n, u in _PARTS.findall(value))
            return timedelta(seconds=seconds)
    return value


def _not_negative(value: timedelta) -> timedelta:
    if value < timedelta(0):
        raise ValueError("a duration must not be negative")
    return value


def format_duration(value: timedelta) -> str:
    """The shortest ``1h30m``-style spelling (``0s`` for zero)."""
    seconds = round(value.total_seconds())
    out = []
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60), ("s", 1)):
        n, seconds = divmod(seconds, size)
        if n:
            out.append(f"{n}{unit}")
    return "".join(out) or "0s"


#: A non-negative duration in a job file, the environment or a flag.
Duration = Annotated[timedelta, BeforeValidator(parse_duration), AfterValidator(_not_negative)]
