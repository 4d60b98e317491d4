"""`noss-eval report`: the leaderboard as one self-contained HTML page.

Rows of the leaderboard CSV (and the runs file beside it: `provenance`) -> a typed view model
(tables, figures from `report_figures`, runs) -> a Jinja2 template (autoescaped: embedder names
and paths come from users). Styles, the sorting script and the figures (SVG) are inline, and a
Content-Security-Policy forbids every request, so the page works offline, from a file or a mail
attachment. Numbers are shown as the console table shows
them (`table.format_number`, `format_interval`); each cell also carries the CSV's exact value.
"""

from __future__ import annotations

import base64
import hashlib
import math
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any

from noss_eval import __version__
from noss_eval.atomic import atomic_write_text
from noss_eval.errors import NossError
from noss_eval.frontier import frontier_points, timed_deltas
from noss_eval.leaderboard import check_writable, read_leaderboard, runs_path
from noss_eval.probes import PROTOCOL_NOTES
from noss_eval.provenance import Run, load_runs, runs_of
from noss_eval.report_figures import Bar, RefLine, frontier_chart, task_chart
from noss_eval.synthetic import DEMO_SOURCE
from noss_eval.table import (
    HEADLINE_NAMES,
    average_delta,
    data_notes,
    format_interval,
    format_number,
)

METRIC_WORDS = {"accuracy": "accuracy", "balanced_accuracy": "UAR (balanced accuracy)"}
SIGNIFICANCE = 0.05  # a delta is marked "n.s." unless its paired test gives p below this
NEEDED = ("embedder", "embedder_sha256", "embedder_fingerprint", "task", "probe", "protocol")
NEEDED += ("headline_metric", "headline_score")
NUMERIC = ("headline_score", "headline_ci_low", "headline_ci_high", "reference_score", "delta")
EntryKey = tuple[str, str, str, str, str]  # embedder, fingerprint, protocol, seed, data source


@dataclass(frozen=True)
class Cell:
    """One task of one table row, from one CSV row."""

    row: dict[str, str] = field(repr=False)
    best: bool  # the highest score on this task in this protocol's table (ties: all)

    @property
    def value(self) -> str:  # the CSV's headline_score, exactly: the sort key
        return self.row["headline_score"]

    @property
    def score(self) -> str:
        return format_number(self.value)

    @property
    def interval(self) -> str:
        return format_interval(self.row.get("headline_ci_low"), self.row.get("headline_ci_high"))

    @property
    def delta(self) -> str:
        return format_number(self.row["delta"], signed=True) if self.row.get("delta") else ""

    @property
    def reference(self) -> str:
        return self.row.get("reference", "")

    @property
    def p_value(self) -> str:  # as the CSV (and the console) writes it
        return self.row.get("delta_p_value", "")

    @property
    def config(self) -> str:
        return self.row.get("config", "")

    @property
    def at_chance(self) -> bool:
        return self.row.get("at_chance") == "yes"

    @property
    def chance(self) -> str:
        return format_number(self.row.get("chance"))

    @property
    def significant(self) -> bool:
        """A paired test gave p < 0.05 (a published reference has no test: never)."""
        p = _float(self.p_value.lstrip("<"))
        return bool(self.delta) and p is not None and p < SIGNIFICANCE


@dataclass(frozen=True)
class Entry:
    """One table row: an embedder (one fingerprint, seed and data source) under one protocol."""

    label: str
    cells: dict[str, Cell]  # by task
    average: tuple[float, int, str] | None  # mean delta, over how many tasks, against what
    average_note: str  # why there is no average
    latency_ms: str
    size_mb: str

    @property
    def average_text(self) -> str:
        return format_number(self.average[0], signed=True) if self.average else ""

    @property
    def average_value(self) -> str:  # the sort key, unrounded
        return repr(self.average[0]) if self.average else ""

    @property
    def run_ids(self) -> list[str]:
        return list(dict.fromkeys(c.row.get("run_id", "") for c in self.cells.values()))


@dataclass(frozen=True)
class Table:
    protocol: str
    words: str  # the protocol in plain words
    tasks: list[tuple[str, str]]  # (task, its headline metric as the console names it)
    entries: list[Entry]


@dataclass(frozen=True)
class Chart:
    id: str
    title: str
    alt: str
    svg: str


@dataclass
class Report:
    board: str
    probe: str
    tables: list[Table]
    task_charts: list[Chart]
    frontier: list[Chart] | None  # None: no latency in the board
    frontier_notes: list[str]
    runs: list[Run]
    notes: list[str]
    version: str = __version__


def write_report(board: Path, out: Path, runs: Path | None = None, probe: str = "best") -> Report:
    """Read `board` (and its runs file), render the page, write it atomically to `out`."""
    check_writable(out, "report --out")
    rows = load_board(board)
    notes = []
    runs_file = runs or runs_path(board)
    if runs is not None and not runs.is_file():
        raise NossError(f"report --runs: no such file: {runs}; give the board's .runs.jsonl")
    if not runs_file.exists():
        notes.append(f"no runs file ({runs_file.name}): provenance shows what the rows carry")
    report = build(rows, load_runs(runs_file), probe, board.name, notes)
    try:
        atomic_write_text(out, render(report))
    except OSError as exc:
        raise NossError(f"report --out: cannot write {out} ({exc}); give another path") from None
    return report


def load_board(path: Path) -> list[dict[str, str]]:
    if not path.is_file():
        raise NossError(
            f"report: no such file: {path}; give a leaderboard CSV written by --leaderboard"
        )
    rows = read_leaderboard(path, "report")
    if rows and not all(k in rows[0] for k in NEEDED):
        raise NossError(f"report: {path} is not a noss-eval leaderboard CSV; give another file")
    if not any(r["task"] for r in rows):  # latency-only rows have no task
        raise NossError(f"report: {path} holds no result rows; run noss-eval --leaderboard {path}")
    for line, row in enumerate(rows, start=2):
        for column in NUMERIC + ("latency_ms", "size_mb"):
            if row.get(column) and _float(row[column]) is None:
                raise NossError(
                    f"report: {path}: row {line}: {column} is not a number ({row[column]!r}); "
                    "fix or remove the row"
                )
        if row["task"] and not row["headline_score"]:
            raise NossError(f"report: {path}: row {line} has no headline_score; fix or remove it")
    return rows


def build(
    rows: list[dict[str, str]],
    records: dict[str, dict[str, Any]],
    probe: str,
    board: str,
    notes: list[str] | None = None,
) -> Report:
    notes = list(notes or [])
    if any(r.get("data_source") == DEMO_SOURCE for r in rows):
        notes.insert(
            0,
            "synthetic data: the rows of `noss-eval --demo` are scored on generated tones, not "
            "speech; they show that the pipeline works and say nothing about an embedding",
        )
    chosen = _choose(rows, probe, notes)
    protocols = list(dict.fromkeys(key[2] for key in chosen))
    if not protocols:
        raise NossError(f"report: {board} has no '{probe}' rows; give another --probe")
    model = _model_columns(rows)
    tables = [
        _table(p, {k: v for k, v in chosen.items() if k[2] == p}, model, notes) for p in protocols
    ]
    frontier, frontier_notes = _frontier(rows, probe, protocols)
    return Report(
        board=board,
        probe=probe,
        tables=tables,
        task_charts=_task_charts(tables),
        frontier=frontier,
        frontier_notes=frontier_notes,
        runs=_runs(tables, records),
        notes=notes,
    )


def render(report: Report) -> str:
    import jinja2
    from markupsafe import Markup

    folder = resources.files("noss_eval") / "templates"
    script = (folder / "report.js").read_text(encoding="utf-8")
    env = jinja2.Environment(autoescape=True, undefined=jinja2.StrictUndefined)
    template = env.from_string((folder / "report.html.j2").read_text(encoding="utf-8"))
    digest = base64.b64encode(hashlib.sha256(script.encode()).digest()).decode()
    return template.render(
        report=report,
        script=Markup(script),  # noqa: S704 -- our own file
        script_hash=f"sha256-{digest}",
        protocol_notes=PROTOCOL_NOTES,
        significance=SIGNIFICANCE,
    )


# --- rows -> tables -------------------------------------------------------------------------


def _choose(rows, probe, notes) -> dict[EntryKey, dict[str, dict[str, str]]]:
    """The `probe` rows by entry and task; of rows on other copies of a task's data (another
    data fingerprint) the most recent."""
    chosen: dict[EntryKey, dict[str, dict[str, str]]] = defaultdict(dict)
    older = 0
    for r in rows:
        if not r["task"] or r["probe"] != probe:
            continue
        key = (r["embedder"], r["embedder_fingerprint"], r["protocol"], r.get("seed", ""))
        key += (r.get("data_source", ""),)
        kept = chosen[key].get(r["task"])
        if kept is not None:
            older += 1
            if kept.get("created", "") > r.get("created", ""):
                continue
        chosen[key][r["task"]] = r
    if older:
        notes.append(
            f"{older} older row(s) on another copy of a task's data are not shown "
            "(each embedder's most recent row of each task is)"
        )
    return chosen


def _model_columns(rows) -> dict[str, dict[str, str]]:
    """Latency and size by embedder fingerprint, from any row of it."""
    out: dict[str, dict[str, str]] = defaultdict(dict)
    for r in rows:
        for column in ("latency_ms", "size_mb"):
            if r.get(column):
                out[r.get("embedder_fingerprint", "")][column] = r[column]
    return out


def _table(protocol, groups, model, notes) -> Table:
    tasks = list(dict.fromkeys(t for cells in groups.values() for t in cells))
    best = {t: max(float(c[t]["headline_score"]) for c in groups.values() if t in c) for t in tasks}
    labels = _labels(list(groups))
    entries = []
    for key, cells in groups.items():
        average, note = _average(list(cells.values()))
        extra = model.get(next(iter(cells.values())).get("embedder_fingerprint", ""), {})
        entries.append(
            Entry(
                label=labels[key],
                cells={t: Cell(r, float(r["headline_score"]) == best[t]) for t, r in cells.items()},
                average=average,
                average_note=note,
                latency_ms=extra.get("latency_ms", ""),
                size_mb=extra.get("size_mb", ""),
            )
        )
    rows = [r for cells in groups.values() for r in cells.values()]
    notes += [f"{protocol} protocol: {line}" for line in data_notes(rows)]
    for t in tasks:
        copies = {c[t].get("data_fingerprint", "") for c in groups.values() if t in c}
        if len(copies) > 1:
            notes.append(
                f"{protocol} protocol: the {t} rows come from {len(copies)} different copies of "
                "its data (data_fingerprint): their scores are not on the same clips"
            )
    metrics = {t: next(c[t]["headline_metric"] for c in groups.values() if t in c) for t in tasks}
    return Table(
        protocol=protocol,
        words=PROTOCOL_NOTES.get(protocol, protocol),
        tasks=[(t, HEADLINE_NAMES.get(metrics[t], metrics[t])) for t in tasks],
        entries=sorted(entries, key=lambda e: (e.label.casefold(), e.label)),
    )


def _labels(keys: list[EntryKey]) -> dict[EntryKey, str]:
    """The embedder's name, plus whatever tells apart rows of the same name (fingerprint, seed,
    data source)."""
    out = {}
    for key in keys:
        same = [k for k in keys if k[0] == key[0]]
        parts = [
            text
            for i, text in ((1, key[1][:6]), (3, f"seed {key[3]}"), (4, key[4]))
            if len({k[i] for k in same}) > 1
        ]
        out[key] = f"{key[0]} ({', '.join(parts)})" if parts else key[0]
    return out


def _average(rows: list[dict[str, str]]) -> tuple[tuple[float, int, str] | None, str]:
    references = sorted({r.get("reference", "") for r in rows if r.get("delta")})
    if len(references) > 1:
        return None, f"deltas against {', '.join(references)}: not averaged"
    mean = average_delta(rows, rows[0]["probe"])
    return (None, "") if mean is None else ((*mean, references[0]), "")


def _float(text: str | None) -> float | None:
    """The finite number `text` holds, else None."""
    try:
        value = float(text) if text not in (None, "") else None
    except ValueError:
        return None
    return value if value is not None and math.isfinite(value) else None


# --- figures --------------------------------------------------------------------------------


def _task_charts(tables: list[Table]) -> list[Chart]:
    several = len(tables) > 1
    tasks = list(dict.fromkeys(t for table in tables for t, _ in table.tasks))
    charts = []
    for n, task in enumerate(tasks):
        bars, refs, metric = [], {}, ""
        for table in tables:
            suffix = f" ({table.protocol})" if several else ""
            for entry in table.entries:
                if task not in entry.cells:
                    continue
                row = entry.cells[task].row
                metric = METRIC_WORDS.get(row["headline_metric"], row["headline_metric"])
                bars.append(
                    Bar(
                        entry.label + suffix,
                        table.protocol,
                        float(row["headline_score"]),
                        _float(row.get("headline_ci_low")),
                        _float(row.get("headline_ci_high")),
                    )
                )
                if row.get("reference_score"):  # a published one is the same in every table
                    score = float(row["reference_score"])
                    measured = row.get("reference_source", "").startswith("measured")
                    name = f"reference {row.get('reference', '')}{suffix if measured else ''}"
                    refs[name, score] = RefLine(f"{name}: {score:.2f}", score)
        shown = ", ".join(f"{b.label} {b.score:.2f} %" for b in bars)
        charts.append(
            Chart(
                id=f"chart-task-{n}",
                title=task,
                alt=f"{task} ({metric}, percent, 95 % intervals): {shown}; "
                + ("; ".join(r.label for r in refs.values()) or "no reference score"),
                svg=task_chart(task, metric, bars, list(refs.values()), f"t{n}"),
            )
        )
    return charts


def _frontier(rows, probe, protocols) -> tuple[list[Chart] | None, list[str]]:
    """The quality-vs-latency frontier per protocol, when the board has latency at all; deltas
    against the reference most plottable rows (`timed_deltas`) have (others are not on the
    same scale)."""
    if not any(r.get("latency_ms") for r in rows):
        return None, []
    charts, notes = [], []
    for n, protocol in enumerate(protocols):
        mine = timed_deltas(rows, probe, protocol)
        counts = Counter(r.get("reference", "") for r in mine)
        reference = counts.most_common(1)[0][0] if counts else ""
        other = sorted(
            {r["embedder"] for r in mine}
            - {r["embedder"] for r in mine if r.get("reference") == reference}
        )
        try:
            found = frontier_points(rows, probe, protocol, reference or None)
        except NossError as exc:
            notes.append(f"{protocol} protocol: {str(exc).removeprefix('frontier: ')}")
            continue
        alt = "; ".join(
            f"{p.embedder}: {p.latency_ms:.2f} ms, {p.quality:+.2f} points"
            + ("" if p.on_frontier else " (dominated)")
            for p in sorted(found.points, key=lambda p: p.latency_ms)
        )
        charts.append(
            Chart(
                id=f"frontier-{n}",
                title=(
                    f"{protocol} protocol: average delta vs {reference} over "
                    f"{', '.join(found.tasks)}"
                ),
                alt=f"Quality vs latency, {protocol} protocol: {alt}",
                svg=frontier_chart(
                    found.points,
                    found.tasks,
                    f"quality vs latency ({probe} probe, {protocol} protocol)",
                    reference,
                    f"f{n}",
                ),
            )
        )
        notes += [f"{protocol} protocol: skipped {s}" for s in found.skipped]
        notes += [f"{protocol} protocol: not plotted {e}: no delta vs {reference}" for e in other]
    return charts, notes


def _runs(tables: list[Table], records: dict[str, dict[str, Any]]) -> list[Run]:
    """Each run behind a shown cell, with the rows it produced."""
    produced: dict[str, list[str]] = defaultdict(list)
    first_row: dict[str, dict[str, str]] = {}
    for table in tables:
        for entry in table.entries:
            tasks_of: dict[str, list[str]] = defaultdict(list)
            for task, cell in entry.cells.items():
                run_id = cell.row.get("run_id", "")
                tasks_of[run_id].append(task)
                first_row.setdefault(run_id, cell.row)
            for run_id, tasks in tasks_of.items():
                produced[run_id].append(f"{entry.label} ({table.protocol}): {', '.join(tasks)}")
    return runs_of(first_row, produced, records)
