"""A synthetic probe task (clips x classes x dims, with speakers and holdout splits) for the speed
benchmarks. Only numpy is imported here, so that an older noss_eval can build the same task with
its own classes (`build`)."""

from __future__ import annotations

from pathlib import Path

import numpy as np


def arrays(n: int, k: int, d: int, seed: int = 0) -> dict[str, np.ndarray]:
    rng = np.random.RandomState(seed)
    speakers = max(20, n // 50)
    spk = rng.randint(0, speakers, n)
    y = rng.randint(0, k, n)
    x = (0.4 * rng.randn(k, d)[y] + 0.5 * rng.randn(speakers, d)[spk] + rng.randn(n, d)).astype(
        np.float32
    )
    split = np.array(["train"] * 7 + ["validation"] * 1 + ["test"] * 2)[spk % 10]
    return {"x": x, "y": y, "spk": spk, "split": split}


def build(data, clip_cls, task_cls, extraction_cls):
    """`(Task, Extraction)` of `arrays`, from the given noss_eval classes."""
    y, spk, split = data["y"], data["spk"], data["split"]
    clips = [
        clip_cls(f"c{i}", Path(f"{i}.wav"), f"l{y[i]}", str(split[i]), f"s{spk[i]}")
        for i in range(len(y))
    ]
    labels = tuple(sorted({c.label for c in clips}))
    task = task_cls("bench", "bench", "bench", labels, lambda root: clips, "")
    return task, extraction_cls(clips, np.asarray(data["x"]))
