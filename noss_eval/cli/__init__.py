"""`noss-eval`: the command line. Parses the options, runs the evaluation (no subcommand) or a
subcommand, and turns what stops it into an exit status: 0 done, 2 an error (one line on stderr,
`noss-eval: error: ...`; argparse's usage errors are 2 too), 130 Ctrl-C and 143 SIGTERM (both
unwind, so every embedding computed so far is saved).

The modules, each importing only those before it: `arg_types` (checked numbers),
`evaluate_args` (the evaluation's options and its RunConfig), `evaluation` (the evaluation,
--demo, --list-tasks, --list-embedders), `commands` (the subcommands' parsers and handlers),
`parser` (the whole `noss-eval` parser), and this one (main). Nothing below the CLI imports it."""

from __future__ import annotations

import logging
import os
import sys
from collections.abc import Sequence

from noss_eval.cli.commands import COMMANDS
from noss_eval.cli.evaluation import list_embedders, list_tasks, run_demo, run_eval
from noss_eval.cli.parser import build_parser
from noss_eval.errors import NossError, ResultsNotSaved

__all__ = ["build_parser", "configure_logging", "main"]

log = logging.getLogger("noss_eval")


def configure_logging(level: int) -> None:
    """One stderr handler on the package logger; the root logger is left to the host program."""
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("noss-eval: %(message)s"))
    log.handlers = [handler]
    log.setLevel(level)


def main(argv: Sequence[str] | None = None) -> int:
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    _terminate_as_interrupt()
    argv = list(sys.argv[1:] if argv is None else argv)
    args = build_parser().parse_args(argv)
    if args.subcommand is not None:
        configure_logging(logging.INFO)
        try:
            return COMMANDS[args.subcommand].run(args)
        except NossError as exc:
            print(_error_line(exc), file=sys.stderr)
            return 2
        except KeyboardInterrupt as exc:
            print(f"noss-eval {args.subcommand}: {_stopped(exc)}", file=sys.stderr)
            return _interrupt_status(exc)
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
