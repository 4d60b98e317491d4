"""Generated audio laid out exactly like each dataset's official distribution.

Used by `noss-eval --demo` and by the tests. Each class gets its own harmonic signature (pitch and
brightness) plus per-speaker variation and noise, so a good embedding separates the classes.
The files are synthetic: numbers from them say nothing about real speech.
"""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np
import soundfile as sf


def class_signal(
    rng: np.random.RandomState,
    index: int,
    n_classes: int,
    rate: int,
    seconds: float,
    speaker_shift: float = 0.0,
    overlap: float = 0.0,
) -> np.ndarray:
    """One clip of class `index`: the class's pitch, moved by the speaker's shift and a little
    at random. `overlap` > 0 moves it further, by up to that fraction of the distance between
    neighbouring classes each way: from ~0.5 on, neighbours overlap and no embedding separates
    every clip (the demo's data); at 0 the classes never overlap (the tests' data)."""
    t = np.arange(int(rate * seconds)) / rate
    step = 3.0 / max(n_classes, 1)  # octaves between neighbouring classes
    spread = rng.uniform(-0.02, 0.02) + (overlap * step * rng.uniform(-1, 1) if overlap else 0.0)
    f0 = 110.0 * 2 ** (step * index + speaker_shift + spread)
    tilt = 0.35 + 0.5 * ((index * 7) % n_classes) / max(n_classes, 1)
    wave = sum(
        tilt**h * np.sin(2 * np.pi * f0 * (h + 1) * t + rng.uniform(0, 6.28))
        for h in range(8)
        if f0 * (h + 1) < rate / 2
    )
    wave = wave * (0.6 + 0.4 * np.sin(2 * np.pi * rng.uniform(2, 5) * t)) + 0.05 * rng.randn(t.size)
    return (0.3 * wave / np.max(np.abs(wave))).astype(np.float32)


def _write(path: Path, audio: np.ndarray, rate: int) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    sf.write(str(path), audio, rate, subtype="PCM_16")


def write_voxceleb1(
    root: Path, n_speakers: int = 6, per_video: int = 3, seed: int = 0, overlap: float = 0.0
) -> None:
    """wav/idXXXXX/<video>/<n>.wav; videos 0-1 train, 2 validation, 3 test."""
    rng, lines = np.random.RandomState(seed), []
    for s in range(n_speakers):
        speaker = f"id{10001 + s}"
        for v, code in enumerate((1, 1, 2, 3)):
            for u in range(per_video):
                rel = f"{speaker}/vid{v:02d}{speaker[-2:]}/{u + 1:05d}.wav"
                _write(
                    root / "wav" / rel,
                    class_signal(rng, s, n_speakers, 16000, 1.5, overlap=overlap),
                    16000,
                )
                lines.append(f"{code} {rel}")
    (root / "iden_split.txt").write_text("\n".join(lines) + "\n")


def write_crema_d(
    root: Path,
    n_actors: int = 12,
    sentences: tuple[str, ...] = ("DFA", "IEO"),
    seed: int = 0,
    overlap: float = 0.0,
) -> None:
    """AudioWAV/<actor>_<sentence>_<emotion>_<level>.wav."""
    rng, emotions = np.random.RandomState(seed), ("NEU", "HAP", "SAD", "ANG", "FEA", "DIS")
    for a in range(n_actors):
        shift = rng.uniform(-0.1, 0.1)
        for sentence in sentences:
            for e, emotion in enumerate(emotions):
                audio = class_signal(rng, e, len(emotions), 16000, 1.2, shift, overlap)
                _write(root / "AudioWAV" / f"{1001 + a}_{sentence}_{emotion}_XX.wav", audio, 16000)


def write_speech_commands(
    root: Path, n_speakers: int = 10, seed: int = 0, overlap: float = 0.0, test_set: bool = True
) -> None:
    """<word>/<speaker>_nohash_<n>.wav + validation/testing lists + _background_noise_/, and the
    official test archive's layout under test_set/ (<label>/*.wav with _silence_, _unknown_)."""
    rng = np.random.RandomState(seed)
    words = ("yes", "no", "up", "down", "left", "right", "on", "off", "stop", "go", "bed", "cat")
    lists: dict[str, list[str]] = {"validation": [], "test": []}
    for s in range(n_speakers):
        speaker = f"{s:04x}beef"
        split = "test" if s % 5 == 4 else "validation" if s % 5 == 3 else "train"
        for w, word in enumerate(words):
            rel = f"{word}/{speaker}_nohash_0.wav"
            _write(
                root / rel, class_signal(rng, min(w, 10), 11, 16000, 1.0, overlap=overlap), 16000
            )
            if split != "train":
                lists[split].append(rel)
    for name in ("white_noise.wav", "running_tap.wav"):
        _write(
            root / "_background_noise_" / name,
            0.01 * rng.randn(16000 * 4).astype(np.float32),
            16000,
        )
    (root / "validation_list.txt").write_text("\n".join(lists["validation"]) + "\n")
    (root / "testing_list.txt").write_text("\n".join(lists["test"]) + "\n")
    if test_set:
        for s in range(2):
            speaker = f"{s:04x}f00d"
            for w, label in enumerate((*words[:10], "_unknown_")):
                audio = class_signal(rng, w, 11, 16000, 1.0, overlap=overlap)
                _write(root / "test_set" / label / f"{speaker}_nohash_0.wav", audio, 16000)
            noise = 0.01 * rng.randn(16000).astype(np.float32)
            _write(root / "test_set" / "_silence_" / f"{speaker}_nohash_0.wav", noise, 16000)


def write_mask(root: Path, per_partition: int = 30, seed: int = 0, overlap: float = 0.0) -> None:
    """wav/{train,devel,test}_NNNNN.wav + lab/labels.csv with test labels withheld ('?')."""
    rng, rows = np.random.RandomState(seed), []
    for partition in ("train", "devel", "test"):
        for i in range(per_partition):
            label = ("clear", "mask")[i % 2]
            name = f"{partition}_{i + 1:05d}.wav"
            _write(
                root / "wav" / name, class_signal(rng, i % 2, 2, 16000, 1.0, overlap=overlap), 16000
            )
            rows.append((name, "?" if partition == "test" else label))
    (root / "lab").mkdir(parents=True, exist_ok=True)
    with open(root / "lab" / "labels.csv", "w", newline="") as fh:
        csv.writer(fh).writerows([("file_name", "label"), *rows])


def write_esc50(
    root: Path, per_fold: int = 2, seed: int = 0, overlap: float = 0.0, rate: int = 44100
) -> None:
    """audio/<fold>-<src>-A-<target>.wav + meta/esc50.csv, with a non-target class to filter out."""
    from noss_eval.tasks.esc50_hs import HUMAN_NON_SPEECH

    rng, rows = np.random.RandomState(seed), []
    classes = {0: "dog", **HUMAN_NON_SPEECH}
    for fold in range(1, 6):
        for target, name in classes.items():
            for k in range(per_fold):
                src = 100000 + 1000 * fold + 10 * target + k
                filename = f"{fold}-{src}-A-{target}.wav"
                _write(
                    root / "audio" / filename,
                    class_signal(rng, target % 20, 10, rate, 1.0, overlap=overlap),
                    rate,
                )
                rows.append((filename, fold, target, name, "False", src, "A"))
    (root / "meta").mkdir(parents=True, exist_ok=True)
    with open(root / "meta" / "esc50.csv", "w", newline="") as fh:
        header = ("filename", "fold", "target", "category", "esc10", "src_file", "take")
        csv.writer(fh).writerows([header, *rows])


def write_savee(root: Path, per_emotion: int = 3, seed: int = 0, overlap: float = 0.0) -> None:
    """AudioData/<speaker>/<code><nn>.wav at 44.1 kHz, 4 speakers."""
    rng, codes = np.random.RandomState(seed), ("a", "d", "f", "h", "n", "sa", "su")
    for speaker in ("DC", "JE", "JK", "KL"):
        for c, code in enumerate(codes):
            for k in range(per_emotion):
                audio = class_signal(
                    rng, c, len(codes), 44100, 1.0, rng.uniform(-0.05, 0.05), overlap
                )
                _write(root / "AudioData" / speaker / f"{code}{k + 1:02d}.wav", audio, 44100)


def write_voxforge(
    root: Path,
    speakers_per_language: int = 4,
    per_session: int = 3,
    seed: int = 0,
    overlap: float = 0.0,
) -> None:
    """<lang>/Trunk/Audio/Main/16kHz_16bit/<speaker>-<date>-<session>/wav/*.wav."""
    rng, languages = np.random.RandomState(seed), ("de", "en", "es", "fr", "it", "ru")
    for li, lang in enumerate(languages):
        for s in range(speakers_per_language):
            session = root / lang / "Trunk/Audio/Main/16kHz_16bit" / f"{lang}spk{s}-20100101-s{s}"
            for k in range(per_session):
                audio = class_signal(rng, li, len(languages), 16000, 1.0, overlap=overlap)
                _write(session / "wav" / f"a{k + 1:04d}.wav", audio, 16000)


def write_dementiabank(
    root: Path, speakers: int = 20, sessions: int = 2, seed: int = 0, overlap: float = 0.0
) -> None:
    """dementia/English/Pitt/{Control,Dementia}/cookie/<speaker>-<session>.mp3 at 44.1 kHz."""
    rng = np.random.RandomState(seed)
    for s in range(speakers):
        label, folder = (0, "Control") if s % 2 else (1, "Dementia")
        for k in range(sessions):
            path = root / "dementia/English/Pitt" / folder / "cookie" / f"{s:03d}-{k}.mp3"
            path.parent.mkdir(parents=True, exist_ok=True)
            sf.write(
                str(path),
                class_signal(rng, label, 2, 44100, 1.0, overlap=overlap),
                44100,
                format="MP3",
            )


DEMO_OVERLAP = 1.5  # `noss-eval --demo`: overlapping classes, scores between chance and 100
DEMO_SOURCE = "synthetic-demo"  # the demo rows' data_source

WRITERS = {
    "voxceleb1": write_voxceleb1,
    "crema_d": write_crema_d,
    "speech_commands": write_speech_commands,
    "mask": write_mask,
    "esc50": write_esc50,
    "voxforge": write_voxforge,
    "savee": write_savee,
    "dementiabank": write_dementiabank,
}


def write_all(data_dir: Path, seed: int = 0, overlap: float = 0.0) -> None:
    """Every built-in task's dataset (all eight) under `data_dir/<dataset_dir>/`; `overlap`
    (see `class_signal`) sets how much the classes overlap."""
    for dataset_dir, writer in WRITERS.items():
        writer(data_dir / dataset_dir, seed=seed, overlap=overlap)
