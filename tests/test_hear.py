"""The `hear` kind on HEAR-API modules installed for real (a package plus its dist-info on
sys.path, imported by name as any installed HEAR submission would be).

No real HEAR package installs here: `hearbaseline` (the reference submission) imports torch in its
top-level `__init__` and pins numpy==1.19.2 and numba==0.48, and torch's PyPI wheel with its CUDA
dependencies is several GB. So the module is written in the test, following the HEAR 2021 API
exactly: `load_model(model_file_path="")` -> a model with `sample_rate`,
`timestamp_embedding_size`, `scene_embedding_size`; `get_timestamp_embeddings(audio [n_sounds,
n_samples], model)` -> (`[n_sounds, n_timestamps, dim]`, timestamps `[n_sounds, n_timestamps]` in
ms, frame centres); `get_scene_embeddings(audio, model)` -> `[n_sounds, dim]`. Its embedding is
hearbaseline's naive recipe in numpy: a log power spectrum times a fixed random projection."""

import csv
import re

import numpy as np
import pytest
from real_layouts import fsdd_as_voxceleb1
from testlib import SHARED, install, require_shared, tone

from noss_eval.cli import main
from noss_eval.embedder import fingerprint, resolve_embedder, sha256_file
from noss_eval.errors import NossError

MODULE = """
import numpy as np

FRAME, HOP = 400, 160  # 25 ms windows every 10 ms at 16 kHz


class Model:  # what a torch.nn.Module submission exposes
    sample_rate = 16000
    timestamp_embedding_size = 48
    scene_embedding_size = 48

    def __init__(self, projection):
        self.projection = projection


def load_model(model_file_path=""):
    if model_file_path:
        return Model(np.load(model_file_path))
    return Model(np.random.RandomState(0).randn(201, 48).astype(np.float32) / 14)


def get_timestamp_embeddings(audio, model):
    audio = np.asarray(audio, dtype=np.float32)
    assert audio.ndim == 2, "audio must be [n_sounds, n_samples]"
    padded = np.pad(audio, ((0, 0), (FRAME // 2, FRAME // 2)))
    starts = np.arange(0, padded.shape[1] - FRAME + 1, HOP)
    frames = np.stack([padded[:, s : s + FRAME] for s in starts], axis=1)
    power = np.abs(np.fft.rfft(frames * np.hanning(FRAME), n=400))[..., :201] ** 2
    embeddings = np.log(power + 1e-6) @ model.projection
    timestamps = np.tile(starts * 1000.0 / model.sample_rate, (audio.shape[0], 1))
    return embeddings.astype(np.float32), timestamps
{scene}
"""
SCENE = """
def get_scene_embeddings(audio, model):
    embeddings, _ = get_timestamp_embeddings(audio, model)
    return embeddings.mean(axis=1)
"""


def test_timestamp_and_scene_embeddings_of_a_hear_module(hear_root, tmp_path):
    install(hear_root, "hear_naive", MODULE.format(scene=SCENE))
    emb = resolve_embedder("hear:hear_naive")
    assert emb.settings == {
        "kind": "hear",
        "module": "hear_naive",
        "version": "hear_naive==1.2",
        "hear": "timestamp",
    }
    assert emb.sample_rate == 16000 and emb.name == "hear:hear_naive"
    x = tone(300, 1.5)
    frames = emb.embed(x)
    assert frames.shape == (1 + len(x) // 160, 48) and frames.dtype == np.float32
    scene = resolve_embedder("hear:hear_naive", {"hear": "scene"})
    np.testing.assert_allclose(scene.embed(x), frames.mean(axis=0, keepdims=True), rtol=1e-5)
    assert fingerprint(scene) != fingerprint(emb)
    weights = tmp_path / "projection.npy"
    np.save(weights, np.ones((201, 48), np.float32))
    loaded = resolve_embedder(f"hear:hear_naive:{weights}")
    assert loaded.model_sha256 == sha256_file(weights) != emb.model_sha256
    assert np.ptp(loaded.embed(x), axis=1).max() == 0  # all-ones projection: equal columns
    with pytest.raises(NossError, match="hear: 'clip' is not one of timestamp, scene"):
        resolve_embedder("hear:hear_naive", {"hear": "clip"})


def test_the_version_keys_the_cache(hear_root, tmp_path):
    install(hear_root, "hear_naive", MODULE.format(scene=SCENE), version="1.2")
    first = fingerprint(resolve_embedder("hear:hear_naive"))
    (hear_root / "hear_naive-1.2.dist-info").rename(hear_root / "hear_naive-1.3.dist-info")
    meta = hear_root / "hear_naive-1.3.dist-info" / "METADATA"
    meta.write_text(meta.read_text().replace("1.2", "1.3"))
    assert fingerprint(resolve_embedder("hear:hear_naive")) != first


def test_check_and_a_real_audio_task(hear_root, tmp_path, capsys):
    install(hear_root, "hear_naive", MODULE.format(scene=SCENE))
    assert main(["check", "hear:hear_naive"]) == 0
    out = capsys.readouterr().out
    assert "hear:hear_naive (hear) at 16000 Hz" in out and "x 48 dims" in out
    assert "hear_naive.get_timestamp_embeddings(audio [1, n] at 16000 Hz" in out
    fsdd_as_voxceleb1(
        require_shared(SHARED / "data" / "fsdd" / "recordings"),
        tmp_path / "data" / "voxceleb1",
        per_digit=5,
    )
    board = tmp_path / "board.csv"
    args = ["--embedder", "hear:hear_naive", "--data-dir", str(tmp_path / "data")]
    args += ["--tasks", "voxceleb1", "--cache-dir", str(tmp_path / "c"), "--no-progress", "-q"]
    assert main([*args, "--leaderboard", str(board)]) == 0
    rows = list(csv.DictReader(board.open()))
    assert len(rows) == 3 and all(r["n_test"] == "60" for r in rows)
    assert all(float(r["headline_ci_low"]) > 1.5 * 100 / 6 for r in rows), rows  # 6 speakers


BROKEN = {
    "hear_nofunc": (MODULE.format(scene=""), r"not a HEAR-API module, it has no get_scene"),
    "hear_shape": (
        MODULE.format(scene=SCENE).replace(
            "return embeddings.astype", "return embeddings[0].astype"
        ),
        r"get_timestamp_embeddings returned shape \[\d+, 48\], not \[1, n, 48\]",
    ),
    "hear_nan": (
        MODULE.format(scene=SCENE).replace("power + 1e-6", "power - 1e9"),
        "get_timestamp_embeddings returned NaN or infinite values",
    ),
    "hear_rate": (
        MODULE.format(scene=SCENE).replace("sample_rate = 16000", 'sample_rate = "16k"'),
        r"sample_rate is '16k' \(str\), not a positive int",
    ),
    "hear_import": ("import no_such_framework_xyz\n", r"cannot import \(ModuleNotFoundError"),
    "hear_dim": (
        MODULE.format(scene=SCENE).replace(
            "timestamp_embedding_size = 48", "timestamp_embedding_size = 64"
        ),
        r"returned shape \[1, \d+, 48\], not \[1, n, 64\]",
    ),
}


@pytest.mark.parametrize("name", sorted(BROKEN))
def test_modules_that_break_the_api_are_one_line_errors(hear_root, name, capsys):
    source, message = BROKEN[name]
    install(hear_root, name, source)
    assert main(["check", f"hear:{name}"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and f"hear:{name}" in err[0], err
    assert re.search(message, err[0]), err[0]


def test_a_broken_module_stops_the_run_before_any_work(hear_root, tmp_path, capsys):
    from noss_eval import synthetic

    install(hear_root, "hear_nan", BROKEN["hear_nan"][0])
    synthetic.write_crema_d(tmp_path / "data" / "crema_d")
    board = tmp_path / "b.csv"
    args = ["--embedder", "hear:hear_nan", "--data-dir", str(tmp_path / "data"), "--tasks"]
    args += ["crema_d", "--cache-dir", str(tmp_path / "cache"), "--leaderboard", str(board)]
    assert main(args) == 2
    err = [line for line in capsys.readouterr().err.splitlines() if "error" in line]
    assert len(err) == 1 and "hear:hear_nan" in err[0] and "NaN" in err[0]
    assert not board.exists() and not (tmp_path / "cache").exists()


def test_missing_module_and_weights(hear_root):
    with pytest.raises(NossError, match=r"hear:hear_absent: cannot import"):
        resolve_embedder("hear:hear_absent")
    install(hear_root, "hear_naive", MODULE.format(scene=SCENE))
    with pytest.raises(NossError, match="no such weights file"):
        resolve_embedder("hear:hear_naive:/nonexistent/w.npy")
    with pytest.raises(NossError, match="hear: needs a module"):
        resolve_embedder("hear:")
