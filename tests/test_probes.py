"""Probe configurations, normalisations and selection on validation."""

import numpy as np

from noss_eval.evaluate import rounds
from noss_eval.probes import (
    Part,
    ProbeConfig,
    default_grid,
    l2_normalise,
    select_and_test,
    speaker_normalise,
)
from noss_eval.tasks import BUILTIN_TASKS


def test_speaker_normalisation_zscores_each_speaker():
    rng = np.random.RandomState(0)
    x = np.vstack([rng.randn(20, 3) + 5, rng.randn(20, 3) * 3 - 2])
    out = speaker_normalise(x, ["a"] * 20 + ["b"] * 20)
    for rows in (slice(0, 20), slice(20, 40)):
        np.testing.assert_allclose(out[rows].mean(0), 0, atol=1e-9)
        np.testing.assert_allclose(out[rows].std(0), 1, atol=1e-9)


def test_l2_normalisation():
    np.testing.assert_allclose(np.linalg.norm(l2_normalise(np.array([[3.0, 4.0]])), axis=1), 1)


def test_grid_has_speaker_norm_only_with_speakers():
    assert not any(c.speaker_norm for c in default_grid(False))
    assert {(c.family, c.l2, c.speaker_norm) for c in default_grid(True)} >= {
        ("logistic", True, True),
        ("lda", False, True),
    }


def test_selection_uses_validation_not_test():
    """Per-speaker offsets make raw features useless; speaker norm fixes validation. A test split
    built to reward the raw features must not change which config is picked."""

    def part(n_speakers, offset_scale, seed):
        r = np.random.RandomState(seed)
        y = np.tile([0, 1], 10 * n_speakers)
        spk = np.repeat([f"s{seed}-{i}" for i in range(n_speakers)], 20)
        x = (
            y[:, None] * 1.0
            + 0.3 * r.randn(len(y), 2)
            + offset_scale * np.repeat(r.randn(n_speakers, 2), 20, axis=0)
        )
        return Part(x, y.astype(str), tuple(spk))

    train, validation = part(8, 5.0, 1), part(4, 5.0, 2)
    test = part(4, 0.0, 3)
    grid = [ProbeConfig("lda"), ProbeConfig("lda", speaker_norm=True)]
    chosen = select_and_test(grid, train, validation, test, seed=0)
    assert chosen.config.speaker_norm and chosen.validation_accuracy > 0.9


def test_cross_validation_rounds_rotate_validation_fold():
    plan = rounds(BUILTIN_TASKS["esc50_hs"])
    assert [(val, test) for _, val, test in plan] == [
        ("fold2", "fold1"),
        ("fold3", "fold2"),
        ("fold4", "fold3"),
        ("fold5", "fold4"),
        ("fold1", "fold5"),
    ]
    for train, val, test in plan:
        assert len(train) == 3 and val not in train and test not in train
    assert rounds(BUILTIN_TASKS["crema_d"]) == [(("train",), "validation", "test")]
