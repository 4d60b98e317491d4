"""Small helpers the task readers share for walking official dataset layouts."""

from __future__ import annotations

import csv
import io
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


def read_text(path: Path, what: str, newline: str | None = None) -> str:
    """A UTF-8 text file (a byte-order mark is fine), or a one-line error naming it. `newline`
    as for `open` ("" keeps line endings, as csv needs)."""
    try:
        with open(require(path, what), encoding="utf-8-sig", newline=newline) as fh:
            return fh.read()
    except UnicodeDecodeError as exc:
        raise NossError(f"{path}: not UTF-8 text (byte {exc.start}); save it as UTF-8") from None
    except OSError as exc:
        raise NossError(f"{path}: cannot read ({exc.strerror or exc})") from None


def read_rows(path: Path, what: str, delimiter: str | None = ",") -> list[dict[str, str]]:
    """Rows of a UTF-8 CSV (a byte-order mark is fine), keys and values stripped, cells beyond the
    header dropped; `delimiter=None` takes a tab if the header line has one, else a comma."""
    text = read_text(path, what, newline="")
    if delimiter is None:
        delimiter = "\t" if "\t" in text.partition("\n")[0] else ","
    try:
        rows = list(csv.DictReader(io.StringIO(text, newline=""), delimiter=delimiter))
    except csv.Error as exc:
        raise NossError(f"{path}: not a readable CSV ({exc})") from None
    return [{k.strip(): (v or "").strip() for k, v in row.items() if k} for row in rows]


def read_table(path: Path, what: str) -> list[tuple[int, dict[str, str]]]:
    """`(line, row)` of each row of a UTF-8 CSV (a byte-order mark is fine), keys and values
    stripped, blank lines skipped; `line` is where the row starts in the file. A row with more or
    fewer cells than the header, or no row at all, is an error naming the file (and line)."""
    text = read_text(path, what, newline="")
    reader = csv.reader(io.StringIO(text, newline=""))
    rows: list[tuple[int, dict[str, str]]] = []
    try:
        header = [name.strip() for name in next(reader, [])]
        start = reader.line_num + 1
        for cells in reader:
            line, start = start, reader.line_num + 1
            if not any(cell.strip() for cell in cells):
                continue
            if len(cells) != len(header):
                raise NossError(
                    f"{path}:{line}: {len(cells)} cells, but the header has {len(header)}; "
                    "give every row one cell per column (quote cells that hold a comma)"
                )
            rows.append((line, {k: v.strip() for k, v in zip(header, cells, strict=True) if k}))
    except csv.Error as exc:
        raise NossError(f"{path}:{reader.line_num}: not a readable CSV ({exc})") from None
    if not rows:
        raise NossError(f"{path}: CSV has no rows")
    return rows


def read_csv(path: Path) -> list[dict[str, str]]:
    """A metadata CSV's rows (see `read_rows`); an empty one is an error."""
    rows = read_rows(path, "metadata CSV")
    if not rows:
        raise NossError(f"{path}: CSV has no rows")
    return rows


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
