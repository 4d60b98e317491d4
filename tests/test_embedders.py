"""Each embedder kind against real models: TFLite files built here and shipped in ../shared,
SavedModels saved in the TRILL/FRILL/TRILLsson signatures, and TF Hub handles via the hub cache."""

import hashlib

import numpy as np
import pytest
from testlib import (
    MICRO_SPEECH,
    YAMNET,
    YAMNET_EMBEDDING,
    convert,
    frontend_model,
    require_shared,
    save_trill_like,
    tone,
)

from noss_eval.embedder import fingerprint, resolve_embedder
from noss_eval.embedders.dsp import DspEmbedder
from noss_eval.embedders.savedmodel import SavedModelEmbedder
from noss_eval.embedders.tflite import TFLiteEmbedder, frame
from noss_eval.errors import NossError


def test_dynamic_tflite_is_resized_per_clip(dynamic_tflite):
    emb = TFLiteEmbedder(dynamic_tflite, threads=1)
    assert emb.input_shape == (1, -1)
    short, long = emb.embed(tone(200, 1.0)), emb.embed(tone(200, 2.0))
    assert short.shape == (1 + (16000 - 400) // 160, 32)
    assert long.shape == (1 + (32000 - 400) // 160, 32)
    np.testing.assert_allclose(short[:50], long[:50], atol=1e-5)


def test_fixed_length_tflite_frames_the_clip(fixed_tflite):
    emb = TFLiteEmbedder(fixed_tflite, hop=0.5)
    out = emb.embed(tone(200, 2.2))
    assert out.shape == (len(frame(tone(200, 2.2), 16000, 8000)), 32) == (4, 32)
    whole = TFLiteEmbedder(fixed_tflite).embed(tone(200, 1.0))
    np.testing.assert_allclose(out[0], whole[0], atol=1e-5)


def test_frame_covers_the_clip_end():
    x = np.arange(25, dtype=np.float32)
    windows = frame(x, 10, 10)
    assert windows[-1, -1] == 24 and len(windows) == 3
    assert frame(x[:4], 10, 5).shape == (1, 10)


def test_yamnet_intermediate_embedding_tensor():
    emb = TFLiteEmbedder(require_shared(YAMNET), output=YAMNET_EMBEDDING)
    out = emb.embed(tone(440, 2.0))
    n_windows = len(frame(tone(440, 2.0), 15600, 7800))
    assert out.shape == (n_windows, 1024) == (4, 1024) and np.all(out >= 0)  # pooled ReLU
    scores = TFLiteEmbedder(YAMNET, output=0).embed(tone(440, 2.0))
    assert scores.shape == (4, 521) and np.all((scores >= 0) & (scores <= 1))


def test_int8_model_is_quantised_and_dequantised():
    emb = TFLiteEmbedder(require_shared(MICRO_SPEECH), output="labels_softmax", input="audio")
    x = np.random.RandomState(0).randn(3000).astype(np.float32) * 5
    out = emb.embed(x)
    assert out.shape == (len(frame(x, 1960, 980)), 4) and out.dtype == np.float32
    np.testing.assert_allclose(out.sum(axis=1), 1.0, atol=0.02)  # dequantised softmax


def test_bad_tflite_outputs_and_files(dynamic_tflite, tmp_path):
    with pytest.raises(NossError, match="has 1 outputs, not 3"):
        TFLiteEmbedder(dynamic_tflite, output=3)
    with pytest.raises(NossError, match="no tensor named 'nope'"):
        TFLiteEmbedder(dynamic_tflite, output="nope")
    junk = tmp_path / "junk.tflite"
    junk.write_bytes(b"\0" * 64)
    with pytest.raises(NossError, match="junk.tflite: not a loadable TFLite model"):
        TFLiteEmbedder(junk)


def test_fingerprint_changes_with_the_weights_the_rate_and_every_setting(fixed_tflite, monkeypatch):
    """The cache key of an embedder's vectors: another weights hash, sample rate or any one
    setting (here each option of a real TFLite embedder) gives another fingerprint."""
    from dataclasses import replace
    from types import SimpleNamespace

    from noss_eval.embedders.dsp import DspEmbedder
    from noss_eval.frontend import NOSS_LOGMEL

    dsp_hash = DspEmbedder().model_sha256
    base = resolve_embedder(str(fixed_tflite), {})
    prints = {fingerprint(base)}
    for option in ({"hop": 0.25}, {"input_gain": 2.0}, {"min_seconds": 2.0}):
        prints.add(fingerprint(resolve_embedder(str(fixed_tflite), option)))
    fake = {"model_sha256": base.model_sha256, "sample_rate": base.sample_rate,
            "settings": base.settings}  # fmt: skip
    for change in ({"model_sha256": "0" * 64}, {"sample_rate": 8000}):
        prints.add(fingerprint(SimpleNamespace(**{**fake, **change})))
    assert len(prints) == 6
    assert fingerprint(SimpleNamespace(**fake)) == fingerprint(base)
    other_logmel = replace(NOSS_LOGMEL, log_offset=0.01)
    monkeypatch.setattr("noss_eval.embedders.dsp.NOSS_LOGMEL", other_logmel)
    assert DspEmbedder().model_sha256 != dsp_hash  # the DSP baseline's "weights" are its frontend


def test_trill_calling_convention(trill_like):
    layer19 = SavedModelEmbedder(str(trill_like), call="samples_and_rate", output="layer19")
    out = layer19.embed(tone(300, 2.0))
    assert out.shape == (4, 24)
    small = SavedModelEmbedder(str(trill_like), call="samples_and_rate", output="embedding")
    np.testing.assert_allclose(small.embed(tone(300, 2.0)), out[:, :12], atol=1e-6)
    assert fingerprint(layer19) != fingerprint(small)
    with pytest.raises(NossError, match="no output 'nope'"):
        SavedModelEmbedder(str(trill_like), output="nope").embed(tone(300, 1.0))


def test_savedmodel_calling_convention_is_part_of_the_fingerprint(tmp_path, monkeypatch):
    """One directory under each `call` gives three fingerprints; only `logmel_windows` feeds the
    model NOSS log-mel, so only its fingerprint moves with the frontend's version."""
    (tmp_path / "saved_model.pb").write_bytes(b"not loaded until the first embed")

    def prints():
        return {call: fingerprint(SavedModelEmbedder(str(tmp_path), call=call))
                for call in ("samples_and_rate", "batched_samples", "logmel_windows")}  # fmt: skip

    before = prints()
    assert len(set(before.values())) == 3
    monkeypatch.setattr("noss_eval.embedders.savedmodel.LOGMEL_VERSION", "noss-logmel-next")
    after = prints()
    assert after["logmel_windows"] != before["logmel_windows"]
    assert after["samples_and_rate"] == before["samples_and_rate"]
    assert after["batched_samples"] == before["batched_samples"]


def test_batched_and_logmel_calling_conventions(batched_like, logmel_like):
    assert SavedModelEmbedder(str(batched_like), call="batched_samples").embed(
        tone(300, 1.0)
    ).shape == (1, 16)
    assert SavedModelEmbedder(str(logmel_like), call="logmel_windows").embed(
        tone(300, 2.0)
    ).shape == (1 + (1 + (32000 - 400) // 160 - 96) // 17, 8)


def test_hub_handle_resolves_through_the_hub_cache(tmp_path, monkeypatch):
    handle = "https://tfhub.dev/google/nonsemantic-speech-benchmark/trill/3"
    cache = tmp_path / "hub"
    save_trill_like(cache / hashlib.sha1(handle.encode()).hexdigest())
    monkeypatch.setenv("TFHUB_CACHE_DIR", str(cache))
    trill = resolve_embedder("trill")
    assert trill.name == "trill" and trill.settings["output"] == "layer19"
    assert trill.embed(tone(300, 1.0)).shape[1] == 24
    direct = resolve_embedder(handle, {"output": "embedding"})
    assert direct.embed(tone(300, 1.0)).shape[1] == 12


def test_unreachable_hub_handle_is_one_clear_error(tmp_path, monkeypatch):
    monkeypatch.setenv("TFHUB_CACHE_DIR", str(tmp_path))
    with pytest.raises(NossError, match="cannot fetch TF Hub handle .*frill/1"):
        resolve_embedder("frill")


def test_dsp_baseline_separates_pitch():
    dsp = DspEmbedder()
    a, b = dsp.embed(tone(200, 1.0)), dsp.embed(tone(800, 1.0))
    assert a.shape == (1, 256) and not np.allclose(a, b)
    np.testing.assert_array_equal(a, dsp.embed(tone(200, 1.0)))


def test_in_graph_frontend_model_survives_clips_shorter_than_a_window(tmp_path):
    """LiteRT crashes the process on the empty tensor such a model makes from < 0.975 s."""
    path = tmp_path / "frontend.tflite"
    path.write_bytes(convert(frontend_model()))
    emb = TFLiteEmbedder(path)
    assert emb.input_shape == (1, -1)
    assert emb.embed(tone(300, 0.5)).shape == (1, 16)
    assert emb.embed(tone(300, 2.0)).shape == (1 + (1 + (32000 - 400) // 160 - 96) // 17, 16)


def test_short_clips_are_padded_for_dynamic_models(dynamic_tflite):
    emb = TFLiteEmbedder(dynamic_tflite)
    frames = 1 + (int(0.975 * 16000) - 400) // 160
    assert emb.embed(tone(200, 0.2)).shape == (frames, 32)
    assert (
        TFLiteEmbedder(dynamic_tflite, min_seconds=0).embed(tone(200, 0.2)).shape[0]
        == 1 + (3200 - 400) // 160
    )


def test_every_window_offset_of_a_fixed_length_model(tmp_path):
    """A `[1, 1000]` model that outputs its window's first and last sample: fed a ramp, each
    output row says where its window started; the last window ends at the clip's end."""
    import tensorflow as tf

    class Edges(tf.Module):
        @tf.function(input_signature=[tf.TensorSpec([1, 1000], tf.float32)])
        def __call__(self, x):
            return tf.concat([x[:, :1], x[:, -1:]], axis=1)

    module = Edges()
    converter = tf.lite.TFLiteConverter.from_concrete_functions(
        [module.__call__.get_concrete_function()], module
    )
    path = tmp_path / "edges.tflite"
    path.write_bytes(converter.convert())
    for n, hop in ((3700, 0.5), (3000, 0.5), (2999, 0.25), (1000, 0.5), (640, 1.0)):
        out = TFLiteEmbedder(path, hop=hop, input="audio").embed(np.arange(n, dtype=np.float32))
        step = int(1000 * hop)
        starts = list(range(0, max(n - 1000, 0) + 1, step))
        if n > 1000 and starts[-1] + 1000 < n:
            starts.append(n - 1000)
        np.testing.assert_array_equal(out[:, 0], starts, err_msg=f"n={n} hop={hop}")
        last = n - 1 if n >= 1000 else 0  # a short clip is zero-padded at its end
        assert out[-1, 1] == last


CONCURRENT_COPIES = """
import os, sys, threading
import numpy as np
from noss_eval.embedders.tflite import TFLiteEmbedder

path, rounds, n = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
sys.setswitchinterval(1e-6)  # threads interleave at every few bytecodes
for _ in range(rounds):
    barrier = threading.Barrier(n)

    def build():
        copy = TFLiteEmbedder(path, threads=1)
        copy.parameter_count()  # the interpreter is loaded: all start their runtime at once
        barrier.wait()
        copy.embed(np.zeros(16000, np.float32))

    threads = [threading.Thread(target=build) for _ in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
os.write(2, b"stderr still reaches the terminal\\n")
"""


def test_copies_built_on_threads_at_once_leave_stderr_working(fixed_tflite):
    """Each copy's interpreter starts on its own thread, all at once (as a run builds them): the
    runtime's start-up line is quieted, and the process's stderr is the terminal's afterwards."""
    import subprocess
    import sys

    done = subprocess.run(
        [sys.executable, "-c", CONCURRENT_COPIES, str(fixed_tflite), "20", "8"],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr
    assert "stderr still reaches the terminal" in done.stderr
    assert "XNNPACK" not in done.stderr  # the INFO line LiteRT prints once per process
