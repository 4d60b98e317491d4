"""The probe-result cache key: a cached result is served only for the very inputs it was fitted
on. Each input named in `noss_eval.probe_cache` is changed alone and must change the key; the
module list behind the code hash must cover every module that computes a probe result."""

from __future__ import annotations

import ast
import dataclasses
import hashlib
from pathlib import Path

import numpy as np
import pytest

import noss_eval
from noss_eval.extract import Extraction
from noss_eval.probe_cache import PROBE_CODE, _code_version, results_key
from noss_eval.probes import PROTOCOLS
from noss_eval.task import Clip, Task

TASK = Task("t", "T", "t", ("a", "b"), read=lambda root: [], layout="-")
CLIPS = [
    Clip(f"c{i}", Path(f"/d/{i}.wav"), "ab"[i % 2], ("train", "validation", "test")[i % 3], f"s{i}")
    for i in range(6)
]
VECTORS = np.arange(24, dtype=np.float32).reshape(6, 4) / 7
BASE = dict(
    task=TASK,
    ex=Extraction(CLIPS, VECTORS),
    protocol=PROTOCOLS["noss-eval"],
    solver="auto",
    seed=0,
    identity=("dsp", "fp0"),
)


def _clip(i: int, **change) -> Extraction:
    clips = list(CLIPS)
    clips[i] = dataclasses.replace(clips[i], **change)
    return Extraction(clips, VECTORS)


def _vectors(array: np.ndarray) -> Extraction:
    return Extraction(CLIPS, array)


def _one_element_changed() -> np.ndarray:
    v = VECTORS.copy()
    v[5, 3] = np.nextafter(v[5, 3], np.float32(1))  # one ulp of one element
    return v


CHANGES = {
    "a vector element": dict(ex=_vectors(_one_element_changed())),
    "vectors in another clip order": dict(ex=_vectors(VECTORS[::-1].copy())),
    "a label": dict(ex=_clip(0, label="b")),
    "a split": dict(ex=_clip(1, split="test")),
    "a speaker": dict(ex=_clip(2, speaker="s9")),
    "no speaker": dict(ex=_clip(2, speaker=None)),
    "a clip id": dict(ex=_clip(3, clip_id="c9")),
    "a failed clip": dict(ex=Extraction(CLIPS, VECTORS, failed=[(CLIPS[0], "bad")])),
    "the headline": dict(task=dataclasses.replace(TASK, headline="uar")),
    "the folds": dict(task=dataclasses.replace(TASK, folds=("1", "2"))),
    "the task": dict(task=dataclasses.replace(TASK, name="u")),
    "the protocol": dict(protocol=PROTOCOLS["noss"]),
    "the protocol's name": dict(protocol=dataclasses.replace(PROTOCOLS["noss-eval"], name="x")),
    "selection split": dict(protocol=dataclasses.replace(PROTOCOLS["noss-eval"], select_on="test")),
    "the solver": dict(solver="sklearn"),
    "the seed": dict(seed=1),
    "the embedder": dict(identity=("dsp", "fp1")),
}


def test_key_is_a_pure_function_of_its_inputs():
    again = {**BASE, "ex": Extraction(list(CLIPS), VECTORS.copy(), cache_hits=6, computed=0)}
    assert results_key(**BASE) == results_key(**again)  # counters are not inputs
    as_f64 = {**BASE, "ex": _vectors(VECTORS.astype(np.float64))}
    assert results_key(**BASE) == results_key(**as_f64)  # the same float32 values


@pytest.mark.parametrize("change", CHANGES, ids=list(CHANGES))
def test_every_input_changes_the_key(change):
    assert results_key(**{**BASE, **CHANGES[change]}) != results_key(**BASE)


def test_code_hash_is_the_source_of_each_probe_module_in_order():
    """Re-typed: sha256 over the bytes of each listed module's file, so an edit to any of them
    (and only to them) invalidates cached results."""
    digest = hashlib.sha256()
    for module in PROBE_CODE:
        digest.update((Path(noss_eval.__file__).parent / f"{module.split('.')[1]}.py").read_bytes())
    assert _code_version() == digest.hexdigest()[:16]


def test_the_code_hash_is_in_the_key(monkeypatch):
    import noss_eval.probe_cache as probe_cache

    before = results_key(**BASE)
    monkeypatch.setattr(probe_cache, "_code_version", lambda: "edited")
    assert results_key(**BASE) != before


# Modules the probe modules import that compute no number of a probe result, and why.
NOT_NUMBERS = {
    "noss_eval.errors": "exception types",
    "noss_eval.extract": "the embeddings, which the key hashes as values",
    "noss_eval.task": "task fields, which the key holds as values",
    "noss_eval.results": "the result records; their stored form is the cache FORMAT",
    "noss_eval.progress": "progress display",
    "noss_eval.fit_pool": "which process runs a fit (results are identical: test_probes)",
}


def _noss_imports(module: str) -> set[str]:
    path = Path(noss_eval.__file__).parent / (module.split(".", 1)[1] + ".py")
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("noss_eval."):
            found.add(node.module)
        elif isinstance(node, ast.Import):
            found |= {a.name for a in node.names if a.name.startswith("noss_eval.")}
    return found


def test_code_hash_covers_every_module_that_computes_a_probe_result():
    """The modules reachable from `evaluate` by imports are hashed, or named above with the
    reason they cannot change a number: a new module of probe code must join `PROBE_CODE`."""
    reached, todo = set(), ["noss_eval.probing"]
    while todo:
        module = todo.pop()
        if module in reached or module in NOT_NUMBERS:
            continue
        reached.add(module)
        todo += sorted(_noss_imports(module))
    assert reached == set(PROBE_CODE)
    assert not set(NOT_NUMBERS) & set(PROBE_CODE)
