"""Train one student: MSE to the teacher's targets with Adam (as upstream `train_keras.py`),
seeded, checkpointed every epoch, early-stopped on the held-out files' MSE.

Files in `workdir` (one folder per architecture):
- `checkpoint-<epoch>.keras` + `state.json`: the model with its optimizer after the last finished
  epoch, and the bookkeeping (best epoch, held-out history, seconds). `state.json` is replaced
  atomically after the checkpoint it names is complete, so a kill at any point resumes from the
  last complete epoch; the shuffle of epoch `e` depends only on (seed, e), so a resumed run sees
  the same batches as an uninterrupted one.
- `best-<epoch>.weights.h5`: the weights of the best held-out epoch so far (named in the state);
  renamed `best.weights.h5` when training ends.
- `done.json`: written last; a finished architecture is never trained again.
"""

from __future__ import annotations

import json
import logging
import os
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np

from noss_eval.atomic import atomic_write_text
from noss_eval.distill.grid import Architecture, Training
from noss_eval.distill.students import build_student
from noss_eval.progress import Meter

log = logging.getLogger("noss_eval")


@dataclass
class TrainResult:
    epochs_run: int
    best_epoch: int
    heldout_mse: float
    heldout_r2: float
    train_seconds: float
    train_windows: int
    heldout_windows: int
    history: list[dict] = field(default_factory=list)


def r2_score(targets: np.ndarray, predictions: np.ndarray) -> float:
    """1 - SSE / SST over all dimensions; 0 is predicting the held-out mean teacher vector."""
    sst = float(np.sum((targets - targets.mean(axis=0)) ** 2))
    sse = float(np.sum((targets - predictions) ** 2))
    return 1.0 - sse / sst if sst > 0 else float("nan")


def evaluate(model, x: np.ndarray, y: np.ndarray) -> tuple[float, float]:
    pred = model.predict(x, batch_size=256, verbose=0)
    return float(np.mean((pred - y) ** 2)), r2_score(y, pred)


def recalibrate_batch_norm(
    model, x: np.ndarray, seed: tuple[int, ...], windows: int = 1024, batch: int = 128
) -> None:
    """Set every batch norm's moving statistics to the mean of its batch statistics over (at
    most) `windows` training windows under the current weights ("precise BN", Wu & Johnson
    2021). The moving averages lag weights that change fast; measured on FSDD + Hedgewars (a0.25
    avg, 2,407 windows, 4 epochs) the held-out R2 per epoch was -2.08 / -1.07 / -1.43 / -0.01
    with them and 0.31 / 0.34 / 0.46 / 0.36 recalibrated."""
    import keras

    def walk(layer):
        yield layer
        for sub in getattr(layer, "layers", []):
            yield from walk(sub)

    norms = [n for n in walk(model) if isinstance(n, keras.layers.BatchNormalization)]
    momentum = [n.momentum for n in norms]
    batch = min(batch, len(x))
    pick = np.random.RandomState(list(seed)).permutation(len(x))[: max(1, windows // batch) * batch]
    try:
        for k, start in enumerate(range(0, len(pick) - batch + 1, batch), 1):
            for n in norms:
                n.momentum = 1.0 - 1.0 / k
            model(x[np.sort(pick[start : start + batch])], training=True)
    finally:
        for n, m in zip(norms, momentum, strict=True):
            n.momentum = m


def _save_model(model, path: Path) -> None:
    tmp = path.with_name(f".{path.stem}.tmp{path.suffix}")
    model.save(tmp)
    os.replace(tmp, path)


def _save_weights(model, path: Path) -> None:
    tmp = path.with_name(f".{path.name[: -len('.weights.h5')]}.tmp.weights.h5")
    model.save_weights(tmp)
    os.replace(tmp, path)


def load_trained(workdir: Path, arch: Architecture, output_dim: int, settings: Training, seed):
    """The best weights of a finished architecture, in a freshly built model."""
    model = build_student(arch, output_dim, seed, settings.bn_momentum)
    model.load_weights(workdir / "best.weights.h5")
    return model


def finished(workdir: Path) -> TrainResult | None:
    done = workdir / "done.json"
    if not done.is_file():
        return None
    return TrainResult(**json.loads(done.read_text()))


def train_student(
    arch: Architecture,
    data: tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray],
    settings: Training,
    seed: int,
    workdir: Path,
    meter: Meter,
):
    """Train (or resume, or load) `arch` on `(train_x, train_y, held_x, held_y)`; return the
    model with its best held-out weights and the `TrainResult`."""
    import keras

    train_x, train_y, held_x, held_y = data
    dim = train_y.shape[1]
    workdir.mkdir(parents=True, exist_ok=True)
    done = finished(workdir)
    if done is not None:
        meter.update(settings.epochs)
        return load_trained(workdir, arch, dim, settings, seed), done
    state_path = workdir / "state.json"
    state = json.loads(state_path.read_text()) if state_path.is_file() else None
    if state is not None:
        from noss_eval.distill import compression  # noqa: F401  (its layer, for loading)

        model = keras.models.load_model(workdir / state["checkpoint"])
        log.info("%s: resuming from the checkpoint of epoch %d", arch.name, state["epoch"])
        meter.update(state["epoch"])
    else:
        model = build_student(arch, dim, seed, settings.bn_momentum, train_y.mean(axis=0))
        model.compile(
            optimizer=keras.optimizers.Adam(
                learning_rate=settings.learning_rate, beta_1=0.9, beta_2=0.999, epsilon=1e-8
            ),
            loss="mse",
            jit_compile=False,  # XLA doubles the first epoch on a CPU and gains nothing after
        )
        state = {"epoch": 0, "best_mse": None, "best_epoch": 0, "seconds": 0.0, "history": []}
    epoch = state["epoch"]
    callbacks = []
    if arch.compression:
        from noss_eval.distill.compression import CompressionSchedule

        callbacks = [CompressionSchedule(settings.compression_frequency, settings.alpha_decrement)]
    while epoch < settings.epochs:
        epoch += 1
        start = time.monotonic()
        order = np.random.RandomState([seed, epoch]).permutation(len(train_x))
        fit = model.fit(
            train_x[order],
            train_y[order],
            batch_size=settings.batch_size,
            epochs=1,
            shuffle=False,
            verbose=0,
            callbacks=callbacks,
        )
        recalibrate_batch_norm(model, train_x, (seed, epoch, 1))
        mse, r2 = evaluate(model, held_x, held_y)
        seconds = time.monotonic() - start
        best = state["best_mse"] is None or mse < state["best_mse"]
        stale = [state.get("checkpoint"), state.get("best_weights") if best else None]
        if best:
            state.update(best_mse=mse, best_epoch=epoch, best_weights=f"best-{epoch}.weights.h5")
            _save_weights(model, workdir / state["best_weights"])
        checkpoint = f"checkpoint-{epoch}.keras"
        _save_model(model, workdir / checkpoint)
        state["history"].append(
            {
                "epoch": epoch,
                "train_mse": float(fit.history["loss"][-1]),
                "heldout_mse": mse,
                "heldout_r2": r2,
                "seconds": round(seconds, 2),
            }
        )
        state.update(epoch=epoch, checkpoint=checkpoint, seconds=state["seconds"] + seconds)
        atomic_write_text(state_path, json.dumps(state, indent=1))
        for name in stale:  # only once the state that no longer names them is on disk
            if name:
                (workdir / name).unlink(missing_ok=True)
        meter.update()
        stop = epoch - state["best_epoch"] >= settings.patience
        log.info(
            "%s: epoch %d/%d train MSE %.5f, held-out MSE %.5f R2 %.3f%s, %.1f s; %s",
            arch.name,
            epoch,
            settings.epochs,
            state["history"][-1]["train_mse"],
            mse,
            r2,
            " (best)" if best else "",
            seconds,
            meter.line(),
        )
        if stop and epoch < settings.epochs:
            log.info(
                "%s: early stop (no better held-out MSE for %d epochs)",
                arch.name,
                settings.patience,
            )
            meter.update(settings.epochs - epoch)
            break
    best = state["history"][state["best_epoch"] - 1]
    result = TrainResult(
        epochs_run=epoch,
        best_epoch=state["best_epoch"],
        heldout_mse=best["heldout_mse"],
        heldout_r2=best["heldout_r2"],
        train_seconds=round(state["seconds"], 2),
        train_windows=len(train_x),
        heldout_windows=len(held_x),
        history=state["history"],
    )
    if (workdir / state["best_weights"]).is_file():  # absent if a kill came right after this
        os.replace(workdir / state["best_weights"], workdir / "best.weights.h5")
    model.load_weights(workdir / "best.weights.h5")
    _warn_unfinished_compression(model, arch)
    atomic_write_text(workdir / "done.json", json.dumps(asdict(result), indent=1))
    (workdir / state["checkpoint"]).unlink(missing_ok=True)
    return model, result


def _warn_unfinished_compression(model, arch: Architecture) -> None:
    if not arch.compression:
        return
    from noss_eval.distill.compression import compressed_layers

    for layer in compressed_layers(model):
        alpha = float(layer.alpha.numpy())
        if alpha > 0:
            log.warning(
                "%s: compression unfinished at the best epoch (alpha %.2f > 0): the export "
                "keeps only the rank-%d factors; raise training.alpha_decrement or epochs",
                arch.name,
                alpha,
                arch.compression,
            )
