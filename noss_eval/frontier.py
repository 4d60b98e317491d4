"""`noss-eval frontier`: quality (average delta vs TRILL) against latency, as in the FRILL paper.

Models come from a leaderboard CSV: their deltas for one probe and protocol, averaged over the
tasks every plotted model has, and their `latency_ms` (from `noss-eval latency`). A model is on the
Pareto frontier when no other model is at least as fast and at least as good, and better in one.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np

from noss_eval.errors import NossError
from noss_eval.leaderboard import read_leaderboard


@dataclass(frozen=True)
class Point:
    embedder: str
    sha256: str
    latency_ms: float
    quality: float  # mean delta vs reference, headline points (UAR for mask, else accuracy)
    on_frontier: bool = False
    reference: bool = False  # the reference embedder itself (quality 0 by definition)


@dataclass(frozen=True)
class Frontier:
    """The plottable models of one probe and protocol, against one reference."""

    points: list[Point]
    tasks: list[str]  # the tasks every point's delta is averaged over
    skipped: list[str]  # the models left out, and why
    reference: str


def timed_deltas(rows: list[dict[str, str]], probe: str, protocol: str) -> list[dict[str, str]]:
    """The `probe`/`protocol` rows with a delta, of models that have a latency: the only rows
    that can be plotted (an untimed model, such as the reference's own rows, never is)."""
    timed = {r["embedder_fingerprint"] for r in rows if r.get("latency_ms")}
    return [
        r
        for r in rows
        if (r["probe"], r["protocol"]) == (probe, protocol)
        and r.get("delta")
        and r["embedder_fingerprint"] in timed
    ]


def one_reference(
    rows: list[dict[str, str]], probe: str, protocol: str, reference: str | None = None
) -> str:
    """The reference whose deltas are plotted: `reference`, or the only one of the
    `timed_deltas` (deltas against different references are not on one scale and are never
    averaged)."""
    have = sorted({r.get("reference", "") for r in timed_deltas(rows, probe, protocol)} - {""})
    if reference and reference not in have:
        raise NossError(
            f"frontier: no {probe}/{protocol} deltas against '{reference}' "
            f"(the board has: {', '.join(have) or 'none'})"
        )
    if not reference and len(have) > 1:
        raise NossError(
            f"frontier: deltas against {', '.join(have)} are not on one scale: "
            "choose one with --reference NAME"
        )
    return reference or (have[0] if have else "")


def collect(
    rows: list[dict[str, str]], probe: str, protocol: str, reference: str | None = None
) -> Frontier:
    """The points (frontier not yet marked), deltas against `one_reference`."""
    against = one_reference(rows, probe, protocol, reference)
    deltas: dict[tuple[str, str, str], dict[str, float]] = defaultdict(dict)
    latency: dict[str, float] = {}
    for r in rows:
        if r.get("latency_ms"):
            latency[r["embedder_fingerprint"]] = float(r["latency_ms"])
        mine = (r["probe"], r["protocol"], r.get("reference", "")) == (probe, protocol, against)
        if mine and r.get("delta"):
            model = (r["embedder"], r["embedder_sha256"], r["embedder_fingerprint"])
            deltas[model][r["task"]] = float(r["delta"])
    skipped = [
        f"{name}: no latency_ms (run noss-eval latency)"
        for name, _, fp in deltas
        if fp not in latency
    ]
    models = {k: v for k, v in deltas.items() if k[2] in latency}
    if not models:
        raise NossError(
            f"frontier: no model in the leaderboard has both {probe}/{protocol} "
            "deltas and latency_ms"
        )
    common = sorted(set.intersection(*(set(v) for v in models.values())))
    if not common:
        raise NossError("frontier: the models share no task with a delta; nothing to compare")
    names = [name for name, _, _ in models]
    points = [
        Point(
            name if names.count(name) == 1 else f"{name} ({fp[:6]})",
            sha,
            latency[fp],
            float(np.mean([d[t] for t in common])),
        )
        for (name, sha, fp), d in models.items()
    ]
    points += _timed_reference(rows, probe, protocol, against, latency)
    return Frontier(points, common, skipped, against)


def _timed_reference(
    rows: list[dict[str, str]],
    probe: str,
    protocol: str,
    against: str,
    latency: dict[str, float],
) -> list[Point]:
    """The reference itself, at quality 0, when it was measured in a run (its own rows, of the
    same probe and protocol) and timed (`latency` by fingerprint): the point every delta is
    measured from."""
    own = {
        r["embedder_fingerprint"]: r
        for r in rows
        if (r["embedder"], r["probe"], r["protocol"]) == (against, probe, protocol)
    }
    return [
        Point(f"{against} (reference)", r["embedder_sha256"], latency[fp], 0.0, reference=True)
        for fp, r in own.items()
        if fp in latency
    ]


def mark_frontier(points: list[Point]) -> list[Point]:
    def dominated(p: Point) -> bool:
        return any(
            q.latency_ms <= p.latency_ms
            and q.quality >= p.quality
            and (q.latency_ms < p.latency_ms or q.quality > p.quality)
            for q in points
        )

    return [replace(p, on_frontier=not dominated(p)) for p in points]


def frontier_points(
    rows: list[dict[str, str]], probe: str, protocol: str, reference: str | None = None
) -> Frontier:
    """`collect`, with each point's place on the Pareto frontier marked."""
    found = collect(rows, probe, protocol, reference)
    return replace(found, points=mark_frontier(found.points))


def draw(points: list[Point], tasks: list[str], title: str, reference: str = "TRILL"):
    """The frontier figure (a matplotlib Figure, no pyplot state): save it as PNG or SVG."""
    import matplotlib.ticker
    from matplotlib.figure import Figure

    fig = Figure(figsize=(7, 4.5), dpi=120)
    ax = fig.add_subplot()
    front = sorted((p for p in points if p.on_frontier), key=lambda p: p.latency_ms)
    rest = [p for p in points if not p.on_frontier]
    ax.scatter(
        [p.latency_ms for p in rest],
        [p.quality for p in rest],
        color="0.6",
        alpha=0.45,
        label="dominated",
    )
    ax.step(
        [p.latency_ms for p in front],
        [p.quality for p in front],
        where="post",
        color="tab:red",
        alpha=0.6,
    )
    ax.scatter(
        [p.latency_ms for p in front],
        [p.quality for p in front],
        color="tab:red",
        zorder=3,
        label="Pareto frontier",
    )
    for p in points:
        ax.annotate(
            p.embedder,
            (p.latency_ms, p.quality),
            textcoords="offset points",
            xytext=(5, 4),
            fontsize=8,
            alpha=1.0 if p.on_frontier else 0.5,
        )
    ax.axhline(0.0, color="0.3", lw=0.8, ls="--", label=f"{reference} (reference)")
    timed = [p for p in points if p.reference]
    if timed:
        ax.scatter(
            [p.latency_ms for p in timed],
            [0.0] * len(timed),
            marker="*",
            s=140,
            color="black",
            zorder=4,
            label="reference, timed",
        )
    ax.set_xscale("log")
    xs, ys = [p.latency_ms for p in points], [p.quality for p in points] + [0.0]
    ax.set_xlim(min(xs) / 1.6, max(xs) * 2.2)  # room for labels right of the points
    span = max(ys) - min(ys) or 1.0
    ax.set_ylim(min(ys) - 0.12 * span, max(ys) + 0.18 * span)
    plain = matplotlib.ticker.FuncFormatter(lambda v, _: f"{v:g}")
    ax.xaxis.set_major_formatter(plain)
    narrow = max(xs) / min(xs) < 20  # under ~1 decade: label the minor ticks too
    ax.xaxis.set_minor_formatter(plain if narrow else matplotlib.ticker.NullFormatter())
    ax.tick_params(axis="x", which="minor", labelsize=7)
    ax.set_xlabel("latency per 0.96 s window, 1 thread (ms, log scale)")
    ax.set_ylabel(f"average delta vs {reference} (headline points)")
    ax.set_title(title, fontsize=10)
    ax.text(
        0.01,
        0.01,
        f"tasks: {', '.join(tasks)}",
        transform=ax.transAxes,
        fontsize=7,
        color="0.35",
        va="bottom",
    )
    ax.legend(loc="best", fontsize=8, framealpha=0.9)
    ax.grid(alpha=0.3, which="both")
    fig.tight_layout()
    return fig


def frontier(
    leaderboard: Path, out: Path, probe: str, protocol: str, reference: str | None = None
) -> tuple[list[Point], str]:
    """Plot to `out`; return the points and a text summary naming the frontier models."""
    if not leaderboard.is_file():
        raise NossError(f"frontier: no such file: {leaderboard}")
    rows = read_leaderboard(leaderboard)
    found = frontier_points(rows, probe, protocol, reference)
    points, tasks, against = found.points, found.tasks, found.reference
    out.parent.mkdir(parents=True, exist_ok=True)
    title = f"quality vs latency ({probe} probe, {protocol} protocol)"
    draw(points, tasks, title, against).savefig(out)
    lines = ["Pareto frontier (fastest first):"]
    lines += [
        f"  {p.embedder:24s} {p.latency_ms:9.2f} ms  {p.quality:+7.2f} points"
        for p in sorted(points, key=lambda p: p.latency_ms)
        if p.on_frontier
    ]
    lines += [f"dominated: {p.embedder}" for p in points if not p.on_frontier]
    lines += [f"skipped {s}" for s in found.skipped]
    lines.append(
        f"deltas vs {against}, averaged over {len(tasks)} common tasks: {', '.join(tasks)}; "
        f"plot: {out}"
    )
    return points, "\n".join(lines)
