"""Process tuning: the malloc bound is applied on glibc, and the environment wins."""

from __future__ import annotations

import platform
import subprocess
import sys

import pytest

from reconcile.tuning import MMAP_THRESHOLD, bound_malloc

glibc = pytest.mark.skipif(platform.libc_ver()[0] != "glibc", reason="mallopt is glibc's")


def _in_child(env: dict[str, str] | None = None) -> str:
    """bound_malloc's answer in a fresh interpreter (it changes the process it runs in)."""
    code = "from reconcile.tuning import bound_malloc; print(bound_malloc())"
    out = subprocess.run(
        [sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True
    )
    return out.stdout.strip()


@glibc
def test_sets_a_fixed_mmap_threshold() -> None:
    assert _in_child() == str(
        {"mmap_threshold": MMAP_THRESHOLD, "trim_threshold": 2 * MMAP_THRESHOLD}
    )


@glibc
@pytest.mark.parametrize(
    "setting",
    [{"MALLOC_MMAP_THRESHOLD_": "65536"}, {"GLIBC_TUNABLES": "glibc.malloc.mmap_threshold=65536"}],
)
def test_leaves_a_threshold_the_environment_sets(setting: dict[str, str]) -> None:
    import os

    assert _in_child({**os.environ, **setting}) == "{}"


def test_not_glibc_is_a_no_op(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(platform, "libc_ver", lambda: ("", ""))
    assert bound_malloc() == {}
