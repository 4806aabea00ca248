"""Keeping credentials out of what the job prints, logs and sends.

A module of its own, below every stage: the source, the archive and the alert sinks all
mask URLs, and none of them should need the job spec to do it.
"""

from __future__ import annotations

import re

_USERINFO = re.compile(r"//[^/@]+@")


def mask_url(url: str) -> str:
    """Hide ``user:password@`` in a URL."""
    return _USERINFO.sub("//***@", url)
