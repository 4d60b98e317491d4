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


def nonempty_boundaries(
    probs: Sequence[tuple[str, float]], n_items: int
) -> list[tuple[str, int, int]]:
    """TFDS boundaries where they give every split an item; otherwise proportional sizes with at
    least one item per split, the rest by largest remainder. (TFDS leaves validation empty for
    10 speakers at 70/10/20: int(0.7 * 10) == int(0.8 * 10) == 7 in floating point.)"""
    bounds = split_boundaries(probs, n_items)
    if all(end > start for _, start, end in bounds):
        return bounds
    total = sum(p for _, p in probs)
    exact = [n_items * p / total for _, p in probs]
    sizes = [max(1, int(e)) for e in exact]
    while sum(sizes) > n_items:  # the minimum of one was taken from the largest split
        sizes[sizes.index(max(sizes))] -= 1
    by_remainder = sorted(range(len(probs)), key=lambda i: int(exact[i]) - exact[i])
    for i in by_remainder[: n_items - sum(sizes)]:
        sizes[i] += 1
    out, start = [], 0
    for (name, _), size in zip(probs, sizes, strict=True):
        out.append((name, start, start + size))
        start += size
    return out


def group_split(
    groups: Iterable[Hashable],
    probs: Sequence[tuple[str, float]] = TFDS_SPLIT_PROBS,
    seed: int = 0,
    every_split_filled: bool = False,
) -> dict[Hashable, str]:
    """Assign each group (speaker) to a split exactly as TFDS does: sort the distinct groups,
    shuffle with `np.random.RandomState(seed)`, cut by cumulative probability. With
    `every_split_filled` (custom tasks, never built-in ones) no split is left empty."""
    ordered = sorted(set(groups))
    np.random.RandomState(seed).shuffle(ordered)
    cut = nonempty_boundaries if every_split_filled else split_boundaries
    assignment = {}
    for name, start, end in cut(probs, len(ordered)):
        for group in ordered[start:end]:
            assignment[group] = name
    return assignment
