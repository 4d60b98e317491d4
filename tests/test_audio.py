import numpy as np
import pytest
import soundfile as sf
from testlib import SHARED, require_shared, tone

from noss_eval.audio import load_audio, read_audio, resample
from noss_eval.errors import AudioError


def test_int16_pcm_is_scaled_to_unit_range(tmp_path):
    path = tmp_path / "half.wav"
    sf.write(str(path), np.full(800, 16384, dtype=np.int16), 8000, subtype="PCM_16")
    x, rate = read_audio(path)
    assert rate == 8000 and x.dtype == np.float32
    np.testing.assert_allclose(x, 0.5)


@pytest.mark.parametrize("fmt", ["WAV", "FLAC", "AIFF"])
@pytest.mark.parametrize("channels", [1, 2])
def test_16_bit_pcm_gives_libsndfiles_own_float_samples_bit_for_bit(tmp_path, fmt, channels):
    """16-bit files are read as int16 and scaled here; the samples must be the very floats that
    libsndfile's float32 read gives (cache keys assume decoding did not change)."""
    rng = np.random.RandomState(channels)
    pcm = rng.randint(-32768, 32768, size=(5000, channels)).astype(np.int16)
    pcm[:4, 0] = [-32768, 32767, 0, -1]
    path = tmp_path / f"x.{fmt.lower()}"
    sf.write(str(path), pcm, 16000, format=fmt, subtype="PCM_16")
    want = sf.read(str(path), dtype="float32", always_2d=True)[0].mean(axis=1, dtype=np.float32)
    got, _ = read_audio(path)
    assert got.dtype == np.float32 and got.flags.c_contiguous
    np.testing.assert_array_equal(got, want)
    segment, _ = read_audio(path, start=0.1, duration=0.05)
    np.testing.assert_array_equal(segment, want[1600:2400])


def test_real_16_bit_recordings_decode_to_libsndfiles_floats():
    wav = require_shared(SHARED / "data" / "fsdd" / "recordings" / "7_theo_3.wav")
    assert sf.info(str(wav)).subtype == "PCM_16"
    np.testing.assert_array_equal(read_audio(wav)[0], sf.read(str(wav), dtype="float32")[0])


def test_stereo_is_mixed_down(tmp_path):
    path = tmp_path / "stereo.flac"
    left, right = np.full(1000, 0.5), np.full(1000, -0.25)
    sf.write(str(path), np.stack([left, right], axis=1), 16000)
    x, _ = read_audio(path)
    np.testing.assert_allclose(x, 0.125, atol=1e-4)


@pytest.mark.parametrize("rate", [8000, 22050, 44100])
def test_resampling_keeps_the_pitch(rate):
    y = resample(tone(440.0, 1.0, rate), rate, 16000)
    assert abs(y.size - 16000) <= 1
    peak_hz = np.argmax(np.abs(np.fft.rfft(y))) * 16000 / y.size
    assert abs(peak_hz - 440.0) < 2.0


def test_segment_is_cut_in_seconds(tmp_path):
    path = tmp_path / "ramp.wav"
    sf.write(str(path), np.linspace(-1, 1, 16000 * 3, dtype=np.float32), 16000, subtype="FLOAT")
    segment = load_audio(path, 16000, start=1.0, duration=0.5)
    whole = load_audio(path, 16000)
    assert segment.size == 8000
    np.testing.assert_array_equal(segment, whole[16000:24000])  # starts at 1.0 s, not 0


def test_real_ogg_and_8k_wav_decode():
    ogg = require_shared(SHARED / "data" / "hedgewars-voices" / "Default" / "Laugh.ogg")
    wav = require_shared(SHARED / "data" / "fsdd" / "recordings" / "0_george_0.wav")
    assert sf.info(str(ogg)).samplerate == 44100
    for path in (ogg, wav):
        x = load_audio(path, 16000)
        assert x.size > 1000 and np.abs(x).max() <= 1.0 and np.abs(x).max() > 0.01


def test_empty_and_garbage_files_name_the_path(tmp_path):
    empty, garbage = tmp_path / "empty.wav", tmp_path / "garbage.wav"
    sf.write(str(empty), np.zeros(0, dtype=np.int16), 16000)
    garbage.write_bytes(b"this is not audio" * 10)
    for path in (empty, garbage, tmp_path / "missing.wav"):
        with pytest.raises(AudioError, match=path.name):
            read_audio(path)
