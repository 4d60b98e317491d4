"""Distillation: training throughput, then a real frontier of 16 students distilled from YAMNet.

    python benchmarks/bench_distill.py [--windows 1024] [--epochs 3] [--grid-epochs 4]

Throughput: `noss_eval.distill.train.train_student` (shuffle, per-epoch held-out evaluation, batch
norm recalibration, checkpoint and best-weights files) against a bare Keras fit loop on the same
in-memory random windows and student (content does not change the rate); the first epoch (graph
tracing) is excluded from both.

Frontier: `noss-eval distill` with the real YAMNet TFLite as teacher on ../shared audio (half of
FSDD recordings 10-49, by crc32 of the name, plus the Hedgewars voices), a grid of 2 widths x
2 poolings x a 256-d bottleneck plain or compressed to rank 32 x float32/int8 (16 students, 8
trainings), each scored on FSDD speaker id and digits (recordings
0-9, never distilled on) against YAMNet as the paired reference, timed with `noss-eval latency`,
then `noss-eval frontier --explain`; each uncompressed architecture at random init is scored
alike, as the bar distillation has to clear. Prints markdown; the figures go to --figure.
"""

from __future__ import annotations

import argparse
import contextlib
import csv
import io
import os
import re
import sys
import tempfile
import time
import zlib
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")


ROOT = Path(__file__).resolve().parents[1]
SHARED = ROOT.parent / "shared"
YAMNET = SHARED / "models" / "yamnet" / "yamnet.tflite"
YAMNET_EMBEDDING = "yamnet_frames/global_average_pooling2d/Mean"
GRID = """seed: 0
data: {{holdout: 0.1}}
training: {{epochs: {epochs}, batch_size: 16, patience: 2, alpha_decrement: 0.02}}
students:
  {{size: [small], alpha: [0.25, 0.5], pooling: [avg, flatten], bottleneck: [256],
   compression: [0, 32], quantize: [float32, int8]}}
"""


def throughput(args) -> None:
    import keras
    import numpy as np

    from noss_eval.distill.grid import Architecture, Training
    from noss_eval.distill.students import build_student
    from noss_eval.distill.train import train_student
    from noss_eval.progress import Meter

    rng = np.random.RandomState(0)
    x = rng.randn(args.windows, 96, 64, 1).astype(np.float32) * 2.5 - 5.0
    y = np.abs(rng.randn(args.windows, 1024)).astype(np.float32) * 0.1
    n_held = args.windows // 10
    arch = Architecture("small", 0.5, False, "avg", 0)
    settings = Training(epochs=args.epochs + 1, batch_size=64, patience=100)

    model = build_student(arch, 1024, 0, settings.bn_momentum)
    model.compile(keras.optimizers.Adam(1e-3), "mse", jit_compile=False)
    train_x, train_y = x[n_held:], y[n_held:]
    model.fit(train_x, train_y, batch_size=64, epochs=1, verbose=0)  # tracing
    start = time.perf_counter()
    model.fit(train_x, train_y, batch_size=64, epochs=args.epochs, verbose=0)
    bare = args.epochs * len(train_x) / (time.perf_counter() - start)

    with tempfile.TemporaryDirectory() as tmp:
        meter = Meter(settings.epochs, "bench", "epoch", enabled=False)
        _, result = train_student(
            arch, (train_x, train_y, x[:n_held], y[:n_held]), settings, 0, Path(tmp), meter
        )
    steady = [h["seconds"] for h in result.history[1:]]
    ours = len(steady) * len(train_x) / sum(steady)
    print(f"## Distillation training throughput ({len(train_x)} windows, MobileNetV3-Small a0.5)")
    print()
    print("| loop | training windows/s | ratio |")
    print("|---|---|---|")
    print(f"| bare `model.fit` on in-memory arrays | {bare:.0f} | 1.00 |")
    print(
        "| `noss-eval distill` trainer (BN recalibration, eval, checkpoint, best weights per "
        f"epoch) | {ours:.0f} | **{ours / bare:.2f}** |"
    )
    print()


def _cli(args: list[str]) -> str:
    """Run one noss-eval command; return its stdout (Keras' conversion chatter goes to stderr)."""
    from noss_eval.cli import main

    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        assert main(args) == 0, args
    return out.getvalue()


def frontier(args) -> None:
    sys.path.insert(0, str(ROOT / "tests"))
    from real_layouts import fsdd_as_voxceleb1, fsdd_keyword_task

    recordings = SHARED / "data" / "fsdd" / "recordings"
    teacher = ["--teacher", str(YAMNET), "--teacher-option", f"output={YAMNET_EMBEDDING}"]
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        audio = root / "fsdd"
        audio.mkdir()
        for f in sorted(recordings.glob("*.wav")):
            if int(f.stem.split("_")[2]) >= 10 and zlib.crc32(f.name.encode()) % 2 == 0:
                (audio / f.name).symlink_to(f)
        (root / "grid.yaml").write_text(GRID.format(epochs=args.grid_epochs))
        out, cache, board = root / "out", str(root / "cache"), str(root / "board.csv")
        start = time.perf_counter()
        _cli(["distill", *teacher, "--audio", str(audio), "--audio",
              str(SHARED / "data" / "hedgewars-voices"), "--grid", str(root / "grid.yaml"),
              "--out", str(out), "--cache-dir", cache, "--no-progress"])  # fmt: skip
        minutes = (time.perf_counter() - start) / 60
        fsdd_as_voxceleb1(recordings, root / "data" / "voxceleb1")
        digits = fsdd_keyword_task(recordings, root / "digits")
        manifest = str(out / "manifest.csv")
        _score(["--embedders-from", manifest], board, root, digits, cache)
        random_board, random_rows = _random_inits(root, digits, cache)
        _cli(["latency", "--embedders-from", manifest, "--runs", "20", "--leaderboard", board])
        text = _cli(["frontier", board, "--out", str(args.figure), "--explain"])
        rows = list(csv.DictReader(open(manifest)))
        scores = {
            (r["embedder_sha256"], r["task"]): r
            for b in (board, random_board)
            for r in csv.DictReader(open(b))
            if r["probe"] == "best"
        }
    print(
        f"## Distillation frontier: {len(rows)} students distilled from YAMNet ({minutes:.1f} min)"
    )
    print()
    print(
        f"{rows[0]['train_windows']} training / {rows[0]['heldout_windows']} held-out windows "
        f"({rows[0]['heldout_files']} held-out files), {args.grid_epochs} epochs at most; scored "
        "with the best probe, paired against YAMNet on the same test clips."
    )
    print()
    print(
        "| student | params | TFLite KB | held-out R2 | speaker id % (delta) | digits % (delta) |"
    )
    print("|---|---|---|---|---|---|")
    for r in [*rows, *random_rows]:
        cells = []
        for task in ("voxceleb1", "fsdd_digits"):
            s = scores.get((r["tflite_sha256"], task), {})
            cells.append(f"{s.get('headline_score', '?')} ({s.get('delta', '?')})")
        r2 = f"{float(r['heldout_r2']):.3f}" if r["heldout_r2"] else "-"
        print(
            f"| {r['student']} | {int(r['params']):,} | {int(r['tflite_bytes']) / 1024:.0f} "
            f"| {r2} | {cells[0]} | {cells[1]} |"
        )
    print()
    name = Path(args.figure).name
    print(f"![frontier]({name}) ![explain]({Path(name).stem}-explain.png)")
    print()
    print("```text")
    print(text.split("standardized regression weights")[0].rstrip())
    print("```")
    print()
    print(_markdown(text))
    print()


def _random_inits(root: Path, digits: Path, cache: str) -> tuple[str, list[dict[str, str]]]:
    """Each uncompressed architecture of the grid at random init (its seed, exported as its
    students are), scored like them: what distillation has to beat. Returns the board and a
    manifest-like row per model."""
    from noss_eval.distill import export
    from noss_eval.distill.grid import load_grid
    from noss_eval.distill.students import build_student
    from noss_eval.embedder import sha256_file

    grid = load_grid(root / "grid.yaml")
    rows, specs = [], []
    for arch in (a for a in grid.architectures if not a.compression):
        path = root / "random-init" / f"{arch.name}-random-init.tflite"
        path.parent.mkdir(exist_ok=True)
        model = export.embedding_model(build_student(arch, 1024, grid.seed))
        path.write_bytes(export.to_tflite(model, "float32", False))
        specs += ["--embedder", str(path), "--embedder-option", "frontend=noss-logmel"]
        rows.append({"student": path.stem, "params": str(export.exported_parameters(model)),
                     "tflite_bytes": str(path.stat().st_size), "heldout_r2": "",
                     "tflite_sha256": sha256_file(path)})  # fmt: skip
    board = str(root / "random-init.csv")
    _score(specs, board, root, digits, cache)
    return board, rows


def _score(models: list[str], board: str, root: Path, digits: Path, cache: str) -> None:
    """Score `models` (embedder arguments) on FSDD speaker id and digits, paired against YAMNet."""
    _cli([*models, "--data-dir", str(root / "data"), "--tasks", "voxceleb1,fsdd_digits",
          "--task-file", str(digits), "--reference", str(YAMNET), "--reference-option",
          f"output={YAMNET_EMBEDDING}", "--cache-dir", cache, "--leaderboard", board,
          "--no-progress"])  # fmt: skip


def _markdown(text: str) -> str:
    """The --explain table of `noss-eval frontier` as a markdown table."""
    lines = text.splitlines()
    top = next(i for i, x in enumerate(lines) if x.startswith("standardized regression weights"))
    head = re.split(r"\s{2,}", lines[top + 1].strip())
    table = [f"| {' | '.join(head)} |", "|" + "---|" * len(head)]
    for line in lines[top + 2 :]:
        m = re.match(r"^(.+?)((?:\s+[-+]?\d+\.\d+|\s+nan){3})$", line)
        if m is None:
            table.append("")
            table.append(line)
            continue
        table.append(f"| {m.group(1).strip()} | {' | '.join(m.group(2).split())} |")
    return "\n".join(table)


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--windows", type=int, default=1024)
    p.add_argument("--epochs", type=int, default=3)
    p.add_argument("--grid-epochs", type=int, default=4)
    p.add_argument("--figure", type=Path, default=ROOT / "benchmarks" / "distill-frontier.png")
    args = p.parse_args()
    throughput(args)
    frontier(args)


if __name__ == "__main__":
    main()
