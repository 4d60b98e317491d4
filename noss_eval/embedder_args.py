"""The command line's embedders: each `--embedder SPEC` (or MODEL, or `--embedders-from
MANIFEST`) takes the `--embedder-option`s that follow it, up to the next one.

An option binds to one embedder because options are the embedder's own: `output=NAME` names a
tensor of one model, and applied to every model of a run it would time or score another
output of the others (YAMNet's class scores instead of its embedding)."""

from __future__ import annotations

import argparse
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from noss_eval.errors import NossError


@dataclass
class Entry:
    """One `--embedder SPEC` or MODEL (`manifest` False), or one `--embedders-from MANIFEST`,
    with the options given after it."""

    value: str
    manifest: bool = False
    options: list[str] = field(default_factory=list)


class _AddEmbedders(argparse.Action):
    """Appends entries in command-line order (and the specs to `dest`, as `append` would)."""

    def __call__(self, parser, namespace, values, option_string=None):
        values = values if isinstance(values, list) else [values]
        entries = getattr(namespace, "embedder_entries", None) or []
        manifest = self.dest == "embedders_from"
        entries += [Entry(str(v), manifest) for v in values]
        namespace.embedder_entries = entries
        setattr(namespace, self.dest, [*(getattr(namespace, self.dest, None) or []), *values])


class _BindOption(argparse.Action):
    """Adds the option to the last entry; one given before any entry is kept to be refused."""

    def __call__(self, parser, namespace, values, option_string=None):
        entries = getattr(namespace, "embedder_entries", None)
        if entries:
            entries[-1].options.append(values)
        else:
            namespace.unbound_options = [*(getattr(namespace, "unbound_options", []) or []), values]
        setattr(namespace, self.dest, [*(getattr(namespace, self.dest, None) or []), values])


OPTION_HELP = (
    "an argument of the embedder given just before it, repeatable: output=NAME|INDEX, "
    "threads=N, hop=0.5, input_gain=32768, frontend=noss-logmel, sample_rate=16000, "
    "min_seconds=0.975, call=... (each embedder takes the options that follow it, up to the "
    "next --embedder)"
)


def add_embedder_arguments(parser, positional: bool = False, manifests_help: str = "") -> None:
    """`--embedder` (or MODEL positionals), `--embedders-from` and `--embedder-option` on
    `parser` (a parser or an argument group), bound as this module says."""
    if positional:
        parser.add_argument(
            "models",
            nargs="*",
            metavar="MODEL",
            action=_AddEmbedders,
            help="anything --embedder accepts: .tflite, .onnx, hear:MODULE, SavedModel dir, "
            "preset",
        )
    parser.add_argument(
        "--embedder",
        metavar="SPEC",
        action=_AddEmbedders,
        default=[],
        help="preset, kind, .tflite or .onnx file, hear:MODULE[:WEIGHTS], SavedModel dir or TF "
        "Hub handle; repeatable: each is scored in turn on the same tasks (decoded audio is "
        "shared between them in one process)"
        if not positional
        else "another model, so that options can follow each (MODEL A --embedder-option ... "
        "--embedder B --embedder-option ...)",
    )
    parser.add_argument(
        "--embedders-from",
        metavar="MANIFEST",
        type=Path,
        action=_AddEmbedders,
        default=[],
        help=manifests_help,
    )
    parser.add_argument(
        "--embedder-option",
        metavar="KEY=VALUE",
        action=_BindOption,
        default=[],
        help=OPTION_HELP,
    )


def embedder_specs(args: argparse.Namespace) -> list[tuple[str, dict[str, Any]]]:
    """`(spec, options)` of every embedder in command-line order; a manifest gives each of its
    students, with the options the manifest records over the ones given after it."""
    from noss_eval.distill.manifest import manifest_embedders
    from noss_eval.embedder import parse_options

    unbound = getattr(args, "unbound_options", None)
    if unbound:
        raise NossError(
            f"--embedder-option {unbound[0]}: give it after the --embedder (or MODEL) it is "
            "for; each embedder takes the options that follow it"
        )
    specs: list[tuple[str, dict[str, Any]]] = []
    for entry in getattr(args, "embedder_entries", None) or []:
        options = parse_options(entry.options)
        if entry.manifest:
            specs += [(s, {**options, **own}) for s, own in manifest_embedders(Path(entry.value))]
        else:
            specs.append((entry.value, options))
    return specs
