"""Split rules shared by the task readers."""

from __future__ import annotations

from collections.abc import Hashable, Iterable, Sequence

import numpy as np

# The speaker-disjoint split of TFDS crema_d/savee/dementiabank/voxforge builders.
TFDS_SPLIT_PROBS: tuple[tuple[str, float], ...] = (
    ("train", 0.7),
    ("validation", 0.1),
    ("test", 0.2),
)


def split_boundaries(
    probs: Sequence[tuple[str, float]], n_items: int
) -> list[tuple[str, int, int]]:
    """`[(name, start, end)]` index ranges, as `tfds ... _compute_split_boundaries`."""
    if len(probs) > n_items:
        raise ValueError(f"{len(probs)} splits need at least as many groups, got {n_items}")
    bounds, total = [], 0.0
    for name, p in probs:
        prev, total = total, total + p
        bounds.append((name, int(prev * n_items), int(total * n_items)))
    bounds[-1] = (bounds[-1][0], bounds[-1][1], n_items)
    return bounds


def group_split(
    groups: Iterable[Hashable],
    probs: Sequence[tuple[str, float]] = TFDS_SPLIT_PROBS,
    seed: int = 0,
) -> dict[Hashable, str]:
    """Assign each group (speaker) to a split exactly as TFDS does: sort the distinct groups,
    shuffle with `np.random.RandomState(seed)`, cut by cumulative probability."""
    ordered = sorted(set(groups))
    np.random.RandomState(seed).shuffle(ordered)
    assignment = {}
    for name, start, end in split_boundaries(probs, len(ordered)):
        for group in ordered[start:end]:
            assignment[group] = name
    return assignment
