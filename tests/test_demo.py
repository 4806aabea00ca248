"""README command one: ``reconcile demo`` finds every injected incident and nothing else."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path


def test_demo_finds_exactly_the_injected_incidents(tmp_path: Path) -> None:
    out = tmp_path / "out"
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "reconcile",
            "--log-format",
            "json",
            "--log-level",
            "WARNING",
            "demo",
            "--out",
            str(out),
            "--hours",
            "36",
            "--per-hour",
            "600",
        ],
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    text = proc.stdout
    assert "every incident found, nothing else" in text
    assert text.count("[found ]") == 5 and "MISSED" not in text and "UNEXPECTED" not in text
    assert "Alerts delivered to the local webhook (signatures verified): 7" in text
    assert text.count("  - firing: ") == 5 and text.count("  - resolved: ") == 2
    # The late hour: stale first, then healed by the next scheduled run.
    assert "firing: [demo] archive behind Elasticsearch" in text
    assert "resolved: [demo] stale archive" in text
    # The NAT spike is over when the demo judges it: its first alert states the peak and
    # names the top source and S3, then the resolution follows.
    (nat,) = [line for line in text.splitlines() if "firing: [demo] egress spike" in line]
    assert "already over" in nat and "peak " in nat and "/h at " in nat
    assert "Top talker: 10.0.12.34 (" in nat and "(S3, " in nat
    assert "an S3 gateway VPC endpoint would carry it privately" in nat
    html = (out / "report.html").read_text()
    assert "<svg" in html
    assert "S3 gateway VPC endpoint would carry it privately" in html  # the spike's drill-down
    assert (
        "healed (late logs re-archived)" in html
        and "late documents re-archived (revision 2" in html
    )
