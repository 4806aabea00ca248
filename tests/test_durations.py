"""One duration type for every config section: the same spellings work everywhere."""

from __future__ import annotations

from datetime import timedelta

import pytest
from pydantic import BaseModel, ValidationError

from reconcile.durations import Duration, format_duration
from reconcile.job import JobSpec


class _M(BaseModel):
    d: Duration


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("90s", timedelta(seconds=90)),
        ("15m", timedelta(minutes=15)),
        ("30min", timedelta(minutes=30)),
        ("4h", timedelta(hours=4)),
        ("1h30m", timedelta(hours=1, minutes=30)),
        ("1h 30m", timedelta(hours=1, minutes=30)),
        ("1.5h", timedelta(hours=1, minutes=30)),
        ("2d", timedelta(days=2)),
        ("2D12H", timedelta(days=2, hours=12)),
        ("90", timedelta(seconds=90)),
        (90, timedelta(seconds=90)),
        ("PT1H30M", timedelta(hours=1, minutes=30)),
        ("01:30:00", timedelta(hours=1, minutes=30)),
    ],
)
def test_spellings(text: object, expected: timedelta) -> None:
    assert _M.model_validate({"d": text}).d == expected


@pytest.mark.parametrize("bad", ["1x", "h1", "-5m", "soon", ""])
def test_rejected(bad: str) -> None:
    with pytest.raises(ValidationError):
        _M.model_validate({"d": bad})


def test_format_round_trips() -> None:
    for td in (timedelta(hours=1, minutes=30), timedelta(days=2, seconds=5), timedelta(0)):
        assert _M.model_validate({"d": format_duration(td)}).d == td
    assert format_duration(timedelta(minutes=90)) == "1h30m"


def test_every_section_accepts_the_same_spelling() -> None:
    spec = JobSpec.model_validate(
        {"name": "d", "check": {"grace": "1h30m"}, "alerts": {"repeat_interval": "1h30m"}}
    )
    assert spec.check.grace == spec.alerts.repeat_interval == timedelta(hours=1, minutes=30)
