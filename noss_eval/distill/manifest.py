"""The distillation manifest: one CSV row per exported student, written atomically after each
student so that a killed grid keeps every finished row (and a re-run skips those students)."""

from __future__ import annotations

import csv
from dataclasses import asdict, dataclass, fields
from pathlib import Path

from noss_eval.atomic import atomic_writer
from noss_eval.errors import NossError

MANIFEST = "manifest.csv"


@dataclass(frozen=True)
class ManifestRow:
    student: str
    size: str
    alpha: float
    minimalistic: bool
    pooling: str
    bottleneck: int
    compression: int  # the bottleneck's rank after compression; 0: not compressed
    quantize: str
    frontend: bool
    seed: int
    params: int  # in the exported model (a bottleneck student's TFLite ends there)
    tflite_bytes: int
    heldout_mse: float  # Keras student vs teacher on the held-out files' windows
    heldout_r2: float  # 1 - SSE/SST: > 0 beats predicting the mean teacher vector
    tflite_r2: float  # the exported TFLite vs teacher, same windows (quantisation's cost); nan
    # for a bottleneck student, whose TFLite gives the bottleneck embedding (as upstream)
    tflite_max_abs_diff: float  # TFLite vs Keras
    tflite_rel_rmse: float  # TFLite vs Keras, ||diff|| / ||keras||
    epochs_run: int
    best_epoch: int
    train_seconds: float
    train_windows: int
    heldout_windows: int
    heldout_files: int
    tflite_path: str  # relative to the manifest's folder
    tflite_sha256: str
    embedder_options: str  # what `noss-eval --embedder` needs for this file
    teacher: str
    teacher_fingerprint: str
    teacher_dim: int
    grid: str
    created: str


COLUMNS = tuple(f.name for f in fields(ManifestRow))


def read_manifest(path: Path) -> list[dict[str, str]]:
    """Rows as strings; a file that is not a manifest is a one-line error."""
    try:
        with open(path, newline="", encoding="utf-8-sig") as fh:
            reader = csv.DictReader(fh)
            rows = list(reader)
            header = reader.fieldnames or []
    except FileNotFoundError:
        raise NossError(f"manifest: no such file: {path}") from None
    except (OSError, UnicodeDecodeError, csv.Error) as exc:
        raise NossError(f"manifest: {path}: not a readable CSV ({exc})") from None
    missing = [c for c in ("student", "tflite_path", "tflite_sha256") if c not in header]
    if missing:
        raise NossError(
            f"manifest: {path} has no '{missing[0]}' column; give the manifest.csv that "
            "`noss-eval distill` wrote"
        )
    return rows


def write_manifest(path: Path, rows: list[dict]) -> None:
    with atomic_writer(path) as fh:
        writer = csv.DictWriter(fh, fieldnames=COLUMNS, extrasaction="ignore")
        writer.writeheader()
        writer.writerows(rows)


def upsert(path: Path, row: ManifestRow) -> None:
    """Replace (or add) the row of `row.student`, keeping the others."""
    rows = read_manifest(path) if path.is_file() else []
    rows = [r for r in rows if r["student"] != row.student] + [asdict(row)]
    write_manifest(path, rows)


def manifest_embedders(path: Path) -> list[tuple[str, dict]]:
    """`(tflite path, embedder options)` for every student of a manifest."""
    import yaml

    out = []
    for r in read_manifest(path):
        tflite = (path.parent / r["tflite_path"]).resolve()
        if not tflite.is_file():
            raise NossError(f"{path}: student {r['student']}: no such file {tflite}")
        options = {}
        for pair in filter(None, r.get("embedder_options", "").split(";")):
            key, _, value = pair.partition("=")
            options[key] = yaml.safe_load(value)
        out.append((str(tflite), options))
    if not out:
        raise NossError(f"{path}: the manifest lists no student yet")
    return out
