"""The student grid: a YAML file of knobs whose every combination is one student.

```yaml
seed: 0
data: {holdout: 0.1, max_files: 600}         # held-out fraction (by file); optional file cap
                                             # silence_dbfs: -45 (default; null keeps silence)
training: {epochs: 8, batch_size: 64, learning_rate: 0.001, patience: 2}
students:                                    # each key a list; the grid is their product
  size: [small, large]                       # MobileNetV3Small / MobileNetV3Large
  alpha: [0.5, 1.0]                          # width multiplier
  minimalistic: [false]                      # Keras' minimalistic MobileNetV3 variant
  pooling: [avg, flatten]                    # global average pooling, or flatten
  bottleneck: [0, 64]                        # 0: none; else a dense layer of that size
  compression: [0, 32]                       # 0: none; else the bottleneck's low rank
  quantize: [float32, dynamic, int8]         # post-training quantisation of the TFLite
  frontend: [false, true]                    # true: NOSS log-mel in the graph, audio in
```
`quantize` and `frontend` only change the export: students that differ only in them share one
training run. `compression` (FRILL's bottleneck compression, see `compression`) applies to a
bottleneck larger than its rank; other combinations with a rank are not built.
"""

from __future__ import annotations

import itertools
import math
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import yaml

from noss_eval.errors import NossError

SIZES = ("small", "large")
POOLINGS = ("avg", "flatten")
QUANTIZE = ("float32", "dynamic", "int8")
KNOBS = (
    "size",
    "alpha",
    "minimalistic",
    "pooling",
    "bottleneck",
    "compression",
    "quantize",
    "frontend",
)
TOP_KEYS = ("seed", "data", "training", "students")


@dataclass(frozen=True)
class Architecture:
    """What one training run builds (everything but the export)."""

    size: str
    alpha: float
    minimalistic: bool
    pooling: str
    bottleneck: int
    compression: int = 0  # the bottleneck's rank after compression; 0: not compressed

    @property
    def name(self) -> str:
        tag = f"mnv3{self.size[0]}-a{self.alpha:g}-{self.pooling[:4]}-bn{self.bottleneck}"
        tag += f"-r{self.compression}" if self.compression else ""
        return tag + ("-min" if self.minimalistic else "")


@dataclass(frozen=True)
class Student:
    arch: Architecture
    quantize: str
    frontend: bool

    @property
    def name(self) -> str:
        quant = {"float32": "f32", "dynamic": "dyn", "int8": "int8"}[self.quantize]
        return f"{self.arch.name}-{quant}" + ("-audio" if self.frontend else "")

    def knobs(self) -> dict[str, Any]:
        return {**asdict(self.arch), "quantize": self.quantize, "frontend": self.frontend}


@dataclass(frozen=True)
class Training:
    epochs: int = 8
    batch_size: int = 64
    learning_rate: float = 1e-3  # upstream train_keras.py default (Adam, beta 0.9/0.999, eps 1e-8)
    patience: int = 2  # epochs without a better held-out MSE before stopping
    bn_momentum: float = 0.9  # Keras' MobileNetV3 uses 0.999: too slow for short runs
    compression_frequency: int = 10  # steps between compression updates (upstream comp_freq)
    alpha_decrement: float = 0.01  # per update (upstream alpha_step_size)


@dataclass(frozen=True)
class Data:
    holdout: float = 0.1
    max_files: int | None = None
    silence_dbfs: float | None = -45.0  # windows peaking below it are left out; null: none


@dataclass(frozen=True)
class Grid:
    path: Path
    seed: int
    data: Data
    training: Training
    students: tuple[Student, ...] = field(default_factory=tuple)

    @property
    def architectures(self) -> list[Architecture]:
        return list(dict.fromkeys(s.arch for s in self.students))


def _bad(path: Path, key: str, what: str) -> NossError:
    return NossError(f"{path}: '{key}': {what}; fix the grid file (see configs/tiny-grid.yaml)")


def _number(path: Path, key: str, value: Any, kind: type, low: float, high: float = math.inf):
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise _bad(path, key, f"expected a number, got {value!r}")
    if kind is int and value != int(value):
        raise _bad(path, key, f"expected a whole number, got {value!r}")
    if not low <= value <= high:
        raise _bad(path, key, f"must be between {low:g} and {high:g}, got {value!r}")
    return kind(value)


def _section(path: Path, raw: dict, name: str, cls: type) -> Any:
    given = raw.get(name) or {}
    if not isinstance(given, dict):
        raise _bad(path, name, "expected a mapping")
    defaults = cls()
    unknown = [k for k in given if k not in asdict(defaults)]
    if unknown:
        known = ", ".join(asdict(defaults))
        raise _bad(path, f"{name}.{unknown[0]}", f"unknown key (known: {known})")
    limits = {
        "epochs": (int, 1, 10_000),
        "batch_size": (int, 1, 65_536),
        "learning_rate": (float, 1e-8, 10.0),
        "patience": (int, 1, 10_000),
        "bn_momentum": (float, 0.0, 0.9999),
        "compression_frequency": (int, 1, 10**9),
        "alpha_decrement": (float, 1e-6, 1.0),
        "holdout": (float, 0.01, 0.5),
        "max_files": (int, 2, 10**9),
        "silence_dbfs": (float, -200.0, 0.0),
    }
    values = {}
    for key, value in given.items():
        if key in ("max_files", "silence_dbfs") and value is None:
            values[key] = None
            continue
        kind, low, high = limits[key]
        values[key] = _number(path, f"{name}.{key}", value, kind, low, high)
    return cls(**{**asdict(defaults), **values})


def _axis(path: Path, students: dict, key: str) -> list[Any]:
    values = students.get(key)
    if values is None:
        defaults = {
            "size": ["small"],
            "minimalistic": [False],
            "pooling": ["avg"],
            "bottleneck": [0],
            "compression": [0],
            "quantize": ["float32"],
            "frontend": [False],
        }
        if key not in defaults:
            raise _bad(path, f"students.{key}", "missing (a list of values)")
        return defaults[key]
    if not isinstance(values, list):
        values = [values]
    if not values:
        raise _bad(path, f"students.{key}", "empty list")
    where = f"students.{key}"
    checked = []
    for v in values:
        if key == "size" and v not in SIZES:
            raise _bad(path, where, f"{v!r} is not one of {', '.join(SIZES)}")
        if key == "pooling" and v not in POOLINGS:
            raise _bad(path, where, f"{v!r} is not one of {', '.join(POOLINGS)}")
        if key == "quantize" and v not in QUANTIZE:
            raise _bad(path, where, f"{v!r} is not one of {', '.join(QUANTIZE)}")
        if key in ("minimalistic", "frontend") and not isinstance(v, bool):
            raise _bad(path, where, f"expected true or false, got {v!r}")
        if key == "alpha":
            v = _number(path, where, v, float, 0.1, 4.0)
        if key in ("bottleneck", "compression"):
            v = _number(path, where, v, int, 0, 65_536)
        checked.append(v)
    if len(set(checked)) != len(checked):
        raise _bad(path, where, "a value is listed twice")
    return checked


def load_grid(path: Path) -> Grid:
    """The grid at `path`, every key checked; a bad one is a one-line error naming it."""
    path = Path(path)
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise NossError(f"--grid: no such file: {path}") from None
    except (OSError, UnicodeDecodeError, yaml.YAMLError) as exc:
        raise NossError(f"--grid: {path}: not a readable YAML file ({exc})") from None
    if not isinstance(raw, dict):
        raise NossError(f"--grid: {path}: expected a mapping with a 'students' section")
    unknown = [k for k in raw if k not in TOP_KEYS]
    if unknown:
        raise _bad(path, unknown[0], f"unknown key (known: {', '.join(TOP_KEYS)})")
    seed = _number(path, "seed", raw.get("seed", 0), int, 0, 2**32 - 1)
    students = raw.get("students")
    if not isinstance(students, dict):
        raise _bad(path, "students", "missing or not a mapping of knob -> list of values")
    unknown = [k for k in students if k not in KNOBS]
    if unknown:
        raise _bad(path, f"students.{unknown[0]}", f"unknown knob (known: {', '.join(KNOBS)})")
    axes = [_axis(path, students, k) for k in KNOBS]
    widest = max(axes[KNOBS.index("bottleneck")])
    unused = [r for r in axes[KNOBS.index("compression")] if r and r >= widest]
    if unused:
        what = f"rank {unused[0]} is not below any bottleneck (the largest is {widest})"
        raise _bad(path, "students.compression", what)
    grid = []
    for size, alpha, minimal, pooling, bottleneck, rank, quantize, frontend in itertools.product(
        *axes
    ):
        if rank and not rank < bottleneck:
            continue  # compression factors a bottleneck larger than the rank
        arch = Architecture(size, alpha, minimal, pooling, bottleneck, rank)
        grid.append(Student(arch, quantize, frontend))
    return Grid(
        path,
        seed,
        _section(path, raw, "data", Data),
        _section(path, raw, "training", Training),
        tuple(grid),
    )
