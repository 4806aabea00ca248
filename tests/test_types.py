"""Types are part of the contract: the modules whose records cross stage lines (findings
and their details, the check, egress, alerts, the report, the archive and the run) pass
mypy with the pydantic plugin, so a detail key that moves fails here, not for a user."""

from __future__ import annotations

from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

CHECKED = [
    "reconcile/findings.py",
    "reconcile/details.py",
    "reconcile/present.py",
    "reconcile/results.py",
    "reconcile/report.py",
    "reconcile/render.py",
    "reconcile/check/judge.py",
    "reconcile/check/indexed.py",
    "reconcile/check/run.py",
    "reconcile/egress/run.py",
    "reconcile/egress/flowlogs.py",
    "reconcile/alerts/model.py",
    "reconcile/alerts/config.py",
    "reconcile/alerts/deliver.py",
    "reconcile/archive/run.py",
    "reconcile/source/retention.py",
    "reconcile/schedule/run.py",
    "reconcile/demo",
]


def test_the_modules_that_share_records_type_check() -> None:
    from mypy import api

    out, err, status = api.run(
        ["--config-file", str(ROOT / "pyproject.toml"), "--no-incremental"]
        + [str(ROOT / p) for p in CHECKED]
    )
    assert status == 0, out + err
