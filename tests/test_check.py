"""`noss-eval check` and the signature checks at load time: models noss-eval cannot feed are
refused by name and shape before any work; a model that gives NaN fails on the first clip."""

import csv

import numpy as np
import pytest
import tensorflow as tf
from testlib import MICRO_SPEECH, YAMNET, YAMNET_EMBEDDING, require_shared

from noss_eval import synthetic
from noss_eval.cli import main
from noss_eval.embedders.tflite import TFLiteEmbedder
from noss_eval.errors import NossError


def tflite(tmp_path, name, specs, body):
    class Model(tf.Module):
        @tf.function(input_signature=specs)
        def __call__(self, *args):
            return body(*args)

    module = Model()
    converter = tf.lite.TFLiteConverter.from_concrete_functions(
        [module.__call__.get_concrete_function()], module
    )
    path = tmp_path / f"{name}.tflite"
    path.write_bytes(converter.convert())
    return path


AUDIO = tf.TensorSpec([1, 16000], tf.float32)


@pytest.mark.parametrize(
    "name, specs, body, message",
    [
        (
            "two_inputs",
            [AUDIO, tf.TensorSpec([1, 16000], tf.float32)],
            lambda a, b: tf.reduce_mean(tf.reshape(a + b, [1, 100, 160]), axis=2),
            r"has 2 inputs.*would never be set",
        ),
        (
            "image",
            [tf.TensorSpec([1, 32, 32, 3], tf.float32)],
            lambda x: tf.reduce_mean(x, axis=[1, 2]),
            r"input '.*' is \[1, 32, 32, 3\]; noss-eval feeds audio as \[1, samples\]",
        ),
        (
            "rank1",
            [tf.TensorSpec([16000], tf.float32)],
            lambda x: tf.reshape(x, [100, 160]),
            r"input '.*' is \[16000\]",
        ),
        ("scalar", [AUDIO], lambda x: tf.reduce_sum(x), r"output '.*' is a scalar"),
    ],
)
def test_models_noss_eval_cannot_feed_are_refused_by_name(tmp_path, name, specs, body, message):
    path = tflite(tmp_path, name, specs, body)
    with pytest.raises(NossError, match=message):
        TFLiteEmbedder(path)


def test_logmel_frontend_needs_logmel_shaped_input(tmp_path):
    path = tflite(tmp_path, "audio", [AUDIO], lambda x: tf.reshape(x, [100, 160]))
    with pytest.raises(NossError, match=r"not NOSS log-mel windows \[F, 96, 64, 1\]"):
        TFLiteEmbedder(path, frontend="noss-logmel")


def test_check_reports_convention_dim_and_time(capsys):
    yamnet = require_shared(YAMNET)
    assert main(["check", str(yamnet), "--embedder-option", f"output={YAMNET_EMBEDDING}"]) == 0
    out = capsys.readouterr().out
    assert "audio windows of 15600 samples, hop 7800" in out
    assert f"output '{YAMNET_EMBEDDING}' [1, 1024]" in out
    assert "4 frames x 1024 dims" in out and "all finite" in out and "ms per call" in out
    assert "input  'input_1' [1, 15600] float32" in out and "output 'Identity' [1, 521]" in out
    assert f"tensor '{YAMNET_EMBEDDING}' [1, 1024]  <- used" in out
    candidates = [line for line in out.splitlines() if line.startswith("candidate:")]
    assert candidates == [
        "candidate:  'Identity' [1, 521] float32 (output 0)",
        "candidate:  'Identity_1' [96, 64] float32 (output 1)",
        f"candidate:  '{YAMNET_EMBEDDING}' [1, 1024] float32 (intermediate)",
        "candidate:  'yamnet_frames/dense/BiasAdd' [1, 521] float32 (intermediate)",
    ]


def test_an_output_name_that_is_no_tensor_lists_the_candidates():
    with pytest.raises(NossError) as err:
        TFLiteEmbedder(require_shared(YAMNET), output="yamnet_frames/embedding")
    message = str(err.value)
    assert "\n" not in message and "no tensor named 'yamnet_frames/embedding'" in message
    assert f"'{YAMNET_EMBEDDING}' [1, 1024] float32 (intermediate)" in message
    assert "'Identity' [1, 521] float32 (output 0)" in message


def test_micro_speech_features_are_refused_as_audio_unless_the_user_says_so(tmp_path, capsys):
    """Its int8 input holds 49x40 features in [0, 25.9]: fed audio, it scored chance silently."""
    micro = str(require_shared(MICRO_SPEECH))
    for _ in range(2):  # the second build reads the tensors recorded by the first
        with pytest.raises(NossError) as err:
            TFLiteEmbedder(micro)
        message = str(err.value)
        assert "\n" not in message and "input 'Reshape_1' [1, 1960] int8" in message
        assert "dequantise to [0, 25.9] in steps of 0.102, which cannot hold audio" in message
        assert "1960 samples is 0.12 s at 16000 Hz, shorter than the 0.2 s" in message
        assert message.endswith("say so with --embedder-option input=audio")
    assert main(["check", micro]) == 2
    err_lines = capsys.readouterr().err.strip().splitlines()
    assert len(err_lines) == 1 and "input=audio" in err_lines[0]
    synthetic.write_crema_d(tmp_path / "data" / "crema_d")
    data, cache = str(tmp_path / "data"), str(tmp_path / "cache")
    run = ["--embedder", micro, "--data-dir", data, "--tasks", "crema_d", "--cache-dir", cache]
    assert main(run) == 2 and not (tmp_path / "cache").exists()
    assert "does not look like audio" in capsys.readouterr().err
    assert main(["check", micro, "--embedder-option", "input=audio"]) == 0
    assert "fed as audio (input=audio)" in capsys.readouterr().out


def test_windows_too_short_for_speech_are_refused(tmp_path):
    path = tflite(
        tmp_path, "short", [tf.TensorSpec([1, 3000], tf.float32)], lambda x: x[:, :8] * 2.0
    )
    with pytest.raises(NossError, match=r"3000 samples is 0.19 s at 16000 Hz.*input=audio$"):
        TFLiteEmbedder(path)
    assert TFLiteEmbedder(path, sample_rate=8000).window_seconds == 0.375  # 0.375 s at 8 kHz
    assert TFLiteEmbedder(path, input="audio").embed(np.ones(3000, np.float32)).shape == (1, 8)
    with pytest.raises(NossError, match="input: unknown convention 'features'; give input=audio"):
        TFLiteEmbedder(path, input="features")


def test_int8_audio_input_is_accepted_at_its_calibrated_scale_only(tmp_path):
    """A real int8-input model calibrated on audio in [-1, 1]: fed audio as is, accepted; with
    input_gain=32768 its int8 range cannot hold the audio, so it is refused."""
    import keras

    keras.utils.set_random_seed(0)
    inp = keras.Input(shape=(16000,), batch_size=1)
    x = keras.layers.Conv1D(8, 400, strides=160)(keras.layers.Reshape((-1, 1))(inp))
    converter = tf.lite.TFLiteConverter.from_keras_model(keras.Model(inp, x))
    converter.optimizations = [tf.lite.Optimize.DEFAULT]
    rng = np.random.RandomState(0)
    converter.representative_dataset = lambda: (
        [rng.uniform(-1, 1, (1, 16000)).astype(np.float32)] for _ in range(8)
    )
    converter.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS_INT8]
    converter.inference_input_type = tf.int8
    path = tmp_path / "int8_audio.tflite"
    path.write_bytes(converter.convert())
    embedder = TFLiteEmbedder(path)
    assert "int8 (scale 0.00" in embedder.tensors[0]
    assert embedder.embed(np.zeros(16000, np.float32)).shape == (98, 8)
    with pytest.raises(NossError, match=r"cannot hold audio in \[-32768, 32768\] \(input_gain\)"):
        TFLiteEmbedder(path, input_gain=32768)


def test_default_output_of_a_multi_output_model_is_named(caplog):
    embedder = TFLiteEmbedder(require_shared(YAMNET))
    assert embedder.settings["output_tensor"] == "Identity"  # YAMNet's class scores
    assert "2 outputs, using output 0 'Identity' [1, 521]" in caplog.text
    assert "output 'Identity' [1, 521] float32  <- used" in embedder.tensors
    micro = TFLiteEmbedder(require_shared(MICRO_SPEECH), input="audio")
    assert micro.settings["output_tensor"] == "labels_softmax"


def test_nan_model_fails_on_the_first_clip_before_any_work(tmp_path, capsys):
    path = tflite(
        tmp_path,
        "nan",
        [tf.TensorSpec([1, None], tf.float32)],
        lambda x: tf.math.log(-tf.ones([3, 8])) + tf.reduce_mean(x),
    )
    synthetic.write_crema_d(tmp_path / "data" / "crema_d")
    board = tmp_path / "b.csv"
    args = [
        "--embedder",
        str(path),
        "--data-dir",
        str(tmp_path / "data"),
        "--tasks",
        "crema_d",
        "--cache-dir",
        str(tmp_path / "cache"),
        "--leaderboard",
        str(board),
    ]
    assert main(args) == 2
    err = [line for line in capsys.readouterr().err.splitlines() if "error" in line]
    assert len(err) == 1 and "gave NaN or infinite values on" in err[0] and "crema_d" in err[0]
    assert not board.exists() and not (tmp_path / "cache").exists()
    assert main(["check", str(path)]) == 2


def test_checked_dimension_quarantines_cached_vectors_of_another(tmp_path, dynamic_tflite):
    """The one-clip check gives the model's dimension; a cache entry of another (say, written by
    hand or by a bug) is moved aside and recomputed, not fed to the probes."""
    synthetic.write_crema_d(tmp_path / "data" / "crema_d")
    args = [
        "--embedder",
        str(dynamic_tflite),
        "--data-dir",
        str(tmp_path / "data"),
        "--tasks",
        "crema_d",
        "--cache-dir",
        str(tmp_path / "cache"),
        "--leaderboard",
        str(tmp_path / "b.csv"),
        "--no-progress",
    ]
    assert main(args) == 0
    entry = next(p for p in (tmp_path / "cache").rglob("train-*.npz"))
    with np.load(entry) as data:
        ids = data["ids"]
    with open(entry, "wb") as fh:
        np.savez(fh, ids=ids, embeddings=np.ones((len(ids), 7), np.float32))
    assert main(args) == 0
    assert list((tmp_path / "cache" / "quarantine").iterdir())
    rows = list(csv.DictReader((tmp_path / "b.csv").open()))
    assert all(float(r["accuracy"]) > 50 for r in rows)


def test_the_output_tensor_used_is_in_every_csv_row(tmp_path):
    yamnet = require_shared(YAMNET)
    synthetic.write_crema_d(tmp_path / "data" / "crema_d", n_actors=4, sentences=("DFA",))
    board = tmp_path / "b.csv"
    args = [
        "--embedder",
        str(yamnet),
        "--data-dir",
        str(tmp_path / "data"),
        "--tasks",
        "crema_d",
        "--cache-dir",
        str(tmp_path / "c"),
        "--leaderboard",
        str(board),
        "-q",
    ]
    main(args)  # tiny data: the numbers do not matter here
    rows = list(csv.DictReader(board.open()))
    assert rows and all('"output_tensor": "Identity"' in r["embedder_settings"] for r in rows)
