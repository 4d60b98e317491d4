"""`noss-eval distill` without training: the grid file, the window definition, the by-file split,
the manifest, the hyperparameter regression, and the checks that run before any long work."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from noss_eval.cli import main
from noss_eval.distill import windows as win
from noss_eval.distill.command import kept_rows, resolve_grid
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
        ("students: {alpha: [0.5]}\ndata: {silence_dbfs: 6}\n", "'data.silence_dbfs'"),
        ("students: {alpha: [0.5]}\ndata: {silence_dbfs: quiet}\n", "'data.silence_dbfs'"),
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
    got = win.build_windows(files, Teacher(), EmbeddingCache(tmp_path / "c"), None, progress=False)
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


class _LevelTeacher:
    """Returns (peak level of what it is given, its length); refuses digital silence."""

    name, sample_rate, model_sha256, settings = "level", 16000, "l" * 64, {}

    def __init__(self):
        self.calls = 0

    def embed(self, waveform):
        self.calls += 1
        peak = float(np.abs(waveform).max())
        assert peak > 0, "the teacher was handed digital silence"
        return np.array([[20 * np.log10(peak), waveform.size]], np.float32)


def _tone_then_silence(
    path: Path, loud_s: float, silent_s: float, peak: float = 0.5, lead_s: float = 0.0
) -> np.ndarray:
    """`lead_s` of digital silence, a 440 Hz tone of `loud_s`, then `silent_s` of silence."""
    t = np.arange(int(16000 * loud_s)) / 16000
    tone = peak * np.sin(2 * np.pi * 440 * t)
    x = np.concatenate([np.zeros(int(16000 * lead_s)), tone, np.zeros(int(16000 * silent_s))])
    sf.write(str(path), x.astype(np.float32), 16000, subtype="FLOAT")
    return x.astype(np.float32)


def test_window_peaks_are_each_windows_own_peak_in_dbfs():
    """Window w is samples [2720 w, 2720 w + 15600): a sample at 2720 + 15600 is just past
    window 1 and inside windows 2-6; one at 2720 * 3 + 15599 is window 3's last (and in 4-6)."""
    x = np.zeros(16000 * 2, np.float32)
    x[100], x[2720 + 15600], x[2720 * 3 + 15599] = 0.5, 0.125, -0.25
    n = len(log_mel_windows(x))
    got = win.window_peaks_dbfs(x, n)
    db = 20 * np.log10([0.5, 0.125, 0.25])
    assert n == 7
    np.testing.assert_allclose(got, [db[0], -np.inf, db[1], db[2], db[2], db[2], db[2]], rtol=1e-6)
    assert win.window_peaks_dbfs(np.zeros(400, np.float32), 1)[0] == -np.inf  # padded, silent


def test_silent_windows_are_left_out_before_the_teacher_runs(tmp_path, caplog):
    """A 1 s tone then 1 s of digital silence: windows peaking below the threshold get no
    target and no teacher call; every kept window's number points at its own audio."""
    from noss_eval.cache import EmbeddingCache

    x = _tone_then_silence(tmp_path / "a.wav", 1.0, 1.0)
    _tone_then_silence(tmp_path / "quiet.wav", 1.0, 0.0, peak=0.002)  # -54 dBFS
    late = _tone_then_silence(tmp_path / "late.wav", 1.5, 0.0, lead_s=1.0)  # silence first
    files = [tmp_path / "a.wav", tmp_path / "quiet.wav", tmp_path / "late.wav"]
    peaks = win.window_peaks_dbfs(x, len(log_mel_windows(x)))
    teacher = _LevelTeacher()
    with caplog.at_level("INFO", logger="noss_eval"):
        got = win.build_windows(files, teacher, EmbeddingCache(tmp_path / "c"), -60.0, False)
    loud = np.flatnonzero(peaks >= -60)
    assert 0 < len(loud) < len(peaks)  # the tail windows are silent, the first are not
    np.testing.assert_array_equal(got.of_file(0), loud)
    np.testing.assert_array_equal(got.of_file(1), [0])  # quiet, not silent, at -60
    late_peaks = win.window_peaks_dbfs(late, len(log_mel_windows(late)))
    heard = np.flatnonzero(late_peaks >= -60)
    assert heard[0] > 0  # its first windows are silent, the rest kept under their own numbers
    np.testing.assert_array_equal(got.of_file(2), heard)
    silent = len(peaks) - len(loud) + len(late_peaks) - len(heard)
    assert got.silent == silent and teacher.calls == len(loud) + 1 + len(heard)
    for i, audio, kept in ((0, x, loud), (2, late, heard)):
        mine = got.file_index == i
        np.testing.assert_allclose(got.targets[mine, 0], win.window_peaks_dbfs(
            audio, len(log_mel_windows(audio)))[kept], atol=1e-4)  # fmt: skip
        np.testing.assert_allclose(got.inputs[mine], log_mel_windows(audio)[kept], atol=1e-5)
    assert f"{got.silent} silent windows (peak below -60 dBFS) left out" in caplog.text
    stricter = win.build_windows(files, _LevelTeacher(), EmbeddingCache(tmp_path / "c"), -40.0,
                                 False)  # fmt: skip
    assert stricter.of_file(1).size == 0 and stricter.silent == got.silent + 1
    exact = win.build_windows(files[:1], _LevelTeacher(), EmbeddingCache(tmp_path / "c"),
                              float(peaks[0]), False)  # fmt: skip
    assert 0 in exact.of_file(0)  # a window peaking exactly at the threshold is kept
    with pytest.raises(NossError, match="every window is silence") as info:
        win.build_windows(files[1:2], _LevelTeacher(), EmbeddingCache(tmp_path / "c"), -40.0, False)
    assert "\n" not in str(info.value)


def test_a_teacher_whose_targets_hang_on_a_few_windows_is_warned_about(tmp_path, caplog):
    """Digital silence kept (null threshold) and a teacher that answers it far from the rest,
    as YAMNet does: the 1 % farthest windows hold most of the variance, which is said."""
    from noss_eval.cache import EmbeddingCache

    class SilenceAverse(_LevelTeacher):
        def embed(self, waveform):
            peak = float(np.abs(waveform).max())
            far = 1000.0 if peak == 0 else 0.0
            return np.array([[far + peak + 1e-3 * waveform[:200].sum(), 1.0]], np.float32)

    files = []
    for i in range(12):  # 4 s of tone each; two files end in 1.2 s of digital silence
        _tone_then_silence(tmp_path / f"{i}.wav", 4.0, 1.2 if i < 2 else 0.0, peak=0.05 * (i + 1))
        files.append(tmp_path / f"{i}.wav")
    with caplog.at_level("INFO", logger="noss_eval"):
        kept = win.build_windows(files, SilenceAverse(), EmbeddingCache(tmp_path / "c"), None,
                                 False)  # fmt: skip
    silent = int((kept.targets[:, 0] >= 1000).sum())
    assert len(kept.targets) >= win.OUTLIER_MIN_WINDOWS and 0 < silent <= len(kept.targets) // 100
    assert win.outlier_share(kept.targets) > 0.9 and "farthest windows hold" in caplog.text
    caplog.clear()
    with caplog.at_level("INFO", logger="noss_eval"):
        gated = win.build_windows(files, SilenceAverse(), EmbeddingCache(tmp_path / "d"), -60.0,
                                  False)  # fmt: skip
    assert win.outlier_share(gated.targets) < 0.2 and "farthest windows hold" not in caplog.text


def test_the_outlier_warning_threshold_and_its_minimum_of_windows():
    """1 % of n windows at distance D, the rest spread: the warning speaks above a 20 % share
    and only from 200 windows on (below, "1 %" is a window or two)."""

    def targets(n, share):  # the farthest n // 100 hold `share` of the total, exactly
        k, rest = n // 100, np.zeros((n, 2))
        rest[: n - k : 2, 0], rest[1 : n - k : 2, 0] = 1.0, -1.0  # spread, mean 0
        far = np.sqrt(share / (1 - share) * (n - k) / k)
        rest[n - k :, 1] = np.where(np.arange(k) % 2, far, -far)  # mean stays 0
        return rest

    assert win.outlier_share(targets(400, 0.19)) == pytest.approx(0.19)
    assert win.outlier_warning(targets(400, 0.19)) is None
    assert "hold 21 %" in win.outlier_warning(targets(400, 0.21))
    assert win.outlier_warning(targets(199, 0.9)) is None
    assert win.outlier_warning(targets(200, 0.9)) is not None


def test_outlier_share_known_answers():
    one_far = np.zeros((200, 3))
    one_far[:100, 0] = 1.0  # 100 windows at 0, 99 at 1, one at 50: the 2 farthest of 200
    one_far[7, 0] = 50.0
    d = (one_far[:, 0] - one_far[:, 0].mean()) ** 2
    assert win.outlier_share(one_far) == pytest.approx(np.sort(d)[-2:].sum() / d.sum())
    assert win.outlier_share(np.zeros((50, 4))) == 0.0
    spread = np.random.RandomState(0).randn(5000, 16)
    assert 0.01 < win.outlier_share(spread) < 0.05  # chi-square(16) tail: about 3 %


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


def test_a_split_left_without_windows_by_the_silence_gate_is_a_one_line_error(tmp_path, capsys):
    """Two files, one of them silence: held out or not, one side has no window left. The error
    comes before the teacher computes a target (none is cached), names the knob and the grid
    file, and leaves no run.json, so the same --out takes the lowered threshold it suggests."""
    audio = tmp_path / "audio"
    audio.mkdir()
    _tone_then_silence(audio / "a.wav", 1.5, 0.0)
    _tone_then_silence(audio / "b.wav", 0.0, 1.5)  # sorted second
    seeds = {bool(win.split_files(2, 0.1, seed)[1]): seed for seed in range(20)}
    for silent_held, what in ((True, "held-out"), (False, "training")):
        grid = tmp_path / f"{what}.yaml"
        grid.write_text(f"seed: {seeds[silent_held]}\nstudents: {{alpha: [0.25]}}\n")
        assert main(_distill_args(tmp_path, audio, grid)) == 2
        err = capsys.readouterr().err.strip().splitlines()
        assert f"no {what} window is left once silence is taken out" in err[-1], err
        assert "data.silence_dbfs" in err[-1] and str(grid) in err[-1]
        assert not (tmp_path / "out" / "run.json").exists()
        assert not list((tmp_path / "cache").rglob("*.npz"))


def test_kept_rows_take_each_files_own_kept_windows():
    a, b = np.arange(10).reshape(5, 2), 100 + np.arange(6).reshape(3, 2)
    got = kept_rows([a, b], [np.array([2, 4]), np.array([0, 1])])
    np.testing.assert_array_equal(got, [[4, 5], [8, 9], [100, 101], [102, 103]])


def test_silence_threshold_defaults_to_minus_45_and_null_keeps_every_window(tmp_path):
    grid = tmp_path / "grid.yaml"
    grid.write_text("students: {alpha: [0.5]}\n")
    assert load_grid(grid).data.silence_dbfs == -45.0
    grid.write_text("data: {silence_dbfs: null}\nstudents: {alpha: [0.5]}\n")
    assert load_grid(grid).data.silence_dbfs is None
    grid.write_text("data: {silence_dbfs: -60}\nstudents: {alpha: [0.5]}\n")
    assert load_grid(grid).data.silence_dbfs == -60.0


def test_an_out_folder_distilled_from_other_inputs_is_refused(tmp_path):
    """run.json records the inputs; another silence threshold (or any other input) is refused
    with a one-line error naming what differs, and recording never overwrites it."""
    from noss_eval.distill.command import check_identity, record_identity, run_identity

    (tmp_path / "a.wav").write_bytes(b"x")
    grid = tmp_path / "grid.yaml"
    grid.write_text("students: {alpha: [0.5]}\n")
    held = np.array([True])
    first = run_identity([tmp_path / "a.wav"], held, "fp", load_grid(grid))
    record_identity(tmp_path / "out", first)
    check_identity(tmp_path / "out", first)  # the same inputs resume
    grid.write_text("data: {silence_dbfs: null}\nstudents: {alpha: [0.5]}\n")
    other = run_identity([tmp_path / "a.wav"], held, "fp", load_grid(grid))
    with pytest.raises(NossError, match=r"\(data differs") as info:
        check_identity(tmp_path / "out", other)
    assert "\n" not in str(info.value) and "give a new --out" in str(info.value)
    record_identity(tmp_path / "out", other)
    check_identity(tmp_path / "out", first)  # not overwritten
