"""Regenerate docs/report.png: the HTML report of a real leaderboard, shot in headless Chromium.

    python docs/make_screenshot.py                 # build the board from ../shared, then shoot
    python docs/make_screenshot.py --board B.csv   # shoot the report of an existing board

The board is real: the YAMNet TFLite model against the dsp baseline measured on the same clips
(paired tests), under both protocols, on the real recordings of ../shared laid out as
tests/test_real_audio.py does (FSDD as VoxCeleb1 and as a digit task, Hedgewars voice packs as an
ESC-50-style task), with latency and size from `noss-eval latency`. Needs chromium and
chromium-driver (apt-get install chromium chromium-driver) and the test extra (selenium).
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))

from browser import headless_chromium, missing  # noqa: E402
from real_layouts import fsdd_as_voxceleb1, fsdd_keyword_task, hedgewars_as_esc50  # noqa: E402
from testlib import SHARED, YAMNET, YAMNET_EMBEDDING  # noqa: E402

from noss_eval.cli import main  # noqa: E402


def build_board(work: Path) -> Path:
    recordings = SHARED / "data" / "fsdd" / "recordings"
    fsdd_as_voxceleb1(recordings, work / "data" / "voxceleb1")
    digits = fsdd_keyword_task(recordings, work / "fsdd")
    sounds = hedgewars_as_esc50(SHARED / "data" / "hedgewars-voices", work / "hw")
    board = work / "board.csv"
    common = ["--data-dir", str(work / "data"), "--task-file", str(digits)]
    common += ["--task-file", str(sounds), "--tasks", "voxceleb1,fsdd_digits,hedgewars_hs"]
    common += ["--cache-dir", str(work / "cache"), "--leaderboard", str(board), "-q"]
    yamnet = ["--embedder", str(YAMNET), "--embedder-option", f"output={YAMNET_EMBEDDING}"]
    for protocol in ("noss-eval", "noss"):
        assert main([*yamnet, "--reference", "dsp", "--protocol", protocol, *common]) == 0
    latency = ["latency", "--leaderboard", str(board), "--runs", "20"]
    assert main([*latency, str(YAMNET), "--embedder-option", f"output={YAMNET_EMBEDDING}"]) == 0
    assert main([*latency, "dsp"]) == 0
    return board


def shoot(board: Path, png: Path, height: int, work: Path) -> None:
    page = work / "report.html"
    assert main(["report", str(board), "--out", str(page)]) == 0
    with headless_chromium(height) as driver:
        driver.get(page.as_uri())
        png.write_bytes(driver.get_screenshot_as_png())
    print(f"screenshot: {png}")


if __name__ == "__main__":
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--board", type=Path, help="an existing leaderboard CSV (default: build one)")
    p.add_argument("--out", type=Path, default=ROOT / "docs" / "report.png")
    p.add_argument("--height", type=int, default=1750, help="window height: the page's top")
    p.add_argument("--work", type=Path, help="build the board here and keep it (default: temp)")
    args = p.parse_args()
    if missing():
        sys.exit(f"make_screenshot: needs {', '.join(missing())}")
    if args.board is None and not YAMNET.exists():
        sys.exit(f"make_screenshot: needs {YAMNET} (../shared), or give --board")
    with tempfile.TemporaryDirectory(prefix="noss-eval-screenshot-") as tmp:
        work = args.work or Path(tmp)
        shoot(args.board or build_board(work), args.out, args.height, work)
