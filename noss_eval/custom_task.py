"""Custom tasks without code: a YAML file naming a folder of audio and a CSV of labels.

```yaml
name: my_keywords                 # required
audio_dir: audio                  # relative to this file
csv: labels.csv                   # relative to this file; a `path` column relative to audio_dir
columns: {path: file, label: word, speaker: talker}   # optional renames
labels: [yes, no]                 # optional; default: every label in the CSV
split_probs: {train: 0.7, validation: 0.1, test: 0.2} # used when the CSV has no split/fold
headline: accuracy                # or balanced_accuracy
```

Split rule: a `fold` column means cross-validation over its folds; a `split` column
(train/validation/test) is used as given; otherwise speakers (if any) are split the TFDS way,
else clips are. Speaker-disjointness is enforced like for every built-in task.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from noss_eval.errors import NossError
from noss_eval.layout import read_csv
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
        what = f"unknown key '{sorted(unknown)[0]}'" if unknown else "needs 'name' and 'csv'"
        raise NossError(f"--task-file {path}: {what}")
    headline = str(spec.get("headline", "accuracy"))
    if headline not in HEADLINES:
        raise NossError(
            f"--task-file {path}: headline '{headline}' is not one of {', '.join(HEADLINES)}"
        )
    base = path.parent
    audio_dir = (base / spec.get("audio_dir", ".")).resolve()
    csv_path = (base / spec["csv"]).resolve()
    columns = {c: c for c in COLUMNS} | dict(spec.get("columns") or {})
    rows = read_csv(csv_path)
    for needed in ("path", "label"):
        if columns[needed] not in rows[0]:
            raise NossError(f"{csv_path}: no column '{columns[needed]}' ({needed})")
    has = {c: columns[c] in rows[0] for c in COLUMNS}
    probs = _split_probs(path, spec.get("split_probs"))
    labels = tuple(
        str(x) for x in spec.get("labels") or sorted({r[columns["label"]] for r in rows})
    )
    folds = tuple(sorted({r[columns["fold"]] for r in rows})) if has["fold"] else ()

    outside_ok = str(spec.get("allow_outside_paths", "false")).lower() == "true"

    def read(root: Path) -> list[Clip]:
        clips = []
        for n, row in enumerate(rows, 2):
            rel = row[columns["path"]]
            if not rel or "\0" in rel:
                raise NossError(f"{csv_path}:{n}: '{rel}' is not a file path")
            target = (root / rel).resolve()
            if not outside_ok and not target.is_relative_to(root):
                raise NossError(
                    f"{csv_path}:{n}: path '{rel}' is outside audio_dir {root}; move the file "
                    "or set allow_outside_paths: true in the task file"
                )
            speaker = row[columns["speaker"]] or None if has["speaker"] else None
            split = row[columns["fold"]] if has["fold"] else row.get(columns["split"], "")
            clips.append(Clip(rel, root / rel, row[columns["label"]], split, speaker))
        if has["fold"] or has["split"]:
            return clips
        blank = next((n for n, c in enumerate(clips, 2) if has["speaker"] and not c.speaker), None)
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
            raise NossError(f"{csv_path}: split '{sorted(bad)[0]}' is not one of {SPLITS}")
    return Task(
        name=str(spec["name"]),
        title=str(spec.get("title", spec["name"])),
        dataset_dir=audio_dir.name,
        labels=labels,
        read=read,
        layout=f"custom task from {path}",
        folds=folds,
        headline=headline,
        root=audio_dir,
    )


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
    except (OSError, UnicodeDecodeError, yaml.YAMLError) as exc:
        raise NossError(f"--task-file {path}: {str(exc).splitlines()[0]}") from None
    if not isinstance(spec, dict):
        raise NossError(f"--task-file {path}: expected a mapping of keys")
    return spec
