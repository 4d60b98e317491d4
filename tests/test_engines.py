"""Extraction engines: this process, worker processes, and a real Beam pipeline (DirectRunner,
two worker processes) give the same embeddings, the same cache and the same leaderboard."""

import csv
import threading
import time

import numpy as np
import pytest

from noss_eval import synthetic
from noss_eval.cache import EmbeddingCache
from noss_eval.embedder import resolve_embedder
from noss_eval.engines import EmbedderRecipe, LocalEngine, ProcessEngine, prefetched
from noss_eval.errors import NossError
from noss_eval.extract import extract
from noss_eval.runner import RunConfig, run
from noss_eval.tasks import BUILTIN_TASKS

BEAM_OPTIONS = ("--direct_num_workers=2", "--direct_running_mode=multi_processing")


@pytest.fixture(scope="module")
def crema(tmp_path_factory):
    root = tmp_path_factory.mktemp("crema") / "crema_d"
    synthetic.write_crema_d(root, n_actors=12, sentences=("DFA",))
    clips = BUILTIN_TASKS["crema_d"].read(root)
    clips[3].path.write_bytes(b"RIFF broken")
    return clips


def engines(spec, tmp_path):
    from noss_eval.beam_engine import BeamEngine

    recipe = EmbedderRecipe(spec)
    embedder = resolve_embedder(spec)
    return embedder, {
        "local": LocalEngine(embedder),
        "processes": ProcessEngine(recipe, workers=2),
        "beam": BeamEngine(recipe, embedder.sample_rate, BEAM_OPTIONS, tmp_path / "staging"),
    }


def test_engines_agree_on_vectors_errors_and_cache(crema, tmp_path, dynamic_tflite):
    embedder, all_engines = engines(str(dynamic_tflite), tmp_path)
    results = {}
    for name, engine in all_engines.items():
        cache = EmbeddingCache(tmp_path / name)
        ex = extract(embedder, "crema_d", crema, cache, engine=engine, progress=False)
        assert [c.path for c, _ in ex.failed] == [crema[3].path]
        assert ex.computed == len(crema) - 1
        results[name] = ex
        files = sorted(p.name for p in (tmp_path / name).rglob("*.npz"))
        assert files == sorted(p.name for p in (tmp_path / "local").rglob("*.npz"))
    for name in ("processes", "beam"):
        np.testing.assert_allclose(
            results[name].embeddings, results["local"].embeddings, rtol=1e-5, atol=1e-6
        )
        assert [c.clip_id for c in results[name].clips] == [
            c.clip_id for c in results["local"].clips
        ]
    assert not list((tmp_path / "staging").iterdir())  # Beam's shards are cleaned up


def test_beam_and_local_runs_write_identical_leaderboards(tmp_path):
    synthetic.write_esc50(tmp_path / "data" / "esc50", per_fold=1)
    boards = {}
    for runner in ("local", "beam"):
        boards[runner] = tmp_path / f"{runner}.csv"
        run(
            RunConfig(
                embedder="dsp",
                data_dir=tmp_path / "data",
                tasks=("esc50_hs",),
                cache_dir=tmp_path / f"cache-{runner}",
                leaderboard=boards[runner],
                progress=False,
                runner=runner,
                beam_options=BEAM_OPTIONS,
            )
        )
    volatile = {"run_id", "created"}
    rows = {
        r: [{k: v for k, v in row.items() if k not in volatile} for row in csv.DictReader(p.open())]
        for r, p in boards.items()
    }
    assert rows["beam"] == rows["local"] and len(rows["local"]) == 3  # logistic, lda, best


def test_bad_beam_options_and_tfds_stream_are_refused(tmp_path, crema):
    from noss_eval.beam_engine import BeamEngine
    from noss_eval.sources import file_stream

    engine = BeamEngine(EmbedderRecipe("dsp"), 16000, ("--runner=NoSuchRunner",))
    with pytest.raises(NossError, match="--beam-options: .*NoSuchRunner"):
        list(engine.run(crema[:2], file_stream))
    with pytest.raises(NossError, match="--runner beam reads audio files itself"):
        list(BeamEngine(EmbedderRecipe("dsp"), 16000).run(crema[:2], lambda c, r: iter(())))
    with pytest.raises(NossError, match="--workers > 1"):
        list(ProcessEngine(EmbedderRecipe("dsp"), 2).run(crema[:2], lambda c, r: iter(())))


def test_prefetch_runs_ahead_by_at_most_depth_and_reraises():
    produced = []

    def items():
        for i in range(100):
            produced.append(i)
            yield i

    it = prefetched(items(), depth=4)
    assert next(it) == 0
    time.sleep(0.2)
    assert len(produced) <= 1 + 4 + 1  # consumed + queued + one waiting to be queued
    assert list(it) == list(range(1, 100))

    def failing():
        yield 1
        raise ValueError("decode failed")

    with pytest.raises(ValueError, match="decode failed"):
        list(prefetched(failing(), depth=2))
    assert threading.active_count() < 20


def test_local_engine_prepares_inputs_on_the_decode_thread(crema, dynamic_tflite):
    from noss_eval.embedders.tflite import TFLiteEmbedder
    from noss_eval.sources import file_stream

    class Recording(TFLiteEmbedder):
        threads_seen: set = set()

        def prepare(self, waveform):
            self.threads_seen.add(threading.current_thread().name)
            return super().prepare(waveform)

    embedder = Recording(dynamic_tflite)
    results = list(LocalEngine(embedder).run(crema[:5], file_stream))
    assert Recording.threads_seen == {"noss-eval-decode"}
    np.testing.assert_allclose(
        results[0][1],
        embedder.embed(file_stream(crema[:1], 16000).__next__()[1]).mean(axis=0),
        rtol=1e-5,
    )
