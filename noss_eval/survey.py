"""Odd inputs that move numbers without failing: clips shorter than the embedder's window, float
audio beyond [-1, 1], WAV files cut short. Counted per task from file headers (no decoding, but
for float files), logged, and written to the `audio_warnings` column."""

from __future__ import annotations

import logging
import struct
from collections import Counter
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import soundfile as sf

from noss_eval.task import Clip

log = logging.getLogger(__name__)
FLOAT_SUBTYPES = ("FLOAT", "DOUBLE")


def wav_is_truncated(path: Path) -> bool:
    """A RIFF/WAVE file whose `data` chunk declares more bytes than the file holds."""
    try:
        with open(path, "rb") as fh:
            head = fh.read(1 << 16)
        if head[:4] != b"RIFF" or head[8:12] != b"WAVE":
            return False
        pos = 12
        while pos + 8 <= len(head):
            chunk, size = head[pos : pos + 4], struct.unpack("<I", head[pos + 4 : pos + 8])[0]
            if chunk == b"data":
                return pos + 8 + size > path.stat().st_size
            pos += 8 + size + (size & 1)
    except OSError:
        return False
    return False


def clip_notes(clip: Clip, window_seconds: float) -> list[str]:
    """What is odd about one clip (empty when nothing is)."""
    if clip.path.suffix.lower() not in (".wav", ".flac", ".ogg", ".mp3") or not clip.path.is_file():
        return []
    try:
        info = sf.info(str(clip.path))
    except (RuntimeError, sf.LibsndfileError):
        return []  # decoding will report it
    notes = []
    seconds = clip.duration if clip.duration is not None else info.duration - clip.start
    if seconds < window_seconds:
        notes.append(f"shorter than {window_seconds:g} s")
    if info.subtype in FLOAT_SUBTYPES:
        data, _ = sf.read(str(clip.path), dtype="float32", always_2d=True)
        if data.size and float(np.max(np.abs(data))) > 1.0:
            notes.append("float audio beyond [-1, 1]")
    if info.format == "WAV" and wav_is_truncated(clip.path):
        notes.append("truncated (fewer samples than its header says)")
    return notes


def survey(task: str, clips: Sequence[Clip], window_seconds: float) -> str:
    """`audio_warnings` for a task ("" when every clip is fine), each kind logged once with an
    example file."""
    counts: Counter[str] = Counter()
    example: dict[str, Path] = {}
    for clip in clips:
        for note in clip_notes(clip, window_seconds):
            counts[note] += 1
            example.setdefault(note, clip.path)
    for note, n in counts.items():
        log.warning("%s: %d clips %s (e.g. %s)", task, n, note, example[note])
    return "; ".join(f"{n} {note}" for note, n in sorted(counts.items()))
