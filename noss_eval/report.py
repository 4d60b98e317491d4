"""Leaderboard rows: build them, merge them into a CSV without duplicates, print them."""

from __future__ import annotations

import csv
import io
import json
import os
import tempfile
from collections.abc import Iterable, Sequence
from importlib import resources
from pathlib import Path
from typing import Any

import numpy as np
import yaml

from noss_eval.errors import NossError
from noss_eval.stats import paired_bootstrap

COLUMNS = (
    "embedder",
    "embedder_sha256",
    "embedder_fingerprint",
    "task",
    "probe",
    "protocol",
    "headline_metric",
    "headline_score",
    "accuracy",
    "accuracy_ci_low",
    "accuracy_ci_high",
    "balanced_accuracy",
    "macro_f1",
    "auc",
    "eer",
    "validation_accuracy",
    "config",
    "n_train",
    "n_validation",
    "n_test",
    "failed_clips",
    "reference",
    "reference_accuracy",
    "reference_protocol",
    "delta",
    "delta_ci_low",
    "delta_ci_high",
    "delta_p_value",
    "reference_source",
    "seed",
    "data_source",
    "run_id",
    "noss_eval_version",
    "created",
)  # all metrics in percent; delta in accuracy points
PROTOCOL_NOTES = {
    "noss-eval": "configuration picked on validation, test scored once",
    "noss": "paper mode: best test accuracy over Google's grid",
}
KEY = ("embedder", "embedder_fingerprint", "task", "probe", "protocol")


def published_reference(name: str = "trill") -> tuple[dict[str, float], str]:
    text = resources.files("noss_eval.configs").joinpath("reference.yaml").read_text()
    entry = yaml.safe_load(text)[name]
    return dict(entry["accuracy"]), entry["source"]


def attach_reference(
    rows: list[dict[str, Any]], reference_rows: Sequence[dict[str, Any]] | None, seed: int = 0
) -> None:
    """Fill reference columns: the same run's reference embedder if given (with a paired
    bootstrap of the accuracy difference on the same test clips), else published TRILL."""
    if reference_rows:
        measured = {(r["task"], r["probe"]): r for r in reference_rows}
        for row in rows:
            ref = measured.get((row["task"], row["probe"]))
            if ref is not None:
                row.update(
                    reference=ref["embedder"],
                    reference_accuracy=ref["accuracy"],
                    reference_protocol=ref["protocol"],
                    reference_source=f"measured in this run ({ref['embedder_sha256'][:12]})",
                )
                row.update(_paired(row, ref, seed))
    else:
        published, source = published_reference()
        for row in rows:
            if row["task"] in published:
                row.update(
                    reference="trill",
                    reference_accuracy=published[row["task"]],
                    reference_protocol="noss",
                    reference_source=source,
                )
    for row in rows:
        if row.get("reference_accuracy") not in (None, ""):
            row["delta"] = round(float(row["accuracy"]) - float(row["reference_accuracy"]), 3)


def _paired(row: dict[str, Any], ref: dict[str, Any], seed: int) -> dict[str, float]:
    if "_correct" not in row or "_correct" not in ref:
        return {}
    ref_by_id = dict(zip(ref["_test_ids"], ref["_correct"], strict=True))
    pairs = [
        (c, ref_by_id[i])
        for i, c in zip(row["_test_ids"], row["_correct"], strict=True)
        if i in ref_by_id
    ]
    if not pairs:
        return {}
    a, b = (np.array(x) for x in zip(*pairs, strict=True))
    _, low, high, p = paired_bootstrap(a, b, seed=seed)
    return {
        "delta_ci_low": round(100 * low, 3),
        "delta_ci_high": round(100 * high, 3),
        "delta_p_value": round(p, 4),
    }


def average_delta(rows: Iterable[dict[str, Any]], probe: str) -> tuple[float, int] | None:
    """Mean delta of `probe` over the tasks that have a reference, and how many those are."""
    deltas = [
        float(r["delta"]) for r in rows if r["probe"] == probe and r.get("delta") not in (None, "")
    ]
    return (float(np.mean(deltas)), len(deltas)) if deltas else None


def _key(row: dict[str, Any]) -> tuple[str, ...]:
    return tuple(str(row.get(k, "")) for k in KEY)


def read_leaderboard(path: Path) -> list[dict[str, str]]:
    if not path.exists():
        return []
    try:
        with open(path, newline="", encoding="utf-8") as fh:
            reader = csv.DictReader(fh)
            if reader.fieldnames is None or not set(KEY) <= set(reader.fieldnames):
                raise NossError(f"--leaderboard: {path} is not a noss-eval leaderboard CSV")
            return list(reader)
    except (OSError, UnicodeDecodeError, csv.Error) as exc:
        raise NossError(f"--leaderboard: cannot read {path} ({exc})") from None


def merge_leaderboard(path: Path, rows: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
    """Replace rows with the same (embedder, fingerprint, task, probe, protocol); keep the rest."""
    new_keys = {_key(r) for r in rows}
    public = [{k: v for k, v in r.items() if not k.startswith("_")} for r in rows]
    old = read_leaderboard(path)
    carried = _model_columns(old)
    for row in public:  # latency and size belong to the model, not to one run
        row.update(
            {
                k: v
                for k, v in carried.get(row["embedder_sha256"], {}).items()
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
            out.setdefault(r["embedder_sha256"], {}).update(values)
    return out


def write_leaderboard(path: Path, merged: list[dict[str, Any]]) -> None:
    extra = sorted({k for r in merged for k in r} - set(COLUMNS))
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=[*COLUMNS, *extra], restval="", lineterminator="\n")
    writer.writeheader()
    writer.writerows(merged)
    atomic_write_text(path, buffer.getvalue())


def merge_latency(
    path: Path, columns: dict[str, dict[str, Any]], names: dict[str, dict[str, str]]
) -> None:
    """Write latency/size columns onto every row of each model (matched by content hash); a model
    with no rows yet gets one row of its own with an empty task."""
    rows = read_leaderboard(path)
    seen = set()
    for row in rows:
        if row["embedder_sha256"] in columns:
            row.update(columns[row["embedder_sha256"]])
            seen.add(row["embedder_sha256"])
    for sha, cols in columns.items():
        if sha not in seen:
            rows.append(
                {
                    **names[sha],
                    "embedder_sha256": sha,
                    "task": "",
                    "probe": "",
                    "protocol": "",
                    **cols,
                }
            )
    write_leaderboard(path, rows)


def append_run_record(path: Path, record: dict[str, Any]) -> None:
    old = path.read_text() if path.exists() else ""
    atomic_write_text(path, old + json.dumps(record, sort_keys=True, default=str) + "\n")


def atomic_write_text(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline="") as fh:
            fh.write(text)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def format_table(rows: Sequence[dict[str, Any]]) -> str:
    """A readable per-task table followed by the average delta per probe."""
    header = ("task", "probe", "acc %", "95% CI", "bal-acc %", "ref %", "delta", "n_test", "config")
    body = [
        (
            r["task"],
            r["probe"],
            _num(r["accuracy"]),
            _interval(r.get("accuracy_ci_low"), r.get("accuracy_ci_high")),
            _num(r["balanced_accuracy"]),
            _num(r.get("reference_accuracy")),
            _num(r.get("delta"), signed=True),
            str(r["n_test"]),
            r["config"],
        )
        for r in rows
    ]
    widths = [max(len(x) for x in col) for col in zip(header, *body, strict=True)]
    lines = [
        "  ".join(x.ljust(w) for x, w in zip(line, widths, strict=True)) for line in (header, *body)
    ]
    for probe in dict.fromkeys(r["probe"] for r in rows):
        avg = average_delta(rows, probe)
        if avg is not None:
            lines.append(
                f"average delta vs reference ({probe}): {avg[0]:+.2f} points over {avg[1]} tasks"
            )
    for protocol in sorted({r["protocol"] for r in rows}):
        lines.append(f"protocol: {protocol} ({PROTOCOL_NOTES.get(protocol, '')})")
    sources = sorted({r["reference_source"] for r in rows if r.get("reference_source")})
    lines += [f"reference: {s}" for s in sources]
    return "\n".join(lines)


def _interval(low: Any, high: Any) -> str:
    return "-" if low in (None, "") else f"{float(low):.1f}-{float(high):.1f}"


def _num(value: Any, signed: bool = False) -> str:
    if value in (None, ""):
        return "-"
    return f"{float(value):+.2f}" if signed else f"{float(value):.2f}"
