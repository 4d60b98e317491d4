"""`noss-eval frontier --explain`: the FRILL paper's hyperparameter analysis. A linear regression
of each outcome (average delta, latency, size) on the students' hyperparameters, from the
`noss-eval distill` manifest; the weights are standardized (every variable z-scored), so they
compare how much each knob moves each outcome, in standard deviations per standard deviation.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from noss_eval.distill.manifest import MANIFEST, read_manifest
from noss_eval.errors import NossError
from noss_eval.frontier import Point

OUTCOMES = ("average delta", "latency ms", "size MB")


@dataclass(frozen=True)
class Explanation:
    features: tuple[str, ...]
    outcomes: tuple[str, ...]
    weights: np.ndarray  # [features, outcomes], standardized
    r2: tuple[float, ...]
    n: int
    dropped: tuple[str, ...]  # knobs constant over the students (no weight)

    def table(self) -> str:
        width = max(len(f) for f in (*self.features, "knob"))
        head = f"{'knob':{width}s}  " + "  ".join(f"{o:>13s}" for o in self.outcomes)
        lines = ["standardized regression weights (FRILL-style hyperparameter analysis)", head]
        for i, f in enumerate(self.features):
            lines.append(f"{f:{width}s}  " + "  ".join(f"{w:+13.3f}" for w in self.weights[i]))
        lines.append(f"{'R2 of the fit':{width}s}  " + "  ".join(f"{r:13.3f}" for r in self.r2))
        lines.append(f"{self.n} students")
        if self.n <= len(self.features) + 1:
            lines.append(
                f"note: {self.n} students for {len(self.features)} knobs: the fit is exact or "
                "underdetermined; weights are the minimum-norm solution, not evidence"
            )
        if self.dropped:
            lines.append(f"constant over these students (no weight): {', '.join(self.dropped)}")
        return "\n".join(lines)


def knob_features(row: dict[str, str]) -> dict[str, float]:
    """A manifest row as numbers: the FRILL paper's knobs, one column each."""
    return {
        "size (large)": float(row["size"] == "large"),
        "alpha": float(row["alpha"]),
        "minimalistic": float(row["minimalistic"] == "True"),
        "global avg pool": float(row["pooling"] == "avg"),
        "bottleneck dim": float(row["bottleneck"]),
        "compression": float(int(row.get("compression") or 0) > 0),
        "quantize dynamic": float(row["quantize"] == "dynamic"),
        "quantize int8": float(row["quantize"] == "int8"),
        "frontend in graph": float(row["frontend"] == "True"),
    }


def standardized_regression(x: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Weights `[features, outcomes]` of z-scored y on z-scored x (least squares, min-norm), and
    each outcome's R2."""
    zx = (x - x.mean(0)) / x.std(0)
    sy = y.std(0)
    sy[sy == 0] = 1.0
    zy = (y - y.mean(0)) / sy
    weights = np.linalg.lstsq(zx, zy, rcond=None)[0]
    resid = zy - zx @ weights
    sst = (zy**2).sum(0)
    r2 = np.where(sst > 0, 1 - (resid**2).sum(0) / np.where(sst > 0, sst, 1), np.nan)
    return weights, r2


def explain(points: list[Point], sizes: dict[str, float], manifests: list[Path]) -> Explanation:
    """Regress each outcome on the knobs of the students among `points` (matched by the TFLite
    file's sha256); models not in a manifest (teachers, baselines) are left out."""
    rows = {r["tflite_sha256"]: r for m in manifests for r in read_manifest(m)}
    matched = [(p, rows[p.sha256]) for p in points if p.sha256 in rows]
    if len(matched) < 3:
        raise NossError(
            f"frontier --explain: {len(matched)} leaderboard models are students of "
            f"{', '.join(map(str, manifests)) or 'no manifest'}; need at least 3 (score and time "
            "the students with --embedders-from)"
        )
    feats = [knob_features(r) for _, r in matched]
    names = list(feats[0])
    x = np.array([[f[n] for n in names] for f in feats])
    varying = x.std(0) > 0
    y = np.array(
        [
            [p.quality, p.latency_ms, sizes.get(p.sha256, float(r["tflite_bytes"]) / 1e6)]
            for p, r in matched
        ]
    )
    weights, r2 = standardized_regression(x[:, varying], y)
    return Explanation(
        tuple(n for n, v in zip(names, varying, strict=True) if v),
        OUTCOMES,
        weights,
        tuple(float(v) for v in r2),
        len(matched),
        tuple(n for n, v in zip(names, varying, strict=True) if not v),
    )


def find_manifests(leaderboard: Path) -> list[Path]:
    """Manifests beside the students the leaderboard's runs scored (from its runs file)."""
    from noss_eval.leaderboard import runs_path

    found: list[Path] = []
    runs = runs_path(leaderboard)
    if not runs.is_file():
        return found
    for line in runs.read_text(encoding="utf-8").splitlines():
        try:
            spec = json.loads(line).get("embedder", "")
        except json.JSONDecodeError:
            continue
        if not str(spec).endswith(".tflite"):
            continue
        for folder in list(Path(spec).parents)[:3]:
            candidate = folder / MANIFEST
            if candidate.is_file() and candidate.resolve() not in found:
                found.append(candidate.resolve())
                break
    return found


def plot_explanation(exp: Explanation, out: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(7, 0.5 * len(exp.features) + 1.8), dpi=120)
    y = np.arange(len(exp.features))
    h = 0.8 / len(exp.outcomes)
    for j, outcome in enumerate(exp.outcomes):
        ax.barh(y + (j - 1) * h, exp.weights[:, j], h, label=f"{outcome} (R2 {exp.r2[j]:.2f})")
    ax.set_yticks(y, exp.features)
    ax.axvline(0, color="0.3", lw=0.8)
    ax.set_xlabel("standardized regression weight")
    ax.set_title(f"what each knob does ({exp.n} students)", fontsize=10)
    ax.legend(fontsize=8, loc="best")
    ax.grid(alpha=0.3, axis="x")
    fig.tight_layout()
    out.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(out)
    plt.close(fig)
