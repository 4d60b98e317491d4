"""A HEAR-API module installed in this environment as an embedder: `hear:<module>[:<weights>]`.

The HEAR 2021 API (https://hearbenchmark.com/hear-api.html): the module has
`load_model(model_file_path="")` returning a model with `sample_rate`, `timestamp_embedding_size`
and `scene_embedding_size`; `get_timestamp_embeddings(audio [n_sounds, n_samples], model)` returns
`(embeddings [n_sounds, n_timestamps, dim], timestamps [n_sounds, n_timestamps] in ms)`, and
`get_scene_embeddings(audio, model)` returns `[n_sounds, dim]`. noss-eval feeds one clip at a time
(`n_sounds` = 1) and time-averages the timestamp embeddings as for every other kind (`hear=scene`
uses the scene embedding as the clip's single frame).

The frameworks a module needs (torch, TensorFlow...) are its business: audio is passed as a torch
tensor when torch is importable (the API's type), as a numpy array otherwise, and either (or
anything with `.numpy()`) is accepted back. Every answer is checked (shape, dimension, finite
values, timestamps) and a module that breaks the API is refused in one line naming it.
"""

from __future__ import annotations

import hashlib
import importlib
import logging
from importlib import metadata
from pathlib import Path
from typing import Any

import numpy as np

from noss_eval.embedder import sha256_file, sha256_tree
from noss_eval.errors import NossError

log = logging.getLogger(__name__)
API = ("load_model", "get_timestamp_embeddings", "get_scene_embeddings")
MODES = {"timestamp": "timestamp_embedding_size", "scene": "scene_embedding_size"}


class HearEmbedder:
    def __init__(
        self,
        module: str,
        weights: str | Path | None = None,
        name: str | None = None,
        hear: str = "timestamp",
        threads: int | None = None,
    ) -> None:
        """`hear`: `timestamp` (time-averaged `get_timestamp_embeddings`) or `scene`
        (`get_scene_embeddings`). `threads`: torch's intra-op threads, where torch is present."""
        self.name = name or f"hear:{module}"
        where = f"hear:{module}"
        if hear not in MODES:
            raise NossError(f"--embedder-option hear: '{hear}' is not one of timestamp, scene")
        self._mode, self._where = hear, where
        self._module = _import(module, where)
        missing = [f for f in API if not callable(getattr(self._module, f, None))]
        if missing:
            raise NossError(
                f"{where}: not a HEAR-API module, it has no {', '.join(f + '()' for f in missing)}"
            )
        self._weights = Path(weights).expanduser() if weights else None
        if self._weights is not None and not self._weights.exists():
            raise NossError(f"{where}: no such weights file: {self._weights}")
        self._torch = _torch(threads)
        try:
            model = (
                self._module.load_model(str(self._weights))
                if self._weights
                else self._module.load_model()
            )
        except Exception as exc:
            raise NossError(f"{where}: load_model failed ({type(exc).__name__}: {exc})") from None
        self._model = model
        self.sample_rate = _positive_int(model, "sample_rate", where)
        self.dim = _positive_int(model, MODES[hear], where)
        version = _version(module, self._module)
        self.model_sha256 = self._identity(module, version)
        self.settings: dict[str, Any] = {
            "kind": "hear",
            "module": module,
            "version": version,
            "hear": hear,
        }
        source = getattr(self._module, "__file__", None)
        if version == "unknown" and source:  # a loose module: its code keys the cache instead
            self.settings["source_sha256"] = sha256_file(Path(source))
            log.warning(
                "%s: no installed distribution or __version__; cached vectors are keyed by the "
                "module file's sha256",
                where,
            )
        call = "get_scene_embeddings" if hear == "scene" else "get_timestamp_embeddings"
        self.calling_convention = (
            f"{module}.{call}(audio [1, n] at {self.sample_rate} Hz as "
            f"{'torch tensor' if self._torch else 'numpy array'}) -> "
            + (
                f"[1, {self.dim}]"
                if hear == "scene"
                else f"[1, timestamps, {self.dim}], time-averaged"
            )
        )
        self.tensors = [f"model   {type(model).__module__}.{type(model).__name__}"] + (
            [f"weights {self._weights}"] if self._weights else []
        )

    def _identity(self, module: str, version: str) -> str:
        """The weights' sha256 (a file, or every file of a directory); without weights, that
        of the module's name and version."""
        if self._weights is not None:
            w = self._weights
            return sha256_file(w) if w.is_file() else sha256_tree(w)
        return hashlib.sha256(f"{module}=={version}".encode()).hexdigest()

    def embed(self, waveform: np.ndarray) -> np.ndarray:
        audio = np.asarray(waveform, dtype=np.float32)[None, :]
        if self._torch is not None:
            with self._torch.no_grad():
                out = self._call(self._torch.from_numpy(audio))
        else:
            out = self._call(audio)
        return out

    def _call(self, audio: Any) -> np.ndarray:
        fn = "get_scene_embeddings" if self._mode == "scene" else "get_timestamp_embeddings"
        what = f"{self._where}: {fn}"
        try:
            result = getattr(self._module, fn)(audio, self._model)
        except NossError:
            raise
        except Exception as exc:
            raise NossError(f"{what} failed ({type(exc).__name__}: {exc})") from None
        n = audio.shape[1]
        if self._mode == "scene":
            emb = _array(result, what)
            _expect(emb, (1, self.dim), what, "[n_sounds, scene_embedding_size]")
        else:
            if not (isinstance(result, tuple | list) and len(result) == 2):
                raise NossError(
                    f"{what} returned {type(result).__name__}, not (embeddings, timestamps)"
                )
            emb, stamps = _array(result[0], what), _array(result[1], f"{what} timestamps")
            _expect(
                emb, (1, -1, self.dim), what, "[n_sounds, n_timestamps, timestamp_embedding_size]"
            )
            if emb.shape[1] == 0:
                raise NossError(f"{what} returned no timestamps for {n / self.sample_rate:.2f} s")
            _expect(stamps, (1, emb.shape[1]), f"{what} timestamps", "[n_sounds, n_timestamps]")
            if not np.all(np.isfinite(stamps)) or np.any(np.diff(stamps[0]) < 0):
                raise NossError(f"{what} returned timestamps that are not finite and increasing")
            emb = emb[0]
        if not np.all(np.isfinite(emb)):
            raise NossError(f"{what} returned NaN or infinite values")
        return emb.astype(np.float32)


def _import(module: str, where: str):
    try:
        return importlib.import_module(module)
    except Exception as exc:  # ModuleNotFoundError, or the module's own import failing
        raise NossError(
            f"{where}: cannot import ({type(exc).__name__}: {exc}); install the HEAR package "
            "in this environment"
        ) from None


def _torch(threads: int | None):
    """torch, where importable (the module may need it; noss-eval does not)."""
    try:
        import torch
    except ImportError:
        return None
    if threads:
        torch.set_num_threads(threads)
    return torch


def _positive_int(model: Any, attribute: str, where: str) -> int:
    value = getattr(model, attribute, None)
    if isinstance(value, bool) or not isinstance(value, int | np.integer) or value <= 0:
        raise NossError(
            f"{where}: load_model() gave a model whose {attribute} is {value!r} "
            f"({type(value).__name__}), not a positive int as the HEAR API requires"
        )
    return int(value)


def _array(value: Any, what: str) -> np.ndarray:
    if hasattr(value, "detach"):  # torch
        value = value.detach().cpu().numpy()
    elif hasattr(value, "numpy") and not isinstance(value, np.ndarray):  # tf.Tensor
        value = value.numpy()
    try:
        return np.asarray(value, dtype=np.float32)
    except (TypeError, ValueError):
        raise NossError(f"{what} returned {type(value).__name__}, not an array") from None


def _expect(array: np.ndarray, shape: tuple[int, ...], what: str, api: str) -> None:
    if array.ndim != len(shape) or any(
        s not in (-1, a) for s, a in zip(shape, array.shape, strict=True)
    ):
        want = ", ".join("n" if s == -1 else str(s) for s in shape)
        raise NossError(
            f"{what} returned shape {list(array.shape)}, not [{want}] ({api}) for one sound"
        )


def _version(module: str, mod: Any) -> str:
    top = module.split(".")[0]
    for dist in metadata.packages_distributions().get(top, []):
        try:
            return f"{dist}=={metadata.version(dist)}"
        except metadata.PackageNotFoundError:
            continue
    return str(getattr(mod, "__version__", "unknown"))
