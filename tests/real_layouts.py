"""Real recordings from ../shared laid out in official layouts (used by test_real_audio.py)."""

from __future__ import annotations

import csv
import shutil
from pathlib import Path

FSDD_SPEAKERS = ("george", "jackson", "lucas", "nicolas", "theo", "yweweler")
HEDGEWARS_SOUNDS = {
    "Laugh": "laugh",
    "Ow1": "ow",
    "Ow2": "ow",
    "Ow3": "ow",
    "Ow4": "ow",
    "Ooff1": "ooff",
    "Ooff2": "ooff",
    "Ooff3": "ooff",
    "PoisonCough": "poisoncough",
    "PoisonMoan": "poisonmoan",
}
SPEECH_PER_PACK = 3


def fsdd_as_voxceleb1(recordings: Path, root: Path, per_digit: int = 10) -> None:
    """wav/id1000N/digit<d>/<n>.wav + iden_split.txt: takes 0-5 train, 6-7 validation, 8-9 test."""
    lines = []
    for s, speaker in enumerate(FSDD_SPEAKERS):
        for digit in range(10):
            for n in range(per_digit):
                rel = f"id{10001 + s}/digit{digit}/{n + 1:05d}.wav"
                (root / "wav" / rel).parent.mkdir(parents=True, exist_ok=True)
                shutil.copy(recordings / f"{digit}_{speaker}_{n}.wav", root / "wav" / rel)
                code = 1 if n < 0.6 * per_digit else 2 if n < 0.8 * per_digit else 3
                lines.append(f"{code} {rel}")
    (root / "iden_split.txt").write_text("\n".join(lines) + "\n")


def fsdd_keyword_task(recordings: Path, root: Path, per_digit: int = 10) -> Path:
    """A custom task file: 10 digits, speakers split 3/1/2 (speaker-disjoint)."""
    root.mkdir(parents=True, exist_ok=True)
    with open(root / "digits.csv", "w", newline="") as fh:
        writer = csv.writer(fh)
        writer.writerow(["path", "label", "speaker"])
        for speaker in FSDD_SPEAKERS:
            for digit in range(10):
                for n in range(per_digit):
                    writer.writerow([f"{digit}_{speaker}_{n}.wav", str(digit), speaker])
    (root / "fsdd_digits.yaml").write_text(
        f"name: fsdd_digits\naudio_dir: {recordings}\ncsv: digits.csv\n"
        "split_probs: {train: 0.5, validation: 0.2, test: 0.3}\n"
    )
    return root / "fsdd_digits.yaml"


def hedgewars_as_esc50(packs_dir: Path, root: Path) -> Path:
    """ESC-50-style `audio/` + `meta/esc50.csv` of human non-speech sounds vs speech, one fold
    per group of voice packs, and the custom task file that reads it."""
    packs = sorted(p for p in packs_dir.iterdir() if p.is_dir())
    rows = []
    for i, pack in enumerate(packs):
        fold = i % 5 + 1
        speech = sorted(
            f
            for f in pack.glob("*.ogg")
            if f.stem not in HEDGEWARS_SOUNDS and not f.stem.startswith(("Poison", "Jump", "Hmm"))
        )
        chosen = [
            (f, HEDGEWARS_SOUNDS[f.stem])
            for f in sorted(pack.glob("*.ogg"))
            if f.stem in HEDGEWARS_SOUNDS
        ] + [(f, "speech") for f in speech[:SPEECH_PER_PACK]]
        for f, label in chosen:
            name = f"{fold}-{pack.name}-A-{f.stem}.ogg"
            (root / "audio").mkdir(parents=True, exist_ok=True)
            shutil.copy(f, root / "audio" / name)
            rows.append((name, fold, label, pack.name))
    (root / "meta").mkdir(parents=True, exist_ok=True)
    with open(root / "meta" / "esc50.csv", "w", newline="") as fh:
        csv.writer(fh).writerows([("filename", "fold", "category", "src_file"), *rows])
    (root / "hedgewars.yaml").write_text(
        "name: hedgewars_hs\naudio_dir: audio\ncsv: meta/esc50.csv\n"
        "columns: {path: filename, label: category}\n"
    )
    return root / "hedgewars.yaml"
