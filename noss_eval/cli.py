"""`noss-eval`: the command line. Parses flags, builds a RunConfig, hands it to the runner."""

from __future__ import annotations

import argparse
import logging
import math
import os
import shlex
import sys
import tempfile
from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path

from noss_eval import __version__
from noss_eval.embedder_args import add_embedder_arguments, embedder_specs
from noss_eval.errors import NossError, ResultsNotSaved

log = logging.getLogger("noss_eval")

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

subcommands:
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


def _seed(text: str) -> int:
    value = int(text)
    if not 0 <= value < 2**32:
        raise argparse.ArgumentTypeError(f"must be between 0 and 2**32 - 1, got {value}")
    return value


def _positive(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, got {value}")
    return value


def _seconds(text: str) -> float:
    value = float(text)
    if not math.isfinite(value) or value < 0:
        raise argparse.ArgumentTypeError(f"must be a number of seconds >= 0, got {text}")
    return value


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="noss-eval",
        description="Score a frozen speech embedding on the Non-Semantic Speech Benchmark (NOSS).",
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
        choices=("layout", "tfds"),
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
        choices=("noss-eval", "noss"),
        default="noss-eval",
        help="noss-eval: pick the probe configuration on validation, score "
        "test once (default); noss: paper mode, Google's sklearn grid, best test score "
        "(UAR for mask, accuracy elsewhere), as in the papers",
    )
    protocol.add_argument(
        "--probe-solver",
        choices=("auto", "lbfgs", "adam"),
        default="auto",
        help="logistic probe solver: sklearn lbfgs, or mini-batch adam on the "
        "same objective (fast at 1,251 classes); auto picks adam for "
        "large problems",
    )
    protocol.add_argument(
        "--seed",
        type=_seed,
        default=0,
        help="seed for probes, bootstrap and generated data (0 to 2**32 - 1)",
    )

    speed = p.add_argument_group("speed and scale")
    speed.add_argument(
        "--threads",
        type=_positive,
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
        type=_seconds,
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


def list_tasks() -> str:
    from noss_eval.download import how_to_get
    from noss_eval.tasks import BUILTIN_TASKS

    pad = " " * 17
    return "\n".join(
        f"{t.name:16s} {t.title}\n{pad}in <data-dir>/{t.dataset_dir}/: {t.layout}\n"
        f"{pad}split: {t.notes}"
        + (f"\n{pad}TFDS builder: {t.tfds.name}" if t.tfds else "")
        + f"\n{pad}get it: {how_to_get(t.dataset_dir, t.name)}"
        for t in BUILTIN_TASKS.values()
    )


def list_embedders() -> str:
    from noss_eval.embedder import registry

    kinds, presets = registry()
    lines = [
        f"{name:18s} {p.get('about', '')}\n{'':18s} {p.get('location', p['kind'])}"
        for name, p in presets.items()
    ]
    return "\n".join(["presets:", *lines, "kinds: " + ", ".join(kinds)])


def configure_logging(level: int) -> None:
    """One stderr handler on the package logger; the root logger is left to the host program."""
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("noss-eval: %(message)s"))
    log.handlers = [handler]
    log.setLevel(level)


def latency_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="noss-eval latency",
        description="Time each embedder on one 0.96 s window (median and p90 after warm-up, with "
        "1 thread and with every core, each in a fresh process); report file size "
        "and parameter count; optionally merge them into a leaderboard CSV.",
    )
    add_embedder_arguments(
        p, positional=True, manifests_help="also time every student of a `noss-eval distill` "
        "manifest.csv; repeatable"
    )
    p.add_argument("--runs", type=int, default=50, help="timed calls per measurement")
    p.add_argument(
        "--leaderboard",
        type=Path,
        metavar="CSV",
        help="write latency_ms, latency_p90_ms, latency_ms_all_threads, size_mb, "
        "params onto that model's rows",
    )
    return p


def frontier_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="noss-eval frontier",
        description="Plot the average delta vs TRILL (each task's headline metric) against "
        "latency (FRILL paper style), "
        "highlight the Pareto frontier, dim strictly-worse models, print the frontier.",
    )
    p.add_argument("leaderboard", type=Path, metavar="CSV")
    p.add_argument("--out", type=Path, default=Path("frontier.png"), metavar="PNG")
    p.add_argument(
        "--reference",
        metavar="NAME",
        help="plot the deltas against this reference (the board's `reference` column); needed "
        "when the board has deltas against more than one, which are never averaged together",
    )
    p.add_argument(
        "--probe",
        choices=("best", "logistic", "lda", "forest"),
        default="best",
        help="which probe's deltas to plot (default: the best probe of each task)",
    )
    p.add_argument("--protocol", choices=("noss-eval", "noss"), default="noss-eval")
    p.add_argument(
        "--explain",
        action="store_true",
        help="also the FRILL hyperparameter analysis: a linear regression of average delta, "
        "latency and size on the distilled students' knobs (standardized weights, printed and "
        "drawn to OUT-explain.png); the students' manifests are found from the leaderboard's "
        "runs file, or give --manifest",
    )
    p.add_argument(
        "--manifest",
        type=Path,
        action="append",
        default=[],
        metavar="CSV",
        help="a `noss-eval distill` manifest.csv for --explain; repeatable",
    )
    return p


REPORT_EXAMPLES = """\
examples:
  noss-eval report board.csv --out report.html     # then open report.html in a browser
  noss-eval report board.csv --probe logistic --out logistic.html
  noss-eval report board.csv --runs elsewhere/board.runs.jsonl --out report.html

The page works offline (styles, script and figures inline; it makes no request): a sortable table
per protocol (score, 95 % interval, delta vs the reference, n.s. where the paired test does not
show it real, best per task marked), a chart per task, the quality-vs-latency frontier when
`noss-eval latency` has filled the board, and the command, versions, data and seed of every run.
"""


def report_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="noss-eval report",
        description="Write a leaderboard CSV as one self-contained HTML page to look at, share "
        "or mail.",
        epilog=REPORT_EXAMPLES,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("leaderboard", type=Path, metavar="CSV", help="written by --leaderboard")
    p.add_argument(
        "--runs",
        type=Path,
        metavar="JSONL",
        help="the runs file with each row's command and versions (default: CSV-stem.runs.jsonl)",
    )
    p.add_argument(
        "--out",
        type=Path,
        default=Path("report.html"),
        metavar="HTML",
        help="where to write the page (default: report.html)",
    )
    p.add_argument(
        "--probe",
        choices=("best", "logistic", "lda", "forest"),
        default="best",
        help="which probe row of each task to show (default: best, the best configuration of "
        "every probe family)",
    )
    return p


def run_report(args: argparse.Namespace) -> int:
    from noss_eval.html_report import write_report

    report = write_report(args.leaderboard, args.out, args.runs, args.probe)
    rows = sum(len(t.entries) for t in report.tables)
    tables = f"{len(report.tables)} protocol{'s' if len(report.tables) > 1 else ''}"
    rows_text = f"{rows} embedder row{'s' if rows != 1 else ''}"
    print(f"report: {args.out} ({rows_text}, {tables}, {len(report.task_charts)} tasks)")
    return 0


def check_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="noss-eval check",
        description="Before committing hours: load a model, show its inputs and outputs and how "
        "noss-eval will call it, embed 2 s of generated audio (or FILE), and report the output "
        "dimension, whether it is finite, and the time per call.",
    )
    p.add_argument("model", metavar="MODEL", help="anything --embedder accepts")
    p.add_argument("--embedder-option", metavar="KEY=VALUE", action="append", default=[])
    p.add_argument("--audio", type=Path, metavar="FILE", help="embed this file instead")
    return p


def run_check(args: argparse.Namespace) -> int:
    from noss_eval.audio import load_audio
    from noss_eval.check import check_embedder, no_exit
    from noss_eval.embedder import fingerprint, parse_options, resolve_embedder

    with no_exit(args.model):
        embedder = resolve_embedder(args.model, parse_options(args.embedder_option))
    waveform = load_audio(args.audio, embedder.sample_rate) if args.audio else None
    report = check_embedder(embedder, waveform, str(args.audio or "generated audio"))
    print(report.describe())
    print(f"fingerprint: {fingerprint(embedder)[:16]}  settings: {embedder.settings}")
    return 0


def run_latency(args: argparse.Namespace) -> int:
    from noss_eval.latency import format_latency, latency_columns, measure_all
    from noss_eval.leaderboard import merge_latency

    specs = embedder_specs(args)
    if not specs:
        raise NossError("latency: give MODEL(s) or --embedders-from MANIFEST")
    results = measure_all(specs, args.runs)
    print(format_latency(results))
    if args.leaderboard:
        names = {
            r.embedder_fingerprint: {"embedder": r.embedder, "embedder_sha256": r.embedder_sha256}
            for r in results
        }
        merge_latency(args.leaderboard, latency_columns(results), names)
        print(f"leaderboard: {args.leaderboard}")
    return 0


def run_frontier(args: argparse.Namespace) -> int:
    from noss_eval.frontier import frontier

    points, summary = frontier(
        args.leaderboard, args.out, args.probe, args.protocol, args.reference
    )
    print(summary)
    if args.explain:
        from noss_eval.explain import explain, find_manifests, plot_explanation
        from noss_eval.leaderboard import read_leaderboard

        manifests = args.manifest or find_manifests(args.leaderboard)
        sizes = {
            r["embedder_sha256"]: float(r["size_mb"])
            for r in read_leaderboard(args.leaderboard)
            if r.get("size_mb")
        }
        result = explain(points, sizes, manifests)
        figure = args.out.with_name(f"{args.out.stem}-explain.png")
        plot_explanation(result, figure)
        print(result.table())
        print(f"figure: {figure}")
    return 0


def download_parser() -> argparse.ArgumentParser:
    from noss_eval.download import BASE_ENV

    p = argparse.ArgumentParser(
        prog="noss-eval download",
        description="Fetch the openly downloadable NOSS datasets (speech_commands, esc50_hs, "
        "crema_d, voxforge) into --data-dir in the layouts the tasks read: resumed where a run "
        "stopped, checked against the published size and sha256, unpacked atomically. For the "
        "others (voxceleb1, savee, mask, dementiabank) it prints how to fetch them by hand.",
        epilog=f"{BASE_ENV}=URL fetches every file from a mirror laid out as `wget -x` makes "
        "it: https://host/path from URL/host/path.",
    )
    p.add_argument("tasks", nargs="+", metavar="TASK", help="task names (see --list-tasks)")
    p.add_argument("--data-dir", type=Path, metavar="DIR", help="where the datasets go")
    p.add_argument(
        "--jobs",
        type=_positive,
        default=4,
        metavar="N",
        help="parallel file downloads for the datasets of many files (crema_d, voxforge; "
        "default 4)",
    )
    p.add_argument(
        "--retries",
        type=int,
        default=3,
        metavar="N",
        help="times a broken transfer is resumed before giving up (default 3); a re-run "
        "resumes too",
    )
    p.add_argument(
        "--keep-archives", action="store_true", help="keep the archives after unpacking them"
    )
    p.add_argument("--no-progress", action="store_true", help="no progress bar or lines")
    return p


def run_download(args: argparse.Namespace) -> int:
    from noss_eval.download import BASE_ENV, check_data_dir, download, instructions, resolve

    sources = resolve(args.tasks)
    manual = [s for s in sources if s.manual]
    if len(manual) < len(sources):
        if args.data_dir is None:
            raise NossError("download: --data-dir DIR is required: where the datasets go")
        check_data_dir(args.data_dir, "--data-dir")
        done, _ = download(
            [s.name for s in sources if not s.manual],
            args.data_dir.expanduser(),
            base_url=os.environ.get(BASE_ENV) or None,
            jobs=args.jobs,
            retries=max(args.retries, 0),
            progress=not args.no_progress,
            keep_archives=args.keep_archives,
        )
        for folder in done:
            print(f"ready: {folder}")
    for source in manual:
        print(instructions(source, args.data_dir))
        print()
    if manual:
        names = ", ".join(s.name for s in manual)
        raise NossError(f"{names}: must be fetched by hand, as shown above")
    return 0


def _distill_parser() -> argparse.ArgumentParser:
    from noss_eval.distill.cli import distill_parser

    return distill_parser()


def _run_distill(args: argparse.Namespace) -> int:
    from noss_eval.distill.cli import run_distill

    return run_distill(args)


SUBCOMMANDS = {
    "check": (check_parser, run_check),
    "distill": (_distill_parser, _run_distill),
    "download": (download_parser, run_download),
    "latency": (latency_parser, run_latency),
    "frontier": (frontier_parser, run_frontier),
    "report": (report_parser, run_report),
}


def main(argv: Sequence[str] | None = None) -> int:
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    _terminate_as_interrupt()
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv and argv[0] in SUBCOMMANDS:
        make_parser, handler = SUBCOMMANDS[argv[0]]
        sub_args = make_parser().parse_args(argv[1:])
        configure_logging(logging.INFO)
        try:
            return handler(sub_args)
        except NossError as exc:
            print(_error_line(exc), file=sys.stderr)
            return 2
        except KeyboardInterrupt as exc:
            print(f"noss-eval {argv[0]}: {_stopped(exc)}", file=sys.stderr)
            return _interrupt_status(exc)
    args = build_parser().parse_args(argv)
    args.command = ["noss-eval", *argv]
    configure_logging(logging.WARNING if args.quiet else logging.INFO)
    try:
        if args.list_tasks or args.list_embedders:
            print(list_tasks() if args.list_tasks else list_embedders())
            return 0
        if args.task_file and not args.demo:
            from noss_eval.custom_task import check_task_files

            check_task_files(args.task_file)  # names usable, not built-in, not repeated
        return run_demo(args) if args.demo else run_eval(args)
    except ResultsNotSaved as exc:
        from noss_eval.table import format_table

        print(format_table(exc.rows))
        print(_error_line(exc), file=sys.stderr)
        return 2
    except NossError as exc:
        print(_error_line(exc), file=sys.stderr)
        return 2
    except KeyboardInterrupt as exc:
        print(
            f"noss-eval: {_stopped(exc)}; every embedding computed so far is saved in the cache, "
            "a re-run continues from there",
            file=sys.stderr,
        )
        return _interrupt_status(exc)


def _error_line(exc: Exception) -> str:
    """The error as one printable line: control characters (a NUL or newline from a user's file
    or name) are shown escaped, never written raw to the terminal."""
    text = "".join(c if c.isprintable() else repr(c)[1:-1] for c in str(exc))
    return f"noss-eval: error: {text}"


class Terminated(KeyboardInterrupt):
    """SIGTERM, unwinding like Ctrl-C; the process exits 143 (128 + 15), as killed by it."""


def _stopped(exc: KeyboardInterrupt) -> str:
    return "terminated (SIGTERM)" if isinstance(exc, Terminated) else "interrupted"


def _interrupt_status(exc: KeyboardInterrupt) -> int:
    """128 + the signal: 143 for SIGTERM, 130 for Ctrl-C (SIGINT), as shells and schedulers
    expect of a process stopped by that signal."""
    return 143 if isinstance(exc, Terminated) else 130


def _terminate_as_interrupt() -> None:
    """SIGTERM (a scheduler's stop, `kill`) unwinds like Ctrl-C, so computed vectors are flushed;
    the exit status is still SIGTERM's (143)."""
    import signal
    import threading

    def interrupt(signum, frame):
        raise Terminated

    if threading.current_thread() is threading.main_thread():
        signal.signal(signal.SIGTERM, interrupt)


def _config(args: argparse.Namespace, embedder: str, data_dir: Path | None, **overrides):
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


def run_eval(args: argparse.Namespace) -> int:
    from noss_eval.custom_task import load_task_file
    from noss_eval.runner import run
    from noss_eval.sources import DecodedMemo
    from noss_eval.table import format_table
    from noss_eval.tasks import BUILTIN_TASKS

    embedders = embedder_specs(args)
    if not embedders:
        raise NossError("--embedder or --embedders-from is required (or use --demo); see --help")
    custom = {t.name: t for t in map(load_task_file, args.task_file)}
    if args.source == "tfds":
        if args.tfds_data_dir is None or not args.tfds_data_dir.expanduser().is_dir():
            raise NossError(f"--tfds-data-dir: no such directory: {args.tfds_data_dir}")
    elif args.data_dir is None and not custom:
        raise NossError("--data-dir is required: the folder holding the datasets")
    if args.data_dir is not None and not args.data_dir.expanduser().is_dir():
        raise NossError(f"--data-dir: no such directory: {args.data_dir}")
    if custom and not args.tasks:
        args.tasks = ",".join(custom)
    _check_report(args)
    base = _config(args, embedders[0][0], args.data_dir, embedder_options=embedders[0][1])
    if len(embedders) > 1:
        _check_all(embedders[1:])
    decoded = DecodedMemo() if len(embedders) > 1 else None  # shared by the embedders' runs
    for spec, options in embedders:
        config = replace(base, embedder=spec, embedder_options=options)
        rows = run(config, {**BUILTIN_TASKS, **custom}, decoded)
        if len(embedders) > 1:
            print(f"== {spec}")
        print(format_table(rows))
    if decoded is not None and decoded.hits:
        log.info("decoded audio shared between embedders: %d decodes saved", decoded.hits)
    if args.leaderboard:
        print(f"leaderboard: {args.leaderboard}")
    _write_report(args)
    return 0


def _check_all(embedders: list[tuple[str, dict]]) -> None:
    """Before the first embedder's run: every later one loads and embeds generated audio, so a
    broken one fails now, not after the others' hours (each run checks its own on a real clip)."""
    from noss_eval.check import check_embedder
    from noss_eval.engines import EmbedderRecipe

    for spec, options in embedders:
        check_embedder(EmbedderRecipe(spec, options).build())


def _check_report(args: argparse.Namespace) -> None:
    """Before the run: --report has a board to show and a place to go."""
    if args.report is None:
        return
    if args.leaderboard is None:
        raise NossError("--report: needs --leaderboard CSV (the page shows the leaderboard)")
    from noss_eval.leaderboard import check_writable

    check_writable(args.report, "--report")


def _write_report(args: argparse.Namespace) -> None:
    if args.report is not None:
        from noss_eval.html_report import write_report

        write_report(args.leaderboard, args.report)
        print(f"report: {args.report}")


def run_demo(args: argparse.Namespace) -> int:
    from noss_eval.runner import run
    from noss_eval.synthetic import write_all
    from noss_eval.table import format_table

    embedders = embedder_specs(args)
    if len(embedders) > 1:
        raise NossError("--demo scores one --embedder; drop the others")
    spec, options = embedders[0] if embedders else ("dsp", {})
    args.leaderboard = args.leaderboard or Path("noss-eval-demo.csv")
    _check_report(args)
    with tempfile.TemporaryDirectory(prefix="noss-eval-demo-") as tmp:
        data_dir = args.data_dir or Path(tmp) / "data"
        args.cache_dir = args.cache_dir or Path(tmp) / "cache"
        log.info("demo: writing SYNTHETIC audio in the eight official layouts under %s", data_dir)
        write_all(data_dir, seed=args.seed)
        config = _config(
            args, spec, data_dir, embedder_options=options, data_label="synthetic-demo"
        )
        # Deltas against published numbers mean nothing on generated tones.
        if config.reference is None:
            config = replace(config, published_reference=None)
        rows = run(config)
    print(format_table(rows, note="delta vs TRILL: not applicable to synthetic data"))
    print(f"leaderboard: {args.leaderboard}")
    _write_report(args)
    print(
        "NOTE: the demo data is synthetic (generated tones, not speech); these numbers only show "
        "that the pipeline works and say nothing about real NOSS performance."
    )
    return 0
