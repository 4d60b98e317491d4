"""The evaluation itself: `noss-eval --embedder SPEC ...` (each embedder scored in turn), `--demo`
(generated audio), `--list-tasks` and `--list-embedders`."""

from __future__ import annotations

import argparse
import logging
import tempfile
from dataclasses import replace
from pathlib import Path

from noss_eval.cli.evaluate_args import run_config
from noss_eval.embedder_args import embedder_specs
from noss_eval.errors import NossError

log = logging.getLogger("noss_eval")


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
    base = run_config(args, embedders[0][0], args.data_dir, embedder_options=embedders[0][1])
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
    from noss_eval.synthetic import DEMO_OVERLAP, DEMO_SOURCE, write_all
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
        write_all(data_dir, seed=args.seed, overlap=DEMO_OVERLAP)
        config = run_config(
            args, spec, data_dir, embedder_options=options, data_label=DEMO_SOURCE
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
