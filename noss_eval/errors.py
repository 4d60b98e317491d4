"""User-facing errors: each carries one line that names the file or option at fault."""

from typing import Any


def brief_repr(value: Any, limit: int = 60) -> str:
    """`repr(value)` for a one-line message, cut after `limit` characters."""
    text = repr(value)
    return text if len(text) <= limit else text[:limit] + "..."


class NossError(Exception):
    """An error the CLI reports as a single line with a non-zero exit."""


class AudioError(NossError):
    """An audio file that cannot be decoded or holds no samples."""


class ResultsNotSaved(NossError):
    """The run finished but its rows could not be merged into the leaderboard; `rows` are the
    results (also written to the fallback file the message names)."""

    def __init__(self, message: str, rows: list) -> None:
        super().__init__(message)
        self.rows = rows
