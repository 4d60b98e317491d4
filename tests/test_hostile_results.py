"""Hostile or damaged inputs and outputs around the results (issue 23, items 8b-11): a bad cache
file serves nothing, names never lead a path out of the cache, leaderboard cells never run as
formulas, a full disk at the probe stage loses nothing, derived records are checked against what
they describe, and nothing ends a run silently (an empty cached result, an embedder's
`sys.exit`, a symlinked leaderboard replaced)."""

import csv
import json
import logging
import os
import re
import sys

import numpy as np
import pytest
from testlib import install

from noss_eval import cache as cache_module
from noss_eval import synthetic
from noss_eval.cache import EmbeddingCache, write_npz
from noss_eval.cli import main
from noss_eval.embedder import fingerprint
from noss_eval.embedders.dsp import DspEmbedder
from noss_eval.errors import NossError
from noss_eval.extract import extract
from noss_eval.leaderboard import merge_leaderboard, read_leaderboard
from noss_eval.tasks import BUILTIN_TASKS


@pytest.fixture
def data(tmp_path):
    synthetic.write_crema_d(tmp_path / "data" / "crema_d")
    return tmp_path / "data"


@pytest.fixture
def crema(data):
    return BUILTIN_TASKS["crema_d"].read(data / "crema_d")


def run_args(tmp_path, data, board=None, embedder="dsp"):
    return [
        "--embedder",
        embedder,
        "--data-dir",
        str(data),
        "--tasks",
        "crema_d",
        "--cache-dir",
        str(tmp_path / "cache"),
        "--leaderboard",
        str(board or tmp_path / "b.csv"),
        "--no-progress",
    ]


def board_rows(board):
    with open(board, newline="", encoding="utf-8") as fh:
        return list(csv.DictReader(fh))


# 8b: a quarantined file serves no vector, not even from a block that read fine


def _bad_part(main_file, ids, good_then_bad: int):
    """A part beside `main_file`: finite but wrong vectors for the first `good_then_bad` of
    `ids` (its first block), NaN for the next ones (a later block). Named to sort last."""
    with np.load(main_file) as data:
        width = data["embeddings"].shape[1]
    vectors = {k: np.full(width, 7.0, np.float32) for k in ids[:good_then_bad]}
    vectors |= {k: np.full(width, np.nan, np.float32) for k in ids[good_then_bad:]}
    part = main_file.with_name(f"{main_file.stem}.part-zzzz.npz")
    write_npz(part, vectors)
    return part


def test_a_bad_file_serves_nothing_even_when_it_cannot_be_moved_aside(
    tmp_path, crema, monkeypatch, caplog
):
    monkeypatch.setattr(cache_module, "BLOCK_ROWS", 8)
    cache = EmbeddingCache(tmp_path / "cache")
    first = extract(DspEmbedder(), "crema_d", crema, cache, progress=False)
    (main_file,) = (tmp_path / "cache").rglob("train-*.npz")
    with np.load(main_file) as npz:
        ids = sorted(npz["ids"].tolist())
    part = _bad_part(main_file, ids[:16], 8)
    (tmp_path / "cache" / "quarantine").write_text("in the way")  # moving aside fails
    again = extract(DspEmbedder(), "crema_d", crema, cache, progress=False)
    np.testing.assert_allclose(again.embeddings, first.embeddings, atol=1e-6)
    assert again.computed == 8  # the keys its good first block held: not served, recomputed
    assert not part.exists()  # not folded into the entry, and gone
    third = extract(DspEmbedder(), "crema_d", crema, cache, progress=False)
    assert third.computed == 0
    np.testing.assert_allclose(third.embeddings, first.embeddings, atol=1e-6)


def test_consolidation_folds_in_nothing_of_a_file_with_a_bad_block(tmp_path, monkeypatch):
    monkeypatch.setattr(cache_module, "BLOCK_ROWS", 2)
    cache = EmbeddingCache(tmp_path / "cache")
    main_file = cache.path("f" * 64, "t", "train", "p")
    write_npz(main_file, {k: np.ones(4, np.float32) for k in "abcd"})
    _bad_part(main_file, ["a", "b", "e", "f"], 2)  # a, b: 7.0 in block 1; e, f: NaN in block 2
    cache.consolidate(main_file)
    loaded = cache.load(main_file)
    assert sorted(loaded) == ["a", "b", "c", "d"]
    assert all((v == 1).all() for v in loaded.values())
    assert list((tmp_path / "cache" / "quarantine").iterdir())


# 9: nothing named from outside leads a cache path out of --cache-dir


HOSTILE = ["../../x", "..", ".", "a/b", "a\\b", "*", "fold[1]", "x" * 300, " ", "", "ü"]


def test_cache_paths_stay_inside_the_cache_folder(tmp_path):
    root = tmp_path / "cache"
    cache = EmbeddingCache(root)
    outside = str(tmp_path / "outside")
    paths = set()
    for name in [*HOSTILE, outside]:
        for path in (
            cache.path(name, "t", "s", "p"),
            cache.path("f" * 64, name, "s", "p"),
            cache.path("f" * 64, "t", name, "p"),
        ):
            assert os.path.realpath(path).startswith(str(root.resolve()) + os.sep)
            assert len(path.relative_to(root).parts) == 3
            paths.add(path)
    assert len(paths) == 3 * (len(HOSTILE) + 1)  # no two names share a path
    from noss_eval.cache import safe_name

    assert len({safe_name(n) for n in ["a/b", "a_b", "a.b", "a b"]}) == 4
    plain = cache.path("0123456789abcdef" * 4, "crema_d", "fold1", "p")  # the layout is kept
    assert plain.relative_to(root).parts[:2] == ("0123456789abcdef", "crema_d")
    assert plain.name.startswith("fold1-")


def test_a_task_and_folds_named_like_paths_write_only_inside_the_cache(tmp_path, crema):
    import dataclasses

    escape = tmp_path / "escape"
    folds = {"train": "../../../escape/f", "validation": str(escape / "abs"), "test": ".."}
    clips = [dataclasses.replace(c, split=folds[c.split]) for c in crema]
    cache = EmbeddingCache(tmp_path / "work" / "cache")
    for task in ("../../../escape/t", str(escape / "t"), ".."):
        first = extract(DspEmbedder(), task, clips, cache, progress=False)
        again = extract(DspEmbedder(), task, clips, cache, progress=False)
        assert again.computed == 0
        np.testing.assert_array_equal(again.embeddings, first.embeddings)
    written = [p for p in tmp_path.rglob("*") if p.is_file() and "data" not in p.parts]
    assert written and all(p.is_relative_to(tmp_path / "work" / "cache") for p in written)
    assert not escape.exists()


# 9: CSV injection


def _row(**cells):
    base = {
        "embedder": "e",
        "embedder_fingerprint": "f",
        "task": "t",
        "probe": "p",
        "protocol": "noss-eval",
        "data_fingerprint": "d",
        "seed": 0,
    }
    return base | cells


FORMULAS = {
    "embedder": '=HYPERLINK("http://x","y")',
    "config": "+cmd|' /C calc'!A0",
    "task": "-2+3",
    "embedder_settings": "@SUM(1,2)",
    "audio_warnings": "\tclipped",
    "reference_source": "\r=1",
    "reference": "'already quoted",
}
NUMBERS = {"delta": "-1.5", "headline_score": "+2.3", "delta_ci_low": -0.25, "eer": "1e-3"}


def test_formula_cells_are_neutralised_numbers_untouched_and_reading_gives_them_back(tmp_path):
    board = tmp_path / "b.csv"
    row = _row(**FORMULAS, **NUMBERS)
    merge_leaderboard(board, [row])
    with open(board, newline="", encoding="utf-8") as fh:
        (raw,) = list(csv.DictReader(fh))
    for column, text in FORMULAS.items():
        assert raw[column] == "'" + text, column  # a spreadsheet shows it as text
    assert [raw[c] for c in NUMBERS] == ["-1.5", "+2.3", "-0.25", "1e-3"]
    for other in ("other", "another"):  # merging again (re-reading the board) adds no quote
        (back,) = [r for r in read_leaderboard(board) if "other" not in r["embedder"]]
        assert {c: back[c] for c in FORMULAS} == FORMULAS
        assert {c: back[c] for c in NUMBERS} == {c: str(v) for c, v in NUMBERS.items()}
        merge_leaderboard(board, [_row(embedder=other)])
    with open(board, newline="", encoding="utf-8") as fh:
        kept = next(r for r in csv.DictReader(fh) if "other" not in r["embedder"])
    assert {c: kept[c] for c in FORMULAS} == {c: "'" + t for c, t in FORMULAS.items()}


# 10: a full disk at the probe stage, a wrong `dim` record, a damaged runs file


def test_a_full_disk_at_the_probe_stage_keeps_the_rows(tmp_path, data, tiny_disk, caplog):
    (tmp_path / "cache").mkdir()
    (tmp_path / "cache" / "probes").symlink_to(tiny_disk, target_is_directory=True)
    free = os.statvfs(tiny_disk).f_bavail * os.statvfs(tiny_disk).f_frsize
    (tiny_disk / "filler").write_bytes(b"\0" * free)
    board = tmp_path / "b.csv"
    with caplog.at_level(logging.WARNING):
        assert main(run_args(tmp_path, data, board)) == 0
    assert len(board_rows(board)) == 3
    assert "could not save probe results" in caplog.text
    assert not [p for p in tiny_disk.rglob("*") if p.is_file() and p.name != "filler"]


@pytest.mark.parametrize("record", ["255", "257"])
def test_a_wrong_dim_record_is_rebuilt_from_the_vectors(tmp_path, data, caplog, record):
    board = tmp_path / "b.csv"
    assert main(run_args(tmp_path, data, board)) == 0
    dim = tmp_path / "cache" / fingerprint(DspEmbedder())[:16] / "dim"
    assert dim.read_text() == "256"
    dim.write_text(record)
    caplog.clear()
    assert main(run_args(tmp_path, data, board)) == 0
    assert "cache hits 144, computed 0" in caplog.text
    assert "rebuilt it from the vectors" in caplog.text
    assert dim.read_text() == "256"
    assert not (tmp_path / "cache" / "quarantine").exists()


def _non_utf8(runs):
    runs.write_bytes(b'{"run_id": "\xff"}\n')


def _not_an_object(runs):
    runs.write_text('{"run_id": "a"}\n[1, 2]\n')


def _not_json(runs):
    runs.write_text("{torn\n")


@pytest.mark.parametrize(
    "damage, message",
    [
        (_non_utf8, "cannot read .*b.runs.jsonl"),
        (_not_an_object, r"b\.runs\.jsonl:2: not a JSON object"),
        (_not_json, r"b\.runs\.jsonl:1: not a JSON object"),
    ],
)
def test_a_damaged_runs_file_is_refused_before_any_embedding(
    tmp_path, data, capsys, damage, message
):
    board = tmp_path / "b.csv"
    damage(tmp_path / "b.runs.jsonl")
    assert main(run_args(tmp_path, data, board)) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and re.search(message, err[0]), err
    assert not board.exists() and not (tmp_path / "cache").exists()


def test_a_runs_file_without_a_last_newline_gets_the_record_on_its_own_line(tmp_path, data):
    board = tmp_path / "b.csv"
    runs = tmp_path / "b.runs.jsonl"
    runs.write_text('{"run_id": "before"}')
    assert main(run_args(tmp_path, data, board)) == 0
    records = [json.loads(line) for line in runs.read_text().splitlines()]
    assert records[0] == {"run_id": "before"} and len(records) == 2


# 11: nothing ends silently


def _empty_list(path):
    path.write_text("[]")


def _an_object(path):
    path.write_text('{"a": 1}')


def _a_number_in_a_list(path):
    path.write_text("[1]")


def _wrong_types(path):
    results = json.loads(path.read_text())
    results[0]["metrics"] = "high"
    path.write_text(json.dumps(results))


def _a_directory(path):
    path.unlink()
    path.mkdir()
    (path / "x").write_text("x")


@pytest.mark.parametrize(
    "damage", [_empty_list, _an_object, _a_number_in_a_list, _wrong_types, _a_directory]
)
def test_a_damaged_probe_cache_file_is_quarantined_and_refitted(tmp_path, data, caplog, damage):
    board = tmp_path / "b.csv"
    assert main(run_args(tmp_path, data, board)) == 0
    cold = sorted(r["headline_score"] for r in board_rows(board))
    (cached,) = (tmp_path / "cache" / "probes").rglob("*.json")
    damage(cached)
    board.unlink()
    caplog.clear()
    assert main(run_args(tmp_path, data, board)) == 0
    assert "moved to" in caplog.text and "probe results from the cache" not in caplog.text
    assert sorted(r["headline_score"] for r in board_rows(board)) == cold
    assert cached.is_file() and json.loads(cached.read_text())  # refitted and cached again


HEAR_EXIT = """
import sys

import numpy as np

calls = 0


class Model:
    sample_rate = 16000
    timestamp_embedding_size = 8
    scene_embedding_size = 8


def load_model(model_file_path=""):
    if {exit_on_load}:
        sys.exit(0)
    return Model()


def get_timestamp_embeddings(audio, model):
    global calls
    calls += 1
    if calls > {good_calls}:
        sys.exit(0)
    audio = np.asarray(audio, dtype=np.float32)
    frames = audio[:, : audio.shape[1] // 160 * 160].reshape(audio.shape[0], -1, 160)
    embeddings = np.repeat(frames.std(axis=2, keepdims=True), 8, axis=2) + np.arange(8)
    stamps = np.tile(np.arange(frames.shape[1]) * 10.0, (audio.shape[0], 1))
    return embeddings.astype(np.float32), stamps


def get_scene_embeddings(audio, model):
    return get_timestamp_embeddings(audio, model)[0].mean(axis=1)
"""


@pytest.mark.parametrize(
    "exit_on_load, good_calls, stage",
    [(True, 99, "load"), (False, 0, "check"), (False, 2, "extraction")],
)
def test_an_embedder_calling_sys_exit_is_a_one_line_error(
    tmp_path, data, hear_root, capsys, exit_on_load, good_calls, stage
):
    name = f"hear_exit_{stage}"
    install(hear_root, name, HEAR_EXIT.format(exit_on_load=exit_on_load, good_calls=good_calls))
    board = tmp_path / "b.csv"
    assert main(run_args(tmp_path, data, board, embedder=f"hear:{name}")) == 2
    (error,) = [e for e in capsys.readouterr().err.splitlines() if "error:" in e]
    assert f"hear:{name}: " in error and "sys.exit(0)" in error
    assert not board.exists()
    if stage != "extraction":
        sys.modules.pop(name, None)  # a fresh module: its call count from 0
        assert main(["check", f"hear:{name}"]) == 2
        (error,) = [e for e in capsys.readouterr().err.splitlines() if "error:" in e]
        assert f"hear:{name}: " in error and "sys.exit(0)" in error


def test_sys_exit_in_extraction_is_an_error_naming_the_embedder(tmp_path, crema, hear_root):
    from noss_eval.embedder import resolve_embedder

    install(hear_root, "hear_exit_direct", HEAR_EXIT.format(exit_on_load=False, good_calls=5))
    embedder = resolve_embedder("hear:hear_exit_direct")
    cache = EmbeddingCache(tmp_path / "cache")
    with pytest.raises(NossError, match=r"hear:hear_exit_direct: .*sys\.exit\(0\)"):
        extract(embedder, "crema_d", crema, cache, progress=False, flush_every=2)
    kept = 0
    for file in (tmp_path / "cache").rglob("*.npz"):
        with np.load(file) as npz:
            kept += len(npz["ids"])
    assert kept == 5  # every vector computed before the exit is in the cache


def test_a_symlinked_leaderboard_is_written_through_and_stays_a_link(tmp_path, data):
    real = tmp_path / "boards" / "real.csv"
    real.parent.mkdir()
    link = tmp_path / "b.csv"
    link.symlink_to(os.path.relpath(real, tmp_path))  # dangling until the first run
    assert main(run_args(tmp_path, data, link)) == 0
    assert link.is_symlink() and len(board_rows(real)) == 3
    mode = real.stat().st_mode
    assert main([*run_args(tmp_path, data, link), "--seed", "1"]) == 0
    assert link.is_symlink() and len(board_rows(real)) == 6
    assert real.stat().st_mode == mode
