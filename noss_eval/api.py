"""The Python API: `noss_eval.evaluate(embedder, tasks)` -> `Results`, in the style of MTEB's
`mteb.evaluate(model, tasks)`. The same run as the command line (`runner.run_results`), with
the embedder given as a spec string, a path, or an object built in this process, and the
results as typed rows (`ProbeResult` plus the run's `RunStamp`).

Errors are `NossError`s that name the argument at fault (`protocol: ...`, `tasks: ...`), never a
command-line flag. See docs/api.md.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import re
from collections.abc import Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from numbers import Integral
from pathlib import Path
from typing import Any, Union, overload

import numpy as np

from noss_eval.errors import NossError
from noss_eval.results import Comparison, Predictions, ProbeResult, RunStamp
from noss_eval.stats import PairedComparison
from noss_eval.task import Task

log = logging.getLogger(__name__)

EmbedderLike = Union[str, "os.PathLike[str]", object]
TaskLike = Union[str, "os.PathLike[str]", Task]
JSON_FORMAT = "noss-eval-results"
JSON_VERSION = 1

# ---------------------------------------------------------------------------------------------
# Errors name the argument, not the flag


FIELDS = {  # the command line's flag -> evaluate()'s argument (or what it is, for task files)
    "--embedder": "embedder",
    "--embedder-option": "embedder_options",
    "--reference": "reference",
    "--reference-option": "reference_options",
    "--tasks": "tasks",
    "--task-file": "task file",
    "--data-dir": "data_dir",
    "--tfds-data-dir": "tfds_data_dir",
    "--source": "source",
    "--protocol": "protocol",
    "--probe-solver": "probe_solver",
    "--seed": "seed",
    "--threads": "threads",
    "--workers": "workers",
    "--runner": "runner",
    "--beam-options": "beam_options",
    "--cache-dir": "cache_dir",
    "--flush-seconds": "flush_seconds",
    "--leaderboard": "leaderboard",
    "--strict": "strict",
}
_OPTION = re.compile(r"(?<![\w-])--(embedder|reference)-option ([A-Za-z_]\w*):")
_FLAG = re.compile(r"(?<![\w-])--[a-z][a-z0-9-]*")


def as_fields(message: str) -> str:
    """`message` with each command-line flag it names replaced by the API argument:
    `--embedder-option hop: ...` -> `embedder_options['hop']: ...`."""
    message = _OPTION.sub(lambda m: f"{m.group(1)}_options[{m.group(2)!r}]:", message)
    return _FLAG.sub(lambda m: FIELDS.get(m.group(0), m.group(0)), message)


@contextmanager
def fields(task_files: str = "") -> Iterator[None]:
    """NossErrors raised in the block name API arguments where they named flags (the same
    exception, its message rewritten: a ResultsNotSaved keeps its rows); a task file's error
    is prefixed with `task_files`, the argument that gave it."""
    try:
        yield
    except NossError as exc:
        text = str(exc)
        renamed = as_fields(text)
        if task_files and renamed.startswith("task file "):
            renamed = f"{task_files}: {renamed}"
        if renamed != text:
            exc.args = (renamed, *exc.args[1:])
        raise


# ---------------------------------------------------------------------------------------------
# Embedders given as Python objects


def _shown(value: Any, limit: int = 60) -> str:
    text = repr(value)
    return text if len(text) <= limit else text[:limit] + "..."


class PythonEmbedder:
    """An object with `name`, `sample_rate` and `embed(waveform) -> [frames, dim]`, as an
    `Embedder` run in this process.

    Its cache identity (`settings`, hence `fingerprint`) is the object's class (module and
    qualified name), its `embed`'s qualified name, its `name`, its optional `version`, its
    sample rate, and the sha256 of what it returns for 2 s of fixed generated audio
    (`probe_output_sha256`). The last makes the key follow the model's behaviour: new weights
    under the same name and version give another output, so another key, and the cache never
    serves the old model's vectors. A model that does not return the same bytes for the same
    audio (random ops, some GPU kernels) gets a new key in each process: its vectors are
    recomputed, never reused (a warning says so). Change `version` when the weights change
    anyway: it is the documented identity, and what the leaderboard shows."""

    kind = "python"

    def __init__(self, obj: object) -> None:
        name = getattr(obj, "name", None)
        if not isinstance(name, str) or not name.strip() or not name.isprintable():
            raise NossError(
                f"embedder: an object of type {type(obj).__name__} needs a `name` (non-empty text; "
                f"got {_shown(name)}): it names the rows and keys the cache"
            )
        embed = getattr(obj, "embed", None)
        if not callable(embed):
            raise NossError(
                f"embedder: {name}: needs a method embed(waveform) -> [frames, dim] "
                "(or give a spec string or path)"
            )
        rate = getattr(obj, "sample_rate", None)
        if not isinstance(rate, Integral) or isinstance(rate, bool) or not 1000 <= rate <= 384000:
            raise NossError(
                f"embedder: {name}: sample_rate must be a whole number of Hz between 1000 and "
                f"384000, got {_shown(rate)}"
            )
        version = getattr(obj, "version", "")
        if not isinstance(version, str | int) or isinstance(version, bool):
            raise NossError(f"embedder: {name}: version must be text or a whole number")
        self.obj = obj
        self.name = name
        self.sample_rate = int(rate)
        cls = type(obj)
        self.calling_convention = f"{cls.__qualname__}.embed(waveform) in this process"
        self.settings: dict[str, Any] = {
            "kind": self.kind,
            "class": f"{cls.__module__}.{cls.__qualname__}",
            "embed": getattr(embed, "__qualname__", type(embed).__qualname__),
            "name": name,
            "version": str(version),
            "probe_output_sha256": self._probe_output_sha256(),
        }
        blob = json.dumps(self.settings, sort_keys=True)
        self.model_sha256 = hashlib.sha256(blob.encode()).hexdigest()

    def embed(self, waveform: np.ndarray) -> np.ndarray:
        return self._embed(waveform)

    def _embed(self, waveform: np.ndarray, where: str = "") -> np.ndarray:
        """The object's `[frames, dim]` as float32; its failure, or any other shape, is a
        one-line NossError naming it (its own exception chained, for its traceback)."""
        try:
            raw = self.obj.embed(waveform)  # type: ignore[attr-defined]
        except NossError:
            raise
        except Exception as exc:
            raise NossError(
                f"embedder: {self.name}: embed failed{where} ({type(exc).__name__}: {exc})"
            ) from exc
        try:
            out = np.asarray(raw, dtype=np.float32)
        except (TypeError, ValueError) as exc:
            raise NossError(
                f"embedder: {self.name}: embed gave a {type(raw).__name__}, not a numeric "
                f"array{where} ({exc})"
            ) from exc
        if out.ndim != 2 or 0 in out.shape:
            raise NossError(
                f"embedder: {self.name}: embed gave shape {list(out.shape)}{where}; it must "
                "return [frames, dim] (one vector per clip: [1, dim])"
            )
        return out

    def _probe_output_sha256(self) -> str:
        from noss_eval.check import no_exit, probe_audio
        from noss_eval.threads import numeric_threads

        audio, where = probe_audio(self.sample_rate), " on 2 s of generated audio"
        with numeric_threads(1), no_exit(self.name):  # the run's BLAS threads: the same bits
            first = self._embed(audio.copy(), where)
            second = self._embed(audio.copy(), where)
        if not np.all(np.isfinite(first)):
            raise NossError(
                f"embedder: {self.name}: embed gave NaN or infinite values on 2 s of generated "
                "audio"
            )
        if first.shape != second.shape or first.tobytes() != second.tobytes():
            log.warning(
                "%s: embed gives different outputs for the same audio; its cached vectors "
                "will not be reused by a later run (its cache key changes each time)",
                self.name,
            )
        digest = hashlib.sha256(str(first.shape).encode())
        digest.update(np.ascontiguousarray(first, dtype="<f4").tobytes())
        return digest.hexdigest()


def _is_embedder(obj: object) -> bool:
    """An object that carries its own identity, as the registered kinds do."""
    if not all(hasattr(obj, a) for a in ("name", "sample_rate", "model_sha256")):
        return False
    return callable(getattr(obj, "embed", None)) and isinstance(
        getattr(obj, "settings", None), Mapping
    )


def _embedder(embedder: EmbedderLike, options: Mapping[str, Any] | None) -> tuple[str, Any]:
    """(the spec the run records, the object to score or None to build the spec)."""
    if isinstance(embedder, str | os.PathLike):
        spec = os.fspath(embedder)
        if not isinstance(spec, str) or not spec:
            raise NossError(f"embedder: {_shown(embedder)} is not a spec or a path")
        return spec, None
    if options:
        raise NossError(
            "embedder_options: only for an embedder given as a spec or path; an object takes "
            "none (set them on the object)"
        )
    obj = embedder if _is_embedder(embedder) else PythonEmbedder(embedder)
    cls = type(embedder)
    return f"python:{cls.__module__}.{cls.__qualname__}:{obj.name}", obj


# ---------------------------------------------------------------------------------------------
# Tasks


def _looks_like_path(text: str) -> bool:
    return text.endswith((".yaml", ".yml")) or os.sep in text or Path(text).is_file()


def _task(item: TaskLike, field: str) -> Task:
    from noss_eval.custom_task import load_task_file
    from noss_eval.tasks import BUILTIN_TASKS

    if isinstance(item, Task):
        return item
    if isinstance(item, str) and item in BUILTIN_TASKS:
        return BUILTIN_TASKS[item]
    if isinstance(item, os.PathLike) or (isinstance(item, str) and _looks_like_path(item)):
        path = Path(os.fspath(item)).expanduser()
        if not path.is_file():
            raise NossError(f"{field}: no such task file: {path}")
        return load_task_file(path)
    if isinstance(item, str):
        raise NossError(
            f"{field}: unknown task {_shown(item)}; give one of {', '.join(BUILTIN_TASKS)}, "
            "the path of a task YAML file, or a Task"
        )
    raise NossError(
        f"{field}: {_shown(item)} ({type(item).__name__}) is not a task name, a task file path "
        "or a Task"
    )


def load_task(path_or_name: str | os.PathLike[str]) -> Task:
    """The built-in task of that name, or the custom task a YAML file describes (README:
    custom tasks)."""
    with fields():
        return _task(path_or_name, "path_or_name")


def _tasks(
    tasks: TaskLike | Iterable[TaskLike] | None,
) -> tuple[tuple[str, ...], dict[str, Task]]:
    """(the task names to run, the registry holding them); () for the default tasks."""
    from noss_eval.tasks import BUILTIN_TASKS

    registry = dict(BUILTIN_TASKS)
    if tasks is None:
        return (), registry
    one = isinstance(tasks, str | os.PathLike | Task) or not isinstance(tasks, Iterable)
    items = [tasks] if one else list(tasks)  # one of anything else: refused by _task
    if not items:
        raise NossError("tasks: empty; give task names, task file paths or Tasks (None: all)")
    names: list[str] = []
    for item in items:
        task = _task(item, "tasks")
        if task.name in names:
            raise NossError(f"tasks: '{task.name}' is given twice; give each task once")
        if task.name in BUILTIN_TASKS and BUILTIN_TASKS[task.name] is not task:
            raise NossError(
                f"tasks: a Task named '{task.name}' that is not the built-in one; give it "
                "another name"
            )
        registry[task.name] = task
        names.append(task.name)
    return tuple(names), registry


# ---------------------------------------------------------------------------------------------
# Results


@dataclass(frozen=True, eq=False)
class ResultRow:
    """One leaderboard row, typed: a probe's `ProbeResult` on one task and the `RunStamp` of
    the run that made it. Scores are fractions, as in `ProbeResult` (the CSV has percent);
    `delta` is in points."""

    result: ProbeResult
    stamp: RunStamp

    embedder = property(lambda self: self.result.embedder)
    task = property(lambda self: self.result.task)
    probe = property(lambda self: self.result.probe)
    protocol = property(lambda self: self.result.protocol)
    config = property(lambda self: self.result.config)
    headline_metric = property(lambda self: self.result.headline_metric)
    headline_score = property(lambda self: self.result.headline_score)
    headline_ci = property(lambda self: self.result.headline_ci)
    metrics = property(lambda self: self.result.metrics)
    n_test = property(lambda self: self.result.n_test)
    chance = property(lambda self: self.result.chance)
    at_chance = property(lambda self: self.result.at_chance)
    comparison = property(lambda self: self.result.comparison)
    delta = property(lambda self: self.result.delta)
    run_id = property(lambda self: self.stamp.run_id)
    seed = property(lambda self: self.stamp.seed)

    def to_row(self) -> dict[str, Any]:
        """The leaderboard CSV's row (`leaderboard.to_row`)."""
        from noss_eval.leaderboard import to_row

        return to_row(self.result, self.stamp)

    def to_dict(self) -> dict[str, Any]:
        """Every field, JSON-ready (what `Results.to_json` writes per row)."""
        return {"stamp": asdict(self.stamp), "result": _plain_result(self.result)}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> ResultRow:
        return cls(_probe_result(data["result"]), RunStamp(**data["stamp"]))

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, ResultRow):
            return NotImplemented
        return _canonical(self.to_dict()) == _canonical(other.to_dict())

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        score = f"{self.headline_metric} {100 * self.headline_score:.2f} %"
        return f"<ResultRow: {self.embedder}, {self.task}, {self.probe}, {score}>"


def _array(values: np.ndarray) -> dict[str, Any]:
    return {"dtype": values.dtype.str, "values": values.tolist()}


def _from_array(data: Mapping[str, Any]) -> np.ndarray:
    return np.asarray(data["values"], dtype=np.dtype(data["dtype"]))


def _plain_result(r: ProbeResult) -> dict[str, Any]:
    out = {k: getattr(r, k) for k in r.__dataclass_fields__ if k != "predictions"}
    out["metrics"] = dict(r.metrics)
    out["headline_ci"] = list(r.headline_ci)
    out["comparison"] = None if r.comparison is None else asdict(r.comparison)
    out["predictions"] = {
        "clip_ids": list(r.predictions.clip_ids),
        "y_true": _array(r.predictions.y_true),
        "y_pred": _array(r.predictions.y_pred),
    }
    return out


def _probe_result(data: Mapping[str, Any]) -> ProbeResult:
    d = dict(data)
    p = d.pop("predictions")
    c = d.pop("comparison")
    comparison = None
    if c is not None:
        paired = c.get("paired")
        paired = None if paired is None else PairedComparison(**paired)
        comparison = Comparison(**{**c, "paired": paired})
    predictions = Predictions(
        tuple(p["clip_ids"]), _from_array(p["y_true"]), _from_array(p["y_pred"])
    )
    d["headline_ci"] = tuple(d["headline_ci"])
    d["metrics"] = dict(d["metrics"])
    return ProbeResult(**d, predictions=predictions, comparison=comparison)


def _number(value: Any) -> Any:
    """numpy scalars as Python numbers, for JSON."""
    if isinstance(value, np.generic):
        return value.item()
    raise TypeError(f"{type(value).__name__} is not JSON serializable")


def _canonical(data: Any) -> str:
    return json.dumps(data, sort_keys=True, default=_number)


class Results(Sequence[ResultRow]):
    """What `evaluate` returns: the run's rows (`ResultRow`: `ProbeResult` + `RunStamp`), in
    the order the command line prints them. A sequence (index, slice, iterate, `+`); `str()`
    is the console table; `to_rows`, `to_csv`, `to_frame`, `to_json` / `from_json`."""

    def __init__(self, rows: Iterable[ResultRow] = ()) -> None:
        self._rows = tuple(rows)
        bad = next((r for r in self._rows if not isinstance(r, ResultRow)), None)
        if bad is not None:
            raise TypeError(f"Results holds ResultRow items, not {type(bad).__name__}")

    @overload
    def __getitem__(self, index: int) -> ResultRow: ...

    @overload
    def __getitem__(self, index: slice) -> Results: ...

    def __getitem__(self, index: int | slice) -> ResultRow | Results:
        if isinstance(index, slice):
            return Results(self._rows[index])
        return self._rows[index]

    def __len__(self) -> int:
        return len(self._rows)

    def __add__(self, other: Results) -> Results:
        if not isinstance(other, Results):
            return NotImplemented
        return Results(self._rows + other._rows)

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Results):
            return NotImplemented
        return self.to_json() == other.to_json()

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        tasks = len({r.task for r in self})
        embedders = ", ".join(dict.fromkeys(r.embedder for r in self))
        return f"<Results: {len(self)} rows, {tasks} tasks, embedder {embedders or '-'}>"

    def __str__(self) -> str:
        from noss_eval.table import format_table

        return format_table(self.to_rows()) if self._rows else "(no results)"

    def to_rows(self) -> list[dict[str, Any]]:
        """The leaderboard CSV's rows (`leaderboard.to_row`): scores in percent."""
        return [r.to_row() for r in self._rows]

    def to_csv(self, path: str | os.PathLike[str]) -> Path:
        """Write the rows to `path` (replaced) as the leaderboard CSV, the same columns and
        cells `leaderboard=` gives; returns the path. (`leaderboard=` in `evaluate` merges
        into a leaderboard and records the run; this only writes these rows.)"""
        from noss_eval.leaderboard import write_leaderboard

        target = Path(os.fspath(path)).expanduser()
        try:
            write_leaderboard(target, self.to_rows())
        except OSError as exc:
            raise NossError(f"to_csv: cannot write {target} ({exc.strerror or exc})") from None
        return target

    def to_frame(self) -> Any:
        """The rows as a pandas DataFrame, the CSV's columns in its order (needs pandas, which
        noss-eval does not install)."""
        try:
            import pandas as pd
        except ImportError:
            raise ImportError(
                "Results.to_frame() needs pandas, which noss-eval does not install: "
                "pip install pandas (or use to_rows(), to_csv() or to_json())"
            ) from None
        from noss_eval.leaderboard import COLUMNS

        rows = self.to_rows()
        extra = sorted({k for r in rows for k in r} - set(COLUMNS))
        return pd.DataFrame(rows, columns=[*COLUMNS, *extra])

    def to_json(self, path: str | os.PathLike[str] | None = None, indent: int | None = None) -> str:
        """Every row with every field (predictions, comparison, stamp): `from_json` gives back
        an equal `Results`. Written to `path` too when given."""
        payload = {
            "format": JSON_FORMAT,
            "version": JSON_VERSION,
            "rows": [r.to_dict() for r in self._rows],
        }
        text = json.dumps(payload, sort_keys=True, indent=indent, default=_number)
        if path is not None:
            from noss_eval.atomic import atomic_write_text

            target = Path(os.fspath(path)).expanduser()
            try:
                atomic_write_text(target, text)
            except OSError as exc:
                raise NossError(f"to_json: cannot write {target} ({exc.strerror or exc})") from None
        return text

    @classmethod
    def from_json(cls, source: str | os.PathLike[str]) -> Results:
        """`Results` from `to_json`'s text, or from the file at a `pathlib.Path`."""
        where = "from_json"
        if isinstance(source, os.PathLike):
            where = f"from_json: {os.fspath(source)}"
            try:
                source = Path(os.fspath(source)).read_text(encoding="utf-8")
            except (OSError, UnicodeDecodeError) as exc:
                raise NossError(f"{where}: cannot read ({exc})") from None
        try:
            data = json.loads(source)
        except ValueError as exc:
            raise NossError(
                f"{where}: not JSON ({exc}); give to_json()'s text, or a pathlib.Path to read"
            ) from None
        if not isinstance(data, dict) or data.get("format") != JSON_FORMAT:
            raise NossError(f"{where}: not noss-eval results (no format '{JSON_FORMAT}')")
        if data.get("version") != JSON_VERSION:
            raise NossError(
                f"{where}: results format version {_shown(data.get('version'))}; this "
                f"noss-eval reads version {JSON_VERSION}"
            )
        try:
            return cls(ResultRow.from_dict(r) for r in data["rows"])
        except (KeyError, TypeError, ValueError, AttributeError) as exc:
            raise NossError(f"{where}: a malformed row ({type(exc).__name__}: {exc})") from None


# ---------------------------------------------------------------------------------------------
# evaluate


def _path(value: str | os.PathLike[str] | None) -> Path | None:
    return None if value is None else Path(os.fspath(value)).expanduser()


SOLVERS = ("auto", "lbfgs", "adam")


def _check(
    seed: Any,
    probe_solver: str,
    data_dir: Path | None,
    source: str,
    tfds_data_dir: Path | None,
    needs_dir: bool,
) -> None:
    from noss_eval.sources import SOURCES

    if not isinstance(seed, Integral) or isinstance(seed, bool) or not 0 <= seed < 2**32:
        raise NossError(f"seed: must be a whole number from 0 to 2**32 - 1, got {_shown(seed)}")
    if probe_solver not in SOLVERS:
        raise NossError(f"probe_solver: {_shown(probe_solver)} is not one of {', '.join(SOLVERS)}")
    if source not in SOURCES:
        raise NossError(f"source: {_shown(source)} is not one of {', '.join(SOURCES)}")
    if data_dir is not None and not data_dir.is_dir():
        raise NossError(f"data_dir: no such directory: {data_dir}")
    if source == "tfds" and (tfds_data_dir is None or not tfds_data_dir.is_dir()):
        raise NossError(f"tfds_data_dir: no such directory: {tfds_data_dir}")
    if source == "layout" and data_dir is None and needs_dir:
        raise NossError(
            "data_dir: required for built-in tasks: the folder holding one sub-folder per "
            "dataset (see `noss-eval --list-tasks`)"
        )


def evaluate(
    embedder: EmbedderLike,
    tasks: TaskLike | Iterable[TaskLike] | None = None,
    *,
    data_dir: str | os.PathLike[str] | None = None,
    protocol: str = "noss-eval",
    reference: str | os.PathLike[str] | None = None,
    published_reference: str | None = "trill-published",
    cache_dir: str | os.PathLike[str] | None = None,
    leaderboard: str | os.PathLike[str] | None = None,
    seed: int = 0,
    progress: bool = False,
    embedder_options: Mapping[str, Any] | None = None,
    reference_options: Mapping[str, Any] | None = None,
    probe_solver: str = "auto",
    strict: bool = False,
    threads: int | None = None,
    workers: int = 1,
    runner: str = "local",
    beam_options: Sequence[str] = (),
    source: str = "layout",
    tfds_data_dir: str | os.PathLike[str] | None = None,
    data_label: str = "",
) -> Results:
    """Score `embedder` on `tasks` as `noss-eval --embedder ...` does; the rows as `Results`.

    embedder: a spec string (`"dsp"`, a preset, `"hear:module"`, a TF Hub handle), a path (str
        or `pathlib.Path`) to a .tflite / .onnx file or a SavedModel folder, or an object with
        `name`, `sample_rate` and `embed(waveform) -> [frames, dim]`, run in this process
        (`PythonEmbedder` says how its cache key is made; workers=1 and runner='local' only).
    tasks: built-in task names, paths of custom task YAML files, `Task`s (`load_task`), or
        one of them; None: the default built-in tasks found under `data_dir`.
    reference: an embedder spec or path measured in the same run (paired deltas), or a
        published table's name (`trill-published`, `frill-published`); `published_reference`:
        the published table compared with otherwise (None: none).
    leaderboard: a CSV to merge the rows into (and its `.runs.jsonl` record), as the CLI's.
    Every other argument is the command line's flag of the same name (`noss-eval --help`).
    """
    from noss_eval.references import published_names
    from noss_eval.runner import DEFAULT_CACHE, RunConfig, run_results

    with fields(task_files="tasks"):
        spec, obj = _embedder(embedder, embedder_options)
        names, registry = _tasks(tasks)
        selected = [registry[n] for n in names] or [t for t in registry.values() if t.default]
        data = _path(data_dir)
        tfds = _path(tfds_data_dir)
        _check(seed, probe_solver, data, source, tfds, any(t.root is None for t in selected))
        if obj is not None and (workers != 1 or runner != "local"):
            what = "workers" if workers != 1 else "runner"
            raise NossError(
                f"{what}: an embedder object runs in this process only; use workers=1 and "
                "runner='local', or give a spec string or path"
            )
        if isinstance(reference, str) and reference in published_names():
            reference, published_reference = None, reference
        elif reference is not None and not isinstance(reference, str | os.PathLike):
            raise NossError(
                "reference: give a spec string or path (or a published table's name); an "
                "embedder object cannot be a reference"
            )
        if published_reference is not None and published_reference not in published_names():
            raise NossError(
                f"published_reference: {_shown(published_reference)} is not one of "
                f"{', '.join(published_names())} (None: no published comparison)"
            )
        config = RunConfig(
            embedder=spec,
            data_dir=data,
            embedder_options=dict(embedder_options or {}),
            tasks=names,
            cache_dir=_path(cache_dir) or DEFAULT_CACHE,
            leaderboard=_path(leaderboard),
            reference=None if reference is None else os.fspath(reference),
            published_reference=published_reference,
            reference_options=dict(reference_options or {}),
            seed=int(seed),
            strict=strict,
            progress=progress,
            protocol=protocol,
            probe_solver=probe_solver,
            runner=runner,
            workers=workers,
            beam_options=tuple(beam_options),
            source=source,
            tfds_data_dir=tfds,
            data_label=data_label,
            threads=threads,
        )
        results, stamp = run_results(config, registry, embedder=obj)
    return Results(ResultRow(r, stamp) for r in results)
