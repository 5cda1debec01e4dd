"""User-facing errors: each carries one line naming the file and what is wrong.

The CLI prints ``str(error)`` and exits non-zero without a traceback.
"""

from __future__ import annotations


class BenchmarkError(Exception):
    """Base class of errors reported to the user as one line."""


class DataError(BenchmarkError):
    """The dataset, a split file, a label file, an image or a landmark file is missing or bad."""


class ConfigError(BenchmarkError):
    """An unknown component name or an invalid option."""
