import numpy as np
import tensorflow as tf
from testlib import tone

from noss_eval.frontend import (
    NOSS_LOGMEL,
    log_mel,
    log_mel_windows,
    mel_matrix,
    tf_log_mel_windows,
)


def test_mel_matrix_matches_tensorflow():
    cfg = NOSS_LOGMEL
    expected = tf.signal.linear_to_mel_weight_matrix(
        cfg.num_mel_bins, cfg.fft_length // 2 + 1, cfg.sample_rate, cfg.lower_hz, cfg.upper_hz
    ).numpy()
    np.testing.assert_allclose(mel_matrix(cfg), expected, atol=1e-5)


def test_log_mel_matches_a_tensorflow_stft_frontend():
    x = tone(300.0, 1.0) + 0.01 * np.random.RandomState(0).randn(16000).astype(np.float32)
    cfg = NOSS_LOGMEL
    stft = tf.signal.stft(x, cfg.frame_length, cfg.frame_step, cfg.fft_length)
    mel = tf.abs(stft) @ tf.constant(mel_matrix(cfg))
    expected = tf.math.log(mel + cfg.log_offset).numpy()
    np.testing.assert_allclose(log_mel(x), expected, atol=2e-3)


def test_windows_have_the_noss_shape_and_hop():
    seconds = 3.0
    windows = log_mel_windows(tone(200.0, seconds))
    frames = 1 + (int(seconds * 16000) - 400) // 160
    assert windows.shape == (1 + (frames - 96) // 17, 96, 64, 1)
    np.testing.assert_array_equal(windows[1, :-17], windows[0, 17:])


def test_short_clip_gives_one_padded_window():
    assert log_mel_windows(tone(200.0, 0.3)).shape == (1, 96, 64, 1)


def test_tensorflow_frontend_matches_numpy():
    x = tone(250.0, 2.5) + 0.01 * np.random.RandomState(1).randn(40000).astype(np.float32)
    np.testing.assert_allclose(
        tf_log_mel_windows(tf.constant(x)).numpy(), log_mel_windows(x), atol=2e-3
    )
