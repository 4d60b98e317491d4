"""Custom tasks without code: a YAML file naming a folder of audio and a CSV of labels.

```yaml
name: my_keywords                 # required: letters, digits, _ - ., at most 64; not a built-in's
audio_dir: audio                  # relative to this file
csv: labels.csv                   # relative to this file; a `path` column relative to audio_dir
columns: {path: file, label: word, speaker: talker}   # optional renames
labels: [yes, no]                 # optional; default: every label in the CSV
split_probs: {train: 0.7, validation: 0.1, test: 0.2} # used when the CSV has no split/fold
headline: accuracy                # or balanced_accuracy
```

Split rule: a `fold` column means cross-validation over its folds (at least 3, each a name
like the task's); a `split` column
(train/validation/test) is used as given; otherwise speakers (if any) are split the TFDS way,
else clips are. Speaker-disjointness is enforced like for every built-in task.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import yaml

from noss_eval.errors import NossError
from noss_eval.layout import read_table
from noss_eval.splits import TFDS_SPLIT_PROBS, group_split
from noss_eval.stats import HEADLINES
from noss_eval.task import SPLITS, Clip, Task

KEYS = {
    "name",
    "title",
    "audio_dir",
    "csv",
    "columns",
    "labels",
    "split_probs",
    "headline",
    "allow_outside_paths",
}
COLUMNS = ("path", "label", "speaker", "split", "fold")


def load_task_file(path: Path) -> Task:
    spec = _load_yaml(path)
    unknown = set(spec) - KEYS
    if unknown or "name" not in spec or "csv" not in spec:
        first = shown(sorted(map(str, unknown))[0]) if unknown else ""
        what = f"unknown key {first}" if unknown else "needs 'name' and 'csv'"
        raise NossError(f"--task-file {path}: {what}")
    name = task_name(path, spec)
    headline = str(spec.get("headline", "accuracy"))
    if headline not in HEADLINES:
        raise NossError(
            f"--task-file {path}: headline {shown(headline)} is not one of {', '.join(HEADLINES)}"
        )
    base = path.parent
    audio_dir = _resolved(path, "audio_dir", base / _relative(path, spec, "audio_dir", "."))
    if not audio_dir.is_dir():
        raise NossError(
            f"--task-file {path}: audio_dir {audio_dir} is not a folder; give the folder that "
            "holds the audio, relative to the task file"
        )
    csv_path = _resolved(path, "csv", base / _relative(path, spec, "csv"))
    columns = _columns(path, spec.get("columns"))
    numbered = read_table(csv_path, "metadata CSV")
    rows = [row for _, row in numbered]
    for needed in ("path", "label"):
        if columns[needed] not in rows[0]:
            raise NossError(f"{csv_path}: no column {shown(columns[needed])} ({needed})")
    has = {c: columns[c] in rows[0] for c in COLUMNS}
    for line, row in numbered:
        if not row[columns["label"]]:
            raise NossError(
                f"{csv_path}:{line}: empty label in column {shown(columns['label'])}; fill it in "
                "or drop the row"
            )
    probs = _split_probs(path, spec.get("split_probs"))
    labels = _labels(path, spec.get("labels")) or tuple(sorted({r[columns["label"]] for r in rows}))
    folds = _folds(csv_path, columns["fold"], numbered) if has["fold"] else ()

    outside_ok = str(spec.get("allow_outside_paths", "false")).lower() == "true"

    def read(root: Path) -> list[Clip]:
        clips, lines = [], []
        for n, row in numbered:
            rel = row[columns["path"]]
            if not rel or "\0" in rel:
                raise NossError(f"{csv_path}:{n}: {shown(rel)} is not a file path")
            try:
                target = (root / rel).resolve()
            except (OSError, RuntimeError) as exc:  # a symlink loop (RuntimeError before 3.13)
                raise NossError(
                    f"{csv_path}:{n}: path {shown(rel)} cannot be followed ({exc}); fix the "
                    "symbolic link or drop the row"
                ) from None
            if not outside_ok and not target.is_relative_to(root):
                raise NossError(
                    f"{csv_path}:{n}: path {shown(rel)} is outside audio_dir {root}; move the "
                    "file or set allow_outside_paths: true in the task file"
                )
            speaker = row[columns["speaker"]] or None if has["speaker"] else None
            split = row[columns["fold"]] if has["fold"] else row.get(columns["split"], "")
            clips.append(Clip(rel, root / rel, row[columns["label"]], split, speaker))
            lines.append(n)
        if has["fold"] or has["split"]:
            return clips
        blank = next(
            (n for n, c in zip(lines, clips, strict=True) if has["speaker"] and not c.speaker), None
        )
        if blank is not None:
            raise NossError(
                f"{csv_path}:{blank}: empty speaker; clips are split by speaker, so fill it in "
                "(or add a split column, or drop the speaker column)"
            )
        key = (lambda c: c.speaker) if has["speaker"] else (lambda c: c.clip_id)
        groups = {key(c) for c in clips}
        if len(groups) < len(probs):
            what = "speakers" if has["speaker"] else "clips"
            raise NossError(
                f"{csv_path}: {len(groups)} {what} cannot fill {len(probs)} splits "
                f"({', '.join(n for n, _ in probs)}); add {what} or a split column"
            )
        split_of = group_split(groups, probs, every_split_filled=True)
        return [Clip(c.clip_id, c.path, c.label, split_of[key(c)], c.speaker) for c in clips]

    if has["split"] and not has["fold"]:
        bad = {r[columns["split"]] for r in rows} - set(SPLITS)
        if bad:
            raise NossError(
                f"{csv_path}: split {shown(sorted(bad)[0])} is not one of {', '.join(SPLITS)}"
            )
    return Task(
        name=name,
        title=str(spec.get("title", name)),
        dataset_dir=audio_dir.name,
        labels=labels,
        read=read,
        layout=f"custom task from {path}",
        folds=folds,
        headline=headline,
        root=audio_dir,
    )


NAME_RULE = (
    "letters, digits, _, - and . only, starting with a letter, digit or _, at most 64 characters"
)
_SAFE_NAME = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.-]{0,63}")


def shown(value: Any, limit: int = 60) -> str:
    """`value` quoted for a one-line message: control characters escaped, a long one cut."""
    if not isinstance(value, str):
        return repr(value)[:limit]
    return repr(value[:limit]) + (f"... ({len(value):,} characters)" if len(value) > limit else "")


def task_name(path: Path, spec: dict[str, Any]) -> str:
    """The task file's `name`: a safe identifier (it names cache folders and is picked with
    --tasks A,B) and not a built-in task's."""
    from noss_eval.tasks import BUILTIN_TASKS

    name = spec.get("name")
    if not isinstance(name, str):
        raise NossError(f"--task-file {path}: name {shown(name)} is not text; quote it")
    if not _SAFE_NAME.fullmatch(name):
        raise NossError(
            f"--task-file {path}: name {shown(name)} is not a usable task name; use {NAME_RULE}"
        )
    if name in BUILTIN_TASKS:
        raise NossError(
            f"--task-file {path}: name '{name}' is a built-in task's; give the custom task "
            "another name"
        )
    return name


def check_task_files(paths: Sequence[Path]) -> None:
    """Before anything is read: every --task-file names its task usably, and no two the same."""
    seen: dict[str, Path] = {}
    for path in paths:
        name = task_name(path, _load_yaml(path))
        if name in seen:
            raise NossError(
                f"--task-file {path}: name '{name}' is also the name of --task-file {seen[name]}; "
                "give each custom task its own name (and each file once)"
            )
        seen[name] = path


def _relative(path: Path, spec: dict[str, Any], key: str, default: str | None = None) -> str:
    value = spec.get(key, default)
    if not isinstance(value, str) or not value or "\0" in value:
        raise NossError(
            f"--task-file {path}: {key} {shown(value)} is not a path; give one relative to the "
            "task file"
        )
    return value


def _resolved(path: Path, key: str, target: Path) -> Path:
    try:
        return target.resolve()
    except (OSError, RuntimeError) as exc:  # a symlink loop (RuntimeError before 3.13)
        raise NossError(f"--task-file {path}: {key} cannot be followed ({exc})") from None


def _columns(path: Path, given: Any) -> dict[str, str]:
    """`columns`: a mapping from path, label, speaker, split, fold to the CSV's header names."""
    given = {} if given is None else given
    if not isinstance(given, dict):
        raise NossError(
            f"--task-file {path}: columns must be a mapping such as "
            f"{{path: file, label: word}}, not {shown(given)}"
        )
    for key, value in given.items():
        if key not in COLUMNS:
            raise NossError(
                f"--task-file {path}: columns: unknown column {shown(key)}; known: "
                f"{', '.join(COLUMNS)}"
            )
        if not isinstance(value, str | int) or isinstance(value, bool) or not str(value):
            raise NossError(
                f"--task-file {path}: columns: {key} must name a CSV column, not {shown(value)}"
            )
    return {c: c for c in COLUMNS} | {k: str(v) for k, v in given.items()}


def _labels(path: Path, given: Any) -> tuple[str, ...]:
    """`labels`: a list of distinct non-empty labels (empty: every label in the CSV)."""
    if given is None:
        return ()
    if not isinstance(given, list) or any(
        isinstance(x, list | dict) or x is None or str(x) == "" for x in given
    ):
        raise NossError(
            f"--task-file {path}: labels must be a list of labels such as [yes, no], not "
            f"{shown(given)}"
        )
    labels = tuple(str(x) for x in given)
    twice = next((x for x in labels if labels.count(x) > 1), None)
    if twice is not None:
        raise NossError(f"--task-file {path}: labels lists {shown(twice)} twice")
    return labels


def _folds(csv_path: Path, column: str, numbered: list[tuple[int, dict[str, str]]]) -> tuple:
    """The fold values, each a safe name; cross-validation needs at least 3 of them."""
    for line, row in numbered:
        if not _SAFE_NAME.fullmatch(row[column]):
            raise NossError(
                f"{csv_path}:{line}: fold {shown(row[column])} is not a usable fold name; use "
                f"{NAME_RULE}"
            )
    folds = tuple(sorted({row[column] for _, row in numbered}))
    if len(folds) < 3:
        raise NossError(
            f"{csv_path}: column {shown(column)} holds {len(folds)} fold(s) "
            f"({', '.join(folds)}); cross-validation needs at least 3 (each round tests on one "
            "and picks the probe by cross-validation over the others, which takes two); add "
            "folds or use a split column"
        )
    return folds


class _StringLoader(yaml.SafeLoader):
    """YAML without implicit booleans: `labels: [yes, no]` stays the strings 'yes' and 'no'."""


_StringLoader.yaml_implicit_resolvers = {
    first: [r for r in resolvers if r[0] != "tag:yaml.org,2002:bool"]
    for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}


def _split_probs(path: Path, given: Any) -> tuple[tuple[str, float], ...]:
    """`split_probs`, checked: exactly train, validation and test, each > 0, summing to 1."""
    if not given:
        return TFDS_SPLIT_PROBS
    try:
        probs = tuple((str(k), float(v)) for k, v in dict(given).items())
    except (TypeError, ValueError):
        raise NossError(
            f"--task-file {path}: split_probs must map split names to numbers"
        ) from None
    names = [k for k, _ in probs]
    if sorted(names) != sorted(SPLITS) or any(not 0 < v < 1 for _, v in probs):
        raise NossError(
            f"--task-file {path}: split_probs needs train, validation and test, each between 0 "
            f"and 1 (got {dict(probs)})"
        )
    if abs(sum(v for _, v in probs) - 1.0) > 1e-6:
        raise NossError(
            f"--task-file {path}: split_probs must sum to 1, not {sum(v for _, v in probs):g}"
        )
    return tuple(sorted(probs, key=lambda kv: SPLITS.index(kv[0])))


def _load_yaml(path: Path) -> dict[str, Any]:
    try:
        spec = yaml.load(path.read_text(encoding="utf-8-sig"), Loader=_StringLoader)
    except UnicodeDecodeError as exc:
        raise NossError(
            f"--task-file {path}: not UTF-8 text (byte {exc.start}); save it as UTF-8"
        ) from None
    except OSError as exc:
        raise NossError(f"--task-file {path}: cannot read ({exc.strerror or exc})") from None
    except yaml.YAMLError as exc:
        raise NossError(f"--task-file {path}: {str(exc).splitlines()[0]}") from None
    if not isinstance(spec, dict):
        raise NossError(f"--task-file {path}: expected a mapping of keys")
    return spec
