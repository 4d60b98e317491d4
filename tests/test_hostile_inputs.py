"""Hostile and careless inputs (issue 23, items 3, 9 and 12): each is refused before the long
work with exit status 2 and one line on stderr that names the file or flag at fault and says
what to do; never a traceback, a hang, a silently replaced task or a raw control character."""

import csv
import os
import re
import signal
import subprocess
import sys

import numpy as np
import pytest
import soundfile as sf

from noss_eval.cli import main
from noss_eval.synthetic import _write, class_signal

SPEC = "audio_dir: audio\ncsv: labels.csv\ncolumns: {path: file, label: word, speaker: talker}\n"


def make_task(root, folds=None, name="words"):
    """30 clips, 10 speakers x 3 words; `folds`: a fold column cycling over that many folds."""
    rng = np.random.RandomState(0)
    rows = []
    for s in range(10):
        for k, word in enumerate(("alpha", "beta", "gamma")):
            rel = f"clips/spk{s}_{word}.wav"
            _write(root / "audio" / rel, class_signal(rng, k, 3, 16000, 0.8), 16000)
            row = {"file": rel, "word": word, "talker": f"spk{s}"}
            rows.append(row | ({"fold": f"f{s % folds}"} if folds else {}))
    with open(root / "labels.csv", "w", newline="") as fh:
        writer = csv.DictWriter(fh, fieldnames=list(rows[0]), lineterminator="\n")
        writer.writeheader()
        writer.writerows(rows)
    (root / "t.yaml").write_text(f"name: {name}\n{SPEC}")
    return root / "t.yaml"


def edit_line(path, n, edit):
    """Line `n` (1-based, as an error names it) of a text file, edited."""
    lines = path.read_text().split("\n")
    lines[n - 1] = edit(lines[n - 1])
    path.write_text("\n".join(lines))


def run(capsys, *args):
    """`noss-eval ARGS` in this process: (exit status, stderr lines)."""
    status = main([str(a) for a in args])
    return status, capsys.readouterr().err.strip().splitlines()


def eval_args(tmp_path, *task_files):
    files = [x for f in task_files for x in ("--task-file", f)]
    return ["--embedder", "dsp", *files, "--cache-dir", tmp_path / "cache", "--no-progress"]


def assert_refused(status, err, *needles):
    assert status == 2, err
    assert len(err) == 1, err
    assert "\0" not in err[0] and "Traceback" not in err[0]
    for needle in needles:
        assert needle in err[0], err


# (name in the YAML, what the one-line error must say)
NAMES = [
    ("''", "name '' is not a usable task name"),
    ("../../x", "name '../../x' is not a usable task name"),
    ("/tmp/x", "name '/tmp/x' is not a usable task name"),
    ("x" * 3000, "(3,000 characters) is not a usable task name"),
    ("a,b", "name 'a,b' is not a usable task name"),
    ('"a\\0b"', "name 'a\\x00b' is not a usable task name"),
    (".hidden", "name '.hidden' is not a usable task name"),
    ("2024", "name 2024 is not text; quote it"),
    ("voxceleb1", "name 'voxceleb1' is a built-in task's"),
]


@pytest.mark.parametrize("name, message", NAMES, ids=[m[:20] for _, m in NAMES])
def test_unusable_task_names_are_refused_at_load(tmp_path, capsys, name, message):
    """Before: '' said "--data-dir is required", '../../x' and '/tmp/x' wrote probe caches
    outside --cache-dir, 3,000 characters and NUL were tracebacks, 'a,b' could not be
    selected, 'voxceleb1' silently replaced the built-in task and printed a delta against
    TRILL's published voxceleb1 score."""
    task_file = make_task(tmp_path)
    task_file.write_text(f"name: {name}\n{SPEC}")
    status, err = run(capsys, *eval_args(tmp_path, task_file))
    assert_refused(status, err, f"--task-file {task_file}", message)
    if "usable" in message:
        assert "letters, digits, _, - and . only" in err[0] and "at most 64" in err[0]
    assert not (tmp_path / "cache").exists()


def test_two_task_files_with_one_name_are_refused(tmp_path, capsys):
    """Before: the first was dropped silently and only the second scored."""
    first = make_task(tmp_path)
    second = tmp_path / "again.yaml"
    second.write_text(first.read_text().replace("csv: labels.csv", "csv: ./labels.csv"))
    status, err = run(capsys, *eval_args(tmp_path, first, second))
    assert_refused(
        status, err, f"--task-file {second}: name 'words' is also the name of --task-file {first}"
    )


SPECS = [
    ("columns: path", "csv: labels.csv\ncolumns: path\n", "columns must be a mapping"),
    ("columns: unknown", "csv: labels.csv\ncolumns: {lable: word}\n", "unknown column 'lable'"),
    ("labels: george", SPEC + "labels: george\n", "labels must be a list of labels"),
    ("labels: twice", SPEC + "labels: [alpha, alpha]\n", "labels lists 'alpha' twice"),
    ("audio_dir missing", SPEC.replace("audio_dir: audio", "audio_dir: nope"), "is not a folder"),
    ("csv: a list", "csv: [labels.csv]\n", "csv ['labels.csv'] is not a path"),
]


@pytest.mark.parametrize("spec, message", [s[1:] for s in SPECS], ids=[s[0] for s in SPECS])
def test_malformed_task_file_keys_are_one_line_errors(tmp_path, capsys, spec, message):
    """Before: `columns: path` was a ValueError traceback, `labels: george` became the labels
    g, e, o, r, g, e, a missing audio_dir said "no dataset found under None"."""
    task_file = make_task(tmp_path)
    task_file.write_text("name: words\n" + spec)
    status, err = run(capsys, *eval_args(tmp_path, task_file))
    assert_refused(status, err, f"--task-file {task_file}", message)


def test_latin1_task_file_says_save_as_utf8(tmp_path, capsys):
    task_file = make_task(tmp_path)
    task_file.write_bytes(f"name: words\ntitle: caf\xe9\n{SPEC}".encode("latin-1"))
    status, err = run(capsys, *eval_args(tmp_path, task_file))
    assert_refused(status, err, f"--task-file {task_file}", "not UTF-8", "save it as UTF-8")


def _symlink_loop(root):
    os.symlink("loop.wav", root / "audio" / "clips" / "loop.wav")
    edit_line(root / "labels.csv", 2, lambda line: "clips/loop.wav,alpha,spk0")


def _nul_in_path(root):
    edit_line(root / "labels.csv", 3, lambda line: line.replace("spk0_", "spk0\0_"))


CSVS = [
    ("empty label", lambda r: edit_line(r / "labels.csv", 3, lambda s: s.replace(",beta,", ",,")),
     "labels.csv:3: empty label in column 'word'"),
    ("long row", lambda r: edit_line(r / "labels.csv", 4, lambda s: s + ",extra"),
     "labels.csv:4: 4 cells, but the header has 3"),
    ("short row", lambda r: edit_line(r / "labels.csv", 5, lambda s: s.rsplit(",", 1)[0]),
     "labels.csv:5: 2 cells, but the header has 3"),
    ("symlink loop", _symlink_loop, "labels.csv:2: path 'clips/loop.wav' cannot be followed"),
    ("NUL in a path", _nul_in_path, "labels.csv:3: 'clips/spk0\\x00_beta.wav' is not a file"),
]  # fmt: skip


@pytest.mark.parametrize("edit, message", [c[1:] for c in CSVS], ids=[c[0] for c in CSVS])
def test_malformed_csv_rows_name_file_and_line(tmp_path, capsys, edit, message):
    """Before: an empty label became a class, a ragged row was read short (or its extra cell
    dropped) without a word, a symlink loop was a RuntimeError traceback, a NUL byte was
    written raw to the terminal."""
    task_file = make_task(tmp_path)
    edit(tmp_path)
    status, err = run(capsys, *eval_args(tmp_path, task_file))
    assert_refused(status, err, str(tmp_path / "labels.csv"), message)


def test_unsafe_fold_values_are_refused(tmp_path, capsys):
    task_file = make_task(tmp_path, folds=5)
    edit_line(tmp_path / "labels.csv", 7, lambda s: s.rsplit(",", 1)[0] + ",../../tmp/x")
    status, err = run(capsys, *eval_args(tmp_path, task_file))
    assert_refused(status, err, "labels.csv:7: fold '../../tmp/x' is not a usable fold name")


def test_two_folds_are_refused_with_the_reason_and_three_run(tmp_path, capsys):
    """Before: 2 folds leave each round one training fold, and the inner cross-validation that
    picks the probe fitted on 0 clips: a ValueError traceback from StandardScaler."""
    task_file = make_task(tmp_path, folds=2)
    status, err = run(capsys, *eval_args(tmp_path, task_file))
    assert_refused(status, err, "labels.csv: column 'fold' holds 2 fold(s) (f0, f1)", "at least 3")
    make_task(tmp_path, folds=3)
    assert main([str(a) for a in eval_args(tmp_path, task_file)]) == 0
    assert "3-fold" not in capsys.readouterr().err


@pytest.mark.parametrize(
    "option, message",
    [
        ("sample_rate=0", "sample_rate: must be a whole number of Hz between 1000 and 384000"),
        ("hop=banana", "hop: must be a fraction of the window in (0, 1], got 'banana'"),
        ("min_seconds=-1", "min_seconds: must be a number of seconds in [0, 600], got -1"),
        ("threads=0", "threads: must be a whole number of at least 1, got 0"),
        ("input_gain=.nan", "input_gain: must be a finite number other than 0, got nan"),
    ],
)
def test_bad_embedder_option_values_name_the_option(
    tmp_path, capsys, dynamic_tflite, option, message
):
    """Before: sample_rate=0 and min_seconds=-1 were accepted (and failed later, or not at
    all), hop=banana said "'<' not supported between instances of 'int' and 'str'"."""
    task_file = make_task(tmp_path)
    args = eval_args(tmp_path, task_file)
    args[1] = dynamic_tflite
    status, err = run(capsys, *args, "--embedder-option", option)
    assert_refused(status, err, f"noss-eval: error: --embedder-option {message}")


def test_reference_errors_name_reference(tmp_path, capsys):
    """Before: both said --embedder, the flag that was fine."""
    task_file = make_task(tmp_path)
    args = eval_args(tmp_path, task_file)
    status, err = run(capsys, *args, "--reference", tmp_path / "nope.tflite")
    assert_refused(status, err, f"--reference: no such file: {tmp_path / 'nope.tflite'}")
    status, err = run(capsys, *args, "--reference", "dsp", "--reference-option", "hop=x")
    assert_refused(status, err, "--reference-option hop: must be")


def test_distill_teacher_errors_name_teacher(tmp_path, capsys):
    readme = tmp_path / "readme.txt"
    readme.write_text("not a model\n")
    (tmp_path / "audio").mkdir()
    sf.write(str(tmp_path / "audio" / "a.wav"), np.zeros(16000, np.float32), 16000)
    args = ["distill", "--teacher", readme, "--audio", tmp_path / "audio", "--grid", "tiny-grid"]
    args += ["--out", tmp_path / "out", "--cache-dir", tmp_path / "cache"]
    status, err = run(capsys, *args)
    assert_refused(status, err, f"--teacher: {readme} is neither a .tflite file")
    status, err = run(capsys, *args[:2], "dsp", "--teacher-option", "threads=0", *args[3:])
    assert_refused(status, err, "--teacher-option threads: must be")


def test_distill_help_prints_a_plain_percent():
    out = subprocess.run(
        [sys.executable, "-m", "noss_eval", "distill", "--help"],
        capture_output=True,
        text=True,
        timeout=120,
    ).stdout
    assert "held-out 10 % of FILES" in out and "%%" not in out


def test_distill_quiet_hides_tensorflows_start_up_lines(tmp_path, trill_like):
    """A SavedModel teacher loads TensorFlow, whose C++ start-up lines (oneDNN, CUDA probing)
    come before any log level applies; with -q the one line left is the error (here: the
    audio is all silence, found once the teacher is checked)."""
    (tmp_path / "audio").mkdir()
    for name in "ab":
        sf.write(str(tmp_path / "audio" / f"{name}.wav"), np.zeros(24000, np.float32), 16000)
    result = subprocess.run(
        [sys.executable, "-m", "noss_eval", "distill", "-q", "--teacher", str(trill_like)]
        + ["--audio", str(tmp_path / "audio"), "--grid", "tiny-grid"]
        + ["--out", str(tmp_path / "out"), "--cache-dir", str(tmp_path / "cache")],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 2, result.stderr
    assert result.stderr.strip().splitlines() == [
        "noss-eval: error: --audio: every window is silence (peak below -45 dBFS); give louder "
        "audio or lower data.silence_dbfs in the grid file"
    ]


def test_sigterm_exits_143(tmp_path):
    """SIGTERM unwinds like Ctrl-C (the cache is flushed) but exits 128 + 15, not 130."""
    proc = subprocess.Popen(
        [sys.executable, "-m", "noss_eval", "--demo", "--cache-dir", str(tmp_path / "c")],
        cwd=tmp_path,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        first = proc.stderr.readline()  # the demo has started: main's handler is in place
        assert "demo" in first, first
        proc.send_signal(signal.SIGTERM)
        rest = proc.stderr.read()
        assert proc.wait(timeout=120) == 143, rest
    finally:
        proc.kill()
    assert "noss-eval: terminated (SIGTERM); every embedding computed so far is saved" in rest


def test_an_unmakeable_lock_file_fails_before_the_run(tmp_path, capsys):
    """Before: the whole run was done first, then the merge failed on the lock (or, where the
    lock cannot be opened and filelock retries, waited 10 minutes in silence)."""
    from noss_eval.atomic import lock_path

    task_file = make_task(tmp_path)
    (tmp_path / "board").mkdir()
    where = lock_path(tmp_path / "board" / "b.csv")
    where.mkdir()  # nothing can lock there
    try:
        args = eval_args(tmp_path, task_file) + ["--leaderboard", tmp_path / "board" / "b.csv"]
        status, err = run(capsys, *args)
        assert_refused(status, err, f"--leaderboard: {where}: cannot make the lock file")
        assert not (tmp_path / "cache").exists()  # nothing computed
        assert list((tmp_path / "board").iterdir()) == []
    finally:
        where.rmdir()


def test_a_lock_held_by_another_run_is_waited_for_aloud_then_named(tmp_path, caplog):
    from noss_eval.atomic import lock_path, locked
    from noss_eval.errors import NossError

    board = tmp_path / "b.csv"
    holder = subprocess.Popen(
        [sys.executable, "-c", "import sys, time; from filelock import FileLock; "
         f"lock = FileLock({str(lock_path(board))!r}); lock.acquire(); print('held', flush=True); "
         "time.sleep(60)"],
        stdout=subprocess.PIPE, text=True,
    )  # fmt: skip
    try:
        assert holder.stdout.readline().strip() == "held"
        held = re.escape(f"{lock_path(board)}: still locked by another run after 3 s")
        with pytest.raises(NossError, match=held), locked(board, timeout=3):
            pass
    finally:
        holder.kill()
        holder.wait()
    assert "waiting up to 3 s for" in caplog.text and str(lock_path(board)) in caplog.text
    with locked(board, timeout=3):  # released with its holder
        pass
