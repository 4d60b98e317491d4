"""The command line as a user meets it: help, demo, errors, exit codes, cache re-use."""

import csv
import re
import subprocess
import sys

import pytest

from noss_eval import synthetic
from noss_eval.cli import main


def cli(*args, cwd=None):
    return subprocess.run(
        [sys.executable, "-m", "noss_eval", *args],
        capture_output=True,
        text=True,
        cwd=cwd,
        timeout=600,
    )


def test_help_teaches_the_main_uses():
    out = cli("--help").stdout
    for needle in ("--embedder", "--data-dir", "--leaderboard", "--demo", "examples:", "TRILL"):
        assert needle in out


def test_list_tasks_and_embedders(capsys):
    assert main(["--list-tasks"]) == 0
    assert "iden_split.txt" in capsys.readouterr().out
    assert main(["--list-embedders"]) == 0
    listing = capsys.readouterr().out
    assert "frill-nofrontend" in listing and "trillsson5" in listing


SUBCOMMANDS = ["check", "latency", "frontier", "report", "download", "distill"]


def test_every_subcommand_is_in_the_usage_and_has_its_own_help(capsys):
    with pytest.raises(SystemExit) as stop:
        main(["--help"])
    assert stop.value.code == 0
    out = capsys.readouterr().out
    usage = out[: out.index("\n\n")]
    listed = re.search(r"\{([a-z,]+)\} \.\.\.$", usage)
    assert listed and listed[1].split(",") == SUBCOMMANDS, usage
    assert all(f"\n    {name} " in out for name in SUBCOMMANDS)  # each with its line of help
    for name in SUBCOMMANDS:
        with pytest.raises(SystemExit) as stop:
            main([name, "--help"])
        assert stop.value.code == 0, name
        assert capsys.readouterr().out.startswith(f"usage: noss-eval {name} [-h]")


def test_the_console_script_shows_a_subcommands_help():
    result = cli("report", "--help")
    assert result.returncode == 0 and result.stdout.startswith("usage: noss-eval report [-h]")


def test_the_evaluation_needs_no_subcommand(tmp_path, data):
    from noss_eval.cli import build_parser

    board = tmp_path / "b.csv"
    args = ["--embedder", "dsp", "--data-dir", str(data), "--tasks", "crema_d"]
    args += ["--cache-dir", str(tmp_path / "c"), "--leaderboard", str(board), "--no-progress"]
    assert build_parser().parse_args(args).subcommand is None
    assert main(args) == 0
    assert {r["task"] for r in csv.DictReader(board.open())} == {"crema_d"}


@pytest.mark.parametrize(
    "args, message",
    [
        (
            ["--embedder", "dsp", "--data-dir", ".", "check"],
            "noss-eval: error: --embedder, --data-dir: options of the evaluation (noss-eval "
            "without a subcommand), not of `noss-eval check`; give check's own options after "
            "its name (noss-eval check --help)",
        ),
        (
            ["-q", "download", "esc50_hs", "--data-dir", "."],
            "noss-eval: error: --quiet: an option of the evaluation (noss-eval without a "
            "subcommand), not of `noss-eval download`; give download's own options after its "
            "name (noss-eval download --help)",
        ),
        (["chek", "m"], "noss-eval: error: argument subcommand: invalid choice: 'chek' (choose"),
        (["check"], "noss-eval check: error: the following arguments are required: MODEL"),
        (
            ["check", "m", "--data-dir", "."],
            "noss-eval check: error: unrecognized arguments: --data-dir .",
        ),
    ],
)
def test_misplaced_words_are_usage_errors_of_the_right_parser(args, message, capsys):
    """Usage, then one error line, exit 2; a subcommand's own errors show its own usage."""
    with pytest.raises(SystemExit) as stop:
        main(args)
    assert stop.value.code == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert err[-1].startswith(message) and sum("error:" in line for line in err) == 1, err
    name = "noss-eval check" if message.startswith("noss-eval check") else "noss-eval"
    assert err[0].startswith(f"usage: {name} [-h]")


def test_demo_runs_everything_and_says_it_is_synthetic(tmp_path):
    result = cli("--demo", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert "synthetic" in result.stdout
    rows = list(csv.DictReader((tmp_path / "noss-eval-demo.csv").open()))
    assert {r["task"] for r in rows} == {
        "voxceleb1",
        "crema_d",
        "speech_commands",
        "mask",
        "esc50_hs",
        "voxforge",
        "savee",
        "dementiabank",
    }
    assert all(r["data_source"] == "synthetic-demo" and r["embedder"] == "dsp" for r in rows)
    # informative: every score above chance, most below 100 (the classes overlap)
    assert all(float(r["chance"]) < float(r["headline_score"]) <= 100 for r in rows)
    best = [float(r["headline_score"]) for r in rows if r["probe"] == "best"]
    assert sum(score < 100 for score in best) >= 6 and len(set(best)) >= 6, best
    # deltas against published TRILL numbers mean nothing on generated tones
    assert all(r["delta"] == "" and r["reference"] == "" for r in rows)
    assert "delta vs TRILL: not applicable to synthetic data" in result.stdout
    # nothing but the board and its runs file is left in the folder (no lock file)
    assert sorted(p.name for p in tmp_path.iterdir()) == [
        "noss-eval-demo.csv",
        "noss-eval-demo.runs.jsonl",
    ]
    report = cli("report", "noss-eval-demo.csv", "--out", "r.html", cwd=tmp_path)
    assert report.returncode == 0, report.stderr
    page = (tmp_path / "r.html").read_text(encoding="utf-8")
    top = page[page.index("<body") : page.index("<table")]
    assert "synthetic data" in top


@pytest.fixture
def data(tmp_path):
    synthetic.write_crema_d(tmp_path / "data" / "crema_d")
    return tmp_path / "data"


def test_second_run_hits_the_cache(tmp_path, data, caplog):
    args = ["--embedder", "dsp", "--data-dir", str(data), "--cache-dir", str(tmp_path / "c")]
    assert main(args) == 0
    caplog.clear()
    assert main(args) == 0
    assert "cache hits 144, computed 0" in caplog.text


def test_several_embedders_in_one_run_score_as_each_alone(tmp_path, data, dynamic_tflite, caplog):
    """`--embedder A --embedder B` decodes each file once for both (same rate) and gives every
    row the scores of A's and B's runs on their own (each computing its vectors afresh)."""

    def scores(board):
        rows = csv.DictReader(board.open())
        return {(r["embedder"], r["task"], r["probe"]): r["headline_score"] for r in rows}

    both, specs = tmp_path / "both.csv", ["dsp", str(dynamic_tflite)]
    common = ["--data-dir", str(data), "--tasks", "crema_d", "--no-progress"]
    args = [x for spec in specs for x in ("--embedder", spec)]
    assert (
        main([*args, *common, "--cache-dir", str(tmp_path / "c"), "--leaderboard", str(both)]) == 0
    )
    saved = re.search(r"(\d+) decodes saved", caplog.text)
    assert saved and int(saved[1]) >= 144  # every clip for the second embedder (and the checks)
    alone = {}
    for i, spec in enumerate(specs):
        board = tmp_path / f"alone{i}.csv"
        cache = str(tmp_path / f"c{i}")
        assert (
            main(["--embedder", spec, *common, "--cache-dir", cache, "--leaderboard", str(board)])
            == 0
        )
        alone |= scores(board)
    assert scores(both) == alone and len({k[0] for k in alone}) == 2


@pytest.mark.parametrize(
    "args, message",
    [
        (["--embedder", "nope", "--data-dir", "."], "unknown embedder 'nope'"),
        (["--embedder", "x.tflite", "--data-dir", "."], "no such file: x.tflite"),
        (["--embedder", "dsp", "--data-dir", "/no/such/dir"], "--data-dir: no such directory"),
        (["--embedder", "dsp"], "--data-dir is required"),
        (["--embedder", "dsp", "--data-dir", ".", "--tasks", "crema"], "unknown task 'crema'"),
        (
            ["--embedder", "dsp", "--embedder-option", "oops", "--data-dir", "."],
            "expected KEY=VALUE",
        ),
    ],
)
def test_bad_input_is_one_line_and_exit_2(args, message, capsys):
    assert main(args) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and message in err[0] and err[0].startswith("noss-eval: error:")


def test_missing_datasets_are_skipped_with_a_hint(tmp_path, data, caplog):
    board = tmp_path / "b.csv"
    assert (
        main(
            [
                "--embedder",
                "dsp",
                "--data-dir",
                str(data),
                "--leaderboard",
                str(board),
                "--cache-dir",
                str(tmp_path / "c"),
            ]
        )
        == 0
    )
    assert "skip voxceleb1: no dataset at" in caplog.text and "iden_split.txt" in caplog.text
    assert {r["task"] for r in csv.DictReader(board.open())} == {"crema_d"}


def test_failing_run_writes_no_leaderboard(tmp_path, data, capsys):
    (data / "crema_d" / "AudioWAV" / "1001_DFA_BOR_XX.wav").write_bytes(b"RIFF")
    board = tmp_path / "b.csv"
    assert main(["--embedder", "dsp", "--data-dir", str(data), "--leaderboard", str(board)]) == 2
    assert "label 'BOR'" in capsys.readouterr().err
    assert not board.exists() and not list(tmp_path.glob(".b.csv*"))


def test_unreadable_clip_counted_or_fatal_with_strict(tmp_path, data, capsys):
    broken = data / "crema_d" / "AudioWAV" / "1001_DFA_ANG_XX.wav"
    broken.write_bytes(b"RIFF....WAVE")
    board = tmp_path / "b.csv"
    base = ["--embedder", "dsp", "--data-dir", str(data), "--cache-dir", str(tmp_path / "c")]
    assert main([*base, "--leaderboard", str(board)]) == 0
    assert {r["failed_clips"] for r in csv.DictReader(board.open())} == {"1"}
    assert main([*base, "--strict"]) == 2
    assert "1001_DFA_ANG_XX.wav: cannot decode audio" in capsys.readouterr().err


def test_published_frill_reference_is_named_and_withheld_off_the_official_data(tmp_path, data):
    """The choice of published table reaches every row; on 144 generated clips (CREMA-D has
    7,438) neither table's number is set against the row, and the row says why."""
    board = tmp_path / "b.csv"
    args = ["--embedder", "dsp", "--data-dir", str(data), "--cache-dir", str(tmp_path / "c")]
    assert main([*args, "--leaderboard", str(board), "--reference", "frill-published"]) == 0
    rows = list(csv.DictReader(board.open()))
    assert {r["data"] for r in rows} == {"144 of 7,438 official clips"}
    assert {r["reference_note"] for r in rows} == {
        "no delta vs frill-published: data: 144 of 7,438 official clips"
    }
    assert {r["delta"] for r in rows} == {r["reference_score"] for r in rows} == {""}
    assert main([*args, "--leaderboard", str(board)]) == 0  # default: TRILL's published table
    notes = {r["reference_note"] for r in csv.DictReader(board.open())}
    assert notes == {"no delta vs trill-published: data: 144 of 7,438 official clips"}


def test_each_embedder_option_binds_to_the_embedder_before_it(tmp_path, data, fixed_tflite):
    """`--embedder A --embedder-option hop=0.25 --embedder dsp`: A's option is A's alone (the
    dsp kind takes no hop and would refuse it); an option before any embedder is refused."""
    board = tmp_path / "b.csv"
    args = [
        "--data-dir",
        str(data),
        "--cache-dir",
        str(tmp_path / "c"),
        "--leaderboard",
        str(board),
    ]
    model = ["--embedder", str(fixed_tflite), "--embedder-option", "hop=0.25"]
    assert main([*model, "--embedder", "dsp", *args]) == 0
    settings = {r["embedder"]: r["embedder_settings"] for r in csv.DictReader(board.open())}
    assert '"hop": 0.25' in settings["conv_fixed"] and "hop" not in settings["dsp"]
    assert main(["--embedder-option", "hop=0.25", *model[:2], *args]) == 2


def test_progress_reaches_a_log_file_and_quiet_is_quiet(tmp_path, data):
    base = ["--embedder", "dsp", "--data-dir", str(data), "--cache-dir", str(tmp_path / "c")]
    logged = cli(*base)  # stderr is a pipe here, as under CI or nohup
    assert logged.returncode == 0
    assert "crema_d: 144/144 clips (100%)" in logged.stderr and "ETA" in logged.stderr
    assert "crema_d probes:" in logged.stderr and " fits (" in logged.stderr
    assert "skip voxceleb1" in logged.stderr
    quiet = cli(*base, "-q", "--cache-dir", str(tmp_path / "c2"))
    assert quiet.returncode == 0 and quiet.stderr.strip() == "", quiet.stderr
    assert "crema_d" in quiet.stdout  # the table is still printed


def test_progress_lines_every_interval():
    import logging

    from noss_eval.progress import track

    records = []
    handler = logging.Handler()
    handler.emit = records.append
    logger = logging.getLogger("noss_eval")
    logger.addHandler(handler)
    old = logger.level
    logger.setLevel(logging.INFO)
    try:
        assert list(track(range(5), 5, "demo", "clip", every=0.0)) == list(range(5))
    finally:
        logger.removeHandler(handler)
        logger.setLevel(old)
    lines = [r.getMessage() for r in records]
    assert lines[0].startswith("demo: 1/5 clips (20%)") and lines[-1].startswith("demo: 5/5")
