"""The `onnx` kind on real ONNX Runtime sessions: the real YAMNet TFLite from ../shared converted
with tf2onnx must give the TFLite embedder's vectors on real recordings (rtol 1e-4, atol 1e-5) and
the same leaderboard numbers on a real-audio task; converted test models cover dynamic lengths and
batch dimensions; bad files, outputs and signatures are one-line errors.

YAMNet's TFLite is dynamic-range quantised (int8 weights in hybrid FULLY_CONNECTED kernels that
quantise activations on the fly; see conversions.py), so the equality is asserted on its
float-weight copy, converted to ONNX from that same copy: one model, two runtimes."""

import csv

import numpy as np
import pytest
from conversions import float_weights, to_onnx
from real_layouts import fsdd_as_voxceleb1
from testlib import SHARED, YAMNET, YAMNET_EMBEDDING, conv_model, convert, require_shared, tone

from noss_eval.audio import load_audio
from noss_eval.cli import main
from noss_eval.embedder import fingerprint, resolve_embedder, sha256_file
from noss_eval.embedders.onnx import OnnxEmbedder
from noss_eval.embedders.tflite import TFLiteEmbedder
from noss_eval.errors import NossError

RTOL, ATOL = 1e-4, 1e-5  # float32 rounding of two runtimes' kernels (measured: <= 4e-6 abs)
FSDD = SHARED / "data" / "fsdd" / "recordings"


@pytest.fixture(scope="module")
def yamnet_pair(tmp_path_factory):
    """(float-weight YAMNet TFLite, its tf2onnx conversion with the 1024-d embedding as output)."""
    root = tmp_path_factory.mktemp("yamnet")
    tflite = root / "yamnet_float.tflite"
    assert float_weights(require_shared(YAMNET), tflite) > 0
    return tflite, to_onnx(tflite, root / "yamnet_float.onnx", outputs=[YAMNET_EMBEDDING])


def real_clips() -> list[np.ndarray]:
    """Real 8 kHz digits of all 6 FSDD speakers and 44.1 kHz Ogg Vorbis voices, at 16 kHz."""
    wavs = sorted(require_shared(FSDD).glob("*_0.wav"))[::6]
    oggs = sorted(require_shared(SHARED / "data" / "hedgewars-voices").glob("*/Laugh.ogg"))[:3]
    return [load_audio(p, 16000) for p in [*wavs, *oggs]]


def test_converted_yamnet_gives_the_tflite_embeddings_on_real_audio(yamnet_pair):
    tflite, onnx = yamnet_pair
    ort, lite = OnnxEmbedder(onnx, threads=2), TFLiteEmbedder(tflite, output=YAMNET_EMBEDDING)
    assert ort.calling_convention == lite.calling_convention  # same tensor, same framing
    assert "audio windows of 15600 samples, hop 7800" in ort.calling_convention
    clips = real_clips()
    assert len(clips) == 13 and max(len(c) for c in clips) > 1.5 * 15600  # 3 windows too
    for clip in clips:
        a, b = ort.embed(clip), lite.embed(clip)
        assert a.shape == b.shape and a.shape[1] == 1024
        np.testing.assert_allclose(a, b, rtol=RTOL, atol=ATOL)
    assert ort.model_sha256 == sha256_file(onnx) and ort.settings["kind"] == "onnx"
    assert fingerprint(ort) != fingerprint(lite)
    assert ort._session.get_session_options().intra_op_num_threads == 2


def test_the_original_quantised_yamnet_converts_and_runs_but_differs(tmp_path):
    """The shipped (hybrid-quantised) YAMNet as ONNX: loads, picks output 0 with the same
    warning as TFLite, and gives class scores close to LiteRT's but not equal (see conversions)."""
    onnx = to_onnx(require_shared(YAMNET), tmp_path / "yamnet.onnx")
    ort, lite = resolve_embedder(str(onnx)), TFLiteEmbedder(YAMNET)
    assert ort.settings["output_tensor"] == "Identity" and len(ort.tensors) == 3
    x = real_clips()[0]
    a, b = ort.embed(x), lite.embed(x)
    assert a.shape == b.shape == (1, 521) and np.all((a >= 0) & (a <= 1))
    assert 1e-3 < np.abs(a - b).max() < 0.1
    with pytest.raises(NossError, match=r"'yamnet_frames/.*' is not an output of .*graph output"):
        OnnxEmbedder(onnx, output=YAMNET_EMBEDDING)


def stable(path):
    keep = ("task", "probe", "headline_score", "headline_ci_low", "headline_ci_high", "accuracy")
    return [
        {k: r[k] for k in (*keep, "balanced_accuracy", "config", "n_test")}
        for r in csv.DictReader(path.open())
    ]


def test_same_leaderboard_numbers_from_both_runtimes_on_a_real_task(yamnet_pair, tmp_path):
    tflite, onnx = yamnet_pair
    fsdd_as_voxceleb1(require_shared(FSDD), tmp_path / "data" / "voxceleb1", per_digit=5)
    boards = {}
    for kind, model in (("tflite", tflite), ("onnx", onnx)):
        board = tmp_path / f"{kind}.csv"
        options = ["--embedder-option", f"output={YAMNET_EMBEDDING}"] if kind == "tflite" else []
        args = ["--embedder", str(model), *options, "--data-dir", str(tmp_path / "data")]
        args += ["--tasks", "voxceleb1", "--cache-dir", str(tmp_path / "cache")]
        assert main([*args, "--leaderboard", str(board), "--no-progress", "-q"]) == 0
        boards[kind] = stable(board)
    assert boards["onnx"] == boards["tflite"]
    assert len(boards["onnx"]) == 3 and float(boards["onnx"][0]["accuracy"]) > 50  # 6 speakers


@pytest.fixture(scope="module")
def converted(tmp_path_factory):
    """The conftest-style dynamic-length model and a dynamic-batch log-mel model, each as
    TFLite and as its tf2onnx conversion."""
    import keras

    root = tmp_path_factory.mktemp("conv")
    dynamic = root / "dynamic.tflite"
    dynamic.write_bytes(convert(conv_model(None, 32)))
    keras.utils.set_random_seed(0)
    inp = keras.Input(shape=(96, 64, 1), batch_size=None, name="logmel")
    x = keras.layers.GlobalAveragePooling2D()(keras.layers.Conv2D(4, 5, strides=3)(inp))
    logmel = root / "logmel.tflite"
    logmel.write_bytes(convert(keras.Model(inp, keras.layers.Dense(8)(x))))
    return {
        name: (path, to_onnx(path, root / f"{name}.onnx"))
        for name, path in (("dynamic", dynamic), ("logmel", logmel))
    }


def test_dynamic_length_input_is_fed_whole_clips(converted):
    tflite, onnx = converted["dynamic"]
    ort = OnnxEmbedder(onnx)
    assert ort.input_shape == (1, -1) and ort.batch_windows == 0
    for seconds in (0.2, 1.0, 2.3):  # 0.2 s: padded to min_seconds as for TFLite
        np.testing.assert_allclose(
            ort.embed(tone(200, seconds)),
            TFLiteEmbedder(tflite).embed(tone(200, seconds)),
            rtol=RTOL,
            atol=ATOL,
        )
    assert OnnxEmbedder(onnx, min_seconds=0).embed(tone(200, 0.2)).shape[0] == 18


def test_dynamic_batch_shares_calls_across_clips(converted):
    tflite, onnx = converted["logmel"]
    ort = OnnxEmbedder(onnx, frontend="noss-logmel")
    assert ort.input_shape == (-1, 96, 64, 1) and ort.batch_windows == 32
    clips = [tone(300 + 50 * i, s) for i, s in enumerate((0.4, 3.0, 7.1, 1.0))]
    lite = TFLiteEmbedder(tflite, frontend="noss-logmel")
    for clip, frames in zip(clips, ort.infer_many([ort.prepare(c) for c in clips]), strict=True):
        np.testing.assert_allclose(frames, lite.embed(clip), rtol=RTOL, atol=ATOL)


def test_check_command_on_an_onnx_file(converted, capsys):
    _, onnx = converted["logmel"]
    assert main(["check", str(onnx), "--embedder-option", "frontend=noss-logmel"]) == 0
    out = capsys.readouterr().out
    assert (
        "(onnx) at 16000 Hz" in out and "input  'serving_default_logmel:0' [-1, 96, 64, 1]" in out
    )
    assert "all windows in one call" in out and "x 8 dims" in out and "all finite" in out


def test_bad_onnx_files_outputs_and_signatures(converted, tmp_path):
    _, onnx = converted["dynamic"]
    with pytest.raises(NossError, match="has 1 outputs, not 3"):
        OnnxEmbedder(onnx, output=3)
    junk = tmp_path / "junk.onnx"
    junk.write_bytes(b"\0" * 64)
    with pytest.raises(NossError, match=r"junk.onnx: not a loadable ONNX model \(") as err:
        resolve_embedder(str(junk))
    assert "\n" not in str(err.value)
    with pytest.raises(NossError, match="no such file: missing.onnx"):
        resolve_embedder("missing.onnx")
    with pytest.raises(NossError, match=r"is \[1, -1\], not NOSS log-mel windows"):
        OnnxEmbedder(onnx, frontend="noss-logmel")
    with pytest.raises(NossError, match=r"has 2 inputs.*would never be set"):
        OnnxEmbedder(two_inputs(tmp_path))


def two_inputs(tmp_path):
    """A real ONNX graph built with onnx.helper: two audio inputs added."""
    from onnx import TensorProto, helper, save

    spec = [helper.make_tensor_value_info(n, TensorProto.FLOAT, [1, 16000]) for n in "ab"]
    out = helper.make_tensor_value_info("sum", TensorProto.FLOAT, [1, 16000])
    graph = helper.make_graph([helper.make_node("Add", ["a", "b"], ["sum"])], "two", spec, [out])
    path = tmp_path / "two.onnx"
    save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)]), str(path))
    return path
