"""Pinned numbers of the NOSS log-mel frontend (`noss_eval.frontend`): the config's constants,
the HTK mel scale, the periodic Hann window, padding and windowing, against hand-worked values
and a float64 re-typing of upstream `tf_frontend.py`'s steps (numpy, no TensorFlow)."""

import numpy as np
import pytest

from noss_eval.frontend import (
    LOGMEL_VERSION,
    NOSS_LOGMEL,
    LogMelConfig,
    _hann,
    _hz_to_mel,
    log_mel,
    log_mel_windows,
    mel_matrix,
)


def test_config_is_upstreams():
    c = NOSS_LOGMEL
    assert (c.sample_rate, c.window_s, c.hop_s, c.num_mel_bins) == (16000, 0.025, 0.010, 64)
    assert (c.lower_hz, c.upper_hz, c.log_offset, c.log_floor) == (125.0, 7500.0, 0.001, 1e-12)
    assert (c.min_seconds, c.frames_per_window, c.window_hop_frames) == (1.0, 96, 17)
    assert (c.frame_length, c.frame_step, c.min_samples, c.fft_length) == (400, 160, 16000, 512)
    assert LogMelConfig(sample_rate=8000).fft_length == 256  # next power of two of 200
    assert LogMelConfig(window_s=0.032).fft_length == 512  # 512 exactly stays 512
    assert LogMelConfig(sample_rate=22050).frame_length == 551  # round(551.25)
    assert LOGMEL_VERSION == "noss-logmel-v2"


def test_htk_mel_scale():
    assert _hz_to_mel(np.float64(0.0)) == 0.0
    assert _hz_to_mel(np.float64(700.0)) == pytest.approx(1127.0 * np.log(2.0))
    assert _hz_to_mel(np.float64(1000.0)) == pytest.approx(1000.0, abs=0.01)


def test_periodic_hann():
    w = _hann(4)
    np.testing.assert_allclose(w, [0.0, 0.5, 1.0, 0.5], atol=1e-7)
    assert w.dtype == np.float32
    np.testing.assert_allclose(_hann(400), np.hanning(401)[:400], atol=1e-6)


def reference_mel_matrix(cfg):
    """Re-typed `tf.signal.linear_to_mel_weight_matrix` (HTK mel, DC bin zero), float64."""
    n_bins = cfg.fft_length // 2 + 1
    hz = np.linspace(0.0, cfg.sample_rate / 2.0, n_bins)[1:]
    mel = 1127.0 * np.log(1.0 + hz / 700.0)
    edges = np.linspace(
        1127.0 * np.log(1.0 + cfg.lower_hz / 700.0),
        1127.0 * np.log(1.0 + cfg.upper_hz / 700.0),
        cfg.num_mel_bins + 2,
    )
    out = np.zeros((n_bins, cfg.num_mel_bins))
    for m in range(cfg.num_mel_bins):
        lo, mid, hi = edges[m], edges[m + 1], edges[m + 2]
        up = (mel - lo) / (mid - lo)
        down = (hi - mel) / (hi - mid)
        out[1:, m] = np.maximum(0.0, np.minimum(up, down))
    return out


@pytest.mark.parametrize("cfg", [NOSS_LOGMEL, LogMelConfig(num_mel_bins=20, upper_hz=4000.0)])
def test_mel_matrix_shape_and_values(cfg):
    m = mel_matrix(cfg)
    assert m.shape == (cfg.fft_length // 2 + 1, cfg.num_mel_bins)
    assert m.dtype == np.float32
    assert not m[0].any()  # DC row zero
    np.testing.assert_allclose(m, reference_mel_matrix(cfg), atol=1e-6)
    assert m.max() <= 1.0 and m.min() >= 0.0


def reference_log_mel(x, cfg=NOSS_LOGMEL):
    x = np.asarray(x, np.float64)
    n = cfg.frame_length
    if len(x) < n:
        x = np.pad(x, (0, n - len(x)))
    starts = range(0, len(x) - n + 1, cfg.frame_step)
    window = 0.5 - 0.5 * np.cos(2 * np.pi * np.arange(n) / n)
    frames = np.stack([x[s : s + n] * window for s in starts])
    mag = np.abs(np.fft.rfft(frames, n=cfg.fft_length, axis=1))
    mel = np.maximum(mag @ reference_mel_matrix(cfg), cfg.log_floor)
    return np.log(mel + cfg.log_offset)


def test_log_mel_of_a_tone_and_of_silence():
    rng = np.random.RandomState(0)
    t = np.arange(8000) / 16000
    x = 0.3 * np.sin(2 * np.pi * 440 * t) + 0.01 * rng.randn(8000)
    out = log_mel(x)
    assert out.shape == (1 + (8000 - 400) // 160, 64) and out.dtype == np.float32
    np.testing.assert_allclose(out, reference_log_mel(x), atol=2e-3)
    silence = log_mel(np.zeros(1000))
    np.testing.assert_allclose(silence, np.log(1e-12 + 0.001), rtol=1e-6)
    assert silence.shape == (1 + (1000 - 400) // 160, 64)
    short = log_mel(np.ones(100))  # shorter than one frame: zero-padded to one frame
    assert short.shape == (1, 64)
    np.testing.assert_allclose(short, reference_log_mel(np.ones(100)), atol=2e-3)
    exact = log_mel(np.ones(400))
    assert exact.shape == (1, 64)


def direct_log_mel(x, cfg=NOSS_LOGMEL):
    """The plain formula that `LOGMEL_VERSION` v2's vectors were computed with."""
    from numpy.lib.stride_tricks import sliding_window_view
    from scipy.fft import rfft

    from noss_eval.frontend import _hann

    padded = np.pad(x, (0, max(0, cfg.frame_length - len(x))))
    frames = sliding_window_view(padded, cfg.frame_length)[:: cfg.frame_step]
    magnitude = np.abs(rfft(frames * _hann(cfg.frame_length), n=cfg.fft_length, axis=1))
    mel = np.maximum(magnitude @ mel_matrix(cfg), cfg.log_floor)
    return np.log(mel + cfg.log_offset).astype(np.float32)


def test_log_mel_is_bit_identical_to_the_direct_formula():
    """The frontend's fast path (each thread's reused work arrays, frames windowed into
    zero-padded rows) gives the direct formula's bits, so cached vectors stay valid: for every
    length (past the reuse limit too, and shorter after longer), on other threads, and after a
    config whose frames fill the whole FFT length (its padding columns never leak)."""
    from concurrent.futures import ThreadPoolExecutor

    rng = np.random.RandomState(0)
    clips = [(0.3 * rng.randn(n)).astype(np.float32) for n in (100, 400, 401, 48037, 16000)]
    clips.insert(3, (0.3 * rng.randn(160 * 3100)).astype(np.float32))  # 3,098 frames
    full = LogMelConfig(window_s=0.032)  # 512-sample frames: no padding columns
    assert full.frame_length == full.fft_length == NOSS_LOGMEL.fft_length
    for x in clips:
        np.testing.assert_array_equal(log_mel(x, full), direct_log_mel(x, full))
        np.testing.assert_array_equal(log_mel(x), direct_log_mel(x))
    with ThreadPoolExecutor(2) as pool:
        for x, got in zip(clips, pool.map(log_mel, clips), strict=True):
            np.testing.assert_array_equal(got, direct_log_mel(x))
    first = log_mel(clips[4])
    assert not np.shares_memory(first, log_mel(clips[4]))  # results are never work arrays


def test_log_floor_and_offset_are_applied_in_that_order():
    cfg = LogMelConfig(log_floor=0.5, log_offset=2.0)
    np.testing.assert_allclose(log_mel(np.zeros(400), cfg), np.log(2.5), rtol=1e-6)


@pytest.mark.parametrize(
    "samples, n_windows",
    [
        (100, 1),  # padded to 1 s: 98 frames, one 96-frame window
        (16000, 1),
        (400 + 112 * 160 - 1, 1),  # 112 frames
        (400 + 112 * 160, 2),  # 113 frames: windows at 0 and 17
        (48000, 1 + (298 - 96) // 17),
    ],
)
def test_window_count_and_hop(samples, n_windows):
    rng = np.random.RandomState(1)
    x = rng.randn(samples).astype(np.float32) * 0.1
    w = log_mel_windows(x)
    assert w.shape == (n_windows, 96, 64, 1) and w.dtype == np.float32
    padded = np.pad(x, (0, max(0, 16000 - samples)))
    mel = log_mel(padded)
    for i in range(n_windows):
        np.testing.assert_array_equal(w[i, ..., 0], mel[17 * i : 17 * i + 96])


def test_short_audio_is_padded_with_zeros_before_framing():
    x = np.full(4000, 0.5, np.float32)
    w = log_mel_windows(x)
    np.testing.assert_array_equal(w[0, ..., 0], log_mel(np.pad(x, (0, 12000)))[:96])
    # the last frames are of the zero padding: silence
    np.testing.assert_allclose(w[0, -1, :, 0], np.log(1e-12 + 0.001), rtol=1e-5)


def test_config_giving_too_few_frames_is_refused():
    cfg = LogMelConfig(min_seconds=0.5)
    with pytest.raises(ValueError, match="gives 48 frames for 0.5 s, need 96"):
        log_mel_windows(np.zeros(100), cfg)
    ok = LogMelConfig(min_seconds=0.5, frames_per_window=48, window_hop_frames=5)
    assert log_mel_windows(np.zeros(8000 + 5 * 160), ok).shape == (2, 48, 64, 1)


def test_windows_use_the_given_config_throughout():
    cfg = LogMelConfig(num_mel_bins=32)
    x = np.random.RandomState(2).randn(20000).astype(np.float32)
    w = log_mel_windows(x, cfg)
    assert w.shape == (2, 96, 32, 1)  # 123 frames
    np.testing.assert_array_equal(w[1, ..., 0], log_mel(x, cfg)[17:113])


def test_exactly_one_window_of_frames_is_enough():
    cfg = LogMelConfig(min_seconds=0.975)  # 15,600 samples: exactly 96 frames
    assert cfg.min_samples == 15600
    assert log_mel_windows(np.zeros(100), cfg).shape == (1, 96, 64, 1)


def test_tensorflow_frontend_pads_only_short_audio_and_uses_512_point_fft():
    tf = pytest.importorskip("tensorflow")
    from noss_eval.frontend import tf_log_mel_windows

    rng = np.random.RandomState(3)
    for n in (8000, 400 + 111 * 160 + 159):  # the second is one sample short of 113 frames
        x = (0.1 * rng.randn(n)).astype(np.float32)
        got = tf_log_mel_windows(tf.constant(x)).numpy()
        want = log_mel_windows(x)
        assert got.shape == want.shape
        np.testing.assert_allclose(got, want, atol=2e-3)
