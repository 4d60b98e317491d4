"""The promises of docs/guarantees.md: outputs checked before the run, nothing computed is
lost (Ctrl-C, SIGTERM, kill -9, a failed write), concurrent runs keep every row, modes kept."""

import csv
import os
import re
import shutil
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
from testlib import interrupted_after, yamnet_args

from noss_eval import synthetic
from noss_eval.cache import EmbeddingCache
from noss_eval.cli import main
from noss_eval.embedders.dsp import DspEmbedder
from noss_eval.engines import LocalEngine
from noss_eval.errors import ResultsNotSaved
from noss_eval.extract import extract
from noss_eval.leaderboard import save_results
from noss_eval.sources import file_stream
from noss_eval.tasks import BUILTIN_TASKS


@pytest.fixture
def data(tmp_path):
    synthetic.write_crema_d(tmp_path / "data" / "crema_d")
    return tmp_path / "data"


def run_args(tmp_path, data, board):
    return [
        "--embedder",
        "dsp",
        "--data-dir",
        str(data),
        "--tasks",
        "crema_d",
        "--cache-dir",
        str(tmp_path / "cache"),
        "--leaderboard",
        str(board),
        "--no-progress",
    ]


def _surplus(board):
    board.write_text("embedder,embedder_fingerprint,task,probe,protocol\nm,f,t,p,x,EXTRA\n")


def _directory(board):
    board.mkdir()


def _binary(board):
    board.write_bytes(bytes(range(256)) * 4)


def _foreign(board):
    board.write_text("a,b\n1,2\n")


@pytest.mark.parametrize(
    "damage, message",
    [
        (_surplus, r"b\.csv:2: the row does not have the header's 5 fields"),
        (_directory, "is a folder, not a file"),
        (_binary, "cannot read|not a noss-eval leaderboard"),
        (_foreign, "not a noss-eval leaderboard CSV"),
    ],
)
def test_bad_leaderboard_is_refused_before_any_embedding(tmp_path, data, capsys, damage, message):
    board = tmp_path / "b.csv"
    damage(board)
    assert main(run_args(tmp_path, data, board)) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and re.search(message, err[0]), err
    assert not (tmp_path / "cache").exists()  # nothing was computed


def test_unwritable_leaderboard_folder_is_refused_before_any_embedding(tmp_path, data, capsys):
    (tmp_path / "file").write_text("x")
    assert main(run_args(tmp_path, data, tmp_path / "file" / "b.csv")) == 2
    assert "is not a writable folder" in capsys.readouterr().err
    assert not (tmp_path / "cache").exists()


def test_failed_write_at_the_end_keeps_the_rows(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "file").write_text("x")
    rows = [
        {
            "embedder": "m",
            "embedder_fingerprint": "f",
            "task": "t",
            "probe": "lda",
            "protocol": "noss-eval",
            "headline_score": 71.5,
        }
    ]
    with pytest.raises(ResultsNotSaved, match="rows are in .*noss-eval-rows-r1.csv") as err:
        save_results(tmp_path / "file" / "b.csv", rows, {"run_id": "r1"})
    fallback = tmp_path / "noss-eval-rows-r1.csv"
    assert [r["headline_score"] for r in csv.DictReader(fallback.open())] == ["71.5"]
    assert err.value.rows == rows


def test_results_not_saved_still_prints_the_table(tmp_path, data, capsys, monkeypatch):
    """The leaderboard's folder vanishes while the run works (checked fine before it): the
    table is printed, the rows land in a fallback file named in the one-line error."""
    monkeypatch.chdir(tmp_path)
    out = tmp_path / "out"
    out.mkdir()
    args = [*run_args(tmp_path, data, out / "b.csv"), "--flush-seconds", "0"]

    def sabotage():
        deadline = time.monotonic() + 120
        while not (tmp_path / "cache").exists():
            if time.monotonic() > deadline:
                return
            time.sleep(0.005)
        shutil.rmtree(out)
        out.write_text("not a folder any more")

    thread = threading.Thread(target=sabotage, daemon=True)
    thread.start()
    assert main(args) == 2
    thread.join()
    stdout, err = capsys.readouterr()
    assert "crema_d" in stdout and "logistic" in stdout  # the table
    error = [line for line in err.splitlines() if line.startswith("noss-eval: error")]
    assert len(error) == 1 and "rows are in" in error[0]
    fallback = next(tmp_path.glob("noss-eval-rows-*.csv"))
    assert {r["task"] for r in csv.DictReader(fallback.open())} == {"crema_d"}


def crema(tmp_path):
    synthetic.write_crema_d(tmp_path / "crema_d")
    return BUILTIN_TASKS["crema_d"].read(tmp_path / "crema_d")


def test_interrupt_saves_every_computed_vector(tmp_path, caplog):
    clips = crema(tmp_path)
    cache = EmbeddingCache(tmp_path / "cache")
    with pytest.raises(KeyboardInterrupt):
        extract(
            DspEmbedder(), "crema_d", clips, cache, stream=interrupted_after(50), progress=False
        )
    assert "the 50 vectors computed so far are saved" in caplog.text
    resumed = extract(DspEmbedder(), "crema_d", clips, cache, progress=False)
    assert (resumed.cache_hits, resumed.computed) == (50, len(clips) - 50)
    fresh = extract(
        DspEmbedder(), "crema_d", clips, EmbeddingCache(tmp_path / "c2"), progress=False
    )
    np.testing.assert_array_equal(resumed.embeddings, fresh.embeddings)


def _part_files(root: Path) -> int:
    return len(list(root.rglob("*.part-*.npz")))


def _all_vectors(root: Path) -> int:
    """Vectors in every cache entry under `root`, main files and parts together."""
    cache = EmbeddingCache(root)
    entries = {
        p.with_name(p.name.split(".part-")[0].removesuffix(".npz") + ".npz")
        for p in root.rglob("*.npz")
        if "quarantine" not in p.parts
    }
    return sum(len(cache.load(e)) for e in entries)


def _vectors_on_disk(root: Path) -> int:
    """Vectors in the part files written so far (the main entry is written at the end)."""
    return sum(len(np.load(p)["ids"]) for p in root.rglob("*.part-*.npz"))


@pytest.mark.parametrize("flush_seconds, at_least", [(0.1, 50), (1000.0, 0)])
def test_time_based_flush_bounds_what_kill_9_loses(tmp_path, flush_seconds, at_least):
    """0.02 s a clip: with a 0.1 s interval the cache on disk lags at most a few clips behind,
    without it nothing reaches disk before 1,000 clips (what kill -9 would lose). The engine
    decodes one clip ahead (not 32): how far the decode thread runs ahead of the embedder
    depends on how busy the machine is, the flush rule does not."""
    clips = crema(tmp_path)
    seen = {}

    def slow(wanted, rate):
        for i, item in enumerate(file_stream(wanted, rate)):
            if i == 60:
                seen["on_disk"] = _vectors_on_disk(tmp_path / "cache")
                raise KeyboardInterrupt
            time.sleep(0.02)
            yield item

    dsp = DspEmbedder()
    with pytest.raises(KeyboardInterrupt):
        extract(
            dsp,
            "crema_d",
            clips,
            EmbeddingCache(tmp_path / "cache"),
            engine=LocalEngine(dsp, depth=1),
            stream=slow,
            progress=False,
            flush_seconds=flush_seconds,
        )
    assert seen["on_disk"] >= at_least
    if at_least == 0:
        assert seen["on_disk"] == 0


@pytest.mark.slow
def test_kill_9_at_random_points_then_resume_gives_the_uninterrupted_result(tmp_path):
    """Hundreds of clips through the real YAMNet model, SIGKILL at seeded random moments (no
    handler runs), resume each time: every kill keeps the vectors of all but the last flush
    interval, and the final CSV and vectors equal an uninterrupted run's."""
    synthetic.write_crema_d(tmp_path / "data" / "crema_d", n_actors=40)  # 480 clips
    data = tmp_path / "data"

    def args(root, flush):
        return [
            *yamnet_args(),
            "--data-dir",
            str(data),
            "--tasks",
            "crema_d",
            "--cache-dir",
            str(root / "cache"),
            "--leaderboard",
            str(root / "b.csv"),
            "--no-progress",
            "-q",
            "--flush-seconds",
            str(flush),
        ]

    reference = tmp_path / "ref"
    assert main(args(reference, 30)) == 0
    resumed = tmp_path / "resumed"
    on_disk = []
    for target in np.random.RandomState(0).randint(1, 4, size=3):
        # kill once `target` more flushes have landed: a point inside extraction, by progress
        start = _part_files(resumed / "cache")
        proc = subprocess.Popen(
            [sys.executable, "-m", "noss_eval", *args(resumed, 0.05)],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        while proc.poll() is None and _part_files(resumed / "cache") < start + target:
            time.sleep(0.002)
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=120)
        on_disk.append(_all_vectors(resumed / "cache"))
    assert on_disk == sorted(on_disk) and on_disk[0] > 0  # each kill kept the earlier work
    assert main(args(resumed, 0.05)) == 0
    volatile = {"run_id", "created"}

    def stable(path):
        return [
            {k: v for k, v in r.items() if k not in volatile} for r in csv.DictReader(path.open())
        ]

    assert stable(resumed / "b.csv") == stable(reference / "b.csv")
    theirs, ours = EmbeddingCache(reference / "cache"), EmbeddingCache(resumed / "cache")
    entries = list((reference / "cache").rglob("*.npz"))
    assert entries
    for entry in entries:
        a = theirs.load(entry)
        b = ours.load(resumed / "cache" / entry.relative_to(reference / "cache"))
        assert a.keys() == b.keys()
        for k in a:
            np.testing.assert_allclose(a[k], b[k], atol=1e-6)


def test_four_processes_merging_forty_times_keep_every_row(tmp_path):
    board = tmp_path / "board.csv"
    script = (
        "import sys\n"
        "from pathlib import Path\n"
        "from noss_eval.leaderboard import save_results\n"
        "p = sys.argv[1]\n"
        "for i in range(40):\n"
        "    row = {'embedder': f'm{p}', 'embedder_fingerprint': 'f', 'task': f't{i}',\n"
        "           'probe': 'lda', 'protocol': 'noss-eval', 'seed': 0}\n"
        "    save_results(Path(sys.argv[2]), [row], {'run_id': f'{p}-{i}'})\n"
    )
    procs = [subprocess.Popen([sys.executable, "-c", script, str(p), str(board)]) for p in range(4)]
    assert all(proc.wait(timeout=300) == 0 for proc in procs)
    rows = list(csv.DictReader(board.open()))
    assert len(rows) == 160 and len({(r["embedder"], r["task"]) for r in rows}) == 160
    assert len((tmp_path / "board.runs.jsonl").read_text().splitlines()) == 160


def test_merges_keep_the_file_mode_and_new_files_follow_the_umask(tmp_path, data):
    board = tmp_path / "b.csv"
    old = os.umask(0o022)
    try:
        assert main(run_args(tmp_path, data, board)) == 0
        assert board.stat().st_mode & 0o777 == 0o644
        assert {p.stat().st_mode & 0o777 for p in (tmp_path / "cache").rglob("*.npz")} == {0o644}
        board.chmod(0o664)
        assert main(run_args(tmp_path, data, board)) == 0
        assert board.stat().st_mode & 0o777 == 0o664
    finally:
        os.umask(old)


def test_another_seed_or_data_copy_adds_rows_instead_of_replacing(tmp_path, data):
    board = tmp_path / "b.csv"
    args = run_args(tmp_path, data, board)
    assert main(args) == 0 and main(args) == 0
    assert len(list(csv.DictReader(board.open()))) == 3  # same run again: replaced
    assert main([*args, "--seed", "1"]) == 0
    assert len(list(csv.DictReader(board.open()))) == 6
    other = tmp_path / "copy"
    synthetic.write_crema_d(other / "crema_d", n_actors=11)
    assert main([*run_args(tmp_path, other, board)]) == 0
    rows = list(csv.DictReader(board.open()))
    assert len(rows) == 9 and len({r["data_fingerprint"] for r in rows}) == 2


def test_odd_inputs_are_counted_in_the_audio_warnings_column(tmp_path, data, caplog):
    audio = data / "crema_d" / "AudioWAV"
    sf.write(str(audio / "1001_DFA_NEU_XX.wav"), 0.1 * np.ones(160), 16000)  # 10 ms
    loud = 1e6 * np.sin(np.arange(16000) / 5.0)
    sf.write(str(audio / "1002_DFA_NEU_XX.wav"), loud, 16000, subtype="FLOAT")
    whole = (audio / "1003_DFA_NEU_XX.wav").read_bytes()
    (audio / "1003_DFA_NEU_XX.wav").write_bytes(whole[: len(whole) // 2])
    (audio / "._1004_DFA_NEU_XX.wav").write_bytes(b"\0\5\x16\7 AppleDouble")  # macOS companion
    board = tmp_path / "b.csv"
    assert main(run_args(tmp_path, data, board)) == 0
    (warnings,) = {r["audio_warnings"] for r in csv.DictReader(board.open())}
    assert "1 float audio beyond [-1, 1]" in warnings
    assert "2 shorter than 0.975 s" in warnings  # the 10 ms clip and the truncated one
    assert "1 truncated" in warnings
    assert "crema_d: 1 clips truncated" in caplog.text
    assert {r["failed_clips"] for r in csv.DictReader(board.open())} == {"0"}  # ._ file ignored


def test_a_missing_file_says_no_such_file(tmp_path):
    from noss_eval.audio import load_audio
    from noss_eval.errors import AudioError

    with pytest.raises(AudioError, match="gone.wav: no such file"):
        load_audio(tmp_path / "gone.wav", 16000)


def test_cache_folder_is_checked_for_room_and_writability_before_the_run(tmp_path, data, capsys):
    from noss_eval.cache import check_room
    from noss_eval.errors import NossError

    check_room(tmp_path / "new" / "cache", 1000, 1024)  # fine: nearest parent is writable
    with pytest.raises(NossError, match="MB free, the run needs about"):
        check_room(tmp_path, 10**12, 2048)
    (tmp_path / "file").write_text("x")
    args = [
        a if a != str(tmp_path / "cache") else str(tmp_path / "file" / "c")
        for a in run_args(tmp_path, data, tmp_path / "b.csv")
    ]
    assert main(args) == 2
    assert "is not a writable folder" in capsys.readouterr().err
    assert not (tmp_path / "b.csv").exists()


def test_full_disk_is_one_line_and_damages_nothing(tmp_path, tiny_disk):
    from noss_eval.errors import NossError

    clips = crema(tmp_path)
    cache = EmbeddingCache(tiny_disk / "cache")
    train = [c for c in clips if c.split == "train"][:20]
    before = extract(DspEmbedder(), "crema_d", train, cache, progress=False)
    (tiny_disk / "filler").write_bytes(
        b"\0" * (os.statvfs(tiny_disk).f_bavail * os.statvfs(tiny_disk).f_frsize - 2048)
    )
    with pytest.raises(NossError, match="--cache-dir: cannot write .*No space left"):
        extract(DspEmbedder(), "crema_d", clips, cache, progress=False)
    assert not [p for p in (tiny_disk / "cache").rglob("*") if p.name.endswith(".tmp")]
    (tiny_disk / "filler").unlink()
    again = extract(DspEmbedder(), "crema_d", train, cache, progress=False)
    assert again.computed == 0
    np.testing.assert_array_equal(again.embeddings, before.embeddings)


@pytest.mark.parametrize(
    "flag, value",
    [
        ("--seed", "-1"),
        ("--seed", str(2**32)),
        ("--flush-seconds", "-5"),
        ("--flush-seconds", "nan"),
    ],
)
def test_out_of_range_numbers_are_refused_before_the_run(tmp_path, data, capsys, flag, value):
    with pytest.raises(SystemExit) as stop:
        main([*run_args(tmp_path, data, tmp_path / "b.csv"), flag, value])
    assert stop.value.code == 2 and f"argument {flag}" in capsys.readouterr().err
    assert not (tmp_path / "cache").exists()


def test_every_embedder_is_checked_before_the_first_one_runs(tmp_path):
    """Several --embedder: a broken later one fails before the first one's extraction."""
    synthetic.write_crema_d(tmp_path / "data" / "crema_d", n_actors=4, sentences=("DFA",))
    broken = tmp_path / "broken.tflite"
    broken.write_bytes(b"not a flatbuffer")
    board = tmp_path / "b.csv"
    code = main(
        [
            "--embedder",
            "dsp",
            "--embedder",
            str(broken),
            "--data-dir",
            str(tmp_path / "data"),
            "--tasks",
            "crema_d",
            "--cache-dir",
            str(tmp_path / "cache"),
            "--leaderboard",
            str(board),
            "--no-progress",
        ]
    )
    assert code == 2
    assert not board.exists() and not (tmp_path / "cache").exists()
