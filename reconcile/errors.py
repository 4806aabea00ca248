"""Error types shared by every stage, and the exit codes they map to.

The CLI maps them to exit codes: a :class:`ReconcileError` means "could not run" (exit 1).
:class:`TransientError` marks failures worth retrying; everything else is terminal.
"""

from __future__ import annotations

#: Exit codes (design: shared contracts): 3 means it ran and found problems.
EXIT_OK, EXIT_FAILED, EXIT_USAGE, EXIT_FINDINGS = 0, 1, 2, 3


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
