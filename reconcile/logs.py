"""Logging, configured once by the CLI: human lines on a terminal, JSON lines otherwise.

Logs go to stderr; stdout is for data. Library modules only call ``logging.getLogger``.
"""

from __future__ import annotations

import logging
import sys
from typing import Literal

LogFormat = Literal["auto", "json", "text"]


def setup_logging(level: str = "INFO", fmt: LogFormat = "auto") -> None:
    """Install one stderr handler on the root logger (idempotent)."""
    root = logging.getLogger()
    for h in list(root.handlers):
        if getattr(h, "_reconcile", False):
            root.removeHandler(h)
    handler = logging.StreamHandler(sys.stderr)
    handler._reconcile = True  # type: ignore[attr-defined]
    use_json = fmt == "json" or (fmt == "auto" and not sys.stderr.isatty())
    if use_json:
        from pythonjsonlogger.json import JsonFormatter

        handler.setFormatter(
            JsonFormatter(
                "%(asctime)s %(levelname)s %(name)s %(message)s",
                rename_fields={"asctime": "time", "levelname": "level", "name": "logger"},
                datefmt="%Y-%m-%dT%H:%M:%S%z",
            )
        )
    else:
        handler.setFormatter(
            logging.Formatter("%(asctime)s %(levelname)-7s %(message)s", "%H:%M:%S")
        )
    root.addHandler(handler)
    root.setLevel(level.upper())
    # Chatty HTTP clients: their retries are reported by our own retry logging.
    for noisy in ("elastic_transport", "opensearch", "botocore", "urllib3", "boto3", "s3transfer"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
