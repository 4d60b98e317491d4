"""The leaderboard CSV: one row per result, merged without duplicates; and the runs file that
says how each row was produced."""

from __future__ import annotations

import csv
import io
import json
import os
import re
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from noss_eval.atomic import (
    atomic_write_text,
    check_lock,
    is_writable_folder,
    locked,
    nearest_folder,
    write_target,
)
from noss_eval.errors import NossError, ResultsNotSaved
from noss_eval.results import ProbeResult, RunStamp
from noss_eval.stats import format_p_value

COLUMNS = (
    "embedder",
    "embedder_sha256",
    "embedder_fingerprint",
    "embedder_settings",
    "task",
    "probe",
    "protocol",
    "headline_metric",
    "headline_score",
    "headline_ci_low",
    "headline_ci_high",
    "chance",
    "at_chance",
    "accuracy",
    "balanced_accuracy",
    "macro_f1",
    "auc",
    "eer",
    "validation_score",
    "config",
    "n_train",
    "n_validation",
    "n_test",
    "failed_clips",
    "data",
    "scored_on",
    "audio_warnings",
    "reference",
    "reference_score",
    "reference_protocol",
    "delta",
    "delta_ci_low",
    "delta_ci_high",
    "delta_p_value",
    "delta_test",
    "reference_source",
    "reference_note",
    "seed",
    "data_source",
    "data_fingerprint",
    "run_id",
    "noss_eval_version",
    "created",
)  # all scores in percent; headline_*, validation_score, reference_score and delta_* are on
# the task's headline metric (UAR for mask, accuracy elsewhere); `chance` is guessing's score
# (majority class, 1/k for UAR) and `at_chance` says the interval reaches it; `data` is "official"
# or how the clips differ from the official set; a published reference's delta is only given on
# rows produced as it was (`reference_note` says why not)
KEY = (
    "embedder",
    "embedder_fingerprint",
    "task",
    "probe",
    "protocol",
    "data_fingerprint",
    "seed",
)


def _pct(x: float) -> float:
    return round(100.0 * x, 3)


def to_row(result: ProbeResult, stamp: RunStamp) -> dict[str, Any]:
    """The CSV row of one result (every number traceable through `run_id` to its run)."""
    r = result
    row: dict[str, Any] = {
        "embedder": r.embedder,
        "embedder_sha256": r.embedder_sha256,
        "embedder_fingerprint": r.embedder_fingerprint,
        "embedder_settings": r.embedder_settings,
        "task": r.task,
        "probe": r.probe,
        "protocol": r.protocol,
        "headline_metric": r.headline_metric,
        "headline_score": _pct(r.headline_score),
        "headline_ci_low": _pct(r.headline_ci[0]),
        "headline_ci_high": _pct(r.headline_ci[1]),
        "chance": _pct(r.chance),
        "at_chance": "yes" if r.at_chance else "",
        **{m: _pct(v) for m, v in r.metrics.items()},
        "validation_score": "" if r.validation_score is None else _pct(r.validation_score),
        "config": r.config,
        "n_train": r.n_train,
        "n_validation": r.n_validation,
        "n_test": r.n_test,
        "failed_clips": r.failed_clips,
        "data": r.data,
        "scored_on": r.scored_on,
        "audio_warnings": r.audio_warnings,
        "reference_note": r.reference_note,
        "seed": stamp.seed,
        "data_source": stamp.data_source,
        "data_fingerprint": r.data_fingerprint,
        "run_id": stamp.run_id,
        "noss_eval_version": stamp.noss_eval_version,
        "created": stamp.created,
    }
    c = r.comparison
    if c is not None:
        row.update(
            reference=c.reference,
            reference_score=round(c.score, 3),
            reference_protocol=c.protocol,
            reference_source=c.source,
            delta=round(r.delta, 3),
        )
        if c.paired is not None:
            row.update(
                delta_ci_low=_pct(c.paired.ci_low),
                delta_ci_high=_pct(c.paired.ci_high),
                delta_p_value=format_p_value(c.paired.p_value),
                delta_test=c.paired.test,
            )
    return row


def _key(row: dict[str, Any]) -> tuple[str, ...]:
    return tuple(str(row.get(k, "")) for k in KEY)


def read_leaderboard(path: Path, option: str = "--leaderboard") -> list[dict[str, str]]:
    """The rows of a noss-eval leaderboard CSV ([] when absent); anything else is a one-line
    error that names the file."""
    if not path.exists():
        return []
    if not path.is_file():
        raise NossError(f"{option}: {path} is a folder, not a file; give a file path")
    try:
        with open(path, newline="", encoding="utf-8-sig") as fh:
            reader = csv.DictReader(fh)
            if reader.fieldnames is None or not set(KEY[:5]) <= set(reader.fieldnames):
                raise NossError(
                    f"{option}: {path} is not a noss-eval leaderboard CSV; "
                    "give another path or move the file"
                )
            rows = []
            for row in reader:
                if None in row or None in row.values():
                    raise NossError(
                        f"{option}: {path}:{reader.line_num}: the row does not have the "
                        f"header's {len(reader.fieldnames)} fields; fix or move the file"
                    )
                rows.append({_unquote(k): _unquote(v) for k, v in row.items()})
            return rows
    except (OSError, UnicodeDecodeError, csv.Error) as exc:
        raise NossError(f"{option}: cannot read {path} ({exc})") from None


def check_writable(path: Path, option: str = "--leaderboard") -> None:
    """Before the long work: `path` can be created or replaced (its folder exists or can be made,
    and is writable; for a symbolic link, its target)."""
    path = write_target(path)
    folder = nearest_folder(path.parent)
    if not is_writable_folder(folder):
        raise NossError(f"{option}: cannot write {path} ({folder} is not a writable folder)")
    if path.is_dir():
        raise NossError(f"{option}: {path} is a folder, not a file; give a file path")
    if path.exists() and not os.access(path, os.R_OK):
        raise NossError(f"{option}: {path} is not readable; give another path")


def preflight(path: Path) -> None:
    """Everything a merge into `path` will need, checked before any embedding is computed."""
    check_writable(path)
    check_lock(path, "--leaderboard")  # the merge's lock file can be made: fail now, not then
    read_leaderboard(path)
    check_writable(runs_path(path), "--leaderboard runs file")
    check_lock(runs_path(path), "--leaderboard runs file")
    read_runs(runs_path(path))


def read_runs(path: Path, option: str = "--leaderboard runs file") -> str:
    """The runs file's text ("" when absent): UTF-8, one JSON object per line, else a one-line
    error that names the file and the line."""
    return _runs(path, option)[0]


def run_records(path: Path, option: str = "--leaderboard runs file") -> list[dict[str, Any]]:
    """The runs file's records in order ([] when absent); anything but UTF-8 lines of one JSON
    object each is a one-line error that names the file and the line."""
    return _runs(path, option)[1]


def _runs(path: Path, option: str) -> tuple[str, list[dict[str, Any]]]:
    """The runs file's text and its records, read once."""
    if not path.exists():
        return "", []
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise NossError(f"{option}: cannot read {path} ({exc}); fix or move the file") from None
    records = []
    for number, line in enumerate(text.splitlines(), 1):
        if not line.strip():
            continue
        try:
            record = json.loads(line)
        except ValueError:
            record = None
        if not isinstance(record, dict):
            raise NossError(
                f"{option}: {path}:{number}: not a JSON object (one run per line); fix or move "
                "the file"
            )
        records.append(record)
    return text, records


def runs_path(path: Path) -> Path:
    return path.with_suffix(".runs.jsonl")


def merge_leaderboard(path: Path, rows: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
    """Replace rows with the same key (embedder, fingerprint, task, probe, protocol, data
    fingerprint, seed); keep the rest. Under a lock: concurrent runs never lose rows."""
    with locked(path):
        return _merge(path, rows)


def _merge(path: Path, rows: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
    new_keys = {_key(r) for r in rows}
    public = [dict(r) for r in rows]
    old = read_leaderboard(path)
    carried = _model_columns(old)
    for row in public:  # latency and size belong to the model, not to one run
        row.update(
            {
                k: v
                for k, v in carried.get(row.get("embedder_fingerprint", ""), {}).items()
                if row.get(k) in (None, "")
            }
        )
    merged = [r for r in old if _key(r) not in new_keys] + public
    write_leaderboard(path, merged)
    return merged


MODEL_COLUMNS = ("latency_ms", "latency_p90_ms", "latency_ms_all_threads", "size_mb", "params")


def _model_columns(rows: list[dict[str, str]]) -> dict[str, dict[str, str]]:
    out: dict[str, dict[str, str]] = {}
    for r in rows:
        values = {k: r[k] for k in MODEL_COLUMNS if r.get(k)}
        if values:
            out.setdefault(r.get("embedder_fingerprint", ""), {}).update(values)
    return out


def write_leaderboard(path: Path, merged: list[dict[str, Any]]) -> None:
    """Write the rows; a text cell a spreadsheet would run as a formula is neutralised (see
    `_quote`; `read_leaderboard` gives back the text as it was)."""
    extra = sorted({k for r in merged for k in r} - set(COLUMNS))
    buffer = io.StringIO()
    names = [*COLUMNS, *map(_quote, extra)]
    writer = csv.DictWriter(buffer, fieldnames=names, restval="", lineterminator="\n")
    # csv quotes a cell with "\n" in it, not one with a lone "\r": such a row is quoted whole
    quoted = csv.DictWriter(
        buffer, fieldnames=names, restval="", lineterminator="\n", quoting=csv.QUOTE_ALL
    )
    writer.writeheader()
    for row in merged:
        cells = {_quote(k): _quote(v) for k, v in row.items()}
        carriage = any(isinstance(v, str) and "\r" in v for v in cells.values())
        (quoted if carriage else writer).writerow(cells)
    atomic_write_text(path, buffer.getvalue())


# CSV injection (OWASP): a cell starting with one of these is a formula to a spreadsheet.
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r", "\n", "\uff1d", "\uff0b", "\uff0d", "\uff20")
_NUMBER = re.compile(r"[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?")


def _quote(value: Any) -> Any:
    """A text cell that starts like a formula, with a `'` before it (as OWASP recommends); a
    number (`-1.5`, `+2.3`) as it is. A cell that starts with `'` gets one more, so `_unquote`
    is exact."""
    if not isinstance(value, str) or not value or _NUMBER.fullmatch(value):
        return value
    return "'" + value if value.startswith(("'", *FORMULA_STARTS)) else value


def _unquote(value: str) -> str:
    """The text `_quote` was given."""
    if value.startswith("'") and value[1:].startswith(("'", *FORMULA_STARTS)):
        return value[1:]
    return value


def merge_latency(
    path: Path, columns: dict[str, dict[str, Any]], names: dict[str, dict[str, str]]
) -> None:
    """Write latency/size columns onto every row of each embedder (matched by fingerprint: the
    same weights and settings, so the same output); one with no rows yet gets a row of its own
    with an empty task."""
    with locked(path):
        _merge_latency(path, columns, names)


def _merge_latency(
    path: Path, columns: dict[str, dict[str, Any]], names: dict[str, dict[str, str]]
) -> None:
    rows = read_leaderboard(path)
    seen = set()
    for row in rows:
        if row.get("embedder_fingerprint") in columns:
            row.update(columns[row["embedder_fingerprint"]])
            seen.add(row["embedder_fingerprint"])
    for fp, cols in columns.items():
        if fp not in seen:
            rows.append(
                {
                    **names[fp],
                    "embedder_fingerprint": fp,
                    "task": "",
                    "probe": "",
                    "protocol": "",
                    **cols,
                }
            )
    write_leaderboard(path, rows)


def append_run_record(path: Path, record: dict[str, Any]) -> None:
    with locked(path):
        old = read_runs(path)
        if old and not old.endswith("\n"):
            old += "\n"
        atomic_write_text(path, old + json.dumps(record, sort_keys=True, default=str) + "\n")


def save_results(path: Path, rows: Sequence[dict[str, Any]], record: dict[str, Any]) -> None:
    """Merge `rows` into the leaderboard at `path` and append the run's record. If that fails at
    the end of a long run, the rows go to a fallback CSV beside it (or in the temp folder) and the
    error names it: a computed result is never only on screen."""
    try:
        merge_leaderboard(path, rows)
        append_run_record(runs_path(path), record)
    except (OSError, NossError) as exc:
        fallback = _write_fallback(path, rows, record)
        raise ResultsNotSaved(
            f"--leaderboard: could not write {path} ({exc}); this run's rows are in {fallback}",
            list(rows),
        ) from None


def _write_fallback(path: Path, rows: Sequence[dict[str, Any]], record: dict[str, Any]) -> Path:
    import tempfile

    name = f"noss-eval-rows-{record['run_id']}.csv"
    for folder in (path.parent, Path.cwd(), Path(tempfile.gettempdir())):
        target = folder / name
        try:
            write_leaderboard(target, list(rows))
            atomic_write_text(runs_path(target), json.dumps(record, default=str))
            return target
        except OSError:
            continue
    raise NossError(f"--leaderboard: could not write {path} nor any fallback copy")
