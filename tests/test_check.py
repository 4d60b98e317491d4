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


def test_default_output_of_a_multi_output_model_is_named(caplog):
    embedder = TFLiteEmbedder(require_shared(YAMNET))
    assert embedder.settings["output_tensor"] == "Identity"  # YAMNet's class scores
    assert "2 outputs, using output 0 'Identity' [1, 521]" in caplog.text
    assert "output 'Identity' [1, 521] float32  <- used" in embedder.tensors
    micro = TFLiteEmbedder(require_shared(MICRO_SPEECH))
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
