"""Types are part of the contract: the whole package passes mypy with the pydantic plugin,
so a detail key that moves, or a stage reading a section it does not declare, fails here,
not for a user."""

from __future__ import annotations

from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def test_the_package_type_checks() -> None:
    from mypy import api

    # Incremental: .ci/run type-checks the package just before, so this reuses its cache.
    out, err, status = api.run(
        ["--config-file", str(ROOT / "pyproject.toml"), str(ROOT / "reconcile")]
    )
    assert status == 0, out + err
