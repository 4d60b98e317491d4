"""Run plan -> for each task: read clips, embed (cached), probe, score -> leaderboard rows."""

from __future__ import annotations

import datetime as dt
import logging
import uuid
from collections import Counter
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from noss_eval import __version__
from noss_eval.cache import EmbeddingCache
from noss_eval.embedder import Embedder, fingerprint, resolve_embedder
from noss_eval.engines import EmbedderRecipe, Engine, LocalEngine, ProcessEngine
from noss_eval.errors import NossError
from noss_eval.evaluate import evaluate_task
from noss_eval.extract import extract
from noss_eval.probes import PROTOCOLS
from noss_eval.report import append_run_record, attach_reference, merge_leaderboard
from noss_eval.sources import Dataset, open_dataset
from noss_eval.task import Clip, Task
from noss_eval.tasks import BUILTIN_TASKS

log = logging.getLogger(__name__)
DEFAULT_CACHE = Path("~/.cache/noss-eval").expanduser()


@dataclass(frozen=True)
class RunConfig:
    embedder: str
    data_dir: Path | None = None
    embedder_options: Mapping[str, Any] = field(default_factory=dict)
    tasks: tuple[str, ...] = ()
    cache_dir: Path = DEFAULT_CACHE
    leaderboard: Path | None = None
    reference: str | None = None
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


def select_tasks(
    names: tuple[str, ...], registry: Mapping[str, Task] = BUILTIN_TASKS
) -> list[Task]:
    unknown = [n for n in names if n not in registry]
    if unknown:
        raise NossError(f"--tasks: unknown task '{unknown[0]}' (known: {', '.join(registry)})")
    return [registry[n] for n in names] if names else list(registry.values())


def describe_split_sizes(clips: list[Clip]) -> str:
    counts = Counter(c.split for c in clips)
    return ", ".join(f"{split} {n}" for split, n in sorted(counts.items()))


def make_engine(config: RunConfig, embedder: Embedder, recipe: EmbedderRecipe) -> Engine:
    """The extraction engine the run asks for: Beam, worker processes, or this process."""
    if config.runner == "beam":
        from noss_eval.beam_engine import BeamEngine

        return BeamEngine(
            recipe, embedder.sample_rate, config.beam_options, config.cache_dir / ".beam-staging"
        )
    if config.runner != "local":
        raise NossError(f"--runner: '{config.runner}' is not one of local, beam")
    if config.workers < 1:
        raise NossError(f"--workers: must be at least 1, got {config.workers}")
    return ProcessEngine(recipe, config.workers) if config.workers > 1 else LocalEngine(embedder)


def score_task(
    data: Dataset,
    embedder: Embedder,
    recipe: EmbedderRecipe,
    config: RunConfig,
    cache: EmbeddingCache,
    stamp: dict[str, Any],
) -> list[dict[str, Any]]:
    task, clips = data.task, data.clips
    ex = extract(
        embedder,
        data.cache_namespace,
        clips,
        cache,
        engine=make_engine(config, embedder, recipe),
        stream=data.stream,
        strict=config.strict,
        progress=config.progress,
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
    rows = []
    protocol = PROTOCOLS[config.protocol]
    for outcome in evaluate_task(task, ex, config.seed, protocol, config.probe_solver):
        percent = {m: round(100.0 * v, 3) for m, v in outcome.metrics.items()}
        val = outcome.validation_accuracy
        rows.append(
            {
                "embedder": embedder.name,
                "embedder_sha256": embedder.model_sha256,
                "embedder_fingerprint": fingerprint(embedder),
                "task": task.name,
                "probe": outcome.probe,
                "headline_metric": task.headline,
                "headline_score": percent[task.headline],
                **percent,
                "accuracy_ci_low": round(100.0 * outcome.accuracy_ci[0], 3),
                "accuracy_ci_high": round(100.0 * outcome.accuracy_ci[1], 3),
                "validation_accuracy": "" if val is None else round(100.0 * val, 3),
                "config": outcome.config,
                "n_train": outcome.n_train,
                "n_validation": outcome.n_validation,
                "n_test": outcome.n_test,
                "failed_clips": len(ex.failed),
                "_test_ids": outcome.test_ids,
                "_correct": outcome.correct,
                **stamp,
            }
        )
    return rows


def run(config: RunConfig, registry: Mapping[str, Task] = BUILTIN_TASKS) -> list[dict[str, Any]]:
    """Evaluate `config.embedder` (and the reference, if any) on every selected task present."""
    if config.protocol not in PROTOCOLS:
        raise NossError(f"--protocol: '{config.protocol}' is not one of {', '.join(PROTOCOLS)}")
    tasks = select_tasks(config.tasks, registry)
    recipe = EmbedderRecipe(config.embedder, dict(config.embedder_options))
    ref_recipe = EmbedderRecipe(config.reference or "", dict(config.reference_options))
    embedder = resolve_embedder(config.embedder, config.embedder_options)
    reference = (
        resolve_embedder(config.reference, config.reference_options) if config.reference else None
    )
    cache = EmbeddingCache(config.cache_dir)
    run_id = uuid.uuid4().hex[:12]
    stamp = {
        "protocol": config.protocol,
        "seed": config.seed,
        "data_source": config.data_label or config.source,
        "run_id": run_id,
        "noss_eval_version": __version__,
        "created": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
    }
    rows: list[dict[str, Any]] = []
    ref_rows: list[dict[str, Any]] = []
    for task in tasks:
        data = open_dataset(task, config.source, config.data_dir, config.tfds_data_dir)
        if data is None:
            continue
        rows += score_task(data, embedder, recipe, config, cache, stamp)
        if reference is not None:
            ref_rows += score_task(data, reference, ref_recipe, config, cache, stamp)
    if not rows:
        where = config.tfds_data_dir if config.source == "tfds" else config.data_dir
        raise NossError(
            f"no dataset found under {where} for tasks {', '.join(t.name for t in tasks)}"
        )
    attach_reference(rows, ref_rows or None, config.seed)
    attach_reference(ref_rows, None)
    if config.leaderboard is not None:
        merge_leaderboard(config.leaderboard, rows + ref_rows)
        record = {
            "run_id": run_id,
            **{k: str(v) if isinstance(v, Path) else v for k, v in asdict(config).items()},
            "embedder_settings": embedder.settings,
            "created": stamp["created"],
        }
        append_run_record(config.leaderboard.with_suffix(".runs.jsonl"), record)
    return rows + ref_rows
