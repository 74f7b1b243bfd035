"""Errors a user can cause. Each carries one sentence: what was wrong and what to do.

The command line and the dashboard print ``str(error)`` and nothing else, so the
message must stand on its own. Anything that is not a ``GanError`` is a bug.
"""


class GanError(Exception):
    """Base class for user-facing errors."""


class ConfigError(GanError):
    """A config value, flag or name is invalid."""


class DataError(GanError):
    """A data source is missing, empty or malformed."""


class CheckpointError(GanError):
    """A checkpoint is missing, corrupt or does not fit the chosen model."""


class RunError(GanError):
    """A run directory is missing or cannot be resumed."""
