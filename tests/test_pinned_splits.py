"""Pinned split rules of `noss_eval.splits`, against the TFDS builders' own functions (the oracle)
and hand-worked answers for the custom-task fallback."""

import numpy as np
import pytest
from tensorflow_datasets.audio.voxforge import (
    _compute_split_boundaries,
    _get_inter_splits_by_group,
)

from noss_eval.splits import TFDS_SPLIT_PROBS, group_split, nonempty_boundaries, split_boundaries


def test_tfds_probabilities():
    assert TFDS_SPLIT_PROBS == (("train", 0.7), ("validation", 0.1), ("test", 0.2))


@pytest.mark.parametrize("n", [3, 4, 5, 7, 10, 11, 23, 100, 1211])
@pytest.mark.parametrize(
    "probs", [TFDS_SPLIT_PROBS, (("train", 0.6), ("validation", 0.2), ("test", 0.2))]
)
def test_boundaries_are_tfds(n, probs):
    assert split_boundaries(probs, n) == _compute_split_boundaries(list(probs), n)


def test_boundaries_known_answers_and_errors():
    assert split_boundaries(TFDS_SPLIT_PROBS, 10) == [
        ("train", 0, 7),
        ("validation", 7, 7),  # TFDS leaves it empty: int(0.8 * 10) == 7
        ("test", 7, 10),
    ]
    assert split_boundaries((("a", 0.5), ("b", 0.5)), 2) == [("a", 0, 1), ("b", 1, 2)]
    assert split_boundaries((("a", 1.0),), 1) == [("a", 0, 1)]
    with pytest.raises(ValueError, match="3 splits need at least as many groups, got 2"):
        split_boundaries(TFDS_SPLIT_PROBS, 2)
    assert split_boundaries(TFDS_SPLIT_PROBS, 3) == [
        ("train", 0, 2),
        ("validation", 2, 2),
        ("test", 2, 3),
    ]


def test_nonempty_boundaries_keep_tfds_where_every_split_is_filled():
    for n in (20, 23, 100):
        assert nonempty_boundaries(TFDS_SPLIT_PROBS, n) == split_boundaries(TFDS_SPLIT_PROBS, n)


@pytest.mark.parametrize(
    "n, sizes",
    [
        (10, (7, 1, 2)),  # TFDS gives validation nothing; 7 / 1 / 2 exactly
        (3, (1, 1, 1)),
        (4, (2, 1, 1)),
        (5, (3, 1, 1)),  # exact 3.5 / 0.5 / 1.0: floors 3 / 1 / 1
        (6, (4, 1, 1)),  # exact 4.2 / 0.6 / 1.2
        (9, (6, 1, 2)),  # exact 6.3 / 0.9 / 1.8: 6 / 1 / 1, one left -> test (remainder 0.8)
    ],
)
def test_nonempty_boundaries_fallback_known_sizes(n, sizes):
    bounds = nonempty_boundaries(TFDS_SPLIT_PROBS, n)
    assert [name for name, _, _ in bounds] == ["train", "validation", "test"]
    assert tuple(end - start for _, start, end in bounds) == sizes
    assert bounds[0][1] == 0 and bounds[-1][2] == n
    assert all(bounds[i][2] == bounds[i + 1][1] for i in range(2))


def test_nonempty_boundaries_largest_remainder_and_unnormalised_probs():
    # 2 / 1 / 1 weights (sum 4) on 7 items: exact 3.5 / 1.75 / 1.75, floors 3 / 1 / 1 = 5, the
    # two left go to the largest remainders (0.75, 0.75): 3 / 2 / 2.
    probs = (("a", 2.0), ("b", 1.0), ("c", 1.0))
    assert nonempty_boundaries(probs, 7) == [("a", 0, 3), ("b", 3, 5), ("c", 5, 7)]
    # A zero-weight split still gets one, taken from the largest: 4/2/2/1 -> 3/2/2/1.
    probs = (("a", 2.0), ("b", 1.0), ("c", 1.0), ("d", 0.0))
    assert [e - s for _, s, e in nonempty_boundaries(probs, 8)] == [3, 2, 2, 1]
    # The leftover goes to the largest remainder, not the smallest value: 9 items at 3 / 0.5 /
    # 0.5 (sum 4) are exact 6.75 / 1.125 / 1.125, floors 6 / 1 / 1, the ninth to "a" (0.75).
    probs = (("a", 3.0), ("b", 0.5), ("c", 0.5))
    assert nonempty_boundaries(probs, 9) == [("a", 0, 7), ("b", 7, 8), ("c", 8, 9)]
    # more splits forced to one than there is room: the minimum is taken from the largest.
    probs = (("a", 0.97), ("b", 0.01), ("c", 0.01), ("d", 0.01))
    assert [e - s for _, s, e in nonempty_boundaries(probs, 5)] == [2, 1, 1, 1]


def tfds_assignment(groups, probs, seed):
    split = _get_inter_splits_by_group([(g, g) for g in groups], list(probs), seed)
    return {g: name for name, members in split.items() for g in members}


@pytest.mark.parametrize("seed", [0, 1, 5])
def test_group_split_is_tfds(seed):
    rng = np.random.RandomState(seed)
    groups = [f"spk{rng.randint(0, 40):02d}" for _ in range(90)]  # repeated, unsorted
    for probs in (TFDS_SPLIT_PROBS, (("train", 0.6), ("validation", 0.2), ("test", 0.2))):
        assert group_split(groups, probs, seed) == tfds_assignment(groups, probs, seed)
    assert group_split(groups) == tfds_assignment(groups, TFDS_SPLIT_PROBS, 0)


def test_group_split_fills_every_split_only_when_asked():
    groups = [f"g{i}" for i in range(10)]
    plain = group_split(groups)
    assert sorted(plain.values()).count("validation") == 0
    assert plain == tfds_assignment(groups, TFDS_SPLIT_PROBS, 0)
    filled = group_split(groups, every_split_filled=True)
    counts = {name: list(filled.values()).count(name) for name in ("train", "validation", "test")}
    assert counts == {"train": 7, "validation": 1, "test": 2}
    ordered = sorted(groups)
    np.random.RandomState(0).shuffle(ordered)
    assert [filled[g] for g in ordered] == ["train"] * 7 + ["validation"] + ["test"] * 2
