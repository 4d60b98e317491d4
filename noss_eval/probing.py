"""Score one task's embeddings with every probe family: plan the rounds (holdout, or the folds of
a cross-validated task), fit each configuration, select, and score the test clips.

Selection is on the task's headline metric. The default protocol never lets a test clip influence
a choice: holdout tasks select on validation; cross-validated tasks select per test fold by an
inner cross-validation over the training folds, refit on all of them, and score the test fold
once (so the configuration may differ per fold: choosing one for all folds would need the test
folds' labels). Paper mode (`--protocol noss`) trains on the train split only, as upstream's
`eval_embedding/sklearn/train_and_eval_sklearn.py` fits on its train data: an official validation
split is not trained on (a validation carved out of train goes back to train); a cross-validated
task trains on the other folds. It picks the configuration with the best mean test score over the
rounds: one configuration per task, as a paper's table reports it.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from joblib import delayed

from noss_eval.extract import Extraction
from noss_eval.fit_pool import fit_workers
from noss_eval.probes import (
    BEST,
    FAMILIES,
    PROTOCOLS,
    Fitted,
    Part,
    ProbeConfig,
    Protocol,
    Scored,
    choose_solver,
    fit_matrix,
    score_matrix,
)
from noss_eval.progress import Meter
from noss_eval.results import Predictions, ProbeResult
from noss_eval.stats import Outcomes, bootstrap_intervals
from noss_eval.task import Task


@dataclass(frozen=True)
class Round:
    """Fit on `train`, score `test` once. `selection` holds the (fit on, score on) pairs that
    choose the configuration; empty in paper mode, which selects on `test` itself."""

    train: Part
    test: Part
    test_ids: tuple[str, ...]
    selection: tuple[tuple[Part, Part], ...]


def _part(
    ex: Extraction, splits: Sequence[str], with_carved: bool = False
) -> tuple[Part, tuple[str, ...]]:
    """The clips of `splits`; `with_carved` adds validation clips carved out of train."""
    rows = [
        i
        for i, c in enumerate(ex.clips)
        if c.split in splits or (with_carved and c.carved_from in splits)
    ]
    part = Part(
        ex.embeddings[rows],
        np.array([ex.clips[i].label for i in rows]),
        tuple(ex.clips[i].speaker for i in rows),
    )
    return part, tuple(ex.clips[i].clip_id for i in rows)


def round_splits(task: Task) -> list[tuple[tuple[str, ...], str]]:
    """`(train splits, test split)` per round: the holdout split, or each fold against the rest."""
    if not task.folds:
        return [(("train",), "test")]
    return [(tuple(f for f in task.folds if f != test), test) for test in task.folds]


def plan_rounds(task: Task, ex: Extraction, select_on: str) -> list[Round]:
    plan = []
    for train_splits, test_split in round_splits(task):
        # paper mode selects on test: a validation split carved from train goes back to train
        train, _ = _part(ex, train_splits, with_carved=select_on == "test")
        test, test_ids = _part(ex, [test_split])
        selection: tuple[tuple[Part, Part], ...] = ()
        if select_on == "validation" and not task.folds:
            selection = ((train, _part(ex, ["validation"])[0]),)
        elif select_on == "validation":
            selection = tuple(
                (_part(ex, [f for f in train_splits if f != held])[0], _part(ex, [held])[0])
                for held in train_splits
            )
        plan.append(Round(train, test, test_ids, selection))
    return plan


@dataclass(frozen=True)
class _Job:
    """Fit `cfg` on `train` (once per task), score it on `evaluate`; `keep` the model when it
    may be scored again (on test, once chosen)."""

    cfg: ProbeConfig
    train: Part
    evaluate: Part
    keep: bool = False


class _Fits:
    """Runs jobs: those of one normalisation (L2, speaker) together, sharing its matrices, on
    `workers` threads or processes (`fit_pool`); each (configuration, training part) is fitted
    once per task. Results are in job order whatever the workers."""

    def __init__(self, seed: int, total: int, progress: bool, desc: str, workers: int) -> None:
        self.seed, self.workers = seed, workers
        self._models: dict[tuple[ProbeConfig, int], Fitted] = {}
        self.bar = Meter(total, desc, "fit", progress)

    def score_all(self, jobs: Sequence[_Job]) -> list[Scored]:
        results: dict[_Key, Scored] = {}
        for batch in self._batches(jobs):
            prepared: dict[tuple[int, bool, bool], np.ndarray] = {}
            for job in batch:
                parts = [job.evaluate]
                if (job.cfg, id(job.train)) not in self._models:
                    parts.append(job.train)
                for part in parts:
                    if _norm_key(part, job.cfg) not in prepared:
                        prepared[_norm_key(part, job.cfg)] = part.prepared(job.cfg)
            with fit_workers(prepared, self.workers) as (matrices, parallel):
                done = parallel(
                    delayed(_fit_and_score)(
                        job.cfg,
                        self.seed,
                        self._models.get((job.cfg, id(job.train))),
                        matrices.get(_norm_key(job.train, job.cfg)),
                        job.train.y,
                        matrices[_norm_key(job.evaluate, job.cfg)],
                        job.evaluate.y,
                        job.keep,
                    )
                    for job in batch
                )
                for job, (scored, model) in zip(batch, done, strict=True):
                    results[_key(job)] = scored
                    if (job.cfg, id(job.train)) not in self._models:
                        self.bar.update()
                        if job.keep:
                            self._models[(job.cfg, id(job.train))] = model
        return [results[_key(job)] for job in jobs]

    def _batches(self, jobs: Sequence[_Job]) -> list[list[_Job]]:
        """The distinct jobs, grouped by normalisation; consecutive normalisations share a
        batch (and so keep every worker busy to its end) while their normalised matrices
        together stay under `PREPARED_BYTES`."""
        by_norm: dict[tuple[bool, bool], dict[_Key, _Job]] = {}
        for job in jobs:
            by_norm.setdefault((job.cfg.l2, job.cfg.speaker_norm), {})[_key(job)] = job
        batches: list[list[_Job]] = []
        size = PREPARED_BYTES
        for group in by_norm.values():
            parts = {id(p): p for j in group.values() for p in (j.train, j.evaluate)}
            need = sum(8 * p.x.size for p in parts.values())  # float64 at most
            if batches and size + need <= PREPARED_BYTES:
                batches[-1] += group.values()
                size += need
            else:
                batches.append(list(group.values()))
                size = need
        return batches

    def close(self) -> None:
        self.bar.close()
        self._models.clear()


_Key = tuple[ProbeConfig, int, int]
PREPARED_BYTES = 1 << 30  # normalised matrices held at once, beyond the first normalisation's


def _norm_key(part: Part, cfg: ProbeConfig) -> tuple[int, bool, bool]:
    return (id(part), cfg.l2, cfg.speaker_norm)


def _fit_and_score(
    cfg: ProbeConfig,
    seed: int,
    model: Fitted | None,
    x_train: np.ndarray | None,
    y_train: np.ndarray,
    x_evaluate: np.ndarray,
    y_evaluate: np.ndarray,
    keep: bool,
) -> tuple[Scored, Fitted | None]:
    """One job, in a worker: fit (unless `model` is given), then score; the model is handed
    back only to be kept (from a worker process it is pickled: a forest can be large)."""
    model = model or fit_matrix(cfg, x_train, y_train, seed)
    return score_matrix(model, x_evaluate, y_evaluate), model if keep else None


def _key(job: _Job) -> _Key:
    return (job.cfg, id(job.train), id(job.evaluate))


def _pick(scores: dict[ProbeConfig, float], grid: Sequence[ProbeConfig]) -> ProbeConfig:
    """The best-scoring configuration; the first in grid order wins ties."""
    best = grid[0]
    for cfg in grid[1:]:
        if scores[cfg] > scores[best]:
            best = cfg
    return best


def evaluate_task(
    task: Task,
    ex: Extraction,
    seed: int,
    protocol: Protocol = PROTOCOLS["noss-eval"],
    solver: str = "auto",
    progress: bool = False,
    identity: tuple[str, str, str] = ("", "", ""),
    workers: int = 1,
) -> list[ProbeResult]:
    """One `ProbeResult` per probe family of the protocol's grid, then the best over all of
    them. `identity` is (embedder name, sha256, fingerprint) for the results; `workers`
    threads fit configurations in parallel (the results do not depend on it)."""
    plan = plan_rounds(task, ex, protocol.select_on)
    grid = probe_grid(ex, protocol, solver, max(len(r.train.y) for r in plan))
    headline = task.headline
    families = [f for f in FAMILIES if any(c.family == f for c in grid)]
    groups = {f: [c for c in grid if c.family == f] for f in families} | {BEST: grid}
    per_round = max(1, len(plan[0].selection))
    refits = len(plan) * len(families) if task.folds and protocol.select_on != "test" else 0
    total = len(plan) * len(grid) * per_round + refits  # `best` reuses a family's refit
    fits = _Fits(seed, total, progress, f"{task.name} probes", workers)
    try:
        pick = _pick_on_test if protocol.select_on == "test" else _pick_on_validation
        chosen, validation, tested = pick(fits, plan, groups, headline)
    finally:
        fits.close()
    predictions = {name: _predictions(plan, tested[name]) for name in groups}
    intervals = bootstrap_intervals(
        [Outcomes.of(p.y_true, p.y_pred) for p in predictions.values()], headline, seed=seed
    )
    return [
        _summarise(
            task,
            name,
            chosen[name],
            validation[name],
            tested[name],
            plan,
            predictions[name],
            interval,
            len(ex.failed),
            protocol.name,
            identity,
        )
        for name, interval in zip(groups, intervals, strict=True)
    ]


Groups = dict[str, list[ProbeConfig]]
Picks = tuple[
    dict[str, list[ProbeConfig]], dict[str, float | None], dict[str, list[Scored]]
]  # per group: the configuration of each round, the validation score, the test scores


def _pick_on_test(fits: _Fits, plan: list[Round], groups: Groups, headline: str) -> Picks:
    """Paper mode: every configuration scored on test; per group, the one with the best mean
    test score over the rounds (one configuration for all folds)."""
    grid = groups[BEST]
    scored = iter(fits.score_all([_Job(cfg, r.train, r.test) for r in plan for cfg in grid]))
    tested = [{cfg: next(scored) for cfg in grid} for r in plan]
    mean = {cfg: float(np.mean([t[cfg].metrics[headline] for t in tested])) for cfg in grid}
    chosen = {name: [_pick(mean, g)] * len(plan) for name, g in groups.items()}
    scores = {name: [t[c] for t, c in zip(tested, chosen[name], strict=True)] for name in groups}
    return chosen, {name: None for name in groups}, scores


def _pick_on_validation(fits: _Fits, plan: list[Round], groups: Groups, headline: str) -> Picks:
    """Default protocol: per round and group, the best configuration on the round's selection
    pairs, then only that one scored on the round's test part."""
    selected = _selection_scores(fits, plan, groups[BEST], headline)
    chosen = {name: [_pick(s, g) for s in selected] for name, g in groups.items()}
    validation = {
        name: float(np.mean([s[c] for s, c in zip(selected, chosen[name], strict=True)]))
        for name in groups
    }
    tests = {
        name: [_Job(c, r.train, r.test, keep=True) for r, c in zip(plan, chosen[name], strict=True)]
        for name in groups
    }
    scored = iter(fits.score_all([job for jobs in tests.values() for job in jobs]))
    scores = {name: [next(scored) for _ in jobs] for name, jobs in tests.items()}
    return chosen, validation, scores


def probe_grid(ex: Extraction, protocol: Protocol, solver: str, n_train: int) -> list[ProbeConfig]:
    """The protocol's configurations for this task. Speaker normalisation is in the grid only
    when every clip has a speaker: speaker-less clips cannot be grouped without grouping them by
    what made them speaker-less (in Speech Commands, the `_silence_` label)."""
    with_speakers = all(c.speaker for c in ex.clips)
    n_classes = len({c.label for c in ex.clips})
    dim = ex.embeddings.shape[1]
    return choose_solver(protocol.grid(with_speakers), n_train, n_classes, dim, solver, protocol)


def _selection_scores(
    fits: _Fits, plan: list[Round], grid: Sequence[ProbeConfig], headline: str
) -> list[dict[ProbeConfig, float]]:
    """Per round, the mean headline score of each configuration over its selection pairs. A
    model fitted on the round's own training part is kept: it is the one scored on test if
    chosen."""
    jobs = [
        _Job(cfg, a, b, keep=a is r.train) for r in plan for cfg in grid for a, b in r.selection
    ]
    scored = iter(fits.score_all(jobs))
    return [
        {cfg: float(np.mean([next(scored).metrics[headline] for _ in r.selection])) for cfg in grid}
        for r in plan
    ]


def _predictions(plan: list[Round], tested: list[Scored]) -> Predictions:
    return Predictions(
        tuple(i for r in plan for i in r.test_ids),
        np.concatenate([r.test.y for r in plan]),
        np.concatenate([s.y_pred for s in tested]),
    )


def _summarise(
    task: Task,
    probe: str,
    chosen: list[ProbeConfig],
    validation_score: float | None,
    tested: list[Scored],
    plan: list[Round],
    predictions: Predictions,
    interval: tuple[float, float],
    failed_clips: int,
    protocol: str,
    identity: tuple[str, str, str],
) -> ProbeResult:
    counts = Counter(c.label for c in chosen)
    config = (
        chosen[0].label
        if len(counts) == 1
        else ";".join(f"{label} x{n}" for label, n in counts.items())
    )
    metrics = {m: float(np.mean([s.metrics[m] for s in tested])) for m in tested[0].metrics}
    n_validation = [len(b.y) for r in plan for _, b in r.selection]
    name, sha, fingerprint = identity
    return ProbeResult(
        embedder=name,
        embedder_sha256=sha,
        embedder_fingerprint=fingerprint,
        task=task.name,
        probe=probe,
        protocol=protocol,
        config=config,
        headline_metric=task.headline,
        metrics=metrics,
        headline_ci=interval,
        validation_score=validation_score,
        n_train=int(round(np.mean([len(r.train.y) for r in plan]))),
        n_validation=int(round(np.mean(n_validation))) if n_validation else 0,
        n_test=len(predictions.clip_ids),
        failed_clips=failed_clips,
        predictions=predictions,
    )
