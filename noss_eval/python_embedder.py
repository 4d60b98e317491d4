"""An embedder given to the Python API as an object built in this process: `PythonEmbedder`
wraps it as an `Embedder`, checks what it says it is, and gives it a cache identity that
follows its behaviour (the sha256 of its output on fixed generated audio)."""

from __future__ import annotations

import hashlib
import json
import logging
from numbers import Integral
from typing import Any

import numpy as np

from noss_eval.errors import NossError, brief_repr

log = logging.getLogger(__name__)


class PythonEmbedder:
    """An object with `name`, `sample_rate` and `embed(waveform) -> [frames, dim]`, as an
    `Embedder` run in this process.

    Its cache identity (`settings`, hence `fingerprint`) is the object's class (module and
    qualified name), its `embed`'s qualified name, its `name`, its optional `version`, its
    sample rate, and the sha256 of what it returns for 2 s of fixed generated audio
    (`probe_output_sha256`). The last makes the key follow the model's behaviour: new weights
    under the same name and version give another output, so another key, and the cache never
    serves the old model's vectors. A model that does not return the same bytes for the same
    audio (random ops, some GPU kernels) gets a new key in each process: its vectors are
    recomputed, never reused (a warning says so). Change `version` when the weights change
    anyway: it is the documented identity, and what the leaderboard shows."""

    kind = "python"

    def __init__(self, obj: object) -> None:
        name = getattr(obj, "name", None)
        if not isinstance(name, str) or not name.strip() or not name.isprintable():
            raise NossError(
                f"embedder: an object of type {type(obj).__name__} needs a `name` (non-empty text; "
                f"got {brief_repr(name)}): it names the rows and keys the cache"
            )
        embed = getattr(obj, "embed", None)
        if not callable(embed):
            raise NossError(
                f"embedder: {name}: needs a method embed(waveform) -> [frames, dim] "
                "(or give a spec string or path)"
            )
        rate = getattr(obj, "sample_rate", None)
        if not isinstance(rate, Integral) or isinstance(rate, bool) or not 1000 <= rate <= 384000:
            raise NossError(
                f"embedder: {name}: sample_rate must be a whole number of Hz between 1000 and "
                f"384000, got {brief_repr(rate)}"
            )
        version = getattr(obj, "version", "")
        if not isinstance(version, str | int) or isinstance(version, bool):
            raise NossError(f"embedder: {name}: version must be text or a whole number")
        self.obj = obj
        self.name = name
        self.sample_rate = int(rate)
        cls = type(obj)
        self.calling_convention = f"{cls.__qualname__}.embed(waveform) in this process"
        self.settings: dict[str, Any] = {
            "kind": self.kind,
            "class": f"{cls.__module__}.{cls.__qualname__}",
            "embed": getattr(embed, "__qualname__", type(embed).__qualname__),
            "name": name,
            "version": str(version),
            "probe_output_sha256": self._probe_output_sha256(),
        }
        blob = json.dumps(self.settings, sort_keys=True)
        self.model_sha256 = hashlib.sha256(blob.encode()).hexdigest()

    def embed(self, waveform: np.ndarray) -> np.ndarray:
        return self._embed(waveform)

    def _embed(self, waveform: np.ndarray, where: str = "") -> np.ndarray:
        """The object's `[frames, dim]` as float32; its failure, or any other shape, is a
        one-line NossError naming it (its own exception chained, for its traceback)."""
        try:
            raw = self.obj.embed(waveform)  # type: ignore[attr-defined]
        except NossError:
            raise
        except Exception as exc:
            raise NossError(
                f"embedder: {self.name}: embed failed{where} ({type(exc).__name__}: {exc})"
            ) from exc
        try:
            out = np.asarray(raw, dtype=np.float32)
        except (TypeError, ValueError) as exc:
            raise NossError(
                f"embedder: {self.name}: embed gave a {type(raw).__name__}, not a numeric "
                f"array{where} ({exc})"
            ) from exc
        if out.ndim != 2 or 0 in out.shape:
            raise NossError(
                f"embedder: {self.name}: embed gave shape {list(out.shape)}{where}; it must "
                "return [frames, dim] (one vector per clip: [1, dim])"
            )
        return out

    def _probe_output_sha256(self) -> str:
        from noss_eval.check import probe_audio
        from noss_eval.errors import no_exit
        from noss_eval.threads import numeric_threads

        audio, where = probe_audio(self.sample_rate), " on 2 s of generated audio"
        with numeric_threads(1), no_exit(self.name):  # the run's BLAS threads: the same bits
            first = self._embed(audio.copy(), where)
            second = self._embed(audio.copy(), where)
        if not np.all(np.isfinite(first)):
            raise NossError(
                f"embedder: {self.name}: embed gave NaN or infinite values on 2 s of generated "
                "audio"
            )
        if first.shape != second.shape or first.tobytes() != second.tobytes():
            log.warning(
                "%s: embed gives different outputs for the same audio; its cached vectors "
                "will not be reused by a later run (its cache key changes each time)",
                self.name,
            )
        digest = hashlib.sha256(str(first.shape).encode())
        digest.update(np.ascontiguousarray(first, dtype="<f4").tobytes())
        return digest.hexdigest()
