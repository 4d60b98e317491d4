"""Score one task's embeddings with every probe family: holdout splits or cross-validated folds."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np

from noss_eval.extract import Extraction
from noss_eval.probes import FAMILIES, Part, ProbeConfig, Selection, default_grid, select_and_test
from noss_eval.task import Task

GridFn = Callable[[bool], Sequence[ProbeConfig]]


@dataclass(frozen=True)
class ProbeOutcome:
    probe: str
    config: str
    validation_accuracy: float
    accuracy: float
    balanced_accuracy: float
    n_train: int
    n_validation: int
    n_test: int


def _part(ex: Extraction, splits: Sequence[str]) -> Part:
    rows = [i for i, c in enumerate(ex.clips) if c.split in splits]
    return Part(
        ex.embeddings[rows],
        np.array([ex.clips[i].label for i in rows]),
        tuple(ex.clips[i].speaker for i in rows),
    )


def rounds(task: Task) -> list[tuple[tuple[str, ...], str, str]]:
    """`(train splits, validation split, test split)` per evaluation round."""
    if not task.folds:
        return [(("train",), "validation", "test")]
    k = len(task.folds)
    return [
        (
            tuple(f for f in task.folds if f not in (test, task.folds[(i + 1) % k])),
            task.folds[(i + 1) % k],
            test,
        )
        for i, test in enumerate(task.folds)
    ]


def evaluate_task(
    task: Task, ex: Extraction, seed: int, grid: GridFn = default_grid
) -> list[ProbeOutcome]:
    with_speakers = any(c.speaker is not None for c in ex.clips)
    configs = list(grid(with_speakers))
    outcomes = []
    for family in FAMILIES:
        family_grid = [c for c in configs if c.family == family]
        if not family_grid:
            continue
        picks: list[Selection] = []
        sizes = []
        for train_splits, val, test in rounds(task):
            train, validation, held = _part(ex, train_splits), _part(ex, [val]), _part(ex, [test])
            picks.append(select_and_test(family_grid, train, validation, held, seed))
            sizes.append((len(train.y), len(validation.y), len(held.y)))
        outcomes.append(_summarise(family, picks, sizes))
    return outcomes


def _summarise(
    family: str, picks: list[Selection], sizes: list[tuple[int, int, int]]
) -> ProbeOutcome:
    chosen = Counter(p.config.label for p in picks)
    config = ";".join(f"{label} x{n}" if len(picks) > 1 else label for label, n in chosen.items())
    return ProbeOutcome(
        probe=family,
        config=config,
        validation_accuracy=float(np.mean([p.validation_accuracy for p in picks])),
        accuracy=float(np.mean([p.test["accuracy"] for p in picks])),
        balanced_accuracy=float(np.mean([p.test["balanced_accuracy"] for p in picks])),
        n_train=int(round(np.mean([s[0] for s in sizes]))),
        n_validation=int(round(np.mean([s[1] for s in sizes]))),
        n_test=int(sum(s[2] for s in sizes)),
    )
