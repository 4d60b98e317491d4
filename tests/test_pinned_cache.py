"""Pinned behaviour of `noss_eval.cache` on real `.npz` files in a temporary folder: where an
entry lives, how parts merge, what is quarantined (and where), and atomic writes."""

import hashlib
import logging
import os
import shutil

import numpy as np
import pytest

from noss_eval.cache import (
    QUARANTINE,
    EmbeddingCache,
    check_room,
    quarantine,
    read_npz,
    write_npz,
)
from noss_eval.errors import NossError


def vec(*values):
    return np.array(values, np.float32)


def test_path_layout(tmp_path):
    cache = EmbeddingCache(tmp_path)
    fp = "0123456789abcdef0123456789"
    tag = hashlib.sha256(b"pool=mean").hexdigest()[:12]
    assert cache.path(fp, "crema_d", "train", "pool=mean") == (
        tmp_path / "0123456789abcdef" / "crema_d" / f"train-{tag}.npz"
    )
    assert cache.path(fp, "t", "test", "a") != cache.path(fp, "t", "test", "b")
    assert EmbeddingCache("~/x").root == EmbeddingCache(os.path.expanduser("~/x")).root


def test_write_and_read_round_trip_sorted_float32(tmp_path):
    path = tmp_path / "sub" / "e.npz"
    write_npz(path, {"b": np.array([1.0, 2.0]), "a": np.array([3.0, 4.0])})
    with np.load(path) as data:
        assert data["ids"].tolist() == ["a", "b"]
        assert data["embeddings"].dtype == np.float32
        np.testing.assert_array_equal(data["embeddings"], [[3, 4], [1, 2]])
    got = read_npz(path)
    assert list(got) == ["a", "b"]
    np.testing.assert_array_equal(got["b"], [1, 2])
    assert [p.name for p in path.parent.iterdir()] == ["e.npz"]  # no temporary left
    assert read_npz(tmp_path / "absent.npz") == {}


def test_failed_write_leaves_no_temporary(tmp_path):
    with pytest.raises(ValueError):
        write_npz(tmp_path / "e.npz", {"a": vec(1, 2), "b": vec(1, 2, 3)})
    assert list(tmp_path.iterdir()) == []


def test_parts_merge_and_consolidate(tmp_path):
    cache = EmbeddingCache(tmp_path)
    path = cache.path("f" * 20, "t", "train", "p")
    write_npz(path, {"a": vec(1, 1)})
    cache.save_part(path, {"b": vec(2, 2)})
    cache.save_part(path, {"a": vec(9, 9), "c": vec(3, 3)})
    cache.save_part(path, {})  # nothing to add: no file
    parts = cache.parts(path)
    assert len(parts) == 2 and parts == sorted(parts)
    assert all(p.name.startswith(f"{path.stem}.part-") and p.suffix == ".npz" for p in parts)
    loaded = cache.load(path)
    assert sorted(loaded) == ["a", "b", "c"]
    np.testing.assert_array_equal(loaded["b"], [2, 2])
    cache.consolidate(path)
    assert cache.parts(path) == []
    assert {k: v.tolist() for k, v in read_npz(path).items()} == {
        k: v.tolist() for k, v in loaded.items()
    }
    mtime = path.stat().st_mtime_ns
    cache.consolidate(path)  # no parts: the main file is not rewritten
    assert path.stat().st_mtime_ns == mtime


def test_part_only_entry_loads_and_consolidates(tmp_path):
    cache = EmbeddingCache(tmp_path)
    path = tmp_path / "x" / "train-tag.npz"
    cache.save_part(path, {"a": vec(1, 2)})
    assert not path.exists()
    assert list(cache.load(path)) == ["a"]
    cache.consolidate(path)
    assert path.exists() and cache.parts(path) == []


def test_load_quarantines_files_of_another_dimension(tmp_path, caplog):
    cache = EmbeddingCache(tmp_path)
    path = tmp_path / "fp" / "t" / "train-x.npz"
    write_npz(path, {"a": vec(1, 2)})
    cache.save_part(path, {"b": vec(1, 2, 3)})
    with caplog.at_level(logging.WARNING):
        got = cache.load(path)
    assert list(got) == ["a"]
    assert "3-d vectors where 2-d are expected" in caplog.text
    moved = list((tmp_path / QUARANTINE).iterdir())
    assert len(moved) == 1 and moved[0].name.startswith("train-x.part-")
    assert cache.parts(path) == []
    # An explicit dim wins over the first file's.
    assert cache.load(path, dim=3) == {}
    assert not path.exists()
    assert len(list((tmp_path / QUARANTINE).iterdir())) == 2


def test_empty_file_is_skipped_not_used_for_the_dimension(tmp_path):
    cache = EmbeddingCache(tmp_path)
    path = tmp_path / "e.npz"
    np.savez(path, ids=np.array([], dtype=str), embeddings=np.zeros((0, 5), np.float32))
    cache.save_part(path, {"a": vec(1, 2)})
    assert list(cache.load(path)) == ["a"]
    assert not (tmp_path / QUARANTINE).exists()


def bad_files():
    yield "ids_not_strings", dict(ids=np.arange(2), embeddings=np.zeros((2, 3), np.float32))
    yield "ids_2d", dict(ids=np.array([["a"], ["b"]]), embeddings=np.zeros((2, 3), np.float32))
    yield "vectors_1d", dict(ids=np.array(["a", "b"]), embeddings=np.zeros(2, np.float32))
    yield "count_mismatch", dict(ids=np.array(["a", "b"]), embeddings=np.zeros((3, 3)))
    yield "int_vectors", dict(ids=np.array(["a"]), embeddings=np.zeros((1, 3), np.int32))
    yield "nan", dict(ids=np.array(["a"]), embeddings=np.array([[np.nan, 0.0]]))
    yield "inf", dict(ids=np.array(["a"]), embeddings=np.array([[np.inf, 0.0]]))
    yield "no_ids", dict(embeddings=np.zeros((1, 3)))


@pytest.mark.parametrize("name, arrays", list(bad_files()))
def test_inconsistent_files_are_quarantined(tmp_path, name, arrays, caplog):
    path = tmp_path / "d" / f"{name}.npz"
    path.parent.mkdir()
    np.savez(path, **arrays)
    with caplog.at_level(logging.WARNING):
        assert read_npz(path, tmp_path) == {}
    assert not path.exists()
    (moved,) = (tmp_path / QUARANTINE).iterdir()
    assert moved.name.startswith(f"{name}.npz.")
    assert "is unreadable" in caplog.text and "recomputing" in caplog.text


def test_valid_float64_file_is_read(tmp_path):
    path = tmp_path / "ok.npz"
    np.savez(path, ids=np.array(["a", "b"]), embeddings=np.ones((2, 3)))
    assert sorted(read_npz(path)) == ["a", "b"]


def test_directory_and_garbage_are_quarantined_next_to_the_file_by_default(tmp_path):
    (tmp_path / "dir.npz").mkdir()
    assert read_npz(tmp_path / "dir.npz") == {}
    (tmp_path / "junk.npz").write_bytes(b"not a zip")
    assert read_npz(tmp_path / "junk.npz") == {}
    names = sorted(p.name.split(".npz.")[0] for p in (tmp_path / QUARANTINE).iterdir())
    assert names == ["dir", "junk"]
    # a dangling symlink is not "absent": it is moved aside too
    (tmp_path / "link.npz").symlink_to(tmp_path / "nowhere")
    assert read_npz(tmp_path / "link.npz") == {}
    assert not (tmp_path / "link.npz").is_symlink()


def test_quarantine_names_and_failure(tmp_path, caplog):
    f = tmp_path / "a.npz"
    f.write_bytes(b"x")
    target = quarantine(f, tmp_path / "root", "why")
    assert target.parent == tmp_path / "root" / QUARANTINE
    stamp, suffix = target.name.removeprefix("a.npz.").split(".")
    assert len(stamp) == 15 and stamp[8] == "T" and len(suffix) == 6
    assert target.read_bytes() == b"x" and not f.exists()
    caplog.clear()
    g = tmp_path / "g.npz"
    g.write_bytes(b"y")
    with caplog.at_level(logging.WARNING):
        moved = quarantine(g, tmp_path, "bad zip")
        assert quarantine(tmp_path / "gone.npz", tmp_path, "lost") is None
    assert [r.getMessage() for r in caplog.records] == [
        f"cache: {g} is unreadable (bad zip); moved to {moved}, recomputing",
        f"cache: unreadable {tmp_path / 'gone.npz'} (lost); recomputing",
    ]


def test_unwritable_cache_path_is_a_one_line_error(tmp_path):
    (tmp_path / "file").write_text("not a folder")
    path = tmp_path / "file" / "e.npz"
    with pytest.raises(NossError) as err:
        write_npz(path, {"a": vec(1, 2)})
    assert str(err.value).startswith(f"--cache-dir: cannot write {path} (")
    assert str(err.value).endswith(
        "); free some space or give another --cache-dir (the vectors cached so far are intact)"
    )
    assert "Errno" not in str(err.value)  # the OS message, not the exception's repr


def test_check_room(tmp_path):
    check_room(tmp_path / "new" / "deeper", 10, 8)  # nearest existing parent: tmp_path
    check_room(tmp_path, 0, 1)
    (tmp_path / "f").write_text("x")
    with pytest.raises(NossError, match=f"^--cache-dir: {tmp_path / 'f'} is not a writable folder"):
        check_room(tmp_path / "f", 1, 1)
    with pytest.raises(NossError, match=f"^--cache-dir: {tmp_path / 'f'} is not a writable"):
        check_room(tmp_path / "f" / "below", 1, 1)
    (tmp_path / "x").write_text("#!/bin/sh\n")
    (tmp_path / "x").chmod(0o755)  # a file even root may "write and execute" is no folder
    with pytest.raises(NossError, match=f"^--cache-dir: {tmp_path / 'x'} is not a writable"):
        check_room(tmp_path / "x", 1, 1)
    n, dim = 10**9, 4096
    need = 2 * n * (4 * dim + 64) + (16 << 20)
    assert need > shutil.disk_usage(tmp_path).free
    with pytest.raises(NossError) as err:
        check_room(tmp_path, n, dim)
    msg = str(err.value)
    assert msg.startswith(f"--cache-dir: {tmp_path} has ")
    free_mb = int(msg.split(" has ")[1].split(" MB")[0])
    assert abs(free_mb - (shutil.disk_usage(tmp_path).free >> 20)) < 64
    assert msg.endswith(
        f" MB free, the run needs about {need >> 20} MB; free some space or give another"
        " --cache-dir"
    )
    # the margin: 16 MiB plus twice (4 * dim + 64) bytes per vector
    free = shutil.disk_usage(tmp_path).free
    fits = (free - (32 << 20)) // (2 * (4 * 1 + 64))
    check_room(tmp_path, fits, 1)
