"""Error types shared by every stage.

The CLI maps them to exit codes: a :class:`ReconcileError` means "could not run" (exit 1).
:class:`TransientError` marks failures worth retrying; everything else is terminal.
"""

from __future__ import annotations


class ReconcileError(Exception):
    """The job could not do what it was asked (exit code 1)."""


class ConfigError(ReconcileError):
    """A job spec, flag or environment value is invalid; the message names the key."""


class SourceError(ReconcileError):
    """Elasticsearch could not be read."""


class StorageError(ReconcileError):
    """Object storage could not be read or written."""


class VerificationError(ReconcileError):
    """What was written does not match what the source holds; nothing was committed."""


class TransientError(ReconcileError):
    """A failure that may succeed on retry (throttling, 5xx, dropped connection)."""
