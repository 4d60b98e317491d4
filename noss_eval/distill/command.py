"""`noss-eval distill`: check everything, compute the teacher's targets once, then train, export
and record each student of the grid, skipping what an earlier run finished.

Layout of `--out`: `manifest.csv` (one row per student), `students/<name>.tflite`,
`trained/<architecture>/` (checkpoints, best weights: see `train`), `run.json` (what the
folder was made from: files, split, teacher, grid settings; a re-run with other inputs is
refused rather than mixed in), `heldout.txt` (the held-out files).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import logging
from dataclasses import asdict, dataclass
from importlib import resources
from pathlib import Path

import numpy as np

from noss_eval.atomic import atomic_write_text, atomic_writer, is_writable_folder, nearest_folder
from noss_eval.audio import load_audio
from noss_eval.cache import EmbeddingCache, check_room
from noss_eval.check import check_embedder
from noss_eval.distill import export
from noss_eval.distill import grid as grid_mod
from noss_eval.distill import manifest as man
from noss_eval.distill import windows as win
from noss_eval.distill.train import r2_score, train_student
from noss_eval.embedder import (
    Embedder,
    fingerprint,
    named_as,
    resolve_embedder,
    sha256_file,
)
from noss_eval.errors import AudioError, NossError
from noss_eval.progress import Meter

log = logging.getLogger("noss_eval")
AGREEMENT_FILES = 500  # held-out files (at most) where each TFLite meets Keras and teacher
CALIBRATION = 100  # representative inputs for int8 (windows or clips)


@dataclass(frozen=True)
class DistillConfig:
    teacher: str
    teacher_options: dict
    audio: tuple[Path, ...]
    grid: Path
    out: Path
    cache_dir: Path
    progress: bool = True


@dataclass(frozen=True)
class _Exports:
    """What every export of one run shares: its inputs and the held-out checks."""

    config: DistillConfig
    grid: grid_mod.Grid
    files: list[Path]
    held_files: np.ndarray  # [n_files] bool
    train_x: np.ndarray  # the training windows (int8 calibration)
    check_audio: list[np.ndarray]  # held-out files where TFLite meets Keras and teacher
    check_windows: list[np.ndarray]  # per file: the windows with a target (not silence)
    check_targets: np.ndarray
    teacher_fp: str
    dim: int


def resolve_grid(spec: str | Path) -> Path:
    """A grid file, or the name of a shipped one (`tiny-grid`, `frill-grid`)."""
    path = Path(spec).expanduser()
    if path.is_file():
        return path
    name = path.name if path.suffix == ".yaml" else f"{path.name}.yaml"
    shipped = resources.files("noss_eval.configs").joinpath(name)
    if str(spec) == path.name and shipped.is_file():
        return Path(str(shipped))
    raise NossError(f"--grid: no such file: {spec} (shipped grids: tiny-grid, frill-grid)")


def check_teacher(teacher: Embedder, first: Path) -> int:
    """The teacher on one window of a real file: loads, gives finite [frames, dim]."""
    try:
        audio = load_audio(first, win.RATE)
    except AudioError as exc:
        raise NossError(f"--audio: {exc}") from None
    from noss_eval.audio import resample

    window = resample(win.window_audio(audio, 0), win.RATE, teacher.sample_rate)
    report = check_embedder(teacher, window, where=str(first))
    log.info(
        "teacher %s: checked on %s: %d-d, %.1f ms per window",
        teacher.name,
        first.name,
        report.dim,
        report.milliseconds,
    )
    return report.dim


def check_out(out: Path) -> None:
    folder = nearest_folder(out)
    if out.exists() and not out.is_dir():
        raise NossError(f"--out: {out} is a file; give a folder")
    if not is_writable_folder(folder):
        raise NossError(f"--out: cannot write below {folder}; give a writable folder")


def run_identity(files: list[Path], held: np.ndarray, teacher_fp: str, grid: grid_mod.Grid):
    digest = hashlib.sha256()
    for path, h in zip(files, held, strict=True):
        st = path.stat()
        digest.update(f"{path}\t{st.st_size}\t{int(h)}\n".encode())
    return {
        "files_sha256": digest.hexdigest(),
        "n_files": len(files),
        "teacher_fingerprint": teacher_fp,
        "seed": grid.seed,
        "data": asdict(grid.data),
        "training": asdict(grid.training),
    }


def check_identity(out: Path, identity: dict) -> None:
    """Refuse an --out folder whose run.json records other inputs (students are never mixed)."""
    path = out / "run.json"
    if path.is_file():
        before = json.loads(path.read_text())
        changed = [k for k in identity if before.get(k) != identity[k]]
        if changed:
            raise NossError(
                f"--out: {out} holds students distilled from other inputs ({changed[0]} "
                f"differs: see {path}); give a new --out or remove that folder"
            )


def record_identity(out: Path, identity: dict) -> None:
    """Write run.json once the inputs have passed every check (a refused run leaves none)."""
    path = out / "run.json"
    if not path.is_file():
        out.mkdir(parents=True, exist_ok=True)
        atomic_write_text(path, json.dumps(identity, indent=1))


def check_splits(held: np.ndarray, grid_path: Path) -> None:
    """Both splits must keep a window (`held`: held out or not, per window)."""
    if held.any() and not held.all():
        return
    what = "held-out" if not held.any() else "training"
    raise NossError(
        f"--audio: no {what} window is left once silence is taken out; "
        f"give more audio or lower data.silence_dbfs in {grid_path}"
    )


def distill(config: DistillConfig) -> list[dict[str, str]]:
    grid = grid_mod.load_grid(config.grid)
    files = win.list_audio(config.audio)
    check_out(config.out)
    with named_as("--teacher"):  # its errors name --teacher and --teacher-option
        teacher = resolve_embedder(config.teacher, config.teacher_options)
        dim = check_teacher(teacher, files[0])
    files = win.pick_files(files, grid.data.max_files, grid.seed)
    check_room(config.cache_dir, len(files) * 4, dim)
    held_files = win.split_files(len(files), grid.data.holdout, grid.seed)
    teacher_fp = fingerprint(teacher)
    identity = run_identity(files, held_files, teacher_fp, grid)
    check_identity(config.out, identity)
    manifest_path = config.out / man.MANIFEST
    rows = man.read_manifest(manifest_path) if manifest_path.is_file() else []
    done = {r["student"]: r for r in rows}
    todo = [s for s in grid.students if not _finished(s, done, config.out)]
    for s in grid.students:
        if s not in todo:
            log.info("%s: already in %s, skipped", s.name, manifest_path)
    if not todo:
        log.info("every student of %s is in %s", config.grid, manifest_path)
        return man.read_manifest(manifest_path)
    gated = win.gate_windows(files, grid.data.silence_dbfs, config.progress)
    check_splits(held_files[gated.file_index()], config.grid)  # before the teacher runs
    _log_device()
    cache = EmbeddingCache(config.cache_dir)
    windows = win.add_targets(gated, teacher, cache, config.progress)
    held = held_files[windows.file_index]
    check_splits(held, config.grid)  # a file that became unreadable has no targets
    record_identity(config.out, identity)
    with atomic_writer(config.out / "heldout.txt") as fh:
        fh.write("".join(f"{files[i]}\n" for i in np.flatnonzero(held_files)))
    data = (*windows.subset(~held), *windows.subset(held))
    log.info(
        "distill: %d training windows (%d files), %d held-out windows (%d files), teacher %d-d",
        len(data[0]),
        int((~held_files).sum()),
        len(data[2]),
        int(held_files.sum()),
        dim,
    )
    archs = list(dict.fromkeys(s.arch for s in todo))
    meter = Meter(len(archs) * grid.training.epochs, "distill", "epoch", config.progress, 1e9)
    checked = np.flatnonzero(held_files)[:AGREEMENT_FILES]
    exports = _Exports(
        config, grid, files, held_files, data[0],
        [load_audio(files[i], win.RATE) for i in checked], [windows.of_file(i) for i in checked],
        _targets_of(windows, checked), teacher_fp, dim,
    )  # fmt: skip
    try:
        for arch in archs:
            workdir = config.out / "trained" / arch.name
            model, result = train_student(arch, data, grid.training, grid.seed, workdir, meter)
            for student in (s for s in todo if s.arch == arch):
                row = _export(student, model, result, exports)
                man.upsert(manifest_path, row)
                log.info(
                    "%s: held-out R2 %.3f (TFLite %.3f), %d params, %.2f MB -> %s",
                    student.name,
                    row.heldout_r2,
                    row.tflite_r2,
                    row.params,
                    row.tflite_bytes / 1e6,
                    manifest_path,
                )
    finally:
        meter.close()
    return man.read_manifest(manifest_path)


def _finished(student: grid_mod.Student, done: dict, out: Path) -> bool:
    row = done.get(student.name)
    if row is None:
        return False
    path = out / row["tflite_path"]
    return path.is_file() and sha256_file(path) == row["tflite_sha256"]


def _log_device() -> None:
    import tensorflow as tf

    gpus = tf.config.list_physical_devices("GPU")
    log.info("distill: training on %s", f"{len(gpus)} GPU(s)" if gpus else "the CPU (no GPU found)")


def kept_rows(per_file: list[np.ndarray], kept: list[np.ndarray]) -> np.ndarray:
    """Each file's outputs for its kept windows (those with a target: silence has none)."""
    return np.concatenate([out[k] for out, k in zip(per_file, kept, strict=True)])


def _targets_of(windows: win.Windows, file_ids: np.ndarray) -> np.ndarray:
    return np.concatenate([windows.targets[windows.file_index == i] for i in file_ids])


def _export(student: grid_mod.Student, model, result, run: _Exports) -> man.ManifestRow:
    config, grid, dim, check_audio = run.config, run.grid, run.dim, run.check_audio
    rep: list[np.ndarray] = []
    if student.quantize == "int8":
        train_audio = []
        if student.frontend:
            ids = np.flatnonzero(~run.held_files)[: export.CALIBRATION_FILES]
            train_audio = [load_audio(run.files[i], win.RATE) for i in ids]
        rep = export.representative_set(
            run.train_x, train_audio, student.frontend, grid.seed, CALIBRATION
        )
    embedding = export.embedding_model(model)
    blob = export.to_tflite(embedding, student.quantize, student.frontend, rep)
    path = config.out / "students" / f"{student.name}.tflite"
    with atomic_writer(path, binary=True) as fh:
        fh.write(blob)
    agree = export.agreement(path, embedding, student.frontend, check_audio)
    from noss_eval.embedders.tflite import TFLiteEmbedder

    lite = TFLiteEmbedder(path, frontend=None if student.frontend else "noss-logmel", threads=1)
    lite_out = kept_rows([lite.embed(x) for x in check_audio], run.check_windows)
    options = "" if student.frontend else "frontend=noss-logmel"
    return man.ManifestRow(
        student=student.name,
        **student.knobs(),
        seed=grid.seed,
        params=export.exported_parameters(embedding),
        tflite_bytes=len(blob),
        heldout_mse=round(result.heldout_mse, 6),
        heldout_r2=round(result.heldout_r2, 4),
        tflite_r2=(
            round(r2_score(run.check_targets, lite_out), 4)
            if lite_out.shape[1] == dim and not student.arch.bottleneck
            else float("nan")  # a bottleneck student's TFLite gives the bottleneck
        ),
        tflite_max_abs_diff=float(f"{agree.max_abs_diff:.3g}"),
        tflite_rel_rmse=float(f"{agree.rel_rmse:.3g}"),
        epochs_run=result.epochs_run,
        best_epoch=result.best_epoch,
        train_seconds=result.train_seconds,
        train_windows=result.train_windows,
        heldout_windows=result.heldout_windows,
        heldout_files=int(run.held_files.sum()),
        tflite_path=str(path.relative_to(config.out)),
        tflite_sha256=sha256_file(path),
        embedder_options=options,
        teacher=config.teacher,
        teacher_fingerprint=run.teacher_fp,
        teacher_dim=dim,
        grid=str(config.grid),
        created=dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
    )
