"""SavedModel outputs of any rank become [frames, features] as upstream's extraction makes them:
a real SavedModel built here returns outputs of rank 1 to 4."""

import numpy as np
import pytest
from testlib import tone

from noss_eval.embedders.savedmodel import SavedModelEmbedder


def upstream_batch_flatten(tf_out):
    """Re-typed from google-research non_semantic_speech_benchmark/data_prep/data_prep_utils.py
    `samples_to_embedding_tfhub` (its last lines, after the output key is picked)."""
    ret = tf_out
    ret = np.array(ret)
    if ret.ndim > 2:
        # Batch-flatten in numpy.
        ret = np.reshape(ret, [ret.shape[0], -1])
    return ret


@pytest.fixture(scope="module")
def ranks_model(tmp_path_factory):
    """`model(samples=[n], sample_rate=int)` -> outputs of rank 1 to 4, each of distinct values
    (frame f, position p: 1000 f + p + the frame's mean), so any reordering shows."""
    import tensorflow as tf

    class Ranks(tf.Module):
        @tf.function(
            input_signature=[tf.TensorSpec([None], tf.float32), tf.TensorSpec([], tf.int32)]
        )
        def __call__(self, samples, sample_rate):
            frames = tf.signal.frame(samples, 8000, 8000)  # [F, 8000]
            n = tf.shape(frames)[0]
            base = 1000.0 * tf.cast(tf.range(n), tf.float32)[:, None] + tf.reduce_mean(
                frames, axis=1, keepdims=True
            )
            grid = base + tf.range(24, dtype=tf.float32)[None, :]  # [F, 24]
            scale = tf.cast(sample_rate, tf.float32) / 16000.0
            return {
                "rank3": tf.reshape(grid, [n, 4, 6]) * scale,  # [F, a, b]
                "rank4": tf.reshape(grid[:, :5], [1, n, 1, 5]) * scale,  # [1, F, 1, d]
                "rank4b": tf.reshape(grid, [n, 2, 3, 4]) * scale,
                "rank2": grid * scale,
                "rank1": tf.reduce_mean(grid, axis=0) * scale,
            }

    directory = tmp_path_factory.mktemp("savedmodels") / "ranks"
    tf.saved_model.save(Ranks(), str(directory))
    return directory


@pytest.mark.parametrize("output", ["rank3", "rank4", "rank4b", "rank2"])
def test_outputs_of_any_rank_flatten_as_upstream(ranks_model, output):
    import tensorflow as tf

    wave = tone(300, 2.0)
    ours = SavedModelEmbedder(str(ranks_model), output=output).embed(wave)
    model = tf.saved_model.load(str(ranks_model))
    expected = upstream_batch_flatten(model(samples=tf.constant(wave), sample_rate=16000)[output])
    assert expected.ndim == 2
    np.testing.assert_array_equal(ours, expected)


def test_rank3_keeps_frames_and_flattens_the_rest(ranks_model):
    ours = SavedModelEmbedder(str(ranks_model), output="rank3").embed(tone(300, 2.0))
    assert ours.shape == (4, 24)  # 4 frames of [4, 6], not 16 rows of 6
    np.testing.assert_array_equal(np.diff(ours[:, 0]) > 900, True)  # one row per frame
    np.testing.assert_array_equal(np.diff(ours, axis=1), 1.0)  # features in C order


def test_a_single_vector_is_one_frame(ranks_model):
    """Upstream's extraction refuses a rank-1 output (`embedding_2d wrong dims`); noss-eval
    takes it as one frame."""
    ours = SavedModelEmbedder(str(ranks_model), output="rank1").embed(tone(300, 2.0))
    assert ours.shape == (1, 24)
