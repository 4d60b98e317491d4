"""Small helpers the task readers share for walking official dataset layouts."""

from __future__ import annotations

import csv
from pathlib import Path

from noss_eval.errors import NossError
from noss_eval.splits import TFDS_SPLIT_PROBS, group_split
from noss_eval.task import Clip

AUDIO_SUFFIXES = (".wav", ".flac", ".ogg", ".mp3")


def require(path: Path, what: str) -> Path:
    if not path.exists():
        raise NossError(f"{path}: missing ({what})")
    return path


def audio_files(directory: Path) -> list[Path]:
    """Audio files directly in `directory`, sorted; hidden files (macOS `._*` AppleDouble
    companions among them) are not audio."""
    return sorted(
        p
        for p in directory.iterdir()
        if p.suffix.lower() in AUDIO_SUFFIXES and not p.name.startswith(".")
    )


def clip_id(root: Path, path: Path, start: float | None = None) -> str:
    rel = path.relative_to(root).as_posix()
    return rel if start is None else f"{rel}@{start:.3f}"


def read_text(path: Path, what: str) -> str:
    """A UTF-8 text file (a byte-order mark is fine), or a one-line error naming it."""
    try:
        return require(path, what).read_text(encoding="utf-8-sig")
    except UnicodeDecodeError as exc:
        raise NossError(f"{path}: not UTF-8 text (byte {exc.start}); save it as UTF-8") from None
    except OSError as exc:
        raise NossError(f"{path}: cannot read ({exc.strerror or exc})") from None


def read_csv(path: Path) -> list[dict[str, str]]:
    """Rows of a UTF-8 CSV (a byte-order mark is fine), keys and values stripped."""
    try:
        with open(require(path, "metadata CSV"), newline="", encoding="utf-8-sig") as fh:
            rows = list(csv.DictReader(fh))
    except UnicodeDecodeError as exc:
        raise NossError(f"{path}: not UTF-8 text (byte {exc.start}); save it as UTF-8") from None
    except csv.Error as exc:
        raise NossError(f"{path}: not a readable CSV ({exc})") from None
    if not rows:
        raise NossError(f"{path}: CSV has no rows")
    return [{k.strip(): (v or "").strip() for k, v in row.items() if k} for row in rows]


def pick_column(path: Path, row: dict[str, str], *candidates: str) -> str:
    for name in candidates:
        if name in row:
            return name
    raise NossError(f"{path}: no column named {' or '.join(candidates)} (has {', '.join(row)})")


def split_by_speaker(
    root: Path,
    entries: list[tuple[Path, str, str]],
    probs: tuple[tuple[str, float], ...] = TFDS_SPLIT_PROBS,
) -> list[Clip]:
    """Clips from `(path, label, speaker)` with speakers assigned to splits the TFDS way."""
    split_of = group_split((speaker for _, _, speaker in entries), probs)
    return [
        Clip(clip_id(root, path), path, label, split_of[speaker], speaker=speaker)
        for path, label, speaker in entries
    ]
