"""Progress that reaches the user wherever stderr goes: a bar on a terminal, a plain line every
`every` seconds otherwise (CI, nohup, `2> log`), with rate and ETA in both."""

from __future__ import annotations

import logging
import sys
import time
from collections.abc import Iterable, Iterator
from typing import TypeVar

from tqdm.auto import tqdm

log = logging.getLogger("noss_eval")
T = TypeVar("T")


class Meter:
    def __init__(
        self, total: int, desc: str, unit: str, enabled: bool = True, every: float = 30.0
    ) -> None:
        self.total, self.desc, self.unit, self.every = total, desc, unit, every
        self.done, self.start = 0, time.monotonic()
        self._last = self.start
        self._bar = None
        self._lines = enabled and total > 0 and not sys.stderr.isatty()
        if enabled and total > 0 and not self._lines:
            self._bar = tqdm(total=total, desc=desc, unit=unit, leave=False)

    def update(self, n: int = 1) -> None:
        self.done += n
        if self._bar is not None:
            self._bar.update(n)
        elif self._lines and time.monotonic() - self._last >= self.every:
            self._last = time.monotonic()
            log.info("%s", self.line())

    def line(self) -> str:
        elapsed = max(time.monotonic() - self.start, 1e-9)
        rate = self.done / elapsed
        left = max(self.total - self.done, 0) / rate if rate > 0 else float("inf")
        eta = f"{left:.0f} s" if left != float("inf") else "?"
        percent = min(100.0, 100.0 * self.done / self.total)
        return (
            f"{self.desc}: {self.done}/{self.total} {self.unit}s ({percent:.0f}%), "
            f"{rate:.1f} {self.unit}s/s, ETA {eta}"
        )

    def close(self) -> None:
        if self._bar is not None:
            self._bar.close()
        elif self._lines and self.done:
            log.info("%s", self.line())  # one closing line per stage in a log


def track(
    items: Iterable[T], total: int, desc: str, unit: str, enabled: bool = True, every: float = 30.0
) -> Iterator[T]:
    meter = Meter(total, desc, unit, enabled, every)
    try:
        for item in items:
            yield item
            meter.update()
    finally:
        meter.close()
