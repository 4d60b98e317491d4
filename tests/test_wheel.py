"""A newcomer's install: the built wheel carries every task, embedder preset, config file and the
report's template, and its console script runs the demo and the report from outside the source
tree."""

import csv
import site
import subprocess
import sys
import zipfile
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
    # the report's template and script are package data
    assert {"noss_eval/templates/report.html.j2", "noss_eval/templates/report.js"} <= set(
        zipfile.ZipFile(wheel).namelist()
    )
    report = subprocess.run(
        [venv / "bin" / "noss-eval", "report", "noss-eval-demo.csv", "--out", "report.html"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
    )
    assert report.returncode == 0, report.stderr
    page = (tmp_path / "report.html").read_text(encoding="utf-8")
    assert page.count("<td data-task=") == 8 and page.count("<svg") == 8
