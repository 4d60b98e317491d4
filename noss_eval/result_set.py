"""What the Python API returns: `Results`, a sequence of `ResultRow`s (a `ProbeResult` and the
`RunStamp` of its run), as the console table, the leaderboard CSV's rows, a pandas DataFrame,
or JSON that reads back into an equal `Results` (`ProbeResult.to_dict` per row)."""

from __future__ import annotations

import json
import os
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, overload

import numpy as np

from noss_eval.errors import NossError, brief_repr
from noss_eval.results import ProbeResult, RunStamp

JSON_FORMAT = "noss-eval-results"
JSON_VERSION = 1


@dataclass(frozen=True, eq=False)
class ResultRow:
    """One leaderboard row, typed: a probe's `ProbeResult` on one task and the `RunStamp` of
    the run that made it. Scores are fractions, as in `ProbeResult` (the CSV has percent);
    `delta` is in points."""

    result: ProbeResult
    stamp: RunStamp

    embedder = property(lambda self: self.result.embedder)
    task = property(lambda self: self.result.task)
    probe = property(lambda self: self.result.probe)
    protocol = property(lambda self: self.result.protocol)
    config = property(lambda self: self.result.config)
    headline_metric = property(lambda self: self.result.headline_metric)
    headline_score = property(lambda self: self.result.headline_score)
    headline_ci = property(lambda self: self.result.headline_ci)
    metrics = property(lambda self: self.result.metrics)
    n_test = property(lambda self: self.result.n_test)
    chance = property(lambda self: self.result.chance)
    at_chance = property(lambda self: self.result.at_chance)
    comparison = property(lambda self: self.result.comparison)
    delta = property(lambda self: self.result.delta)
    run_id = property(lambda self: self.stamp.run_id)
    seed = property(lambda self: self.stamp.seed)

    def to_row(self) -> dict[str, Any]:
        """The leaderboard CSV's row (`leaderboard.to_row`)."""
        from noss_eval.leaderboard import to_row

        return to_row(self.result, self.stamp)

    def to_dict(self) -> dict[str, Any]:
        """Every field, JSON-ready (what `Results.to_json` writes per row)."""
        return {"stamp": asdict(self.stamp), "result": self.result.to_dict()}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> ResultRow:
        return cls(ProbeResult.from_dict(data["result"]), RunStamp(**data["stamp"]))

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, ResultRow):
            return NotImplemented
        return _canonical(self.to_dict()) == _canonical(other.to_dict())

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        score = f"{self.headline_metric} {100 * self.headline_score:.2f} %"
        return f"<ResultRow: {self.embedder}, {self.task}, {self.probe}, {score}>"


def _number(value: Any) -> Any:
    """numpy scalars as Python numbers, for JSON."""
    if isinstance(value, np.generic):
        return value.item()
    raise TypeError(f"{type(value).__name__} is not JSON serializable")


def _canonical(data: Any) -> str:
    return json.dumps(data, sort_keys=True, default=_number)


class Results(Sequence[ResultRow]):
    """What `evaluate` returns: the run's rows (`ResultRow`: `ProbeResult` + `RunStamp`), in
    the order the command line prints them. A sequence (index, slice, iterate, `+`); `str()`
    is the console table; `to_rows`, `to_csv`, `to_frame`, `to_json` / `from_json`."""

    def __init__(self, rows: Iterable[ResultRow] = ()) -> None:
        self._rows = tuple(rows)
        bad = next((r for r in self._rows if not isinstance(r, ResultRow)), None)
        if bad is not None:
            raise TypeError(f"Results holds ResultRow items, not {type(bad).__name__}")

    @overload
    def __getitem__(self, index: int) -> ResultRow: ...

    @overload
    def __getitem__(self, index: slice) -> Results: ...

    def __getitem__(self, index: int | slice) -> ResultRow | Results:
        if isinstance(index, slice):
            return Results(self._rows[index])
        return self._rows[index]

    def __len__(self) -> int:
        return len(self._rows)

    def __add__(self, other: Results) -> Results:
        if not isinstance(other, Results):
            return NotImplemented
        return Results(self._rows + other._rows)

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Results):
            return NotImplemented
        return self.to_json() == other.to_json()

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        tasks = len({r.task for r in self})
        embedders = ", ".join(dict.fromkeys(r.embedder for r in self))
        return f"<Results: {len(self)} rows, {tasks} tasks, embedder {embedders or '-'}>"

    def __str__(self) -> str:
        from noss_eval.table import format_table

        return format_table(self.to_rows()) if self._rows else "(no results)"

    def to_rows(self) -> list[dict[str, Any]]:
        """The leaderboard CSV's rows (`leaderboard.to_row`): scores in percent."""
        return [r.to_row() for r in self._rows]

    def to_csv(self, path: str | os.PathLike[str]) -> Path:
        """Write the rows to `path` (replaced) as the leaderboard CSV, the same columns and
        cells `leaderboard=` gives; returns the path. (`leaderboard=` in `evaluate` merges
        into a leaderboard and records the run; this only writes these rows.)"""
        from noss_eval.leaderboard import write_leaderboard

        target = Path(os.fspath(path)).expanduser()
        try:
            write_leaderboard(target, self.to_rows())
        except OSError as exc:
            raise NossError(f"to_csv: cannot write {target} ({exc.strerror or exc})") from None
        return target

    def to_frame(self) -> Any:
        """The rows as a pandas DataFrame, the CSV's columns in its order (needs pandas, which
        noss-eval does not install)."""
        try:
            import pandas as pd
        except ImportError:
            raise ImportError(
                "Results.to_frame() needs pandas, which noss-eval does not install: "
                "pip install pandas (or use to_rows(), to_csv() or to_json())"
            ) from None
        from noss_eval.leaderboard import COLUMNS

        rows = self.to_rows()
        extra = sorted({k for r in rows for k in r} - set(COLUMNS))
        return pd.DataFrame(rows, columns=[*COLUMNS, *extra])

    def to_json(self, path: str | os.PathLike[str] | None = None, indent: int | None = None) -> str:
        """Every row with every field (predictions, comparison, stamp): `from_json` gives back
        an equal `Results`. Written to `path` too when given."""
        payload = {
            "format": JSON_FORMAT,
            "version": JSON_VERSION,
            "rows": [r.to_dict() for r in self._rows],
        }
        text = json.dumps(payload, sort_keys=True, indent=indent, default=_number)
        if path is not None:
            from noss_eval.atomic import atomic_write_text

            target = Path(os.fspath(path)).expanduser()
            try:
                atomic_write_text(target, text)
            except OSError as exc:
                raise NossError(f"to_json: cannot write {target} ({exc.strerror or exc})") from None
        return text

    @classmethod
    def from_json(cls, source: str | os.PathLike[str]) -> Results:
        """`Results` from `to_json`'s text, or from the file at a `pathlib.Path`."""
        where = "from_json"
        if isinstance(source, os.PathLike):
            where = f"from_json: {os.fspath(source)}"
            try:
                source = Path(os.fspath(source)).read_text(encoding="utf-8")
            except (OSError, UnicodeDecodeError) as exc:
                raise NossError(f"{where}: cannot read ({exc})") from None
        try:
            data = json.loads(source)
        except ValueError as exc:
            raise NossError(
                f"{where}: not JSON ({exc}); give to_json()'s text, or a pathlib.Path to read"
            ) from None
        if not isinstance(data, dict) or data.get("format") != JSON_FORMAT:
            raise NossError(f"{where}: not noss-eval results (no format '{JSON_FORMAT}')")
        if data.get("version") != JSON_VERSION:
            raise NossError(
                f"{where}: results format version {brief_repr(data.get('version'))}; this "
                f"noss-eval reads version {JSON_VERSION}"
            )
        try:
            return cls(ResultRow.from_dict(r) for r in data["rows"])
        except (KeyError, TypeError, ValueError, AttributeError) as exc:
            raise NossError(f"{where}: a malformed row ({type(exc).__name__}: {exc})") from None
