"""Test helpers: real models built with TensorFlow in published signatures, shared-data paths."""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

SHARED = Path(__file__).resolve().parents[1].parent / "shared"
YAMNET = SHARED / "models" / "yamnet" / "yamnet.tflite"
YAMNET_EMBEDDING = "yamnet_frames/global_average_pooling2d/Mean"
MICRO_SPEECH = SHARED / "data" / "tflite-micro" / "micro_speech_quantized.tflite"


def interrupted_after(k: int, until: Callable[[], bool] = lambda: True, timeout: float = 120.0):
    """A file stream that raises KeyboardInterrupt (Ctrl-C) in place of its item `k`, once
    `until()` holds or `timeout` seconds have passed."""
    from noss_eval.sources import file_stream

    def stream(clips, rate):
        for i, item in enumerate(file_stream(clips, rate)):
            if i == k:
                deadline = time.monotonic() + timeout
                while not until() and time.monotonic() < deadline:
                    time.sleep(0.01)
                raise KeyboardInterrupt
            yield item

    return stream


def yamnet_args() -> list[str]:
    """CLI arguments selecting the real YAMNet TFLite model's 1024-d embedding tensor."""
    return [
        "--embedder",
        str(require_shared(YAMNET)),
        "--embedder-option",
        f"output={YAMNET_EMBEDDING}",
    ]


def require_shared(path: Path) -> Path:
    """Real third-party files: CI always has them, so there they must exist; locally we skip."""
    if not path.exists():
        if os.environ.get("CI"):
            pytest.fail(f"shared data missing in CI: {path}")
        pytest.skip(f"needs {path}")
    return path


def conv_model(length: int | None, dim: int):
    import keras

    keras.utils.set_random_seed(0)
    inp = keras.Input(shape=(length,), batch_size=1, name="audio")
    x = keras.layers.Reshape((-1, 1))(inp)
    x = keras.layers.Conv1D(dim, 400, strides=160, activation="relu")(x)
    x = keras.layers.Dense(dim)(x)
    if length:
        x = keras.layers.GlobalAveragePooling1D()(x)
    return keras.Model(inp, x)


def frontend_model(dim: int = 16):
    """Audio `[1, n]` in, NOSS log-mel computed in the graph (as FRILL's TFLite), `[F, dim]` out."""
    import keras

    from noss_eval.frontend import tf_log_mel_windows

    class LogMelWindows(keras.layers.Layer):
        def call(self, audio):
            return tf_log_mel_windows(audio[0])

    keras.utils.set_random_seed(0)
    inp = keras.Input(shape=(None,), batch_size=1, name="audio")
    x = keras.layers.Conv2D(8, 3, activation="relu")(LogMelWindows()(inp))
    x = keras.layers.GlobalAveragePooling2D()(x)
    return keras.Model(inp, keras.layers.Dense(dim)(x))


def convert(model) -> bytes:
    import tensorflow as tf

    return tf.lite.TFLiteConverter.from_keras_model(model).convert()


def _projection(dim_in: int, dim_out: int, seed: int) -> np.ndarray:
    return (np.random.RandomState(seed).randn(dim_in, dim_out) / np.sqrt(dim_in)).astype(np.float32)


def save_trill_like(directory: Path) -> Path:
    """TRILL / TRILL-distilled signature: `model(samples=[n], sample_rate=int)` -> dict with
    `layer19` and `embedding`, one row per 0.96 s frame (hop 0.5 s)."""
    import tensorflow as tf

    class Trill(tf.Module):
        def __init__(self):
            super().__init__()
            self.w = tf.Variable(_projection(400, 24, 1))

        @tf.function(
            input_signature=[tf.TensorSpec([None], tf.float32), tf.TensorSpec([], tf.int32)]
        )
        def __call__(self, samples, sample_rate):
            frames = tf.signal.frame(samples, 15360, 8000, pad_end=True)[:, :400]
            layer19 = tf.nn.relu(frames @ self.w) * tf.cast(sample_rate > 0, tf.float32)
            return {"layer19": layer19, "embedding": layer19[:, :12]}

    tf.saved_model.save(Trill(), str(directory))
    return directory


def save_batched(directory: Path) -> Path:
    """FRILL / TRILLsson signature: `model([batch, n])` -> {'embedding': [batch, dim]}."""
    import tensorflow as tf

    class Batched(tf.Module):
        def __init__(self):
            super().__init__()
            self.w = tf.Variable(_projection(400, 16, 2))

        @tf.function(input_signature=[tf.TensorSpec([None, None], tf.float32)])
        def __call__(self, audio):
            frames = tf.signal.frame(audio, 400, 160)
            return {"embedding": tf.reduce_mean(tf.nn.relu(frames @ self.w), axis=1)}

    tf.saved_model.save(Batched(), str(directory))
    return directory


def save_logmel(directory: Path) -> Path:
    """FRILL-nofrontend signature: `model([F, 96, 64, 1])` -> {'embedding': [F, dim]}."""
    import tensorflow as tf

    class NoFrontend(tf.Module):
        def __init__(self):
            super().__init__()
            self.w = tf.Variable(_projection(64, 8, 3))

        @tf.function(input_signature=[tf.TensorSpec([None, 96, 64, 1], tf.float32)])
        def __call__(self, logmel):
            return {"embedding": tf.reduce_mean(logmel[..., 0], axis=1) @ self.w}

    tf.saved_model.save(NoFrontend(), str(directory))
    return directory


def tone(freq: float, seconds: float = 1.0, rate: int = 16000, amp: float = 0.5) -> np.ndarray:
    t = np.arange(int(seconds * rate)) / rate
    return (amp * np.sin(2 * np.pi * freq * t)).astype(np.float32)


def write_tfds(name: str, data_dir: Path, splits: dict[str, list[dict]]) -> Path:
    """Write examples as a prepared TFDS dataset under the real builder's name, version and
    feature spec (so `tfds.builder(name, data_dir).as_dataset()` reads it with no download)."""
    import tensorflow as tf
    import tensorflow_datasets as tfds

    builder = tfds.builder(name, data_dir=str(data_dir))
    out = Path(builder.data_dir)
    out.mkdir(parents=True, exist_ok=True)
    infos = []
    for split, examples in splits.items():
        template = tfds.core.ShardedFileTemplate(
            data_dir=out,
            template="{DATASET}-{SPLIT}.{FILEFORMAT}-{SHARD_X_OF_Y}",
            dataset_name=name,
            split=split,
            filetype_suffix="tfrecord",
        )
        path = out / f"{name}-{split}.tfrecord-00000-of-00001"
        with tf.io.TFRecordWriter(str(path)) as writer:
            for example in examples:
                writer.write(builder.info.features.serialize_example(example))
        infos.append(
            tfds.core.SplitInfo(
                name=split,
                shard_lengths=[len(examples)],
                num_bytes=path.stat().st_size,
                filename_template=template,
            )
        )
    builder.info.set_splits(tfds.core.SplitDict(infos))
    builder.info.write_to_directory(out)
    return out


def extraction(x, labels, splits, speakers=None, name: str = "t", folds: tuple[str, ...] = ()):
    """A task and its `Extraction` straight from arrays: what probes see after embedding."""
    from noss_eval.extract import Extraction
    from noss_eval.task import Clip, Task

    speakers = speakers if speakers is not None else [None] * len(labels)
    clips = [
        Clip(f"c{i:05d}", Path(f"c{i}.wav"), str(y), s, spk)
        for i, (y, s, spk) in enumerate(zip(labels, splits, speakers, strict=True))
    ]
    task = Task(
        name, name, name, tuple(sorted({str(y) for y in labels})), lambda root: clips, "", folds
    )
    return task, Extraction(clips, np.asarray(x, dtype=np.float32))


def upstream_speaker_normalization(embeddings, speaker_ids):
    """Re-typed from google-research non_semantic_speech_benchmark/eval_embedding/sklearn/
    sklearn_utils.py `_speaker_normalization`."""
    embeddings = embeddings.copy()
    for speaker in np.unique(speaker_ids):
        rows = speaker_ids == speaker
        embeddings[rows] -= embeddings[rows].mean(axis=0)
        stds = embeddings[rows].std(axis=0)
        stds[stds == 0] = 1
        embeddings[rows] /= stds
    return embeddings


def install(root: Path, name: str, source: str, version: str = "1.2") -> None:
    """`name` as an installed distribution: its module and dist-info in `root` (on sys.path)."""
    import textwrap

    (root / f"{name}.py").write_text(textwrap.dedent(source))
    info = root / f"{name}-{version}.dist-info"
    info.mkdir()
    (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n")
    (info / "top_level.txt").write_text(f"{name}\n")
    (info / "RECORD").write_text(f"{name}.py,,\n")
