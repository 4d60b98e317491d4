"""Score one task's embeddings with every probe family: holdout splits or cross-validated folds."""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from noss_eval.extract import Extraction
from noss_eval.probes import (
    FAMILIES,
    PROTOCOLS,
    Part,
    Protocol,
    Selection,
    choose_solver,
    select_and_test,
)
from noss_eval.stats import bootstrap_interval
from noss_eval.task import Task


@dataclass(frozen=True)
class ProbeOutcome:
    probe: str
    config: str
    validation_accuracy: float | None
    metrics: dict[str, float]  # test metrics, averaged over folds for cross-validated tasks
    accuracy_ci: tuple[float, float]
    n_train: int
    n_validation: int
    n_test: int
    test_ids: tuple[str, ...]  # every test clip once, in the order of `correct`
    correct: np.ndarray


def _rows(ex: Extraction, splits: Sequence[str]) -> list[int]:
    return [i for i, c in enumerate(ex.clips) if c.split in splits]


def _part(ex: Extraction, rows: list[int]) -> Part:
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
    task: Task,
    ex: Extraction,
    seed: int,
    protocol: Protocol = PROTOCOLS["noss-eval"],
    solver: str = "auto",
) -> list[ProbeOutcome]:
    with_speakers = any(c.speaker is not None for c in ex.clips)
    # (train, validation, test) parts per round, built once and shared by every probe family
    parts = [
        tuple(_part(ex, _rows(ex, splits)) for splits in (train, [val], [test]))
        for train, val, test in rounds(task)
    ]
    test_ids = [ex.clips[i].clip_id for _, _, test in rounds(task) for i in _rows(ex, [test])]
    sizes = [(len(tr.y), len(va.y), len(te.y)) for tr, va, te in parts]
    n_classes = len({c.label for c in ex.clips})
    configs = choose_solver(
        protocol.grid(with_speakers),
        max(s[0] for s in sizes),
        n_classes,
        ex.embeddings.shape[1],
        solver,
    )
    outcomes = []
    for family in FAMILIES:
        grid = [c for c in configs if c.family == family]
        if not grid:
            continue
        picks = [
            select_and_test(grid, tr, va, te, seed, protocol.select_on) for tr, va, te in parts
        ]
        correct = np.concatenate(
            [p.test.y_pred == te.y for p, (_, _, te) in zip(picks, parts, strict=True)]
        )
        outcomes.append(_summarise(family, picks, sizes, test_ids, correct, seed))
    return outcomes


def _summarise(
    family: str,
    picks: list[Selection],
    sizes: list[tuple[int, int, int]],
    test_ids: list[str],
    correct: np.ndarray,
    seed: int,
) -> ProbeOutcome:
    chosen = Counter(p.config.label for p in picks)
    config = ";".join(f"{label} x{n}" if len(picks) > 1 else label for label, n in chosen.items())
    names = picks[0].test.metrics.keys()
    val = [p.validation_accuracy for p in picks if p.validation_accuracy is not None]
    return ProbeOutcome(
        probe=family,
        config=config,
        validation_accuracy=float(np.mean(val)) if val else None,
        metrics={m: float(np.mean([p.test.metrics[m] for p in picks])) for m in names},
        accuracy_ci=bootstrap_interval(correct, seed=seed),
        n_train=int(round(np.mean([s[0] for s in sizes]))),
        n_validation=int(round(np.mean([s[1] for s in sizes]))),
        n_test=int(sum(s[2] for s in sizes)),
        test_ids=tuple(test_ids),
        correct=correct,
    )
