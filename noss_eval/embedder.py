"""The embedder interface and the registry that turns an `--embedder` string into an embedder.

An embedder maps a float32 mono waveform at its own `sample_rate` to `[frames, dim]` float32.
Kinds (`tflite`, `onnx`, `hear`, `savedmodel`, `dsp`, plus plug-ins) are factories; presets are
data: a dict with a `kind` and that kind's keyword arguments. Third-party packages add either
through the `noss_eval.embedders` entry-point group: a callable registers a kind, a dict registers
a preset.
"""

from __future__ import annotations

import hashlib
import inspect
import json
import math
import re
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from importlib import metadata, resources
from pathlib import Path
from typing import Any, Protocol, runtime_checkable

import numpy as np
import yaml

from noss_eval.errors import NossError, brief_repr

ENTRY_POINT_GROUP = "noss_eval.embedders"
MODEL_FILE_KINDS = {".tflite": "tflite", ".onnx": "onnx"}  # file suffix -> kind


@runtime_checkable
class Embedder(Protocol):
    name: str
    sample_rate: int
    model_sha256: str  # content hash of the weights (or of the settings, for model-free kinds)
    settings: dict[str, Any]  # everything besides the weights that changes the output

    def embed(self, waveform: np.ndarray) -> np.ndarray:
        """`[frames, dim]` float32 embeddings of a 1-D float32 waveform at `sample_rate`."""
        ...


def fingerprint(embedder: Embedder) -> str:
    """Identity of an embedder's outputs: weights hash plus every setting. Used as cache key."""
    blob = json.dumps(
        {"sha256": embedder.model_sha256, "rate": embedder.sample_rate, **embedder.settings},
        sort_keys=True,
        default=str,
    )
    return hashlib.sha256(blob.encode()).hexdigest()


def sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def sha256_tree(root: Path) -> str:
    """Hash of every file's relative path and bytes below `root` (a SavedModel directory)."""
    digest = hashlib.sha256()
    for path in sorted(p for p in root.rglob("*") if p.is_file()):
        digest.update(path.relative_to(root).as_posix().encode() + b"\0")
        digest.update(sha256_file(path).encode())
    return digest.hexdigest()


def builtin_kinds() -> dict[str, Callable[..., Embedder]]:
    from noss_eval.embedders.dsp import DspEmbedder
    from noss_eval.embedders.hear import HearEmbedder
    from noss_eval.embedders.onnx import OnnxEmbedder
    from noss_eval.embedders.savedmodel import SavedModelEmbedder
    from noss_eval.embedders.tflite import TFLiteEmbedder

    return {
        "tflite": TFLiteEmbedder,
        "onnx": OnnxEmbedder,
        "hear": HearEmbedder,
        "savedmodel": SavedModelEmbedder,
        "dsp": DspEmbedder,
    }


def builtin_presets() -> dict[str, dict[str, Any]]:
    text = resources.files("noss_eval.embedders").joinpath("presets.yaml").read_text()
    return yaml.safe_load(text)


def _plugins() -> tuple[dict[str, Callable[..., Embedder]], dict[str, dict[str, Any]]]:
    kinds: dict[str, Callable[..., Embedder]] = {}
    presets: dict[str, dict[str, Any]] = {}
    for entry in metadata.entry_points(group=ENTRY_POINT_GROUP):
        try:
            obj = entry.load()
        except Exception as exc:  # a broken plug-in must not hide the built-ins
            raise NossError(
                f"embedder plug-in '{entry.name}' ({entry.value}) failed: {exc}"
            ) from exc
        if isinstance(obj, Mapping):
            presets[entry.name] = dict(obj)
        elif callable(obj):
            kinds[entry.name] = obj
        else:
            raise NossError(
                f"embedder plug-in '{entry.name}' is neither a factory nor a preset dict"
            )
    return kinds, presets


def registry() -> tuple[dict[str, Callable[..., Embedder]], dict[str, dict[str, Any]]]:
    """All kinds and presets: built-ins first, plug-ins may add but not shadow them."""
    kinds, presets = builtin_kinds(), builtin_presets()
    plugin_kinds, plugin_presets = _plugins()
    kinds.update({k: v for k, v in plugin_kinds.items() if k not in kinds})
    presets.update({k: v for k, v in plugin_presets.items() if k not in presets})
    return kinds, presets


def is_hub_handle(spec: str) -> bool:
    return spec.startswith(("http://", "https://", "gs://"))


@contextmanager
def named_as(option: str) -> Iterator[None]:
    """Errors raised in the block name `option` (--reference, --teacher) and its -option flag
    where they say --embedder and --embedder-option: the flag the user gave."""
    try:
        yield
    except NossError as exc:
        renamed = re.sub(r"--embedder\b", option, str(exc))
        if renamed == str(exc):
            raise
        raise NossError(renamed) from None


def resolve_embedder(
    spec: str, options: Mapping[str, Any] | None = None, option: str = "--embedder"
) -> Embedder:
    """Build the embedder that `spec` names: a preset or kind name, a `.tflite` or `.onnx` file,
    `hear:<module>[:<weights>]`, a SavedModel directory, or a TF Hub handle. `options` override
    the kind's arguments. `option` is the flag that gave `spec`: errors name it."""
    with named_as(option):
        return _resolve(spec, options)


def _resolve(spec: str, options: Mapping[str, Any] | None) -> Embedder:
    options = dict(options or {})
    kinds, presets = registry()
    if spec in presets:
        preset = dict(presets[spec])
        kind = preset.pop("kind")
        preset.pop("about", None)
        return _build(kinds, kind, {"name": spec, **preset, **options})
    if spec in kinds:
        return _build(kinds, spec, {"name": spec, **options})
    if is_hub_handle(spec):
        return _build(kinds, "savedmodel", {"location": spec, **options})
    if spec.startswith("hear:"):
        module, _, weights = spec[len("hear:") :].partition(":")
        if not module:
            raise NossError("--embedder: hear: needs a module, as in hear:my_hear_model[:weights]")
        return _build(kinds, "hear", {"module": module, "weights": weights or None, **options})
    path = Path(spec).expanduser()
    if path.suffix in MODEL_FILE_KINDS:
        if not path.is_file():
            raise NossError(f"--embedder: no such file: {path}")
        return _build(kinds, MODEL_FILE_KINDS[path.suffix], {"path": path, **options})
    if path.is_dir():
        if not (path / "saved_model.pb").is_file():
            raise NossError(
                f"--embedder: {path} is a directory but not a SavedModel (no saved_model.pb)"
            )
        return _build(kinds, "savedmodel", {"location": str(path), **options})
    if path.exists():
        raise NossError(
            f"--embedder: {path} is neither a .tflite file nor a SavedModel directory "
            "(nor an .onnx file)"
        )
    names = ", ".join(sorted(presets) + sorted(kinds))
    raise NossError(
        f"--embedder: unknown embedder '{spec}'; give one of [{names}], "
        "a .tflite or .onnx file, hear:<module>, a SavedModel directory or a TF Hub handle"
    )


def _build(kinds: Mapping[str, Callable[..., Embedder]], kind: str, kwargs: dict) -> Embedder:
    if kind not in kinds:
        raise NossError(f"embedder kind '{kind}' is not registered (known: {', '.join(kinds)})")
    check_options(kwargs)
    unknown = _unaccepted(kinds[kind], kwargs)
    if unknown:
        raise NossError(
            f"--embedder-option {unknown[0]}: bad option for kind '{kind}', which takes "
            f"{', '.join(_accepted(kinds[kind])) or 'none'}"
        )
    try:
        embedder = kinds[kind](**kwargs)
    except TypeError as exc:
        raise NossError(f"--embedder-option: bad option for kind '{kind}': {exc}") from None
    if not isinstance(embedder, Embedder):
        raise NossError(
            f"embedder kind '{kind}' returned {type(embedder).__name__}, not an Embedder"
        )
    return embedder


def _number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)


def _whole(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


# option -> (is the value valid, what it must be); checked whatever the kind, before it is built
OPTION_RULES: dict[str, tuple[Callable[[Any], bool], str]] = {
    "sample_rate": (
        lambda v: _whole(v) and 1000 <= v <= 384_000,
        "a whole number of Hz between 1000 and 384000",
    ),
    "hop": (lambda v: _number(v) and 0 < v <= 1, "a fraction of the window in (0, 1]"),
    "min_seconds": (lambda v: _number(v) and 0 <= v <= 600, "a number of seconds in [0, 600]"),
    "threads": (lambda v: v is None or (_whole(v) and v >= 1), "a whole number of at least 1"),
    "input_gain": (lambda v: _number(v) and v != 0, "a finite number other than 0"),
    "output": (
        lambda v: (isinstance(v, str) and v != "") or (_whole(v) and v >= 0),
        "a tensor name or an index >= 0",
    ),
    "frontend": (lambda v: v is None or isinstance(v, str), "a frontend name (noss-logmel)"),
    "call": (lambda v: isinstance(v, str), "a calling convention's name"),
    "hear": (lambda v: isinstance(v, str), "timestamp or scene"),
}


def check_options(options: Mapping[str, Any]) -> None:
    """Each known option's type and range, so that a bad value is named before the embedder is
    built (`sample_rate=0`, `hop=banana`, `min_seconds=-1`)."""
    for key, value in options.items():
        if key in OPTION_RULES and not OPTION_RULES[key][0](value):
            raise NossError(
                f"--embedder-option {key}: must be {OPTION_RULES[key][1]}, got {brief_repr(value)}"
            )


def _accepted(factory: Callable[..., Any]) -> list[str]:
    try:
        params = inspect.signature(factory).parameters.values()
    except (TypeError, ValueError):
        return []
    return [p.name for p in params if p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY)]


def _unaccepted(factory: Callable[..., Any], kwargs: Mapping[str, Any]) -> list[str]:
    """The options `factory` has no parameter for ([] when it takes **kwargs or cannot be
    inspected)."""
    try:
        params = inspect.signature(factory).parameters.values()
    except (TypeError, ValueError):
        return []
    if any(p.kind == p.VAR_KEYWORD for p in params):
        return []
    return sorted(set(kwargs) - set(_accepted(factory)))


def parse_options(pairs: list[str]) -> dict[str, Any]:
    """`["output=layer19", "threads=2"]` -> `{"output": "layer19", "threads": 2}` (YAML scalars)."""
    options: dict[str, Any] = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key:
            raise NossError(f"--embedder-option: expected KEY=VALUE, got '{pair}'")
        options[key.strip().replace("-", "_")] = yaml.safe_load(value) if value else ""
    return options
