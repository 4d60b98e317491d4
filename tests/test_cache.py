"""The embedding cache: atomic entries, hits on re-run, invalidation when audio changes."""

import os

import numpy as np
import pytest
import soundfile as sf

from noss_eval import synthetic
from noss_eval.cache import EmbeddingCache
from noss_eval.embedders.dsp import DspEmbedder
from noss_eval.errors import AudioError
from noss_eval.extract import extract
from noss_eval.tasks import BUILTIN_TASKS


@pytest.fixture
def crema(tmp_path):
    synthetic.write_crema_d(tmp_path / "crema_d")
    return BUILTIN_TASKS["crema_d"].read(tmp_path / "crema_d")


def test_second_run_hits_the_cache_for_every_clip(tmp_path, crema):
    cache = EmbeddingCache(tmp_path / "cache")
    first = extract(DspEmbedder(), "crema_d", crema, cache, progress=False)
    second = extract(DspEmbedder(), "crema_d", crema, cache, progress=False)
    assert (first.computed, first.cache_hits) == (len(crema), 0)
    assert (second.computed, second.cache_hits) == (0, len(crema))
    np.testing.assert_array_equal(first.embeddings, second.embeddings)
    assert not list((tmp_path / "cache").rglob(".tmp-*"))


def test_changed_audio_is_recomputed(tmp_path, crema):
    cache = EmbeddingCache(tmp_path / "cache")
    before = extract(DspEmbedder(), "crema_d", crema, cache, progress=False)
    target = crema[0].path
    sf.write(str(target), np.random.RandomState(1).randn(8000) * 0.1, 16000, subtype="PCM_16")
    os.utime(target, ns=(1, 1))
    after = extract(DspEmbedder(), "crema_d", crema, cache, progress=False)
    assert after.computed == 1
    assert not np.allclose(before.embeddings[0], after.embeddings[0])


def test_corrupt_entry_is_recomputed_not_trusted(tmp_path, crema):
    cache = EmbeddingCache(tmp_path / "cache")
    extract(DspEmbedder(), "crema_d", crema, cache, progress=False)
    for entry in (tmp_path / "cache").rglob("*.npz"):
        entry.write_bytes(b"garbage")
    again = extract(DspEmbedder(), "crema_d", crema, cache, progress=False)
    assert again.computed == len(crema)


def test_unreadable_audio_is_counted_or_fatal_with_strict(tmp_path, crema):
    crema[0].path.write_bytes(b"not a wav")
    cache = EmbeddingCache(tmp_path / "cache")
    result = extract(DspEmbedder(), "crema_d", crema, cache, progress=False)
    assert [c.path for c, _ in result.failed] == [crema[0].path]
    assert len(result.clips) == len(crema) - 1
    with pytest.raises(AudioError, match=crema[0].path.name):
        extract(
            DspEmbedder(),
            "crema_d",
            crema,
            EmbeddingCache(tmp_path / "c2"),
            strict=True,
            progress=False,
        )
