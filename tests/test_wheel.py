"""A newcomer's install: the built wheel carries every task, embedder preset and config file,
and its console script runs the demo from outside the source tree."""

import csv
import site
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


@pytest.mark.slow
def test_wheel_installs_and_runs_the_demo(tmp_path):
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "wheel",
            str(ROOT),
            "--no-deps",
            "--no-build-isolation",
            "-q",
            "-w",
            str(tmp_path / "dist"),
        ],
        check=True,
    )
    wheel = next((tmp_path / "dist").glob("noss_eval-*.whl"))
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    py = venv / "bin" / "python"
    # Dependencies come from this environment; noss-eval itself only from the wheel.
    purelib = subprocess.run(
        [py, "-c", "import sysconfig; print(sysconfig.get_path('purelib'))"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    Path(purelib, "deps.pth").write_text("\n".join(site.getsitepackages()) + "\n")
    subprocess.run(
        [py, "-m", "pip", "install", "--no-deps", "--no-index", "-q", str(wheel)], check=True
    )
    where = subprocess.run(
        [
            py,
            "-c",
            "import noss_eval.tasks, noss_eval.embedders as e, "
            "noss_eval.configs as c; print(noss_eval.tasks.__file__)",
        ],
        capture_output=True,
        text=True,
        check=True,
        cwd=tmp_path,
    ).stdout
    assert where.startswith(str(venv))
    listing = subprocess.run(
        [venv / "bin" / "noss-eval", "--list-embedders"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    assert "trillsson3" in listing
    demo = subprocess.run(
        [venv / "bin" / "noss-eval", "--demo", "--no-progress"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert demo.returncode == 0, demo.stderr
    assert len(list(csv.DictReader((tmp_path / "noss-eval-demo.csv").open()))) == 8 * 3
