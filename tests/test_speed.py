"""What the speed work must not change: parallel probe fits give the serial results, and a warm
re-run (every vector and probe result cached) loads neither scikit-learn nor the model."""

import subprocess
import sys
import tempfile
from contextlib import contextmanager
from pathlib import Path

import numpy as np
import pytest
from testlib import extraction

from noss_eval import fit_pool, synthetic
from noss_eval.cli import main
from noss_eval.probes import PROTOCOLS
from noss_eval.probing import evaluate_task
from noss_eval.threads import ThreadBudget, usable_cores


def _task_data(folds: bool):
    rng = np.random.RandomState(3)
    n, speakers = 150, 10
    y = rng.randint(0, 3, n)
    x = rng.randn(n, 12) + 0.8 * np.eye(3, 12)[y]
    spk = [f"s{i % speakers}" for i in range(n)]
    if folds:
        splits = [f"fold{i % speakers % 5 + 1}" for i in range(n)]
        names = tuple(f"fold{k}" for k in range(1, 6))
        return extraction(x, [f"c{v}" for v in y], splits, spk, folds=names)
    splits = [("train", "train", "train", "validation", "test")[i % speakers % 5] for i in range(n)]
    return extraction(x, [f"c{v}" for v in y], splits, spk)


def _comparable(results):
    return [
        (
            r.probe,
            r.config,
            r.metrics,
            r.validation_score,
            r.headline_ci,
            r.predictions.clip_ids,
            r.predictions.y_pred.tolist(),
        )
        for r in results
    ]


@pytest.mark.parametrize("protocol", ["noss-eval", "noss"])
@pytest.mark.parametrize("folds", [False, True], ids=["holdout", "folds"])
@pytest.mark.parametrize("pool", ["threads", "processes"])
def test_parallel_fits_give_the_serial_results_bit_for_bit(protocol, folds, pool, monkeypatch):
    task, ex = _task_data(folds)
    serial = evaluate_task(task, ex, 0, PROTOCOLS[protocol], workers=1)
    mapped = []
    if pool == "processes":  # every batch in worker processes, reading memory-mapped matrices
        monkeypatch.setattr(fit_pool, "PROCESS_MIN_BYTES", 0)
        real = fit_pool._mapped

        @contextmanager
        def recorded(matrices, nbytes):
            with real(matrices, nbytes) as out:
                mapped.append([m.filename for m in out.values()])
                yield out

        monkeypatch.setattr(fit_pool, "_mapped", recorded)
    for workers in (2, 3):
        parallel = evaluate_task(task, ex, 0, PROTOCOLS[protocol], workers=workers)
        assert _comparable(parallel) == _comparable(serial)
    assert bool(mapped) == (pool == "processes")
    assert not any(Path(f).exists() for files in mapped for f in files)  # removed after use


def test_thread_budget_gives_every_stage_the_cores_and_blas_one():
    from noss_eval.embedder import resolve_embedder

    budget = ThreadBudget(3)
    assert (budget.interpreter, budget.probe_workers, budget.blas) == (3, 3, 1)
    assert budget.embedder_copies(resolve_embedder("dsp")) == 1  # nothing to copy per core
    assert 1 <= usable_cores()
    with pytest.raises(ValueError):
        ThreadBudget(0)


WARM_RUN = """
import sys
from noss_eval.cli import main
code = main(sys.argv[1:])
heavy = sorted({m.split(".")[0] for m in sys.modules} & {"sklearn", "tensorflow", "ai_edge_litert"})
print("LOADED", ",".join(heavy))
sys.exit(code)
"""


@pytest.mark.parametrize("kind", ["savedmodel", "tflite"])
def test_warm_run_loads_neither_sklearn_nor_the_model(tmp_path, trill_like, dynamic_tflite, kind):
    """A SavedModel (TRILL's convention) or a TFLite model whose every vector and probe result
    is cached: the warm run imports neither TensorFlow, LiteRT nor scikit-learn, skips the
    one-clip check, and writes the same numbers."""
    synthetic.write_crema_d(tmp_path / "data" / "crema_d", n_actors=8, sentences=("DFA",))
    model = (
        [str(trill_like), "--embedder-option", "call=samples_and_rate"]
        + ["--embedder-option", "output=layer19"]
        if kind == "savedmodel"
        else [str(dynamic_tflite)]
    )
    args = [
        "--embedder",
        *model,
        "--data-dir",
        str(tmp_path / "data"),
        "--tasks",
        "crema_d",
        "--cache-dir",
        str(tmp_path / "cache"),
        "--no-progress",
        "--threads",
        "1",
    ]
    assert main([*args, "--leaderboard", str(tmp_path / "cold.csv")]) == 0
    warm = subprocess.run(
        [sys.executable, "-c", WARM_RUN, *args, "--leaderboard", str(tmp_path / "warm.csv")],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert warm.returncode == 0, warm.stderr
    assert "LOADED \n" in warm.stdout
    assert "checked on" not in warm.stderr
    assert "probe results from the cache" in warm.stderr

    def numbers(name):
        text = (tmp_path / name).read_text().splitlines()
        header = text[0].split(",")
        keep = [i for i, h in enumerate(header) if h not in ("run_id", "created")]
        return [[row.split(",")[i] for i in keep] for row in text[1:]]

    assert numbers("warm.csv") == numbers("cold.csv")


def _logmel_tflite(tmp_path, batch):
    import keras
    from testlib import convert

    keras.utils.set_random_seed(0)
    inp = keras.Input(shape=(96, 64, 1), batch_size=batch, name="logmel")
    x = keras.layers.Conv2D(4, 5, strides=3, activation="relu")(inp)
    x = keras.layers.GlobalAveragePooling2D()(x)
    path = tmp_path / f"logmel-{batch}.tflite"
    path.write_bytes(convert(keras.Model(inp, keras.layers.Dense(8)(x))))
    return path


def _clips_of_every_length(tmp_path):
    """Clips shorter than a window, of exactly 32 windows and of many, and an unreadable one."""
    import soundfile as sf

    from noss_eval.task import Clip

    rng = np.random.RandomState(0)
    clips = []
    for i, seconds in enumerate([0.3, 1.0, 6.37, 2.5, 0.97, 11.0, 1.7] * 5):
        path = tmp_path / f"{i}.wav"
        sf.write(path, 0.3 * rng.randn(int(seconds * 16000)), 16000, subtype="PCM_16")
        clips.append(Clip(f"c{i}", path, "a", "train", None))
    (tmp_path / "bad.wav").write_bytes(b"not audio")
    clips.insert(9, Clip("bad", tmp_path / "bad.wav", "a", "train", None))
    return clips


def test_clips_sharing_invokes_give_each_clip_its_own_frames(tmp_path):
    """Several clips' log-mel windows stacked into fixed 32-window invokes (last one padded)
    give every clip the vector of embedding it alone, to float32 rounding; clips of every
    length (shorter than a window, exactly 32 windows, many) and unreadable ones keep order."""
    from noss_eval.embedders.tflite import TFLiteEmbedder
    from noss_eval.engines import LocalEngine, pool
    from noss_eval.sources import decode, file_stream

    embedder = TFLiteEmbedder(_logmel_tflite(tmp_path, None), frontend="noss-logmel")
    assert embedder.batch_windows == 32
    assert TFLiteEmbedder(_logmel_tflite(tmp_path, 1), frontend="noss-logmel").batch_windows == 0
    clips = _clips_of_every_length(tmp_path)
    results = list(LocalEngine(embedder).run(clips, file_stream))
    assert [c.clip_id for c, _ in results] == [c.clip_id for c in clips]
    one = list(LocalEngine(embedder, clips_per_batch=5).run(clips, file_stream))
    for (_, a), (_, b) in zip(results, one, strict=True):
        assert type(a) is type(b) and (isinstance(a, Exception) or np.allclose(a, b, atol=1e-6))
    for clip, vector in results:
        audio = decode(clip, 16000)
        if clip.clip_id == "bad":
            assert not isinstance(vector, np.ndarray)
            continue
        alone = pool(embedder.embed(audio), clip)
        np.testing.assert_allclose(vector, alone, rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("batch", [None, 1])  # windows shared across clips, or one per call
def test_single_threaded_copies_give_the_one_interpreters_vectors_bit_for_bit(tmp_path, batch):
    """`ThreadEngine` (one single-threaded interpreter per thread, each preparing its own
    groups) gives `LocalEngine`'s vectors exactly, in order, errors in place, for any number of
    copies and group size, and from a stream that is not files (decoded once, shared)."""
    from noss_eval.engines import EmbedderRecipe, LocalEngine, ThreadEngine
    from noss_eval.sources import file_stream

    recipe = EmbedderRecipe(str(_logmel_tflite(tmp_path, batch)), {"frontend": "noss-logmel"})
    clips = _clips_of_every_length(tmp_path)
    want = list(LocalEngine(recipe.build(threads=2)).run(clips, file_stream))
    decoded = list(file_stream(clips, 16000))
    for workers, group in ((1, 16), (2, 16), (3, 4)):
        for stream in (file_stream, lambda c, r: iter(decoded)):
            got = list(ThreadEngine(recipe, 16000, workers, group).run(clips, stream))
            assert [c.clip_id for c, _ in got] == [c.clip_id for c in clips]
            for (_, a), (_, b) in zip(got, want, strict=True):
                assert type(a) is type(b)
                if isinstance(a, np.ndarray):
                    np.testing.assert_array_equal(a, b)
    assert recipe.build().batch_windows == (32 if batch is None else 0)


def test_a_decoded_memo_decodes_each_file_once_and_never_serves_a_stale_one(tmp_path):
    """`FileStream` with a memo gives `file_stream`'s waveforms; a second pass at the same rate
    is served from memory (the same arrays), another rate is decoded anew, a rewritten file is
    read again, an unreadable one is not remembered, and the byte budget drops the oldest."""
    import soundfile as sf

    from noss_eval.sources import DecodedMemo, FileStream, file_stream

    clips = _clips_of_every_length(tmp_path)[:10]
    readable = [c for c in clips if c.clip_id != "bad"]
    memo = DecodedMemo()
    first = list(FileStream(memo)(clips, 16000))
    for (_, a), (_, b) in zip(first, file_stream(clips, 16000), strict=True):
        assert type(a) is type(b) and (isinstance(a, Exception) or np.array_equal(a, b))
    again = list(FileStream(memo)(clips, 16000))
    assert memo.hits == len(readable) and isinstance(dict(again)[clips[9]], Exception)
    assert all(
        a is b for (_, a), (_, b) in zip(first, again, strict=True) if isinstance(a, np.ndarray)
    )
    assert dict(FileStream(memo)(readable[:1], 8000))[readable[0]].size < first[0][1].size
    sf.write(readable[0].path, np.zeros(800), 16000, subtype="PCM_16")  # rewritten in place
    assert dict(FileStream(memo)(readable[:1], 16000))[readable[0]].size == 800
    small = DecodedMemo(budget=first[1][1].nbytes + first[2][1].nbytes)
    list(FileStream(small)(clips[:3], 16000))
    list(FileStream(small)(clips[1:3], 16000))
    assert small.hits == 2 and small.used == small.budget  # clips 1 and 2 kept
    list(FileStream(small)(clips[:1], 16000))
    assert small.hits == 2  # the oldest, clip 0, was dropped


def test_an_interrupt_keeps_the_vectors_of_every_group_a_copy_started(tmp_path):
    """Ctrl-C once `ThreadEngine`'s copies have embedded four groups none of which has reached
    the caller yet (it collects 2 x copies + 1 groups ahead): those vectors reach the cache,
    and the resumed run computes only the rest, giving an uninterrupted run's vectors."""
    from testlib import interrupted_after

    from noss_eval.cache import EmbeddingCache
    from noss_eval.engines import EmbedderRecipe, ThreadEngine
    from noss_eval.extract import extract
    from noss_eval.sources import file_stream

    embedded = []

    class Observed(EmbedderRecipe):  # counts the groups its copies have embedded
        def build(self, threads=None):
            embedder = super().build(threads)
            infer = embedder.infer_stacked
            embedder.infer_stacked = lambda windows: (infer(windows), embedded.append(1))[0]
            return embedder

    recipe = Observed(str(_logmel_tflite(tmp_path, None)), {"frontend": "noss-logmel"})
    clips = _clips_of_every_length(tmp_path)

    # item 18: four groups of 4 handed to the copies; raised once they have embedded them
    interrupted = interrupted_after(18, until=lambda: len(embedded) >= 4)

    def run(cache, stream=file_stream):
        engine = ThreadEngine(recipe, 16000, 2, clips_per_batch=4)
        return extract(recipe.build(), "t", clips, cache, engine=engine, stream=stream,
                       progress=False)  # fmt: skip

    cache = EmbeddingCache(tmp_path / "cache")
    with pytest.raises(KeyboardInterrupt):
        run(cache, interrupted)
    assert len(embedded) == 4
    readable = [c for c in clips if c.clip_id != "bad"]
    resumed = run(cache)
    assert resumed.cache_hits == sum(c.clip_id != "bad" for c in clips[:16])
    assert resumed.computed == len(readable) - resumed.cache_hits
    whole = run(EmbeddingCache(tmp_path / "whole"))
    np.testing.assert_array_equal(resumed.embeddings, whole.embeddings)


def test_a_copys_failure_reaches_the_caller_and_the_run_picks_its_engine(tmp_path):
    from noss_eval.embedder import resolve_embedder
    from noss_eval.engines import EmbedderRecipe, LocalEngine, ThreadEngine
    from noss_eval.errors import NossError
    from noss_eval.runner import RunConfig, make_engine
    from noss_eval.sources import file_stream

    clips = _clips_of_every_length(tmp_path)[:12]
    missing = EmbedderRecipe(str(tmp_path / "gone.tflite"))
    with pytest.raises(NossError, match="gone.tflite"):
        list(ThreadEngine(missing, 16000, 2).run(clips, file_stream))
    spec = str(_logmel_tflite(tmp_path, None))
    builds = []

    class Counted(EmbedderRecipe):
        def build(self, threads=None):
            builds.append(threads)
            return super().build(threads)

    recipe = Counted(spec, {"frontend": "noss-logmel"})
    engine = ThreadEngine(recipe, 16000, 2, clips_per_batch=2)
    for _ in range(2):  # copies are kept for the next run (a run per task)
        assert len(list(engine.run(clips, file_stream))) == len(clips)
    assert 1 <= len(builds) <= 2 and set(builds) == {1}
    model = recipe.build()
    for threads, kind in ((2, ThreadEngine), (1, LocalEngine)):
        config = RunConfig(embedder=spec, threads=threads)
        engine = make_engine(config, model, recipe)
        assert type(engine) is kind
    assert make_engine(RunConfig(embedder=spec, threads=2), model, recipe).workers == 2
    pinned = EmbedderRecipe(spec, {"frontend": "noss-logmel", "threads": 2})
    assert type(make_engine(RunConfig(embedder=spec, threads=2), model, pinned)) is LocalEngine
    dsp = resolve_embedder("dsp")
    assert type(make_engine(RunConfig("dsp", threads=2), dsp, EmbedderRecipe("dsp"))) is LocalEngine


def test_fits_fall_back_to_threads_when_their_matrices_cannot_be_written(
    tmp_path, monkeypatch, caplog
):
    task, ex = _task_data(False)
    serial = evaluate_task(task, ex, 0, workers=1)
    blocked = tmp_path / "not-a-folder"
    blocked.write_text("")
    monkeypatch.setattr(fit_pool, "PROCESS_MIN_BYTES", 0)
    monkeypatch.setattr(fit_pool, "SHARED_MEMORY", blocked)
    monkeypatch.setattr(tempfile, "tempdir", str(blocked))
    with caplog.at_level("WARNING"):
        assert _comparable(evaluate_task(task, ex, 0, workers=2)) == _comparable(serial)
    assert "probe fits on threads: cannot map their matrices" in caplog.text
