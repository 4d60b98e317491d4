import numpy as np
import pytest
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


def upstream_compute_frontend_features(samples, sr, frame_hop, num_mel_bins=64, frame_width=96):
    """Re-typed from google-research non_semantic_speech_benchmark/export_model/tf_frontend.py
    (`compute_frontend_features`, `log_mel_spectrogram`, `stabilized_log`): float64 TF ops."""
    assert samples.dtype == np.float32
    n = tf.size(samples)
    samples = tf.cond(n < 16000, lambda: tf.pad(samples, [(0, 16000 - n)]), lambda: samples)
    window, hop = int(round(sr * 0.025)), int(round(sr * 0.010))
    fft_length = 2 ** int(np.ceil(np.log(window) / np.log(2.0)))
    spectrogram = tf.abs(
        tf.signal.stft(
            tf.cast(samples, tf.float64),
            frame_length=window,
            frame_step=hop,
            fft_length=fft_length,
            window_fn=tf.signal.hann_window,
        )
    )
    to_mel = tf.signal.linear_to_mel_weight_matrix(
        num_mel_bins=num_mel_bins,
        num_spectrogram_bins=fft_length // 2 + 1,
        sample_rate=sr,
        lower_edge_hertz=125.0,
        upper_edge_hertz=7500.0,
        dtype=tf.float64,
    )
    log_mel = tf.math.log(tf.math.maximum(spectrogram @ to_mel, 1e-12) + 0.001)
    return tf.signal.frame(log_mel, frame_length=frame_width, frame_step=frame_hop, axis=0).numpy()


@pytest.mark.parametrize("seconds", [0.05, 0.3, 0.5, 0.9, 0.99, 1.0, 1.01, 1.3, 2.5])
def test_frontend_matches_upstream_on_short_and_long_clips(seconds):
    """Half of Speech Commands is under 1 s: upstream pads the audio (not the log-mel frames)."""
    rng = np.random.RandomState(int(seconds * 100))
    n = int(seconds * 16000)
    x = tone(330.0, seconds) + 0.05 * rng.randn(n).astype(np.float32)
    x[: n // 3] = 0.0  # exact zeros: the 1e-12 floor matters there
    expected = upstream_compute_frontend_features(x, 16000, frame_hop=17)[..., None]
    np.testing.assert_allclose(log_mel_windows(x), expected, atol=2e-3)
    np.testing.assert_allclose(tf_log_mel_windows(tf.constant(x)).numpy(), expected, atol=2e-3)


def test_short_clip_gives_one_window_of_padded_audio():
    windows = log_mel_windows(tone(200.0, 0.3))
    assert windows.shape == (1, 96, 64, 1)
    silent = log_mel(np.zeros(16000, np.float32))[0]
    np.testing.assert_allclose(windows[0, -1, :, 0], silent, atol=1e-6)  # padded audio, not floor


def test_tensorflow_frontend_matches_numpy():
    x = tone(250.0, 2.5) + 0.01 * np.random.RandomState(1).randn(40000).astype(np.float32)
    np.testing.assert_allclose(
        tf_log_mel_windows(tf.constant(x)).numpy(), log_mel_windows(x), atol=2e-3
    )
