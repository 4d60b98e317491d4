"""`noss-eval distill` without training: the grid file, the window definition, the by-file split,
the manifest, the hyperparameter regression, and the checks that run before any long work."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

from noss_eval.cli import main
from noss_eval.distill import windows as win
from noss_eval.distill.command import resolve_grid
from noss_eval.distill.grid import load_grid
from noss_eval.distill.manifest import ManifestRow, manifest_embedders, read_manifest, upsert
from noss_eval.errors import NossError
from noss_eval.explain import standardized_regression
from noss_eval.frontend import log_mel_windows


def test_shipped_grids():
    tiny = load_grid(resolve_grid("tiny-grid"))
    assert len(tiny.students) >= 4 and {s.arch.pooling for s in tiny.students} == {"avg", "flatten"}
    frill = load_grid(resolve_grid("frill-grid"))
    knobs = {k: {s.knobs()[k] for s in frill.students} for k in frill.students[0].knobs()}
    assert knobs["size"] == {"small", "large"} and knobs["pooling"] == {"avg", "flatten"}
    assert knobs["alpha"] == {0.5, 1.0, 2.0} and knobs["quantize"] == {"float32", "int8"}
    assert knobs["bottleneck"] == {0, 1024, 2048} and knobs["compression"] == {0, 100}
    assert {(s.arch.bottleneck, s.arch.compression) for s in frill.students} == {
        (0, 0),
        (1024, 0),
        (1024, 100),
        (2048, 0),
        (2048, 100),
    }
    assert len(frill.students) == 120 and len(frill.architectures) == 60
    assert len({s.name for s in frill.students}) == 120


@pytest.mark.parametrize(
    "text, named",
    [
        ("students: {alpha: [0.5]}\nepochs: 3\n", "'epochs'"),
        ("students: {alpha: [0.5], width: [1]}\n", "'students.width'"),
        ("students: {size: [medium], alpha: [0.5]}\n", "'students.size'"),
        ("students: {pooling: [max], alpha: [0.5]}\n", "'students.pooling'"),
        ("students: {alpha: [0.5], quantize: [int4]}\n", "'students.quantize'"),
        ("students: {alpha: [0.5], compression: [-1]}\n", "'students.compression'"),
        ("students: {alpha: [0.5], compression: [8]}\n", "'students.compression'"),
        ("students: {alpha: [0.5]}\ntraining: {alpha_decrement: 0}\n", "'training.alpha_"),
        ("students: {alpha: [0.5, 0.5]}\n", "'students.alpha'"),
        ("students: {size: [small]}\n", "'students.alpha'"),
        ("students: {alpha: [0.5]}\ntraining: {epochs: 0}\n", "'training.epochs'"),
        ("students: {alpha: [0.5]}\ntraining: {lr: 0.1}\n", "'training.lr'"),
        ("students: {alpha: [0.5]}\ndata: {holdout: 0.9}\n", "'data.holdout'"),
        ("students: {alpha: [0.5], frontend: [yes please]}\n", "'students.frontend'"),
        ("seed: -1\nstudents: {alpha: [0.5]}\n", "'seed'"),
    ],
)
def test_a_bad_grid_key_is_named(tmp_path, text, named):
    path = tmp_path / "grid.yaml"
    path.write_text(text)
    with pytest.raises(NossError, match=named) as info:
        load_grid(path)
    assert str(path) in str(info.value) and "\n" not in str(info.value)


def test_window_audio_is_exactly_the_frontend_window():
    """Window w of the teacher's audio gives log-mel window w of the whole clip."""
    rng = np.random.RandomState(0)
    for seconds in (0.4, 1.0, 2.3):
        x = (0.1 * rng.randn(int(16000 * seconds))).astype(np.float32)
        whole = log_mel_windows(x)
        for w in range(len(whole)):
            piece = win.window_audio(x, w)
            assert piece.size == win.WINDOW_SAMPLES
            np.testing.assert_allclose(log_mel_windows(piece)[0], whole[w], atol=1e-4)


def test_split_is_by_file_and_seeded():
    held = win.split_files(50, 0.1, seed=3)
    assert held.sum() == 5 and (held == win.split_files(50, 0.1, seed=3)).all()
    assert not (held == win.split_files(50, 0.1, seed=4)).all()
    assert win.split_files(2, 0.1, 0).sum() == 1
    with pytest.raises(NossError, match="at least 2"):
        win.split_files(1, 0.1, 0)


def test_held_out_count_is_the_rounded_fraction_and_never_every_file():
    assert win.split_files(9, 0.3, seed=0).sum() == 3  # 2.7 rounds to 3 (not truncated to 2)
    assert win.split_files(10, 0.99, seed=0).sum() == 9  # 9.9 -> 10, but one file must train
    assert win.split_files(4, 1.0, seed=0).sum() == 3


def test_each_windows_teacher_target_is_made_from_that_windows_audio(tmp_path):
    """Window w's target is the teacher's output on samples [2720 w, 2720 w + 15600) of its
    file (zero-padded to 1 s when shorter); here the teacher returns (first, last, length)."""
    import soundfile as sf

    from noss_eval.cache import EmbeddingCache

    class Teacher:
        name, sample_rate, model_sha256, settings = "edges", 16000, "e" * 64, {}

        def embed(self, waveform):
            return np.array([[waveform[0], waveform[-1], waveform.size]], np.float32)

    audio = {}
    for name, seconds in (("long.wav", 2.0), ("short.wav", 0.5)):
        n = int(16000 * seconds)
        audio[name] = np.arange(1, n + 1, dtype=np.float32) / (2 * n)  # distinct samples
        sf.write(str(tmp_path / name), audio[name], 16000, subtype="FLOAT")
    files = [tmp_path / "long.wav", tmp_path / "short.wav"]
    got = win.build_windows(files, Teacher(), EmbeddingCache(tmp_path / "c"), progress=False)
    expected = []
    for i, path in enumerate(files):
        x = np.pad(audio[path.name], (0, max(0, 16000 - audio[path.name].size)))
        for w in range((got.file_index == i).sum()):
            expected.append([x[2720 * w], x[2720 * w + 15599], 15600])
    assert len(expected) == 7 + 1  # 2 s: 1 + (198 - 96) // 17 windows; 0.5 s padded: one
    np.testing.assert_array_equal(got.targets, np.array(expected, np.float32))
    np.testing.assert_array_equal(got.file_index, [0] * 7 + [1])
    whole = np.concatenate([log_mel_windows(audio[p.name]) for p in files])
    np.testing.assert_allclose(got.inputs, whole, atol=1e-5)  # each input next to its target


def _row(name: str, sha: str, **knobs) -> ManifestRow:
    base = dict(
        size="small",
        alpha=0.5,
        minimalistic=False,
        pooling="avg",
        bottleneck=0,
        compression=0,
        quantize="float32",
        frontend=False,
    )
    base.update(knobs)
    return ManifestRow(
        student=name, **base, seed=0, params=1, tflite_bytes=1000, heldout_mse=0.1,
        heldout_r2=0.1, tflite_r2=0.1, tflite_max_abs_diff=0.0, tflite_rel_rmse=0.0,
        epochs_run=1, best_epoch=1, train_seconds=1.0, train_windows=10, heldout_windows=2,
        heldout_files=1, tflite_path=f"students/{name}.tflite", tflite_sha256=sha,
        embedder_options="frontend=noss-logmel", teacher="t", teacher_fingerprint="f",
        teacher_dim=4, grid="g", created="now",
    )  # fmt: skip


def test_manifest_upsert_and_embedders(tmp_path):
    path = tmp_path / "manifest.csv"
    upsert(path, _row("a", "1"))
    upsert(path, _row("b", "2"))
    upsert(path, _row("a", "3"))
    rows = read_manifest(path)
    assert [(r["student"], r["tflite_sha256"]) for r in rows] == [("b", "2"), ("a", "3")]
    with pytest.raises(NossError, match="no such file"):
        manifest_embedders(path)
    (tmp_path / "students").mkdir()
    for name in "ab":
        (tmp_path / "students" / f"{name}.tflite").write_bytes(b"x")
    specs = manifest_embedders(path)
    assert [Path(s).name for s, _ in specs] == ["b.tflite", "a.tflite"]
    assert all(o == {"frontend": "noss-logmel"} for _, o in specs)
    (tmp_path / "other.csv").write_text("a,b\n1,2\n")
    with pytest.raises(NossError, match="no 'student' column"):
        read_manifest(tmp_path / "other.csv")


def test_standardized_regression_recovers_known_weights():
    rng = np.random.RandomState(0)
    x = rng.randn(200, 3) * [1.0, 5.0, 0.1]
    y = np.stack([2 * x[:, 0] - 0.4 * x[:, 1], 30 * x[:, 2] + 0.01 * rng.randn(200)], 1)
    weights, r2 = standardized_regression(x, y)
    zx = x.std(0)
    want0 = np.array([2, -0.4, 0]) * zx / y[:, 0].std()
    np.testing.assert_allclose(weights[:, 0], want0, atol=1e-9)
    assert abs(weights[2, 1]) > 0.99 and abs(weights[0, 1]) < 0.05
    assert r2[0] == pytest.approx(1.0) and r2[1] > 0.99


def _distill_args(tmp_path, audio, grid="tiny-grid"):
    return ["distill", "--teacher", "dsp", "--audio", str(audio), "--grid", str(grid),
            "--out", str(tmp_path / "out"), "--cache-dir", str(tmp_path / "cache")]  # fmt: skip


def test_explain_puts_each_knobs_weight_on_its_own_outcome(tmp_path):
    """8 students in an orthogonal design (2 poolings x 4 bottlenecks; the knobs' printed order
    is not alphabetical): quality and size functions of the bottleneck alone (half the sizes
    given in MB, half left to the manifest's bytes), latency of the pooling alone. With
    uncorrelated knobs each standardized weight is the Pearson correlation of knob and outcome:
    1 where it acts, 0 where it does not, on the row and column of that knob and outcome."""
    from noss_eval.explain import explain
    from noss_eval.frontier import Point

    manifest, points, sizes = tmp_path / "manifest.csv", [], {}
    design = [(p, b) for p in ("avg", "flatten") for b in (0, 64, 128, 256)]
    for i, (pooling, bottleneck) in enumerate(design):
        size = int(1e6 + 4e3 * bottleneck)
        upsert(manifest, replace(_row(f"s{i}", f"sha{i}", pooling=pooling, bottleneck=bottleneck),
                                 tflite_bytes=size))  # fmt: skip
        latency = 1.0 if pooling == "avg" else 5.0
        points.append(Point(f"s{i}", f"sha{i}", latency, 0.02 * bottleneck - 7.0))
        if i % 2:
            sizes[f"sha{i}"] = size / 1e6
    points.append(Point("teacher", "not-a-student", 50.0, 0.0))  # left out: not in the manifest
    exp = explain(points, sizes, [manifest])
    assert exp.n == 8 and exp.features == ("global avg pool", "bottleneck dim")
    want = {"global avg pool": [0, -1, 0], "bottleneck dim": [1, 0, 1]}  # avg pool is faster
    for knob, weights in want.items():
        got = exp.weights[exp.features.index(knob)]
        assert got == pytest.approx(weights, abs=1e-9), knob
    assert exp.outcomes == ("average delta", "latency ms", "size MB")
    line = next(x for x in exp.table().splitlines() if x.startswith("global avg pool"))
    assert [float(v) for v in line.split()[3:]] == pytest.approx([0, -1, 0], abs=1e-3)


def test_inputs_are_checked_before_any_work(tmp_path, capsys):
    empty = tmp_path / "empty"
    empty.mkdir()
    assert main(_distill_args(tmp_path, tmp_path / "missing")) == 2
    assert "no such folder" in capsys.readouterr().err
    assert main(_distill_args(tmp_path, empty)) == 2
    assert "holds no audio file" in capsys.readouterr().err
    (empty / "a.wav").write_bytes(b"")
    bad = tmp_path / "bad.yaml"
    bad.write_text("students: {alpha: [0.5], widht: [2]}\n")
    assert main(_distill_args(tmp_path, empty, bad)) == 2
    assert "'students.widht'" in capsys.readouterr().err
    assert main(_distill_args(tmp_path, empty, tmp_path / "nope.yaml")) == 2
    assert "--grid: no such file" in capsys.readouterr().err
    assert main(_distill_args(tmp_path, empty)) == 2  # the teacher is checked on this file
    assert "a.wav" in capsys.readouterr().err
    assert not (tmp_path / "out").exists()
