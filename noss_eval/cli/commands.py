"""The subcommands other than the evaluation: `check`, `latency`, `frontier`, `report`,
`download` and `distill` (whose parser and handler live in `noss_eval.distill.cli`). Each has a
parser of its own (its prog, usage, --help and errors) and a handler taking the parsed options
and returning the exit status; COMMANDS lists them, in the order `noss-eval --help` shows."""

from __future__ import annotations

import argparse
import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from noss_eval.cli.arg_types import positive
from noss_eval.embedder_args import add_embedder_arguments, embedder_specs
from noss_eval.errors import NossError
from noss_eval.probes import BEST, FAMILIES, PROTOCOLS


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
    from noss_eval.check import check_embedder
    from noss_eval.embedder import fingerprint, parse_options, resolve_embedder
    from noss_eval.errors import no_exit

    with no_exit(args.model):
        embedder = resolve_embedder(args.model, parse_options(args.embedder_option))
    waveform = load_audio(args.audio, embedder.sample_rate) if args.audio else None
    report = check_embedder(embedder, waveform, str(args.audio or "generated audio"))
    print(report.describe())
    print(f"fingerprint: {fingerprint(embedder)[:16]}  settings: {embedder.settings}")
    return 0


def latency_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="noss-eval latency",
        description="Time each embedder on one 0.96 s window (median and p90 after warm-up, with "
        "1 thread and with every core, each in a fresh process); report file size "
        "and parameter count; optionally merge them into a leaderboard CSV.",
    )
    add_embedder_arguments(
        p,
        positional=True,
        manifests_help="also time every student of a `noss-eval distill` manifest.csv; repeatable",
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
        choices=(BEST, *FAMILIES),
        default="best",
        help="which probe's deltas to plot (default: the best probe of each task)",
    )
    p.add_argument("--protocol", choices=tuple(PROTOCOLS), default="noss-eval")
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
        choices=(BEST, *FAMILIES),
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
        type=positive,
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


def distill_parser() -> argparse.ArgumentParser:
    from noss_eval.distill.cli import distill_parser

    return distill_parser()


def run_distill(args: argparse.Namespace) -> int:
    from noss_eval.distill.cli import run_distill

    return run_distill(args)


@dataclass(frozen=True)
class Command:
    """One subcommand: `summary` is its line in `noss-eval --help`; `parser` builds its parser
    (only when it is named, so `noss-eval` alone imports none of their modules)."""

    name: str
    summary: str
    parser: Callable[[], argparse.ArgumentParser]
    run: Callable[[argparse.Namespace], int]


COMMANDS = {
    c.name: c
    for c in (
        Command(
            "check",
            "load a model, show its inputs and outputs, embed 2 s of audio: dim, finite, time",
            check_parser,
            run_check,
        ),
        Command(
            "latency",
            "ms per 0.96 s window, size and parameters of each model, onto a leaderboard",
            latency_parser,
            run_latency,
        ),
        Command(
            "frontier",
            "plot quality vs latency of a leaderboard with its Pareto frontier",
            frontier_parser,
            run_frontier,
        ),
        Command(
            "report",
            "write a leaderboard as one self-contained HTML page",
            report_parser,
            run_report,
        ),
        Command(
            "download",
            "fetch the open NOSS datasets into --data-dir (how to get the others)",
            download_parser,
            run_download,
        ),
        Command(
            "distill",
            "distil a teacher into small MobileNetV3 students exported to TFLite",
            distill_parser,
            run_distill,
        ),
    )
}
