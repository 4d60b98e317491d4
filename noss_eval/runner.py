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
from noss_eval.errors import NossError
from noss_eval.evaluate import evaluate_task
from noss_eval.extract import extract
from noss_eval.report import append_run_record, attach_reference, merge_leaderboard
from noss_eval.task import Clip, Task, validate_clips
from noss_eval.tasks import BUILTIN_TASKS

log = logging.getLogger(__name__)
DEFAULT_CACHE = Path("~/.cache/noss-eval").expanduser()


@dataclass(frozen=True)
class RunConfig:
    embedder: str
    data_dir: Path
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
    data_source: str = "layout"


def select_tasks(
    names: tuple[str, ...], registry: Mapping[str, Task] = BUILTIN_TASKS
) -> list[Task]:
    unknown = [n for n in names if n not in registry]
    if unknown:
        raise NossError(f"--tasks: unknown task '{unknown[0]}' (known: {', '.join(registry)})")
    return [registry[n] for n in names] if names else list(registry.values())


def read_task(task: Task, data_dir: Path) -> list[Clip] | None:
    """The task's validated clips, or None (with one log line) when the dataset is absent."""
    root = data_dir / task.dataset_dir
    if not root.is_dir():
        log.warning("skip %s: no dataset at %s (put %s there)", task.name, root, task.layout)
        return None
    clips = task.read(root)
    validate_clips(task, clips)
    return clips


def describe_split_sizes(clips: list[Clip]) -> str:
    counts = Counter(c.split for c in clips)
    return ", ".join(f"{split} {n}" for split, n in sorted(counts.items()))


def score_task(
    task: Task,
    clips: list[Clip],
    embedder: Embedder,
    config: RunConfig,
    cache: EmbeddingCache,
    stamp: dict[str, Any],
) -> list[dict[str, Any]]:
    ex = extract(embedder, task.name, clips, cache, strict=config.strict, progress=config.progress)
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
    for outcome in evaluate_task(task, ex, config.seed):
        row = {
            "embedder": embedder.name,
            "embedder_sha256": embedder.model_sha256,
            "embedder_fingerprint": fingerprint(embedder),
            "task": task.name,
            "headline_metric": task.headline,
            **asdict(outcome),
            "failed_clips": len(ex.failed),
            **stamp,
        }
        for metric in ("accuracy", "balanced_accuracy", "validation_accuracy"):
            row[metric] = round(100.0 * row[metric], 3)
        rows.append(row)
    return rows


def run(config: RunConfig, registry: Mapping[str, Task] = BUILTIN_TASKS) -> list[dict[str, Any]]:
    """Evaluate `config.embedder` (and the reference, if any) on every selected task present."""
    tasks = select_tasks(config.tasks, registry)
    embedder = resolve_embedder(config.embedder, config.embedder_options)
    reference = (
        resolve_embedder(config.reference, config.reference_options) if config.reference else None
    )
    cache = EmbeddingCache(config.cache_dir)
    run_id = uuid.uuid4().hex[:12]
    stamp = {
        "protocol": config.protocol,
        "seed": config.seed,
        "data_source": config.data_source,
        "run_id": run_id,
        "noss_eval_version": __version__,
        "created": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
    }
    rows: list[dict[str, Any]] = []
    ref_rows: list[dict[str, Any]] = []
    for task in tasks:
        clips = read_task(task, config.data_dir)
        if clips is None:
            continue
        rows += score_task(task, clips, embedder, config, cache, stamp)
        if reference is not None:
            ref_rows += score_task(task, clips, reference, config, cache, stamp)
    if not rows:
        raise NossError(
            f"--data-dir: no dataset found under {config.data_dir} for tasks "
            f"{', '.join(t.name for t in tasks)}"
        )
    attach_reference(rows, ref_rows or None)
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
