"""Shared fixtures: the real models the tests run (built once per session), a tiny real disk."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest
from testlib import conv_model, convert, save_batched, save_logmel, save_trill_like


@pytest.fixture(scope="session")
def dynamic_tflite(tmp_path_factory) -> Path:
    """`[1, -1]` audio in, `[1, frames, 32]` out: a dynamic-length embedder like FRILL's TFLite."""
    path = tmp_path_factory.mktemp("models") / "conv_dynamic.tflite"
    path.write_bytes(convert(conv_model(None, 32)))
    return path


@pytest.fixture(scope="session")
def fixed_tflite(tmp_path_factory) -> Path:
    """`[1, 16000]` audio in, `[1, 32]` out: a fixed-window model."""
    path = tmp_path_factory.mktemp("models") / "conv_fixed.tflite"
    path.write_bytes(convert(conv_model(16000, 32)))
    return path


@pytest.fixture(scope="session")
def trill_like(tmp_path_factory) -> Path:
    return save_trill_like(tmp_path_factory.mktemp("savedmodels") / "trill")


@pytest.fixture(scope="session")
def batched_like(tmp_path_factory) -> Path:
    return save_batched(tmp_path_factory.mktemp("savedmodels") / "frill")


@pytest.fixture(scope="session")
def logmel_like(tmp_path_factory) -> Path:
    return save_logmel(tmp_path_factory.mktemp("savedmodels") / "frill_nofrontend")


@pytest.fixture
def tiny_disk(tmp_path):
    """A real 256 KiB filesystem (tmpfs; needs root, as CI runs)."""
    mount = tmp_path / "disk"
    mount.mkdir()
    done = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=256k", "tmpfs", str(mount)], capture_output=True
    )
    if done.returncode:
        if os.environ.get("CI"):
            pytest.fail(f"cannot mount a tmpfs in CI: {done.stderr!r}")
        pytest.skip("mounting a tmpfs needs root")
    yield mount
    subprocess.run(["umount", str(mount)], check=False)


@pytest.fixture
def hear_root(tmp_path, monkeypatch):
    """A folder on sys.path for HEAR modules the test installs (`testlib.install`); the
    modules named hear_* are forgotten afterwards."""
    import sys

    root = tmp_path / "site"
    root.mkdir()
    monkeypatch.syspath_prepend(str(root))
    yield root
    for name in [m for m in sys.modules if m.startswith("hear_")]:
        del sys.modules[name]
