"""The evaluation's options (`noss-eval --embedder SPEC --data-dir DIR ...`, no subcommand) and
the RunConfig built from them. The embedder options themselves (`--embedder`, `--embedders-from`,
`--embedder-option`) are bound in `noss_eval.embedder_args`."""

from __future__ import annotations

import argparse
import shlex
from pathlib import Path

from noss_eval import __version__
from noss_eval.cli.arg_types import positive, seconds, seed
from noss_eval.embedder_args import add_embedder_arguments
from noss_eval.probes import PROTOCOLS, SOLVERS
from noss_eval.sources import SOURCES

EXAMPLES = """\
examples:
  noss-eval --demo                      # whole pipeline on generated audio, no download
  noss-eval --embedder frill.tflite --data-dir ~/noss-data --leaderboard board.csv
  noss-eval --embedder yamnet.tflite --data-dir ~/noss-data --tasks crema_d,esc50_hs \\
            --embedder-option output=yamnet_frames/global_average_pooling2d/Mean
  noss-eval --embedder frill --reference trill --data-dir ~/noss-data   # delta measured in this run
  noss-eval --embedder model.onnx --data-dir ~/noss-data                # ONNX Runtime, [onnx] extra
  noss-eval --embedder hear:my_hear_model:weights.pt --data-dir ~/noss-data  # a HEAR-API module
  noss-eval --list-tasks          # what each task expects under --data-dir
  noss-eval --list-embedders      # presets and kinds

subcommand examples:
  noss-eval check MODEL [--embedder-option K=V]            # inputs, outputs, dim, finite, time
  noss-eval latency MODEL [MODEL ...] [--leaderboard CSV]   # ms per 0.96 s window, size, params
  noss-eval frontier CSV --out frontier.png                 # quality vs latency, Pareto frontier
  noss-eval report CSV --out report.html                    # the leaderboard as one HTML page
  noss-eval download speech_commands esc50_hs --data-dir ~/noss-data   # open datasets
  noss-eval distill --teacher SPEC --audio DIR --grid tiny-grid --out DIR   # FRILL-style students

--embedder accepts a preset name (trill, frill, ...), a kind (dsp), a .tflite or .onnx file, an
installed HEAR-API module (hear:MODULE[:WEIGHTS]), a SavedModel directory or a TF Hub handle.
Embeddings are mean-pooled over time, cached under --cache-dir, and probed per task with logistic
regression and LDA (one row each, plus `best` over both); the configuration is picked on validation
and the test split is scored once. --protocol noss is the papers' recipe (upstream's sklearn models
incl. random forests, best test score). Deltas are on each task's headline metric (UAR for mask)
against TRILL's published numbers, FRILL's (--reference frill-published), or an embedder measured
on the same clips (--reference trill). Tasks named in --tasks may include the opt-in variants
speech_commands_lists, voxceleb1_1251 and voxforge_all (see --list-tasks).
"""


def evaluation_parser() -> argparse.ArgumentParser:
    """The evaluation's options (`noss-eval` without a subcommand), on the top-level parser."""
    p = argparse.ArgumentParser(
        prog="noss-eval",
        description="Score a frozen speech embedding on the Non-Semantic Speech Benchmark (NOSS) "
        "with the options\nbelow and no subcommand. A subcommand (listed after them) takes its "
        "own options after its\nname: noss-eval COMMAND --help.",
        epilog=EXAMPLES,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    what = p.add_argument_group("what to evaluate")
    add_embedder_arguments(
        what,
        manifests_help="score every student of a `noss-eval distill` manifest.csv (each with "
        "the options it records, e.g. frontend=noss-logmel, plus the --embedder-option given "
        "after it); repeatable",
    )
    what.add_argument(
        "--reference",
        metavar="SPEC",
        help="baseline for deltas: an embedder measured in the same run on the same clips "
        "(paired interval and exact test), or a published table: trill-published (default) or "
        "frill-published (the FRILL paper's numbers)",
    )
    what.add_argument(
        "--reference-option",
        metavar="KEY=VALUE",
        action="append",
        default=[],
        help="like --embedder-option, for --reference",
    )
    what.add_argument(
        "--demo",
        action="store_true",
        help="everything on generated audio laid out like the eight NOSS datasets, "
        "with the dsp embedder (synthetic: says nothing about speech)",
    )

    data = p.add_argument_group("data")
    data.add_argument(
        "--data-dir",
        type=Path,
        metavar="DIR",
        help="folder with one sub-folder per dataset in its official layout (see --list-tasks)",
    )
    data.add_argument("--tasks", default="", metavar="A,B", help="comma-separated subset of tasks")
    data.add_argument(
        "--task-file",
        type=Path,
        action="append",
        default=[],
        metavar="YAML",
        help="a custom task: folder of audio + CSV (see README); repeatable",
    )
    data.add_argument(
        "--source",
        choices=SOURCES,
        default="layout",
        help="official layouts under --data-dir (default), or prepared TFDS "
        "datasets under --tfds-data-dir",
    )
    data.add_argument(
        "--tfds-data-dir",
        type=Path,
        metavar="DIR",
        help="TFDS data_dir with prepared crema_d, speech_commands, voxceleb, "
        "savee, voxforge, dementiabank (never downloads)",
    )
    data.add_argument(
        "--strict", action="store_true", help="unreadable audio is fatal, not skipped"
    )

    protocol = p.add_argument_group("protocol")
    protocol.add_argument(
        "--protocol",
        choices=tuple(PROTOCOLS),
        default="noss-eval",
        help="noss-eval: pick the probe configuration on validation, score "
        "test once (default); noss: paper mode, Google's sklearn grid, best test score "
        "(UAR for mask, accuracy elsewhere), as in the papers",
    )
    protocol.add_argument(
        "--probe-solver",
        choices=SOLVERS,
        default="auto",
        help="logistic probe solver: sklearn lbfgs, or mini-batch adam on the "
        "same objective (fast at 1,251 classes); auto picks adam for "
        "large problems",
    )
    protocol.add_argument(
        "--seed",
        type=seed,
        default=0,
        help="seed for probes, bootstrap and generated data (0 to 2**32 - 1)",
    )

    speed = p.add_argument_group("speed and scale")
    speed.add_argument(
        "--threads",
        type=positive,
        metavar="N",
        help="cores the run may use (default: every core this process may run on): a model "
        "file (TFLite, ONNX) runs N single-threaded copies, another embedder N threads; the "
        "probes N parallel fits; BLAS 1 thread each",
    )
    speed.add_argument(
        "--workers",
        type=int,
        default=1,
        metavar="N",
        help="extraction worker processes (default 1: this process, with one single-threaded "
        "copy of a model file per core in threads, or one embedder on every core)",
    )
    speed.add_argument(
        "--runner",
        choices=("local", "beam"),
        default="local",
        help="extract locally, or as an Apache Beam pipeline "
        "(pip install 'noss-eval[beam]'); both fill the same cache",
    )
    speed.add_argument(
        "--beam-options",
        default="",
        metavar="'--opt=v ...'",
        help="Beam pipeline options, e.g. '--direct_num_workers=2 "
        "--direct_running_mode=multi_processing' or '--runner=FlinkRunner ...'",
    )
    speed.add_argument(
        "--cache-dir", type=Path, metavar="DIR", help="embedding cache (default ~/.cache/noss-eval)"
    )
    speed.add_argument(
        "--flush-seconds",
        type=seconds,
        default=30.0,
        metavar="S",
        help="save new embeddings to the cache at least this often (default 30; 0: after every "
        "clip): the most work a crash or kill -9 can lose; Ctrl-C and SIGTERM save everything",
    )

    out = p.add_argument_group("output")
    out.add_argument(
        "--leaderboard",
        type=Path,
        metavar="CSV",
        help="merge result rows into this CSV (one row per embedder x task x probe x protocol "
        "x data fingerprint x seed); the run's configuration goes to CSV-stem.runs.jsonl",
    )
    out.add_argument(
        "--report",
        type=Path,
        metavar="HTML",
        help="at the end, write the whole leaderboard (needs --leaderboard) as one self-contained "
        "HTML page, as `noss-eval report CSV --out HTML` does",
    )
    out.add_argument(
        "--no-progress",
        action="store_true",
        help="no progress (a bar on a terminal, else a line every 30 s with rate and ETA)",
    )
    out.add_argument(
        "-q", "--quiet", action="store_true", help="only warnings, errors and the result table"
    )
    out.add_argument(
        "--list-tasks",
        action="store_true",
        help="print each task's expected layout, split rule and TFDS builder",
    )
    out.add_argument("--list-embedders", action="store_true", help="print presets and kinds")
    out.add_argument("--version", action="version", version=f"noss-eval {__version__}")
    return p


def run_config(args: argparse.Namespace, embedder: str, data_dir: Path | None, **overrides):
    """The RunConfig of one embedder's run from the evaluation's parsed options."""
    from noss_eval.embedder import parse_options
    from noss_eval.references import published_names
    from noss_eval.runner import DEFAULT_CACHE, RunConfig

    published = args.reference if args.reference in published_names() else None
    overrides.setdefault("published_reference", published or "trill-published")
    return RunConfig(
        embedder=embedder,
        data_dir=data_dir.expanduser() if data_dir else None,
        source=args.source,
        tfds_data_dir=args.tfds_data_dir,
        protocol=args.protocol,
        probe_solver=args.probe_solver,
        runner=args.runner,
        workers=args.workers,
        threads=args.threads,
        beam_options=tuple(shlex.split(args.beam_options)),
        tasks=tuple(t.strip() for t in args.tasks.split(",") if t.strip()),
        cache_dir=args.cache_dir or DEFAULT_CACHE,
        leaderboard=args.leaderboard,
        reference=None if published else args.reference,
        reference_options=parse_options(args.reference_option),
        seed=args.seed,
        strict=args.strict,
        flush_seconds=args.flush_seconds,
        progress=not args.no_progress and not args.quiet,
        command=tuple(getattr(args, "command", ())),
        **overrides,
    )
