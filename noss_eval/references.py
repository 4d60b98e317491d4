"""What a result is compared with: a published table, or a reference embedder measured in the
same run on the same clips (then with a paired interval and an exact paired test)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from importlib import resources

import yaml

from noss_eval.errors import NossError
from noss_eval.probes import BEST
from noss_eval.results import Comparison, ProbeResult
from noss_eval.stats import paired_comparison
from noss_eval.task import OFFICIAL

PUBLISHED_SUFFIX = "-published"


@dataclass(frozen=True)
class PublishedReference:
    """A published table. Its numbers are the best test score over the paper's grid (paper
    mode) on each task's complete official data: a row is compared with one only when it was
    produced the same way (`not_comparable` says why not)."""

    name: str  # "trill-published"
    source: str
    protocol: str
    scores: dict[str, float]  # task -> headline score, percent
    caveats: dict[str, str] = field(default_factory=dict)  # task -> why it is never comparable

    def not_comparable(self, result: ProbeResult) -> str:
        """"" when `result` can be set against the published number of its task, else why not
        (the row's `reference_note`)."""
        why = self.caveats.get(result.task)
        if why is None and result.data != OFFICIAL:
            why = f"data: {result.data}"
        if why is None and result.protocol != self.protocol:
            why = (
                f"published numbers are paper mode: for a comparable row use protocol "
                f"{self.protocol}, or measure a reference embedder in the same run"
            )
        if why is None and result.probe != BEST:
            why = "published numbers are the best over the grid: see the best row"
        return "" if why is None else f"no delta vs {self.name}: {why}"


def published_names() -> list[str]:
    return [f"{k}{PUBLISHED_SUFFIX}" for k in _published_table()]


def _published_table() -> dict:
    text = resources.files("noss_eval.configs").joinpath("reference.yaml").read_text()
    return yaml.safe_load(text)


def published_reference(name: str = "trill-published") -> PublishedReference:
    table = _published_table()
    key = name.removesuffix(PUBLISHED_SUFFIX)
    if not name.endswith(PUBLISHED_SUFFIX) or key not in table:
        raise NossError(f"--reference: '{name}' is not one of {', '.join(published_names())}")
    entry = table[key]
    scores = {task: float(v) for task, v in entry["scores"].items()}
    caveats = {task: str(v) for task, v in entry.get("caveats", {}).items()}
    return PublishedReference(name, entry["source"], entry["protocol"], scores, caveats)


def compare_published(
    results: Sequence[ProbeResult], reference: PublishedReference
) -> list[ProbeResult]:
    """Each result against the published headline score of its task, where there is one and
    the result is comparable with it; otherwise the result says why it has no delta."""
    out = []
    for r in results:
        score = reference.scores.get(r.task)
        note = "" if score is None else reference.not_comparable(r)
        comparison = (
            None
            if score is None or note
            else Comparison(reference.name, score, reference.protocol, reference.source)
        )
        out.append(replace(r, comparison=comparison, reference_note=note))
    return out


def compare_measured(
    results: Sequence[ProbeResult], reference: Sequence[ProbeResult], seed: int = 0
) -> list[ProbeResult]:
    """Each result against the reference embedder's result for the same task, probe and
    protocol, paired on the test clips both scored (matched by clip id, not by position)."""
    by_key = {(r.task, r.probe, r.protocol): r for r in reference}
    out = []
    for r in results:
        ref = by_key.get((r.task, r.probe, r.protocol))
        if ref is None:
            out.append(replace(r, comparison=None))
            continue
        aligned = r.predictions.aligned_with(ref.predictions)
        paired = None
        if aligned is not None:
            paired = paired_comparison(*aligned, metric=r.headline_metric, seed=seed)
        source = f"measured in this run ({ref.embedder_sha256[:12]})"
        comparison = Comparison(
            ref.embedder, 100.0 * ref.headline_score, ref.protocol, source, paired
        )
        out.append(replace(r, comparison=comparison))
    return out
