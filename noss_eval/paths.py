"""Where noss-eval keeps its own files by default: the user's cache folder."""

from __future__ import annotations

from pathlib import Path

USER_CACHE = Path("~/.cache/noss-eval").expanduser()  # embeddings, probe results (--cache-dir)
LOCKS = USER_CACHE / "locks"  # one lock per written file, whatever a run's --cache-dir
