"""Peak resident memory of this process image, for the memory benchmarks."""

from __future__ import annotations

import resource
from pathlib import Path


def peak_rss_mib() -> float:
    """This process's peak RSS in MiB. Linux's `ru_maxrss` keeps the peak of the image before
    `exec` (a child started by a large parent reports the parent's size), so `VmHWM`, which
    belongs to this image alone, is read where there is one."""
    status = Path("/proc/self/status")
    if status.is_file():
        for line in status.read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
