"""Fuzzing (hypothesis) of every reader of user files: whatever bytes a user's file holds, the
reader gives a result or one NossError — never a traceback."""

import csv

import numpy as np
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from noss_eval import synthetic
from noss_eval.cache import EmbeddingCache
from noss_eval.custom_task import load_task_file
from noss_eval.errors import NossError
from noss_eval.leaderboard import read_leaderboard
from noss_eval.task import validate_clips
from noss_eval.tasks import BUILTIN_TASKS

FUZZ = settings(
    max_examples=40, deadline=None, derandomize=True, suppress_health_check=list(HealthCheck)
)
# text that looks like the real thing half the time: fragments of the real formats, mutated
fragments = st.sampled_from(
    [
        "1 ",
        "2 ",
        "3 ",
        "id10001/",
        "abc/",
        "00001.wav",
        "\n",
        ",",
        "\t",
        "file_name",
        "label",
        "train_00001.wav",
        "devel_",
        "?",
        "mask",
        "clear",
        "filename",
        "fold",
        "target",
        "category",
        "20",
        "1-100-A-20.wav",
        "crying_baby",
        "name: x",
        "csv: labels.csv",
        "audio_dir: .",
        "labels: [yes, no]",
        "columns: {path: file}",
        "headline: f1",
        "split",
        "speaker",
        "\ufeff",
        ":",
        "[",
        "{",
        "'",
        '"',
        "\x00",
        "é",
        "embedder",
        "protocol",
    ]
)
texts = st.one_of(st.text(max_size=200), st.lists(fragments, max_size=40).map("".join))
blobs = st.one_of(st.binary(max_size=300), texts.map(lambda t: t.encode("utf-8")))


def must_not_crash(call):
    try:
        call()
    except NossError as exc:
        assert str(exc) and "\n" not in str(exc).strip()


@FUZZ
@given(content=blobs)
def test_iden_split_reader(tmp_path_factory, content):
    root = tmp_path_factory.mktemp("vox")
    (root / "iden_split.txt").write_bytes(content)
    task = BUILTIN_TASKS["voxceleb1"]
    must_not_crash(lambda: validate_clips(task, task.read(root)))


@FUZZ
@given(content=blobs)
def test_vox1_meta_reader(tmp_path_factory, content):
    root = tmp_path_factory.mktemp("vox")
    (root / "iden_split.txt").write_text("1 id10001/a/00001.wav\n")
    (root / "vox1_meta.csv").write_bytes(content)
    must_not_crash(lambda: BUILTIN_TASKS["voxceleb1"].read(root))


@FUZZ
@given(content=blobs)
def test_compare_mask_labels_reader(tmp_path_factory, content):
    root = tmp_path_factory.mktemp("mask")
    (root / "wav").mkdir()
    (root / "lab").mkdir()
    (root / "lab" / "labels.csv").write_bytes(content)
    task = BUILTIN_TASKS["mask"]
    must_not_crash(lambda: validate_clips(task, task.read(root)))


@FUZZ
@given(content=blobs)
def test_esc50_meta_reader(tmp_path_factory, content):
    root = tmp_path_factory.mktemp("esc")
    (root / "audio").mkdir()
    (root / "meta").mkdir()
    (root / "meta" / "esc50.csv").write_bytes(content)
    task = BUILTIN_TASKS["esc50_hs"]
    must_not_crash(lambda: validate_clips(task, task.read(root)))


@FUZZ
@given(validation=blobs, testing=blobs)
def test_speech_commands_lists_reader(tmp_path_factory, validation, testing):
    root = tmp_path_factory.mktemp("sc")
    synthetic.write_speech_commands(root, n_speakers=5)
    (root / "validation_list.txt").write_bytes(validation)
    (root / "testing_list.txt").write_bytes(testing)
    for name in ("speech_commands", "speech_commands_lists"):
        task = BUILTIN_TASKS[name]
        must_not_crash(lambda task=task: validate_clips(task, task.read(root)))


@FUZZ
@given(spec=blobs, table=blobs)
def test_custom_task_files(tmp_path_factory, spec, table):
    root = tmp_path_factory.mktemp("custom")
    (root / "t.yaml").write_bytes(spec)
    (root / "labels.csv").write_bytes(table)

    def load():
        task = load_task_file(root / "t.yaml")
        validate_clips(task, task.read(task.root))

    must_not_crash(load)


@FUZZ
@given(table=blobs)
def test_custom_task_csv_with_a_valid_spec(tmp_path_factory, table):
    root = tmp_path_factory.mktemp("custom")
    (root / "t.yaml").write_text("name: x\ncsv: labels.csv\n")
    (root / "labels.csv").write_bytes(b"path,label,speaker\n" + table)

    def load():
        task = load_task_file(root / "t.yaml")
        validate_clips(task, task.read(task.root))

    must_not_crash(load)


@FUZZ
@given(content=blobs)
def test_leaderboard_reader(tmp_path_factory, content):
    path = tmp_path_factory.mktemp("board") / "b.csv"
    path.write_bytes(b"embedder,embedder_fingerprint,task,probe,protocol\n" + content)
    must_not_crash(lambda: read_leaderboard(path))
    path.write_bytes(content)
    must_not_crash(lambda: read_leaderboard(path))


@FUZZ
@given(content=st.binary(max_size=400), keep=st.integers(0, 400))
def test_cache_entries(tmp_path_factory, content, keep):
    root = tmp_path_factory.mktemp("cache")
    cache = EmbeddingCache(root)
    path = cache.path("f" * 64, "t", "train", "p")
    cache.save_part(path, {"a": np.ones(4, np.float32)})
    cache.consolidate(path)
    good = path.read_bytes()
    path.write_bytes(good[:keep] + content)
    loaded = cache.load(path)  # never raises: unreadable entries are quarantined
    assert loaded in ({}, {"a": loaded.get("a")})


@FUZZ
@given(content=blobs, runs=blobs)
def test_report_readers(tmp_path_factory, content, runs):
    from noss_eval.html_report import load_board
    from noss_eval.leaderboard import COLUMNS
    from noss_eval.provenance import load_runs

    folder = tmp_path_factory.mktemp("report")
    board, records = folder / "b.csv", folder / "b.runs.jsonl"
    board.write_bytes(",".join(COLUMNS).encode() + b"\n" + content)
    records.write_bytes(runs)
    must_not_crash(lambda: load_board(board))
    must_not_crash(lambda: load_runs(records))
    board.write_bytes(content)
    must_not_crash(lambda: load_board(board))


words = st.sampled_from(["", "x", "noss", "noss-eval", "<a href='//x'>", "$\\frac$", "é"])
numbers = st.one_of(st.just(""), st.floats(-1e3, 1e3).map(repr))
report_rows = st.tuples(
    words,
    words,
    words,
    st.just("best"),
    words,
    words,
    numbers.filter(bool),
    numbers,
    words,
    numbers,
    numbers,
    numbers,
)


@settings(FUZZ, max_examples=10)
@given(rows=st.lists(report_rows, min_size=1, max_size=5))
def test_report_of_any_board_it_reads(tmp_path_factory, rows):
    """Whatever board the reader accepts, the page is written (names, tasks, protocols and
    numbers of any kind)."""
    from noss_eval.html_report import write_report

    columns = ("embedder", "embedder_fingerprint", "task", "probe", "protocol")
    columns += ("headline_metric", "headline_score", "delta", "embedder_sha256", "latency_ms")
    columns += ("headline_ci_low", "headline_ci_high")
    columns += ("headline_ci_low", "headline_ci_high")
    folder = tmp_path_factory.mktemp("report")
    board = folder / "b.csv"
    with open(board, "w", newline="") as fh:
        csv.writer(fh).writerows([columns, *rows])
    must_not_crash(lambda: write_report(board, folder / "r.html"))


cells = st.one_of(
    texts.map(lambda t: t.replace("\x00", "")),
    st.floats(-1e3, 1e3).map(repr),
    st.sampled_from(["=1+1", "+1", "-1.5", "@x", "'=x", "''", "'", "\r=1", "\t-2", "-inf"]),
)


@FUZZ
@given(values=st.lists(cells, min_size=3, max_size=3))
def test_leaderboard_cells_round_trip_and_never_start_a_formula(tmp_path_factory, values):
    from noss_eval.leaderboard import write_leaderboard

    path = tmp_path_factory.mktemp("board") / "b.csv"
    row = dict(zip(("embedder", "task", "config"), values, strict=True))
    write_leaderboard(path, [row, {**row, "probe": "second"}])
    with open(path, newline="", encoding="utf-8") as fh:
        raw = list(csv.DictReader(fh))
    for cell in (r[k] for r in raw for k in row):
        if cell.startswith(("=", "+", "-", "@", "\t", "\r", "\n")):
            float(cell)  # only a number starts so
    back = read_leaderboard(path)
    assert [{k: r[k] for k in row} for r in back] == [row, row]
    write_leaderboard(path, back)  # a second merge quotes nothing twice
    assert [{k: r[k] for k in row} for r in read_leaderboard(path)] == [row, row]


@FUZZ
@given(content=blobs)
def test_probe_cache_files(tmp_path_factory, content):
    from noss_eval.probe_cache import ProbeResultCache

    probes = ProbeResultCache(tmp_path_factory.mktemp("cache"))
    path = probes.path("ab" * 32)
    path.parent.mkdir(parents=True)
    path.write_bytes(content)
    assert probes.load("ab" * 32) is None  # no bytes here are a valid result: quarantined
    assert not path.exists()
