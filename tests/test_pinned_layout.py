"""Pinned behaviour of `noss_eval.layout`, the helpers the task readers walk layouts with, on
real files written in a temporary folder."""

import pytest
from tensorflow_datasets.audio.voxforge import _get_inter_splits_by_group

from noss_eval.errors import NossError
from noss_eval.layout import (
    AUDIO_SUFFIXES,
    audio_files,
    clip_id,
    pick_column,
    read_csv,
    read_text,
    require,
    split_by_speaker,
)
from noss_eval.task import Clip


def test_require(tmp_path):
    assert require(tmp_path, "x") == tmp_path
    with pytest.raises(NossError, match=r"nope: missing \(the thing\)"):
        require(tmp_path / "nope", "the thing")


def test_audio_files_are_the_audio_suffixes_directly_in_the_folder_sorted(tmp_path):
    assert AUDIO_SUFFIXES == (".wav", ".flac", ".ogg", ".mp3")
    names = [
        "b.wav",
        "a.FLAC",
        "c.ogg",
        "d.mp3",
        "e.txt",
        "f.wav.bak",
        "g.Wav",
        "._b.wav",
        ".h.mp3",
    ]
    for name in names:
        (tmp_path / name).write_bytes(b"")
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub" / "h.wav").write_bytes(b"")
    got = [p.name for p in audio_files(tmp_path)]
    assert got == ["a.FLAC", "b.wav", "c.ogg", "d.mp3", "g.Wav"]


def test_clip_id(tmp_path):
    path = tmp_path / "x" / "y.wav"
    assert clip_id(tmp_path, path) == "x/y.wav"
    assert clip_id(tmp_path, path, 1.5) == "x/y.wav@1.500"
    assert clip_id(tmp_path, path, 0.0) == "x/y.wav@0.000"
    assert clip_id(tmp_path, path, 2.0004) == "x/y.wav@2.000"


def test_read_csv_strips_keys_and_values(tmp_path):
    path = tmp_path / "m.csv"
    path.write_text(" name , label ,\nA.wav ,  yes ,\nB.wav\n", encoding="utf-8")
    assert read_csv(path) == [{"name": "A.wav", "label": "yes"}, {"name": "B.wav", "label": ""}]
    (tmp_path / "empty.csv").write_text("name,label\n")
    with pytest.raises(NossError, match="empty.csv: CSV has no rows"):
        read_csv(tmp_path / "empty.csv")
    with pytest.raises(NossError, match=r"missing.csv: missing \(metadata CSV\)"):
        read_csv(tmp_path / "missing.csv")
    (tmp_path / "utf.csv").write_text("name\nÉté.wav\n", encoding="utf-8")
    assert read_csv(tmp_path / "utf.csv") == [{"name": "Été.wav"}]


def test_pick_column_takes_the_first_candidate_present(tmp_path):
    row = {"file": "a", "filename": "b", "label": "c"}
    assert pick_column(tmp_path, row, "file_name", "filename", "file") == "filename"
    assert pick_column(tmp_path, row, "file") == "file"
    with pytest.raises(NossError, match=r"no column named x or y \(has file, filename, label\)"):
        pick_column(tmp_path, row, "x", "y")


def test_split_by_speaker_is_tfds_by_speaker(tmp_path):
    entries = [(tmp_path / f"s{i % 13}" / f"{i}.wav", f"l{i % 3}", f"s{i % 13}") for i in range(40)]
    clips = split_by_speaker(tmp_path, entries)
    tfds = _get_inter_splits_by_group(
        [(str(p), spk) for p, _, spk in entries],
        [("train", 0.7), ("validation", 0.1), ("test", 0.2)],
        0,
    )
    split_of = {item: name for name, items in tfds.items() for item in items}
    assert clips == [
        Clip(f"{spk}/{p.name}", p, label, split_of[str(p)], speaker=spk)
        for p, label, spk in entries
    ]
    probs = (("train", 0.5), ("test", 0.5))
    other = split_by_speaker(tmp_path, entries, probs)
    assert {c.split for c in other} == {"train", "test"}
    tfds = _get_inter_splits_by_group([(str(p), spk) for p, _, spk in entries], list(probs), 0)
    split_of = {item: name for name, items in tfds.items() for item in items}
    assert [c.split for c in other] == [split_of[str(p)] for p, _, _ in entries]


def test_read_text(tmp_path):
    path = tmp_path / "t.txt"
    path.write_bytes("\ufeffhello\n".encode())
    assert read_text(path, "x") == "hello\n"
    path.write_bytes(b"ok\n\xff\xfe")
    with pytest.raises(NossError, match=f"^{path}: not UTF-8 text \\(byte 3\\); save it as UTF-8$"):
        read_text(path, "x")
    with pytest.raises(NossError, match=r"nope.txt: missing \(the list\)$"):
        read_text(tmp_path / "nope.txt", "the list")
    with pytest.raises(NossError, match=f"^{tmp_path}: cannot read \\(Is a directory\\)$"):
        read_text(tmp_path, "x")


def test_read_csv_encodings_and_malformed_files(tmp_path):
    path = tmp_path / "m.csv"
    path.write_bytes("\ufeffname,label\na.wav,yes\n".encode())
    assert read_csv(path) == [{"name": "a.wav", "label": "yes"}]
    path.write_bytes(b"name,label\na.wav,\xe9t\xe9\n")
    with pytest.raises(
        NossError, match=f"^{path}: not UTF-8 text \\(byte 17\\); save it as UTF-8$"
    ):
        read_csv(path)
    path.write_text("name,label\n" + "a" * 200_000 + ",x\n")
    with pytest.raises(NossError, match=f"^{path}: not a readable CSV \\(field larger than"):
        read_csv(path)


def test_read_csv_keeps_line_breaks_inside_quoted_fields(tmp_path):
    path = tmp_path / "m.csv"
    path.write_bytes(b'name,note\r\na.wav,"two\r\nlines"\r\n')  # newline="" as csv wants
    assert read_csv(path) == [{"name": "a.wav", "note": "two\r\nlines"}]
