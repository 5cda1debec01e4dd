"""User-facing errors: each carries one line naming the file and what is wrong.

The CLI prints ``str(error)`` and exits non-zero without a traceback.
"""

from __future__ import annotations

import functools
import sys
from collections.abc import Callable


class BenchmarkError(Exception):
    """Base class of errors reported to the user as one line."""


class DataError(BenchmarkError):
    """The dataset, a split file, a label file, an image or a landmark file is missing or bad."""


class ConfigError(BenchmarkError):
    """An unknown component name or an invalid option."""


def one_line_errors(main: Callable[[list[str] | None], int]) -> Callable[[list[str] | None], int]:
    """Wrap a command's ``main(argv) -> exit code``: a :class:`BenchmarkError` or an ``OSError``
    (a file that cannot be read or written; its message names the file) prints
    ``error: <message>`` on stderr and returns 1, with no traceback; Ctrl-C returns 130."""

    @functools.wraps(main)
    def wrapper(argv: list[str] | None = None) -> int:
        try:
            return main(argv)
        except (BenchmarkError, OSError) as err:
            print(f"error: {err}", file=sys.stderr)
            return 1
        except KeyboardInterrupt:
            print("interrupted", file=sys.stderr)
            return 130

    return wrapper
