"""The errors volbook raises on bad input.

Every message is one line that names the thing at fault (file, column, parameter) and the
problem, so that the command line can print it as is and exit non-zero (see `cli.py`).
"""

from __future__ import annotations

__all__ = ["VolbookError", "DataError", "ParameterError", "DataWarning"]


class VolbookError(ValueError):
    """Base class: bad input that the user can fix. The message is a single line."""

    def __init__(self, message: str) -> None:
        super().__init__(" ".join(str(message).split()))


class DataError(VolbookError):
    """A data source, file or column is missing, malformed or too short."""


class ParameterError(VolbookError):
    """An unknown, mistyped or out-of-range parameter."""


class DataWarning(UserWarning):
    """Data the run does not need is incomplete or suspicious (reported, not refused).

    For example a gap in an optional column that the run does not use. The message is a
    single line naming the source, the column and the first asset and date concerned.
    """

    def __init__(self, message: str) -> None:
        super().__init__(" ".join(str(message).split()))
