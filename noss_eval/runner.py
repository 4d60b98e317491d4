"""Run plan -> for each task: read clips, embed (cached), probe, score -> leaderboard rows."""

from __future__ import annotations

import datetime as dt
import json
import logging
import uuid
from collections import Counter
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any

from noss_eval import __version__
from noss_eval.cache import EmbeddingCache, check_room
from noss_eval.check import CheckReport, check_embedder
from noss_eval.embedder import Embedder, fingerprint, named_as
from noss_eval.engines import EmbedderRecipe, Engine, LocalEngine, ProcessEngine, ThreadEngine
from noss_eval.errors import AudioError, NossError
from noss_eval.extract import extract, uncached
from noss_eval.leaderboard import preflight, save_results, to_row
from noss_eval.paths import USER_CACHE
from noss_eval.probe_cache import ProbeResultCache, results_key
from noss_eval.probes import PROTOCOLS
from noss_eval.references import compare_measured, compare_published, published_reference
from noss_eval.results import ProbeResult, RunStamp
from noss_eval.sources import Dataset, DecodedMemo, open_dataset
from noss_eval.task import Clip, Task
from noss_eval.tasks import BUILTIN_TASKS
from noss_eval.threads import ThreadBudget, numeric_threads, usable_cores

log = logging.getLogger(__name__)
NOSS_WINDOW_SECONDS = 0.975  # 96 frames of 10 ms plus the 25 ms STFT window
DEFAULT_CACHE = USER_CACHE


@dataclass(frozen=True)
class RunConfig:
    embedder: str
    data_dir: Path | None = None
    embedder_options: Mapping[str, Any] = field(default_factory=dict)
    tasks: tuple[str, ...] = ()
    cache_dir: Path = DEFAULT_CACHE
    leaderboard: Path | None = None
    reference: str | None = None  # an embedder measured in the same run
    published_reference: str | None = "trill-published"  # None: no published comparison
    reference_options: Mapping[str, Any] = field(default_factory=dict)
    seed: int = 0
    strict: bool = False
    progress: bool = True
    protocol: str = "noss-eval"
    probe_solver: str = "auto"
    runner: str = "local"  # or "beam"
    workers: int = 1  # local runner: worker processes (1 = this process, interpreter threads)
    beam_options: tuple[str, ...] = ()
    source: str = "layout"
    tfds_data_dir: Path | None = None
    data_label: str = ""  # recorded in the data_source column; defaults to the source
    flush_seconds: float = 30.0  # the most extraction work `kill -9` can lose
    threads: int | None = None  # cores the run may use; None: every usable core
    command: tuple[str, ...] = ()  # the command line, when run from it (for the runs file)

    @property
    def budget(self) -> ThreadBudget:
        return ThreadBudget(self.threads or usable_cores())


VERSIONED = ("noss-eval", "numpy", "scikit-learn", "scipy", "tensorflow", "ai-edge-litert", "soxr")


def package_versions() -> dict[str, str]:
    """The versions a run's numbers depend on, for its record in the runs file."""
    from importlib.metadata import PackageNotFoundError, version

    out = {}
    for name in VERSIONED:
        try:
            out[name] = version(name)
        except PackageNotFoundError:
            out[name] = "not installed"
    return out


def select_tasks(
    names: tuple[str, ...], registry: Mapping[str, Task] = BUILTIN_TASKS
) -> list[Task]:
    unknown = [n for n in names if n not in registry]
    if unknown:
        raise NossError(f"--tasks: unknown task '{unknown[0]}' (known: {', '.join(registry)})")
    return [registry[n] for n in names] if names else [t for t in registry.values() if t.default]


def describe_split_sizes(clips: list[Clip]) -> str:
    counts = Counter(c.split for c in clips)
    return ", ".join(f"{split} {n}" for split, n in sorted(counts.items()))


def make_engine(config: RunConfig, embedder: Embedder, recipe: EmbedderRecipe | None) -> Engine:
    """The extraction engine the run asks for: Beam, worker processes, or this process
    (one single-threaded copy of a model file per core, else one embedder on every core).
    Without a recipe (an embedder object built by the caller), this process only."""
    if recipe is None:  # nothing can rebuild the object in another process or on a worker
        if config.runner != "local" or config.workers != 1:
            raise NossError(
                "runner, workers: an embedder object runs in this process only; "
                "use runner='local' and workers=1, or give a spec string"
            )
        return LocalEngine(embedder)
    if config.runner == "beam":
        from noss_eval.beam_engine import BeamEngine

        return BeamEngine(
            recipe, embedder.sample_rate, config.beam_options, config.cache_dir / ".beam-staging"
        )
    if config.runner != "local":
        raise NossError(f"--runner: '{config.runner}' is not one of local, beam")
    if config.workers < 1:
        raise NossError(f"--workers: must be at least 1, got {config.workers}")
    if config.workers > 1:
        return ProcessEngine(recipe, config.workers)
    copies = config.budget.embedder_copies(embedder)
    if copies > 1 and "threads" not in recipe.options:  # an explicit thread count is kept
        return ThreadEngine(recipe, embedder.sample_rate, copies)
    return LocalEngine(embedder)


def check_on_first_clip(embedder: Embedder, data: Dataset) -> CheckReport:
    """The embedder on one real clip of the run, before the long work (X-ARES style)."""
    clip, decoded = next(iter(data.stream(data.clips[:1], embedder.sample_rate)))
    if isinstance(decoded, AudioError):
        report = check_embedder(embedder)
    else:
        report = check_embedder(embedder, decoded, where=str(clip.path))
    log.info(
        "%s: checked on %s: %d-d output, %.1f ms per call",
        embedder.name,
        clip.clip_id,
        report.dim,
        report.milliseconds,
    )
    return report


def score_task(
    data: Dataset,
    embedder: Embedder,
    engine: Engine,
    config: RunConfig,
    cache: EmbeddingCache,
    dim: int | None = None,
) -> list[ProbeResult]:
    task, clips = data.task, data.clips
    ex = extract(
        embedder,
        data.cache_namespace,
        clips,
        cache,
        engine=engine,
        stream=data.stream,
        strict=config.strict,
        progress=config.progress,
        flush_seconds=config.flush_seconds,
        dim=dim,
    )
    log.info(
        "%s [%s]: %d clips (%s); cache hits %d, computed %d, unreadable %d",
        task.name,
        embedder.name,
        len(clips),
        describe_split_sizes(clips),
        ex.cache_hits,
        ex.computed,
        len(ex.failed),
    )
    identity = (embedder.name, embedder.model_sha256, fingerprint(embedder))
    protocol = PROTOCOLS[config.protocol]
    probes = ProbeResultCache(config.cache_dir)
    key = results_key(task, ex, protocol, config.probe_solver, config.seed, identity)
    results = probes.load(key)
    if results is None:
        from noss_eval.probing import evaluate_task  # sklearn, only when probes are fitted

        results = evaluate_task(
            task,
            ex,
            config.seed,
            protocol,
            config.probe_solver,
            config.progress,
            identity,
            workers=config.budget.probe_workers,
        )
        probes.save(key, results)
    else:
        log.info(
            "%s [%s]: probe results from the cache (inputs unchanged)", task.name, embedder.name
        )
    window = getattr(embedder, "window_seconds", NOSS_WINDOW_SECONDS)
    warnings = data.audio_warnings(window)
    settings = json.dumps(embedder.settings, sort_keys=True, default=str)
    status, scored_on = task.data_status(clips, len(ex.failed)), task.scored_on(clips)
    return [
        replace(
            r,
            data_fingerprint=data.fingerprint,  # computed once per dataset
            audio_warnings=warnings,
            embedder_settings=settings,
            data=status,
            scored_on=scored_on,
        )
        for r in results
    ]


def run(
    config: RunConfig,
    registry: Mapping[str, Task] = BUILTIN_TASKS,
    decoded: DecodedMemo | None = None,
) -> list[dict[str, Any]]:
    """Evaluate `config.embedder` (and the reference, if any) on every selected task present;
    with `decoded` (one memo for several runs in this process), audio files are decoded once."""
    results, stamp = run_results(config, registry, decoded)
    return [to_row(r, stamp) for r in results]


def run_results(
    config: RunConfig,
    registry: Mapping[str, Task] = BUILTIN_TASKS,
    decoded: DecodedMemo | None = None,
    embedder: Embedder | None = None,
) -> tuple[list[ProbeResult], RunStamp]:
    """`run`'s results, typed, and the stamp they share. `embedder`: an object built by the
    caller, scored in place of building `config.embedder` (which then only names it in the
    runs file), in this process (no worker processes, no Beam)."""
    if config.threads is not None and config.threads < 1:
        raise NossError(f"--threads: must be at least 1, got {config.threads}")
    with numeric_threads(config.budget.blas):
        return _run(config, registry, decoded, embedder)


def _run(
    config: RunConfig,
    registry: Mapping[str, Task],
    decoded: DecodedMemo | None,
    prebuilt: Embedder | None = None,
) -> tuple[list[ProbeResult], RunStamp]:
    if config.protocol not in PROTOCOLS:
        raise NossError(f"--protocol: '{config.protocol}' is not one of {', '.join(PROTOCOLS)}")
    tasks = select_tasks(config.tasks, registry)
    recipe = EmbedderRecipe(config.embedder, dict(config.embedder_options))
    ref_recipe = EmbedderRecipe(config.reference or "", dict(config.reference_options))
    if prebuilt is None:
        embedder = recipe.build(threads=config.budget.interpreter)
    else:
        embedder = prebuilt
    with named_as("--reference"):  # its errors name --reference, not --embedder
        reference = ref_recipe.build(config.budget.interpreter) if config.reference else None
    published = (
        published_reference(config.published_reference) if config.published_reference else None
    )
    # Every dataset is read and checked before any embedding is computed.
    datasets = [
        d
        for d in (
            open_dataset(t, config.source, config.data_dir, config.tfds_data_dir, decoded)
            for t in tasks
        )
        if d is not None
    ]
    if not datasets:
        where = config.tfds_data_dir if config.source == "tfds" else config.data_dir
        raise NossError(
            f"no dataset found under {where} for tasks {', '.join(t.name for t in tasks)}"
        )
    if config.leaderboard is not None:
        preflight(config.leaderboard)
    cache = EmbeddingCache(config.cache_dir)
    dims: dict[int, int] = {}
    checked: set[int] = set()  # embedders whose dimension the one-clip check measured now
    todo = 0
    for e in (embedder, reference):
        if e is None:
            continue
        missing = sum(uncached(e, d.cache_namespace, d.clips, cache) for d in datasets)
        known = cache.known_dim(fingerprint(e))
        # An embedder with vectors to compute is checked on one real clip first; one whose
        # every vector is cached is never run (nor, where its kind loads lazily, loaded).
        if missing or known is None:
            known = check_on_first_clip(e, datasets[0]).dim
            checked.add(id(e))
        dims[id(e)], todo = known, todo + missing
    if todo:
        check_room(config.cache_dir, todo, max(dims.values()))
    for e in (embedder, reference):
        if e is not None and id(e) in checked:
            cache.record_dim(fingerprint(e), dims[id(e)])
    run_id = uuid.uuid4().hex[:12]
    stamp = RunStamp(
        seed=config.seed,
        data_source=config.data_label or config.source,
        run_id=run_id,
        noss_eval_version=__version__,
        created=dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
    )
    results: list[ProbeResult] = []
    ref_results: list[ProbeResult] = []
    # one engine per embedder: its copies serve every task
    engine = make_engine(config, embedder, recipe if prebuilt is None else None)
    ref_engine = make_engine(config, reference, ref_recipe) if reference is not None else None
    for data in datasets:
        results += score_task(data, embedder, engine, config, cache, dims[id(embedder)])
        if reference is not None:
            ref_results += score_task(
                data, reference, ref_engine, config, cache, dims[id(reference)]
            )
    if reference is not None:
        results = compare_measured(results, ref_results, config.seed)
    elif published is not None:
        results = compare_published(results, published)
    if published is not None:
        ref_results = compare_published(ref_results, published)
    rows = [to_row(r, stamp) for r in results + ref_results]
    if config.leaderboard is not None:
        record = {
            "run_id": run_id,
            **{k: str(v) if isinstance(v, Path) else v for k, v in asdict(config).items()},
            "embedder_settings": embedder.settings,
            "versions": package_versions(),
            "created": stamp.created,
        }
        save_results(config.leaderboard, rows, record)
    return results + ref_results, stamp
