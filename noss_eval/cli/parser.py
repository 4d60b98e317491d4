"""The `noss-eval` parser: the evaluation's options at the top level and the subcommands beside
them. Without a subcommand it is the evaluation (`noss-eval --embedder SPEC --data-dir DIR`,
`--demo`, `--list-tasks`); the first positional word is a subcommand, and the words after it are
parsed by that subcommand's own parser (see `Subcommands`)."""

from __future__ import annotations

import argparse

from noss_eval.cli.commands import COMMANDS
from noss_eval.cli.evaluate_args import evaluation_parser


class Subcommands(argparse._SubParsersAction):
    """The subcommand word and everything after it. An option of the evaluation given before the
    word is refused (a subcommand would silently ignore it); the rest is parsed by the
    subcommand's own parser, built now, so its usage errors are its own, as `noss-eval COMMAND
    --help` shows them (argparse's default would report unknown options with the top-level
    usage). The parsers registered with `add_parser` only name and describe the subcommands in
    `noss-eval --help`."""

    def __call__(self, parser, namespace, values, option_string=None):
        name, *rest = values
        given = evaluation_options_given(parser, namespace)
        if given:
            what = "options" if len(given) > 1 else "an option"
            parser.error(
                f"{', '.join(given)}: {what} of the evaluation (noss-eval without a subcommand), "
                f"not of `noss-eval {name}`; give {name}'s own options after its name "
                f"(noss-eval {name} --help)"
            )
        setattr(namespace, self.dest, name)
        for key, value in vars(COMMANDS[name].parser().parse_args(rest)).items():
            setattr(namespace, key, value)


def evaluation_options_given(
    parser: argparse.ArgumentParser, namespace: argparse.Namespace
) -> list[str]:
    """The evaluation's options parsed so far with a value other than their default."""
    return [
        action.option_strings[-1]
        for action in parser._actions
        if action.option_strings
        and action.dest != argparse.SUPPRESS
        and getattr(namespace, action.dest, action.default) != action.default
    ]


def build_parser() -> argparse.ArgumentParser:
    """`noss-eval`'s parser; `subcommand` is None for the evaluation, else the subcommand's name,
    with that subcommand's options beside it."""
    parser = evaluation_parser()
    commands = parser.add_subparsers(
        title="subcommands (each with its own options and --help)",
        dest="subcommand",
        required=False,
        action=Subcommands,
        prog=parser.prog,
    )
    for command in COMMANDS.values():
        commands.add_parser(command.name, help=command.summary, add_help=False)
    return parser
