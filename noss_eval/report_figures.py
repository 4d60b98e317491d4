"""Figures for the HTML report, as inline SVG: per-task scores with intervals, and the frontier.

Matplotlib's SVG is made fit to sit inside an HTML page: no XML prolog, DOCTYPE, metadata or
namespace URLs (nothing that names an address), ids prefixed per figure (several figures share one
document), text kept as text (selectable, escaped by matplotlib's XML writer), never math.
"""

from __future__ import annotations

import io
import re
from collections.abc import Sequence
from contextlib import contextmanager
from dataclasses import dataclass, replace

from markupsafe import Markup

from noss_eval.frontier import Point, draw
from noss_eval.probes import PROTOCOLS

STYLE = {
    "svg.fonttype": "none",  # text stays text
    "svg.hashsalt": "noss-eval",  # the same board gives the same file
    "text.parse_math": False,  # "$" in an embedder name is a dollar sign
    "font.size": 9,
}


@dataclass(frozen=True)
class Bar:
    """One embedder's headline score on one task (percent), with its 95 % interval."""

    label: str
    protocol: str
    score: float
    low: float | None
    high: float | None


@dataclass(frozen=True)
class RefLine:
    label: str
    score: float


@contextmanager
def _style():
    import matplotlib

    with matplotlib.rc_context(STYLE):
        yield


def inline_svg(fig, prefix: str) -> Markup:
    """`fig` as an `<svg>` element to paste into HTML; its ids start with `prefix`."""
    buffer = io.StringIO()
    with _style():
        fig.savefig(buffer, format="svg")
    svg = buffer.getvalue()
    svg = svg[svg.index("<svg") :]
    svg = re.sub(r"<metadata>.*?</metadata>\s*", "", svg, flags=re.S)
    svg = re.sub(r'\s+xmlns(:\w+)?="[^"]*"', "", svg)
    svg = re.sub(r'(\bid="|href="#|url\(#)', lambda m: m.group(1) + prefix + "-", svg)
    return Markup(svg)  # noqa: S704 -- matplotlib's writer escaped every text and attribute


def task_chart(
    task: str, metric: str, bars: Sequence[Bar], refs: Sequence[RefLine], prefix: str
) -> Markup:
    """Every embedder's score on `task` with its interval, and the reference line(s)."""
    from matplotlib.figure import Figure

    with _style():
        rows = len({b.protocol for b in bars}) + len(refs)  # legend entries, one a line
        fig = Figure(figsize=(6, 1.0 + 0.3 * len(bars) + 0.18 * rows), layout="constrained")
        ax = fig.add_subplot()
        ys = list(range(len(bars)))[::-1]  # first bar on top
        for protocol in dict.fromkeys(b.protocol for b in bars):
            known = PROTOCOLS.get(protocol)
            marker, colour = known.marker if known else ("D", "tab:green")
            mine = [(y, b) for y, b in zip(ys, bars, strict=True) if b.protocol == protocol]
            has_ci = [(y, b) for y, b in mine if b.low is not None and b.high is not None]
            # the interval drawn from its ends: a mean over folds may lie outside the interval
            # of the pooled clips, and is shown where it is
            ys_ci = [y for y, _ in has_ci]
            ax.hlines(
                ys_ci, [b.low for _, b in has_ci], [b.high for _, b in has_ci], colour, lw=1.2
            )
            for end in ("low", "high"):
                ends = [getattr(b, end) for _, b in has_ci]
                ax.plot(ends, ys_ci, "|", color=colour, ms=7)
            ax.plot(
                [b.score for _, b in mine],
                [y for y, _ in mine],
                marker,
                color=colour,
                label=f"{protocol} protocol",
            )
        for ref, style in zip(refs, ("--", ":", "-.", (0, (5, 1))) * len(refs), strict=False):
            ax.axvline(ref.score, color="0.25", lw=1, ls=style, label=ref.label)
        ax.set_yticks(ys, [_short(b.label) for b in bars])
        ax.set_ylim(-0.7, len(bars) - 0.3)
        ax.set_xlabel(f"{task}: {metric}, %")
        ax.grid(axis="x", alpha=0.3)
        fig.legend(loc="outside lower center", fontsize=8, frameon=False)
    return inline_svg(fig, prefix)


def frontier_chart(
    points: list[Point], tasks: list[str], title: str, reference: str, prefix: str
) -> Markup:
    short = [replace(p, embedder=_short(p.embedder)) for p in points]
    with _style():
        fig = draw(short, tasks, title, reference)
    return inline_svg(fig, prefix)


def _short(label: str, most: int = 36) -> str:
    """A tick label that leaves room for the plot (the page's text has the whole name)."""
    return label if len(label) <= most else label[: most - 1] + "\u2026"
