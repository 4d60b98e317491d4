"""Fetching one file: every file goes to a `.part` file first and is resumed with an HTTP
Range request (by a re-run, or by a retry after a dropped connection); it is renamed from `.part`
only once its size and published sha256 match, so a file without `.part` is verified. A file
that does not match is moved aside (`.bad`) so a re-run starts clean.

`base_url` (the CLI takes it from NOSS_EVAL_DOWNLOAD_BASE) replaces every URL's scheme with a
mirror: `https://host/path` is fetched from `<base_url>/host/path`, the layout `wget -x` makes.
"""

from __future__ import annotations

import hashlib
import http.client
import logging
import os
import re
import shutil
import socket
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass
from pathlib import Path

from tqdm.auto import tqdm

from noss_eval import __version__
from noss_eval.download.catalog import Remote
from noss_eval.errors import NossError
from noss_eval.progress import Meter

log = logging.getLogger(__name__)

BASE_ENV = "NOSS_EVAL_DOWNLOAD_BASE"
CHUNK = 1 << 20
PROGRESS_EVERY = 15.0  # seconds between progress lines when stderr is not a terminal


class _Transient(Exception):
    """A failure worth a retry (connection refused or dropped, timeout, 5xx); `.part` is kept."""


class ByteMeter(Meter):
    """Progress in bytes: a scaled bar on a terminal, lines with sizes and rate otherwise."""

    def __init__(self, total: int, desc: str, enabled: bool) -> None:
        """`total` 0: the size is unknown (a server that sends no length); progress still
        shows the bytes so far and the rate."""
        super().__init__(total, desc, "B", enabled, every=PROGRESS_EVERY)
        if enabled and total <= 0:
            if sys.stderr.isatty():
                self._bar = tqdm(total=None, desc=desc, unit="B", leave=False)
            else:
                self._lines = True
        if self._bar is not None:
            self._bar.unit_scale, self._bar.unit_divisor = True, 1024

    def line(self) -> str:
        elapsed = max(time.monotonic() - self.start, 1e-9)
        rate = self.done / elapsed
        if self.total <= 0:
            return f"{self.desc}: {human(self.done)} (size unknown), {human(rate)}/s"
        left = (self.total - self.done) / rate if rate > 0 else None
        eta = f"{left:.0f} s" if left is not None else "?"
        percent = min(100.0, 100.0 * self.done / max(self.total, 1))
        return (
            f"{self.desc}: {human(self.done)} of {human(self.total)} ({percent:.0f}%), "
            f"{human(rate)}/s, ETA {eta}"
        )


def human(n: float) -> str:
    for unit in ("B", "KiB", "MiB", "GiB"):
        if n < 1024 or unit == "GiB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1024
    return f"{n:.1f} GiB"


@dataclass
class Fetcher:
    """Fetches files with resume and verification. `base_url` maps every official URL to a
    mirror (`<base_url>/<host>/<path>`); `retries` is how many times a dropped or failed
    transfer is resumed before the error is reported; `backoff` seconds grow per retry."""

    base_url: str | None = None
    retries: int = 3
    backoff: float = 2.0
    timeout: float = 60.0
    progress: bool = True

    def url(self, official: str) -> str:
        if not self.base_url:
            return official
        parts = urllib.parse.urlsplit(official)
        query = f"?{parts.query}" if parts.query else ""
        return f"{self.base_url.rstrip('/')}/{parts.netloc}{parts.path}{query}"

    def fetch(self, remote: Remote, dest: Path, show: bool = True) -> Path:
        """`dest` holding `remote`'s verified bytes: already there (skipped), or fetched into
        `dest.part` (resumed where a previous run stopped), verified, renamed."""
        url = self.url(remote.url)
        show = show and self.progress
        if dest.is_file():  # fetched before: still what the catalog publishes?
            if self._matches(remote, dest, show):
                return dest
            log.warning("%s: not the published file (any more); fetching it again", dest)
            _move_aside(dest)
        dest.parent.mkdir(parents=True, exist_ok=True)
        part = dest.with_name(dest.name + ".part")
        for attempt in range(self.retries + 1):
            try:
                self._transfer(url, remote, part, show)
                break
            except _Transient as exc:
                have = part.stat().st_size if part.exists() else 0
                if attempt == self.retries:
                    kept = f"; the {human(have)} fetched are kept in {part}" if have else ""
                    raise NossError(
                        f"{url}: {exc}{kept}; check the network (or {BASE_ENV}) and re-run "
                        "to resume"
                    ) from None
                log.warning(
                    "%s: %s; retrying from %s (%d of %d)",
                    url,
                    exc,
                    human(have),
                    attempt + 1,
                    self.retries,
                )
                time.sleep(self.backoff * (attempt + 1))
        self._verify(url, remote, part, show)
        os.replace(part, dest)
        return dest

    def _transfer(self, url: str, remote: Remote, part: Path, show: bool) -> None:
        have = part.stat().st_size if part.exists() else 0
        if remote.size is not None and have >= remote.size:
            return  # whole (or longer: _verify moves it aside)
        _check_space(part.parent, remote.size, have)
        headers = {"User-Agent": f"noss-eval/{__version__}"}
        if have:
            headers["Range"] = f"bytes={have}-"
        try:
            response = urllib.request.urlopen(
                urllib.request.Request(url, headers=headers), timeout=self.timeout
            )
        except urllib.error.HTTPError as exc:
            exc.close()
            if exc.code == 416 and have:
                return  # nothing past `have`: the file is whole; _verify decides
            if exc.code >= 500 or exc.code == 429:
                raise _Transient(f"HTTP {exc.code} {exc.reason}") from None
            raise NossError(f"{url}: HTTP {exc.code} {exc.reason}") from None
        except (urllib.error.URLError, OSError, http.client.HTTPException) as exc:
            reason = getattr(exc, "reason", None) or exc
            if isinstance(reason, socket.gaierror):  # no such host: a retry will not find it
                raise NossError(
                    f"{url}: cannot connect ({reason}); check the network (or {BASE_ENV})"
                ) from None
            raise _Transient(f"cannot connect ({reason})") from None
        with response:
            mode, start, total = _resume_point(response, have)
            if mode == "ab" and start != have:
                part.unlink()  # the server resumed elsewhere: start again from 0
                raise _Transient(f"the server resumed at byte {start}, not {have}")
            if mode == "wb" and have:
                log.info("%s: the server does not resume; fetching it from the start", url)
            if remote.size is not None and total is not None and total != remote.size:
                raise NossError(
                    f"{url}: the server offers {total} bytes, the published size is "
                    f"{remote.size}; it is not the published file (check {BASE_ENV} if set)"
                )
            what = f"download {remote.name}" + (f" (resuming at {human(start)})" if start else "")
            meter = ByteMeter(total - start if total else 0, what, show)
            try:
                with open(part, mode) as out:
                    while chunk := response.read(CHUNK):
                        out.write(chunk)
                        meter.update(len(chunk))
            except (OSError, http.client.HTTPException) as exc:
                if isinstance(exc, OSError) and exc.filename:
                    raise NossError(f"{part}: cannot write ({exc.strerror or exc})") from None
                raise _Transient(f"the transfer broke off ({exc})") from None
            finally:
                meter.close()
        got = part.stat().st_size
        if total is not None and got < total:
            raise _Transient(f"the connection closed at {human(got)} of {human(total)}")

    def _matches(self, remote: Remote, path: Path, show: bool) -> bool:
        if remote.size is not None and path.stat().st_size != remote.size:
            return False
        return remote.sha256 is None or sha256_of(path, f"verify {path.name}", show) == (
            remote.sha256
        )

    def _verify(self, url: str, remote: Remote, part: Path, show: bool) -> None:
        size = part.stat().st_size
        if remote.size is not None and size != remote.size:
            bad = _move_aside(part)
            raise NossError(
                f"{remote.name}: {size} bytes, the published size is {remote.size} ({url}); "
                f"moved aside to {bad.name}: re-run to fetch it again"
            )
        if remote.sha256 is None:
            if show:
                checked = "the published size" if remote.size is not None else "the server's length"
                log.info("%s: no published sha256; checked against %s only", remote.name, checked)
            return
        digest = sha256_of(part, f"verify {remote.name}", show)
        if digest != remote.sha256:
            bad = _move_aside(part)
            raise NossError(
                f"{remote.name}: sha256 {digest} is not the published {remote.sha256} ({url}); "
                f"moved aside to {bad}: re-run to fetch it again (check {BASE_ENV} if set)"
            )


def _resume_point(response, have: int) -> tuple[str, int, int | None]:
    """(file mode, where the response's bytes start, whole size if known) for a response to a
    request that asked for the bytes from `have` on."""
    length = response.headers.get("Content-Length")
    length = int(length) if length and length.isdigit() else None
    if response.status == 206:
        match = re.fullmatch(
            r"bytes (\d+)-(\d+)/(\d+|\*)", response.headers.get("Content-Range", "").strip()
        )
        if not match:
            raise NossError(f"{response.url}: a partial answer without a usable Content-Range")
        total = None if match.group(3) == "*" else int(match.group(3))
        return "ab", int(match.group(1)), total
    if response.status != 200:
        raise NossError(f"{response.url}: unexpected HTTP {response.status}")
    return "wb", 0, length if length is not None else None


def _check_space(folder: Path, size: int | None, have: int) -> None:
    if size is None:
        return
    free = shutil.disk_usage(folder).free
    if free < size - have:
        raise NossError(
            f"{folder}: {human(free)} free, {human(size - have)} more are needed; free some "
            "space or choose another data_dir"
        )


def _move_aside(path: Path) -> Path:
    """`path` renamed to `<name>.bad` (replacing an older one), out of the next run's way."""
    bad = path.with_name(path.name.removesuffix(".part") + ".bad")
    os.replace(path, bad)
    return bad


def sha256_of(path: Path, desc: str = "verify", show: bool = False) -> str:
    digest = hashlib.sha256()
    meter = ByteMeter(path.stat().st_size, desc, show)
    try:
        with open(path, "rb") as fh:
            while block := fh.read(CHUNK):
                digest.update(block)
                meter.update(len(block))
    finally:
        meter.close()
    return digest.hexdigest()
