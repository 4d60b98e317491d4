"""`noss-eval latency` and `noss-eval frontier` on real models."""

import csv

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from testlib import MICRO_SPEECH, YAMNET, require_shared

from noss_eval import synthetic
from noss_eval.cli import main
from noss_eval.frontier import Point, mark_frontier


@pytest.fixture
def board(tmp_path, dynamic_tflite, fixed_tflite):
    """A leaderboard with two real TFLite models evaluated on one task, each against the dsp
    baseline measured in the same run (published numbers are not comparable on this data)."""
    synthetic.write_crema_d(tmp_path / "data" / "crema_d")
    path = tmp_path / "board.csv"
    for model in (dynamic_tflite, fixed_tflite):
        assert (
            main(
                [
                    "--embedder",
                    str(model),
                    "--data-dir",
                    str(tmp_path / "data"),
                    "--cache-dir",
                    str(tmp_path / "c"),
                    "--leaderboard",
                    str(path),
                    "--reference",
                    "dsp",
                ]
            )
            == 0
        )
    return path


def test_latency_measures_real_models_and_merges_into_the_leaderboard(
    board, capsys, dynamic_tflite
):
    yamnet, micro = require_shared(YAMNET), require_shared(MICRO_SPEECH)
    args = [
        "latency",
        str(dynamic_tflite),
        str(yamnet),
        str(micro),
        "--embedder-option",
        "input=audio",  # micro_speech takes features; timing it on audio is fine here
        "--runs",
        "5",
        "--leaderboard",
        str(board),
    ]
    assert main(args) == 0
    out = capsys.readouterr().out
    assert "yamnet" in out and "micro_speech_quantized" in out and "16,656" in out
    rows = list(csv.DictReader(board.open()))
    evaluated = [r for r in rows if r["embedder"] == "conv_dynamic"]
    assert len(evaluated) == 3 and all(float(r["latency_ms"]) > 0 for r in evaluated)
    assert float(evaluated[0]["size_mb"]) > 0.01 and int(evaluated[0]["params"]) > 10_000
    standalone = {r["embedder"]: r for r in rows if r["task"] == ""}
    assert set(standalone) == {"yamnet", "micro_speech_quantized"}
    assert all(r["latency_ms"] == "" for r in rows if r["embedder"] == "dsp")  # not timed
    assert 4.0 < float(standalone["yamnet"]["size_mb"]) < 4.2
    assert float(standalone["yamnet"]["latency_ms_all_threads"]) > 0
    # a later evaluation of the same model keeps its latency columns
    assert (
        main(
            [
                "--embedder",
                "dsp",
                "--data-dir",
                str(board.parent / "data"),
                "--leaderboard",
                str(board),
                "--cache-dir",
                str(board.parent / "c"),
            ]
        )
        == 0
    )
    again = [r for r in csv.DictReader(board.open()) if r["embedder"] == "conv_dynamic"]
    assert all(r["latency_ms"] == evaluated[0]["latency_ms"] for r in again)


def test_frontier_plot_and_printout(board, tmp_path, capsys, dynamic_tflite, fixed_tflite):
    """The frontier of the two models' deltas against dsp, with dsp itself, timed, at 0."""
    assert (
        main(
            [
                "latency",
                str(dynamic_tflite),
                str(fixed_tflite),
                "dsp",
                "--runs",
                "3",
                "--leaderboard",
                str(board),
            ]
        )
        == 0
    )
    capsys.readouterr()
    out_png = tmp_path / "frontier.png"
    assert main(["frontier", str(board), "--out", str(out_png)]) == 0
    printed = capsys.readouterr().out
    assert "Pareto frontier" in printed and "crema_d" in printed
    assert "dsp (reference)" in printed and "deltas vs dsp" in printed
    from noss_eval.frontier import frontier_points
    from noss_eval.leaderboard import read_leaderboard

    found = frontier_points(read_leaderboard(board), "best", "noss-eval")
    (ref,) = [p for p in found.points if p.reference]
    assert ref.quality == 0.0 and ref.latency_ms > 0 and len(found.points) == 3
    assert out_png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and out_png.stat().st_size > 10_000


def test_pareto_marking():
    points = mark_frontier(
        [
            Point("fast", "a", 1.0, -3.0),
            Point("slow-good", "b", 30.0, 0.0),
            Point("worse", "c", 10.0, -4.0),
            Point("tie", "d", 1.0, -3.0),
            Point("slower-same", "e", 5.0, -3.0),  # as good as "fast", slower: dominated
            Point("faster-worse", "f", 0.5, -9.0),  # the fastest: on the frontier
        ]
    )
    assert {p.embedder for p in points if p.on_frontier} == {
        "fast", "slow-good", "tie", "faster-worse"
    }  # fmt: skip


@given(st.lists(st.tuples(st.integers(0, 5), st.integers(-5, 5)), min_size=1, max_size=12))
def test_pareto_marking_matches_a_sweep_over_ties(pairs):
    """On a coarse grid (many ties): a point is on the frontier iff it is the best quality at
    its latency or below, and the fastest at its quality or above."""
    points = mark_frontier([Point(f"m{i}", str(i), lat, q) for i, (lat, q) in enumerate(pairs)])
    for p in points:
        best_here = max(q.quality for q in points if q.latency_ms <= p.latency_ms)
        fastest = min(q.latency_ms for q in points if q.quality >= p.quality)
        assert p.on_frontier == (p.quality == best_here and p.latency_ms == fastest), p


def test_frontier_needs_latency(tmp_path, board, capsys):
    assert main(["frontier", str(board), "--out", str(tmp_path / "f.png")]) == 2
    assert "no model in the leaderboard has both" in capsys.readouterr().err
    with pytest.raises(Exception, match="no such file"):
        from noss_eval.frontier import frontier

        frontier(tmp_path / "missing.csv", tmp_path / "f.png", "logistic", "noss-eval")


def test_latency_of_a_bad_model_is_a_one_line_error(tmp_path, capsys):
    junk = tmp_path / "junk.tflite"
    junk.write_bytes(b"\0" * 64)
    assert main(["latency", str(junk), "--runs", "2"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "junk.tflite: not a loadable TFLite model" in err[0]


def row(model, task, reference, delta, latency="2.0"):
    return {"embedder": model, "embedder_sha256": model, "embedder_fingerprint": model,
            "task": task, "probe": "best", "protocol": "noss-eval", "reference": reference,
            "delta": str(delta), "latency_ms": latency}  # fmt: skip


def test_frontier_never_averages_deltas_against_different_references():
    from noss_eval.errors import NossError
    from noss_eval.frontier import collect

    rows = [row("a", "t1", "trill", -1.0), row("a", "t2", "trill", -3.0),
            row("a", "t3", "trill", 100.0),  # a task b lacks: not in either average
            row("b", "t1", "trill", 2.0), row("b", "t2", "trill", 4.0),
            row("a", "t1", "yamnet", 10.0), row("b", "t2", "yamnet", 20.0)]  # fmt: skip
    with pytest.raises(NossError, match="trill, yamnet are not on one scale: choose one with"):
        collect(rows, "best", "noss-eval")
    found = collect(rows, "best", "noss-eval", "trill")
    points = found.points
    assert {p.embedder: p.quality for p in points} == {"a": -2.0, "b": 3.0}
    assert (found.tasks, found.reference) == (["t1", "t2"], "trill")
    with pytest.raises(NossError, match="'trill-v3'.*the board has: trill, yamnet"):
        collect(rows, "best", "noss-eval", "trill-v3")
    alone = [r for r in rows if r["reference"] == "trill"]
    assert collect(alone, "best", "noss-eval") == found  # the only reference: no option
    # the reference's own rows (deltas against a published score, no latency) are not plotted
    untimed = {**row("trill", "t1", "trill-published", -0.5), "latency_ms": ""}
    assert collect([*alone, untimed], "best", "noss-eval").points == points


def test_report_frontier_takes_its_reference_from_the_plottable_rows():
    """Untimed models' rows (here three references' own rows, against a published score)
    outnumber the timed model's, but are never plotted: the report's frontier is against the
    timed model's reference, as `noss-eval frontier`'s."""
    from noss_eval.html_report import _frontier

    rows = [row("a", t, "trill", d) for t, d in (("t1", -1.0), ("t2", -3.0))]
    rows += [row(m, t, "trill-published", 0.5, latency="") for m in "xyz" for t in ("t1", "t2")]
    charts, notes = _frontier(rows, "best", ["noss-eval"])
    assert charts is not None and len(charts) == 1, notes
    assert "average delta vs trill over t1, t2" in charts[0].title
    assert "a: 2.00 ms, -2.00 points" in charts[0].alt


class _Clock:
    """A fake `time` module whose clock only moves inside the fake embedder's `embed`."""

    def __init__(self, durations_ms):
        self.now, self.durations = 0.0, list(durations_ms)

    def perf_counter(self):
        return self.now

    def embed(self, waveform):
        self.now += self.durations.pop(0) / 1000.0
        return np.zeros((1, 4), np.float32)


def test_latency_is_median_and_p90_of_the_timed_runs_after_warm_up(monkeypatch):
    """5 slow warm-up calls, then 10 timed ones of 1..9 and 100 ms: median 5.5 (the mean would
    be 14.5), p90 by linear interpolation at rank 0.9 * 9 = 8.1: 9 + 0.1 * (100 - 9) = 18.1."""
    from types import SimpleNamespace

    from noss_eval import latency

    timed = [4, 100, 1, 7, 2, 9, 3, 8, 5, 6]
    clock = _Clock([1000] * 5 + timed)
    model = SimpleNamespace(name="m", sample_rate=16000, model_sha256="0" * 64, settings={},
                            embed=clock.embed)  # fmt: skip
    recipe = SimpleNamespace(build=lambda threads: model)
    monkeypatch.setattr(latency, "time", clock)
    result = latency._measure_here(recipe, threads=1, runs=10, warmup=5)
    assert clock.durations == []  # every scripted call made: 5 warm-up + 10 timed
    assert result.median_ms == pytest.approx(5.5) and result.p90_ms == pytest.approx(18.1)


def test_latency_columns_take_single_thread_latency_and_all_threads_median():
    from noss_eval.latency import Latency, latency_columns

    def timed(fingerprint, threads, median, p90):
        return Latency("m", "same-file", fingerprint, threads, median, p90, size_mb=1.5, params=7)

    results = [timed("a", 1, 10.0, 12.0), timed("a", 8, 3.0, 4.0),
               timed("b", 8, 2.0, 2.5), timed("b", 1, 6.0, 6.5)]  # fmt: skip
    assert latency_columns(results) == {
        "a": {"size_mb": 1.5, "params": 7, "latency_ms": 10.0, "latency_p90_ms": 12.0,
              "latency_ms_all_threads": 3.0},
        "b": {"size_mb": 1.5, "params": 7, "latency_ms": 6.0, "latency_p90_ms": 6.5,
              "latency_ms_all_threads": 2.0},
    }  # fmt: skip


def test_latency_is_timed_on_the_output_that_was_scored(tmp_path, capsys):
    """YAMNet scored on its embedding tensor is timed with that option: each model of
    `latency` takes the options that follow it, and the columns go to the rows of the same
    fingerprint (file and settings), not to every row of the file (its class-score output)."""
    from testlib import yamnet_args

    yamnet = require_shared(YAMNET)
    synthetic.write_crema_d(tmp_path / "data" / "crema_d", sentences=("DFA",))
    board = tmp_path / "board.csv"
    args = ["--data-dir", str(tmp_path / "data"), "--cache-dir", str(tmp_path / "c")]
    assert main([*yamnet_args(), *args, "--leaderboard", str(board)]) == 0
    embedding = yamnet_args()[1:]  # the model, then its option
    assert main(["latency", str(yamnet), "--embedder", *embedding, "--runs", "3",
                 "--leaderboard", str(board)]) == 0  # fmt: skip
    rows = list(csv.DictReader(board.open()))
    scored = [r for r in rows if r["task"] == "crema_d" and r["embedder"] == "yamnet"]
    (classes,) = [r for r in rows if r["task"] == ""]
    assert scored and classes["embedder_fingerprint"] != scored[0]["embedder_fingerprint"]
    assert all(float(r["latency_ms"]) > 0 for r in scored + [classes])
