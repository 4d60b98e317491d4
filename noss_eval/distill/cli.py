"""The `noss-eval distill` parser and handler (registered in `noss_eval.cli.commands.COMMANDS`)."""

from __future__ import annotations

import argparse
from pathlib import Path

DISTILL_EXAMPLES = """\
what it does:
  1. checks every input first: the grid file (a bad key is named), the audio folders (not
     empty), --out (writable), the teacher (loads and embeds one window of your audio);
  2. cuts every file into NOSS windows (0.96 s of 96x64 log-mel, hop 0.17 s) and embeds each
     window's 0.975 s of audio with the teacher, once, through noss-eval's cache;
  3. trains each student of the grid (MobileNetV3 Small/Large, width alpha, avg-pool or flatten,
     optional bottleneck, a dense layer to the teacher's dimension; MSE, Adam, seeded), early-
     stopped on the held-out 10 % of FILES, checkpointed every epoch;
  4. exports each student to TFLite (float32, or quantize: dynamic | int8 in the grid; with
     frontend: true the NOSS log-mel is in the graph and the model takes audio), checks it
     against the Keras model, and adds a row to OUT/manifest.csv.
  Re-running the same command skips finished students and resumes a killed training from its
  last epoch.

examples:
  noss-eval distill --teacher ../shared/models/yamnet/yamnet.tflite \\
      --teacher-option output=yamnet_frames/global_average_pooling2d/Mean \\
      --audio ../shared/data/fsdd/recordings --audio ../shared/data/hedgewars-voices \\
      --grid tiny-grid --out students/
  noss-eval --embedders-from students/manifest.csv --task-file my_task.yaml \\
      --reference ../shared/models/yamnet/yamnet.tflite \\
      --reference-option output=yamnet_frames/global_average_pooling2d/Mean \\
      --leaderboard board.csv
  noss-eval latency --embedders-from students/manifest.csv --leaderboard board.csv
  noss-eval frontier board.csv --explain --out frontier.png

grids: tiny-grid (4 small students, minutes on a laptop CPU), frill-grid (the FRILL paper's
knobs), or your own YAML (see configs/tiny-grid.yaml). A GPU is used when TensorFlow sees one.
"""


def distill_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="noss-eval distill",
        description="Distil a teacher embedder into a grid of small MobileNetV3 students "
        "(the FRILL recipe), export each to TFLite and list them in a manifest CSV.",
        epilog=DISTILL_EXAMPLES,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument(
        "--teacher",
        required=True,
        metavar="SPEC",
        help="any --embedder spec: preset, .tflite, SavedModel dir, TF Hub handle, dsp",
    )
    p.add_argument(
        "--teacher-option",
        metavar="KEY=VALUE",
        action="append",
        default=[],
        help="like --embedder-option, for the teacher (e.g. output=NAME)",
    )
    p.add_argument(
        "--audio",
        type=Path,
        action="append",
        required=True,
        metavar="DIR",
        help="folder of recordings (wav/flac/ogg/mp3, searched recursively); repeatable",
    )
    p.add_argument(
        "--grid",
        required=True,
        metavar="YAML",
        help="student grid: a YAML file, or a shipped one: tiny-grid, frill-grid",
    )
    p.add_argument(
        "--out",
        type=Path,
        required=True,
        metavar="DIR",
        help="where students/, trained/ and manifest.csv go; re-run to resume",
    )
    p.add_argument(
        "--cache-dir", type=Path, metavar="DIR", help="embedding cache (default ~/.cache/noss-eval)"
    )
    p.add_argument("--no-progress", action="store_true", help="no progress bar or ETA lines")
    p.add_argument("-q", "--quiet", action="store_true", help="only warnings and errors")
    return p


def quiet_tensorflow() -> None:
    """For -q: TensorFlow imported now with its C++ start-up lines (oneDNN, CUDA probing, printed
    to file descriptor 2 while it loads, before any log level applies) not shown, and its later
    logs (C++ and Python) cut to errors. An import that fails shows what it printed."""
    import logging
    import os
    import sys
    import tempfile

    os.environ["TF_CPP_MIN_LOG_LEVEL"] = "3"
    if "tensorflow" not in sys.modules:
        sys.stderr.flush()
        saved = os.dup(2)
        with tempfile.TemporaryFile() as sink:
            os.dup2(sink.fileno(), 2)
            try:
                import tensorflow  # noqa: F401
            except ImportError:
                return  # distill says what is missing when it needs it
            except BaseException:
                os.dup2(saved, 2)
                sink.seek(0)
                sys.stderr.write(sink.read().decode("utf-8", "replace"))
                raise
            finally:
                os.dup2(saved, 2)
                os.close(saved)
    logging.getLogger("tensorflow").setLevel(logging.ERROR)
    try:
        from absl import logging as absl_logging

        absl_logging.set_verbosity(absl_logging.ERROR)
    except ImportError:
        pass


def run_distill(args: argparse.Namespace) -> int:
    import logging

    from noss_eval.distill.command import DistillConfig, distill, resolve_grid
    from noss_eval.embedder import parse_options
    from noss_eval.runner import DEFAULT_CACHE

    if args.quiet:
        logging.getLogger("noss_eval").setLevel(logging.WARNING)
        quiet_tensorflow()
    config = DistillConfig(
        teacher=args.teacher,
        teacher_options=parse_options(args.teacher_option),
        audio=tuple(args.audio),
        grid=resolve_grid(args.grid),
        out=args.out.expanduser(),
        cache_dir=(args.cache_dir or DEFAULT_CACHE).expanduser(),
        progress=not args.no_progress and not args.quiet,
    )
    rows = distill(config)
    print(f"{len(rows)} students in {config.out / 'manifest.csv'}")
    for r in rows:
        print(
            f"  {r['student']:32s} R2 {float(r['heldout_r2']):6.3f}  "
            f"{int(r['tflite_bytes']) / 1e6:6.2f} MB  {r['tflite_path']}"
        )
    return 0
