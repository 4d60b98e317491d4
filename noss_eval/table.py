"""The console view of leaderboard rows: one line per task and probe, then average deltas."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Sequence
from typing import Any

import numpy as np

from noss_eval.probes import PROTOCOL_NOTES
from noss_eval.task import OFFICIAL, UNKNOWN

HEADLINE_NAMES = {"accuracy": "acc", "balanced_accuracy": "UAR"}


def average_delta(rows: Iterable[dict[str, Any]], probe: str) -> tuple[float, int] | None:
    """Mean delta of `probe` over the tasks that have a reference, and how many those are."""
    deltas = [
        float(r["delta"]) for r in rows if r["probe"] == probe and r.get("delta") not in (None, "")
    ]
    return (float(np.mean(deltas)), len(deltas)) if deltas else None


def format_table(rows: Sequence[dict[str, Any]], note: str = "") -> str:
    """A readable per-task table followed by the average delta per probe. Scores, intervals,
    references and deltas are on each task's headline metric (named in the `metric` column)."""
    header = (
        "task",
        "probe",
        "metric",
        "score %",
        "95% CI",
        "ref %",
        "delta",
        "p",
        "n_test",
        "config",
    )
    body = [
        (
            r["task"],
            r["probe"],
            HEADLINE_NAMES.get(r["headline_metric"], r["headline_metric"]),
            format_number(r["headline_score"]) + ("*" if r.get("at_chance") else ""),
            format_interval(r.get("headline_ci_low"), r.get("headline_ci_high")),
            format_number(r.get("reference_score")),
            format_number(r.get("delta"), signed=True),
            str(r.get("delta_p_value") or "-"),
            str(r["n_test"]),
            r["config"],
        )
        for r in rows
    ]
    widths = [max(len(x) for x in col) for col in zip(header, *body, strict=True)]
    lines = [
        "  ".join(x.ljust(w) for x, w in zip(line, widths, strict=True)).rstrip()
        for line in (header, *body)
    ]
    if any(r.get("at_chance") for r in rows):
        lines.append("* the 95% interval reaches chance level (the `chance` column)")
    for probe in dict.fromkeys(r["probe"] for r in rows):
        avg = average_delta(rows, probe)
        if avg is not None:
            lines.append(
                f"average delta vs reference ({probe}): {avg[0]:+.2f} points over {avg[1]} tasks"
            )
    lines += data_notes(rows)
    for protocol in sorted({r["protocol"] for r in rows}):
        lines.append(f"protocol: {protocol} ({PROTOCOL_NOTES.get(protocol, '')})")
    sources = sorted({r["reference_source"] for r in rows if r.get("reference_source")})
    lines += [f"reference: {s}" for s in sources]
    if note:
        lines.append(note)
    return "\n".join(lines)


def data_notes(rows: Sequence[dict[str, Any]]) -> list[str]:
    """Per task, what its numbers were measured on when that is not the official test set;
    then why rows have no delta against a published reference (once per reason)."""
    lines = []
    for task in dict.fromkeys(r["task"] for r in rows):
        mine = [r for r in rows if r["task"] == task]
        data = dict.fromkeys(r.get("data", "") for r in mine)
        scored = dict.fromkeys(r.get("scored_on", "") for r in mine)
        lines += [f"{task}: data {d}" for d in data if d not in ("", OFFICIAL, UNKNOWN)]
        lines += [
            f"{task}: scored on {p}"
            for p in scored
            if p not in ("", "test") and not p.endswith("cross-validation")
        ]
    notes = Counter(r["reference_note"] for r in rows if r.get("reference_note"))
    lines += [f"{note} ({n} row{'s' if n > 1 else ''})" for note, n in notes.items()]
    return lines


def format_interval(low: Any, high: Any) -> str:
    """A 95 % interval as the table shows it (one decimal), "-" when absent."""
    return "-" if low in (None, "") else f"{float(low):.1f}-{float(high):.1f}"


def format_number(value: Any, signed: bool = False) -> str:
    """A score or delta as the table shows it (two decimals), "-" when absent."""
    if value in (None, ""):
        return "-"
    return f"{float(value):+.2f}" if signed else f"{float(value):.2f}"
