"""Property-based tests (hypothesis) of the splits, normalisations and metrics, against TFDS's
own split function and sklearn as oracles."""

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays
from scipy.stats import rankdata
from sklearn.metrics import accuracy_score, balanced_accuracy_score
from tensorflow_datasets.audio.voxforge import _compute_split_boundaries as tfds_boundaries
from tensorflow_datasets.audio.voxforge import _get_inter_splits_by_group as tfds_split

from noss_eval.probes import l2_normalise, speaker_normalise
from noss_eval.splits import TFDS_SPLIT_PROBS, group_split, nonempty_boundaries, split_boundaries
from noss_eval.stats import Outcomes, equal_error_rate, paired_p_value

SETTINGS = settings(max_examples=60, deadline=None, derandomize=True)
speaker_names = st.lists(
    st.text("abcdefghij0123456789-_", min_size=1, max_size=6), min_size=3, max_size=40, unique=True
)
probs = st.sampled_from(
    [
        TFDS_SPLIT_PROBS,
        (("train", 0.6), ("validation", 0.2), ("test", 0.2)),
        (("train", 0.8), ("validation", 0.1), ("test", 0.1)),
    ]
)


@SETTINGS
@given(speakers=speaker_names, probs=probs, seed=st.integers(0, 3), data=st.data())
def test_group_split_is_tfds_in_any_listing_order(speakers, probs, seed, data):
    listing = data.draw(st.permutations(speakers))
    items = [(f"clip-{s}-{k}", s) for s in listing for k in range(2)]
    expected = tfds_split(items, list(probs), seed)
    ours = group_split(listing, probs, seed)
    assert {item: ours[group] for item, group in items} == {
        item: split for split, members in expected.items() for item in members
    }
    assert split_boundaries(probs, len(speakers)) == tfds_boundaries(list(probs), len(speakers))


@SETTINGS
@given(n=st.integers(3, 200), probs=probs)
def test_custom_task_boundaries_fill_every_split(n, probs):
    bounds = nonempty_boundaries(probs, n)
    assert [name for name, _, _ in bounds] == [name for name, _ in probs]
    assert bounds[0][1] == 0 and bounds[-1][2] == n
    assert all(end > start for _, start, end in bounds)
    assert all(a[2] == b[1] for a, b in zip(bounds, bounds[1:], strict=False))
    tfds = split_boundaries(probs, n)
    if all(end > start for _, start, end in tfds):
        assert bounds == tfds  # where TFDS gives every split a speaker, it is TFDS exactly


finite = st.floats(-1e3, 1e3, allow_nan=False, width=32)


@SETTINGS
@given(
    x=arrays(np.float64, st.tuples(st.integers(4, 30), st.integers(1, 5)), elements=finite),
    n_speakers=st.integers(1, 4),
    data=st.data(),
)
def test_speaker_normalisation_properties(x, n_speakers, data):
    speakers = data.draw(
        st.lists(
            st.sampled_from([f"s{i}" for i in range(n_speakers)]), min_size=len(x), max_size=len(x)
        )
    )
    out = speaker_normalise(x, speakers)
    spk = np.array(speakers)
    for s in np.unique(spk):
        rows = out[spk == s]
        np.testing.assert_allclose(rows.mean(0), 0, atol=1e-6)
        std = rows.std(0)
        assert np.all((np.abs(std - 1) < 1e-6) | (std < 1e-6))  # 1, or 0 for a constant feature
    order = np.random.RandomState(len(x)).permutation(len(x))
    np.testing.assert_allclose(speaker_normalise(x[order], list(spk[order])), out[order], atol=1e-9)


@SETTINGS
@given(
    x=arrays(np.float64, st.tuples(st.integers(1, 20), st.integers(1, 6)), elements=finite),
    scale=st.floats(0.01, 100),
)
def test_l2_normalisation_properties(x, scale):
    nonzero = np.linalg.norm(x, axis=1) > 1e-6
    out = l2_normalise(x)
    np.testing.assert_allclose(np.linalg.norm(out[nonzero], axis=1), 1, atol=1e-9)
    np.testing.assert_allclose(l2_normalise(x * scale)[nonzero], out[nonzero], atol=1e-9)


labels = st.lists(st.sampled_from("abcd"), min_size=2, max_size=80)


@SETTINGS
@given(y=labels, data=st.data())
def test_outcome_scores_are_sklearns(y, data):
    pred = data.draw(st.lists(st.sampled_from("abcd"), min_size=len(y), max_size=len(y)))
    y, pred = np.array(y), np.array(pred)
    o = Outcomes.of(y, pred)
    assert np.isclose(o.score("accuracy"), accuracy_score(y, pred))
    # sklearn's balanced accuracy averages recall over the classes present in y_true
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        assert np.isclose(o.score("balanced_accuracy"), balanced_accuracy_score(y, pred))


@SETTINGS
@given(y=labels, data=st.data(), metric=st.sampled_from(["accuracy", "balanced_accuracy"]))
def test_paired_p_value_is_a_probability_symmetric_and_one_for_equal(y, data, metric):
    n = len(y)
    a = np.array(data.draw(st.lists(st.booleans(), min_size=n, max_size=n)))
    b = np.array(data.draw(st.lists(st.booleans(), min_size=n, max_size=n)))
    classes = np.unique(np.array(y), return_inverse=True)[1]
    pa = paired_p_value(Outcomes(a, classes), Outcomes(b, classes), metric)[0]
    pb = paired_p_value(Outcomes(b, classes), Outcomes(a, classes), metric)[0]
    assert 0 < pa <= 1 and np.isclose(pa, pb)
    assert paired_p_value(Outcomes(a, classes), Outcomes(a, classes), metric)[0] == 1.0


@SETTINGS
@given(
    positive=st.lists(st.booleans(), min_size=2, max_size=60).filter(lambda v: 0 < sum(v) < len(v)),
    data=st.data(),
)
def test_eer_is_a_rate_invariant_to_monotone_rescaling(positive, data):
    n = len(positive)
    scores = np.array(data.draw(st.lists(st.floats(0, 1), min_size=n, max_size=n)))
    eer = equal_error_rate(np.array(positive), scores)
    assert 0 <= eer <= 1
    ranks = rankdata(scores)  # a strictly increasing map of the scores, ties kept
    assert np.isclose(equal_error_rate(np.array(positive), ranks * 7.0 - 3.0), eer)
