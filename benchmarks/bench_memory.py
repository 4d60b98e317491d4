"""Memory per clip during extraction: peak RSS of a run that embeds N clips into 2048-d vectors,
at 1x and 10x clips, cold (every vector computed and cached) and warm (every vector read back).

    python benchmarks/bench_memory.py [--clips 15000] [--dim 2048]

The embedder is a stand-in that returns 2048-d frames at once (the work measured is noss-eval's:
pooling, the cache's flushes and consolidation, the task's embedding matrix), and audio comes
from a stream of short generated clips, so the figure is noss-eval's own memory. Each size runs
in a fresh child process; peak RSS is reported above the child's RSS before extraction, next to
the size of one float32 copy of the vectors (goal: about one copy, well under 2 GB at
VoxCeleb1's ~150k x 2048-d).
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from rss import peak_rss_mib  # noqa: E402


class Stand:
    name, sample_rate, model_sha256 = "stand-in", 16000, "0" * 64

    def __init__(self, dim: int) -> None:
        self.dim = dim
        self.settings = {"kind": "bench", "dim": dim}

    def embed(self, waveform: np.ndarray) -> np.ndarray:
        return np.full((2, self.dim), float(waveform[0]), np.float32)


def child(n: int, dim: int, cache_dir: Path) -> dict:
    from noss_eval.cache import EmbeddingCache
    from noss_eval.extract import extract
    from noss_eval.task import Clip

    clips = [Clip(f"c{i:07d}", Path(f"/nonexistent/{i}.wav"), "a", "train", None) for i in range(n)]

    def stream(wanted, rate):
        for clip in wanted:
            yield clip, np.full(160, int(clip.clip_id[1:]) / n, np.float32)

    base = peak_rss_mib()
    ex = extract(
        Stand(dim),
        "bench",
        clips,
        EmbeddingCache(cache_dir),
        stream=stream,
        progress=False,
        dim=dim,
    )
    cold = peak_rss_mib() - base
    assert ex.embeddings.shape == (n, dim)
    del ex
    return {"base": base, "cold": cold}


def warm_child(n: int, dim: int, cache_dir: Path) -> dict:
    out = child(n, dim, cache_dir)  # every vector is now read from the cache
    return {"warm": out["cold"]}


def run(kind: str, n: int, dim: int, cache_dir: Path) -> dict:
    code = (
        f"import sys, json; sys.path.insert(0, {str(Path(__file__).parent)!r}); "
        f"import bench_memory as b; print(json.dumps(b.{kind}({n}, {dim}, "
        f"__import__('pathlib').Path({str(cache_dir)!r}))))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clips", type=int, default=15000)
    parser.add_argument("--dim", type=int, default=2048)
    args = parser.parse_args()
    rows = []
    for n in (args.clips, 10 * args.clips):
        with tempfile.TemporaryDirectory() as tmp:
            cold = run("child", n, args.dim, Path(tmp))
            warm = run("warm_child", n, args.dim, Path(tmp))
        rows.append((n, n * args.dim * 4 / 2**20, cold["cold"], warm["warm"]))
    print(f"## Memory per clip ({args.dim}-d float32 vectors, peak RSS above start)\n")
    print("| clips | one copy MiB | cold run MiB | warm run MiB | cold / one copy |")
    print("|---|---|---|---|---|")
    for n, copy, cold, warm in rows:
        print(f"| {n:,} | {copy:.0f} | {cold:.0f} | {warm:.0f} | **{cold / copy:.2f}** |")
    ratio = rows[1][2] / rows[0][2]
    print(f"\npeak RSS at 10x clips / 1x clips: **{ratio:.1f}** (vectors alone: 10.0)\n")


if __name__ == "__main__":
    main()
