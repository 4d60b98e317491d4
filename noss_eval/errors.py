"""User-facing errors: each carries one line that names the file or option at fault."""

from collections.abc import Iterator
from contextlib import contextmanager
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


@contextmanager
def no_exit(name: str) -> Iterator[None]:
    """Around a call into an embedder's code (building it, embed): its `sys.exit()` (a
    SystemExit) is a one-line error naming it, never a silent exit of the whole run."""
    try:
        yield
    except SystemExit as exc:
        raise NossError(
            f"{name}: the embedder's code called sys.exit({exc.code!r}) instead of returning; "
            "fix or replace the embedder"
        ) from None
