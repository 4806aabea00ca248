"""Where the benchmarks write their figures: one section each of docs/benchmarks.md."""

from __future__ import annotations

import re
from pathlib import Path

DOCS = Path(__file__).resolve().parent.parent / "docs" / "benchmarks.md"


def replace_section(section: str, body: str, path: Path = DOCS, create: bool = False) -> None:
    """Replace the body under ``section`` (up to the next ``## `` heading), nothing else.

    A missing section is an error unless ``create``, which appends it."""
    text = path.read_text()
    block = f"{section}\n\n{body.rstrip()}\n"
    pattern = re.compile(re.escape(section) + r"\n.*?(?=\n## |\Z)", re.S)
    if pattern.search(text):
        text = pattern.sub(lambda _: block, text, count=1)
    elif create:
        text = text.rstrip() + "\n\n" + block
    else:
        raise SystemExit(f"section {section!r} not found in {path}")
    path.write_text(text)
