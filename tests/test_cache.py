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
    assert not list((tmp_path / "cache").rglob(".*.tmp"))


def test_changed_audio_is_recomputed(tmp_path, crema):
    cache = EmbeddingCache(tmp_path / "cache")
    before = extract(DspEmbedder(), "crema_d", crema, cache, progress=False)
    target = crema[0].path
    sf.write(str(target), np.random.RandomState(1).randn(8000) * 0.1, 16000, subtype="PCM_16")
    os.utime(target, ns=(1, 1))
    after = extract(DspEmbedder(), "crema_d", crema, cache, progress=False)
    assert after.computed == 1
    assert not np.allclose(before.embeddings[0], after.embeddings[0])


def test_file_with_only_a_new_mtime_is_recomputed(tmp_path, crema):
    cache = EmbeddingCache(tmp_path / "cache")
    extract(DspEmbedder(), "crema_d", crema, cache, progress=False)
    st = crema[3].path.stat()
    os.utime(crema[3].path, ns=(st.st_atime_ns, st.st_mtime_ns + 10**9))  # same bytes
    again = extract(DspEmbedder(), "crema_d", crema, cache, progress=False)
    assert (again.computed, again.cache_hits) == (1, len(crema) - 1)


def test_file_rewritten_with_its_old_mtime_is_recomputed(tmp_path, crema):
    """Other bytes of another length, the mtime put back: the size alone tells."""
    cache = EmbeddingCache(tmp_path / "cache")
    extract(DspEmbedder(), "crema_d", crema, cache, progress=False)
    st = crema[3].path.stat()
    crema[3].path.write_bytes(crema[3].path.read_bytes() + b"\0" * 64)
    os.utime(crema[3].path, ns=(st.st_atime_ns, st.st_mtime_ns))
    again = extract(DspEmbedder(), "crema_d", crema, cache, progress=False)
    assert again.computed == 1


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


def _entries(root):
    return sorted(p for p in root.rglob("*.npz") if "quarantine" not in p.parts)


def _truncate(p):
    p.write_bytes(p.read_bytes()[: p.stat().st_size // 2])


def _zero(p):
    p.write_bytes(b"")


def _flip(p):
    data = bytearray(p.read_bytes())
    data[len(data) // 2] ^= 0xFF
    p.write_bytes(bytes(data))


def _rewrite(p, **arrays):
    with np.load(p) as data:
        content = {"ids": data["ids"], "embeddings": data["embeddings"], **arrays}
    with open(p, "wb") as fh:
        np.savez(fh, **content)


def _nan(p):
    with np.load(p) as data:
        vectors = data["embeddings"].copy()
    vectors[0, 0] = np.nan
    _rewrite(p, embeddings=vectors)


def _ids_2d(p):
    with np.load(p) as data:
        _rewrite(p, ids=data["ids"].reshape(-1, 1))


def _directory(p):
    p.unlink()
    p.mkdir()
    (p / "x").write_text("x")


@pytest.mark.parametrize("damage", [_truncate, _zero, _flip, _nan, _ids_2d, _directory])
def test_damaged_entry_is_quarantined_and_recomputed(tmp_path, crema, damage, caplog):
    cache = EmbeddingCache(tmp_path / "cache")
    first = extract(DspEmbedder(), "crema_d", crema, cache, progress=False)
    victim = _entries(tmp_path / "cache")[0]
    damage(victim)
    again = extract(DspEmbedder(), "crema_d", crema, cache, progress=False)
    n_victim = sum(c.split == victim.name.split("-")[0] for c in crema)
    assert again.computed == n_victim and again.cache_hits == len(crema) - n_victim
    np.testing.assert_allclose(again.embeddings, first.embeddings, atol=1e-6)
    assert list((tmp_path / "cache" / "quarantine").iterdir())
    assert "moved to" in caplog.text
    third = extract(DspEmbedder(), "crema_d", crema, cache, progress=False)
    assert third.computed == 0  # the recomputed entry is whole again


def test_part_of_another_dimension_is_quarantined(tmp_path, crema):
    cache = EmbeddingCache(tmp_path / "cache")
    extract(DspEmbedder(), "crema_d", crema, cache, progress=False)
    main = _entries(tmp_path / "cache")[0]
    with np.load(main) as data:
        stray = {str(data["ids"][0]): np.ones(7, np.float32)}
    cache.save_part(main, stray)
    loaded = cache.load(main)
    assert {len(v) for v in loaded.values()} == {256}
    assert len(list((tmp_path / "cache" / "quarantine").iterdir())) == 1
    assert cache.load(main, dim=12) == {}  # the expected dimension, when known, rules


def test_probe_results_are_cached_and_identical_and_invalidated_by_inputs(tmp_path, caplog):
    import csv

    from noss_eval.cli import main

    synthetic.write_esc50(tmp_path / "data" / "esc50", per_fold=1)
    board = tmp_path / "b.csv"
    args = [
        "--embedder",
        "dsp",
        "--data-dir",
        str(tmp_path / "data"),
        "--tasks",
        "esc50_hs",
        "--cache-dir",
        str(tmp_path / "cache"),
        "--leaderboard",
        str(board),
        "--no-progress",
    ]

    def stable():
        skip = {"run_id", "created"}
        return [{k: v for k, v in r.items() if k not in skip} for r in csv.DictReader(board.open())]

    assert main(args) == 0
    cold = stable()
    (first,) = (tmp_path / "cache" / "probes").rglob("*.json")
    caplog.clear()
    assert main(args) == 0
    assert "probe results from the cache" in caplog.text
    assert stable() == cold  # bit for bit the same rows
    for changed in (["--seed", "1"], ["--protocol", "noss"]):
        caplog.clear()
        assert main([*args, *changed]) == 0
        assert "probe results from the cache" not in caplog.text, changed
    first.write_text("{ torn")
    caplog.clear()
    assert main(args) == 0
    assert "probe results from the cache" not in caplog.text and "moved to" in caplog.text
    recomputed = [r for r in stable() if r["seed"] == "0" and r["protocol"] == "noss-eval"]
    assert recomputed == cold


def test_parts_after_a_quarantined_part_are_still_read(tmp_path):
    from noss_eval.cache import write_npz

    cache = EmbeddingCache(tmp_path / "cache")
    main = cache.path("f" * 64, "t", "train", "p")
    write_npz(main, {"a": np.ones(4, np.float32)})
    write_npz(main.with_name(f"{main.stem}.part-0.npz"), {"b": np.ones(7, np.float32)})  # wrong
    write_npz(main.with_name(f"{main.stem}.part-1.npz"), {"c": np.full(4, 2.0, np.float32)})
    assert set(cache.load(main, dim=4)) == {"a", "c"}
