"""The Python API: `noss_eval.evaluate(embedder, tasks)` -> `Results`, in the style of MTEB's
`mteb.evaluate(model, tasks)`. The same run as the command line (`runner.run_results`), with
the embedder given as a spec string, a path, or an object built in this process
(`PythonEmbedder`), and the results as typed rows (`Results` of `ResultRow`s: `ProbeResult`
plus the run's `RunStamp`).

Here: `evaluate`, `load_task`, and how their arguments are resolved and checked. Errors are
`NossError`s that name the argument at fault (`protocol: ...`, `tasks: ...`), never a
command-line flag. See docs/api.md.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from numbers import Integral
from pathlib import Path
from typing import Any, Union

from noss_eval.errors import NossError, brief_repr
from noss_eval.probes import SOLVERS
from noss_eval.python_embedder import PythonEmbedder
from noss_eval.result_set import ResultRow, Results
from noss_eval.task import Task

__all__ = [  # PythonEmbedder, ResultRow and Results live in their own modules: re-exported
    "EmbedderLike",
    "PythonEmbedder",
    "ResultRow",
    "Results",
    "TaskLike",
    "as_fields",
    "evaluate",
    "fields",
    "load_task",
]

EmbedderLike = Union[str, "os.PathLike[str]", object]
TaskLike = Union[str, "os.PathLike[str]", Task]

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
# The embedder: a spec, a path or an object


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
            raise NossError(f"embedder: {brief_repr(embedder)} is not a spec or a path")
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
            f"{field}: unknown task {brief_repr(item)}; give one of {', '.join(BUILTIN_TASKS)}, "
            "the path of a task YAML file, or a Task"
        )
    raise NossError(
        f"{field}: {brief_repr(item)} ({type(item).__name__}) is not a task name, a task file path "
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
# evaluate


def _path(value: str | os.PathLike[str] | None) -> Path | None:
    return None if value is None else Path(os.fspath(value)).expanduser()




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
        raise NossError(f"seed: must be a whole number from 0 to 2**32 - 1, got {brief_repr(seed)}")
    if probe_solver not in SOLVERS:
        raise NossError(
            f"probe_solver: {brief_repr(probe_solver)} is not one of {', '.join(SOLVERS)}"
        )
    if source not in SOURCES:
        raise NossError(f"source: {brief_repr(source)} is not one of {', '.join(SOURCES)}")
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
                f"published_reference: {brief_repr(published_reference)} is not one of "
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
