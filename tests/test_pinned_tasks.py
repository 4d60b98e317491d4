"""Pinned behaviour of the task readers (`tasks/*.py`) on tiny official layouts written here:
labels, speakers, splits (against the TFDS builders' split functions), clip ids and the errors a
malformed layout gets. Readers only list files, except Speech Commands' noise, so most audio
files here are empty."""

import logging

import numpy as np
import pytest
import soundfile as sf
from tensorflow_datasets.audio.crema_d import _get_inter_splits_by_group as _crema_d_splits
from tensorflow_datasets.audio.voxforge import _get_inter_splits_by_group

from noss_eval.errors import NossError
from noss_eval.task import Clip
from noss_eval.tasks import (
    BUILTIN_TASKS,
    crema_d,
    dementiabank,
    esc50_hs,
    mask,
    savee,
    speech_commands,
    voxceleb1,
    voxforge,
)

TFDS_PROBS = [("train", 0.7), ("validation", 0.1), ("test", 0.2)]


def touch(path):
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(b"")
    return path


def tfds_split(entries, probs=TFDS_PROBS):
    """speaker -> split, by the TFDS builders' own `_get_inter_splits_by_group`."""
    split = _get_inter_splits_by_group([(i, s) for i, s in entries], probs, 0)
    by_item = {item: name for name, items in split.items() for item in items}
    return {s: by_item[i] for i, s in entries}


def test_registry_names():
    assert list(BUILTIN_TASKS) == [
        "voxceleb1",
        "crema_d",
        "speech_commands",
        "mask",
        "esc50_hs",
        "voxforge",
        "savee",
        "dementiabank",
        "voxceleb1_1251",
        "speech_commands_lists",
        "voxforge_all",
    ]
    assert [t.name for t in BUILTIN_TASKS.values() if not t.default] == [
        "voxceleb1_1251",
        "speech_commands_lists",
        "voxforge_all",
    ]


def test_crema_d(tmp_path):
    names = [
        f"{1001 + a}_{s}_{e}_XX.wav"
        for a in range(12)
        for s in ("DFA", "IEO")
        for e in ("ANG", "HAP")
    ]
    for n in names:
        touch(tmp_path / "AudioWAV" / n)
    clips = crema_d.read(tmp_path)
    split_of = tfds_split([(n, n.split("_")[0]) for n in sorted(names)])
    assert clips == [
        Clip(
            f"AudioWAV/{n}",
            tmp_path / "AudioWAV" / n,
            n.split("_")[2],
            split_of[n.split("_")[0]],
            speaker=n.split("_")[0],
        )
        for n in sorted(names)
    ]
    assert {c.split for c in clips} == {"train", "validation", "test"}
    touch(tmp_path / "AudioWAV" / "1001_DFA_ANG.wav")
    with pytest.raises(NossError, match="1001_DFA_ANG.wav: expected <actor>_<sentence>_"):
        crema_d.read(tmp_path)
    with pytest.raises(NossError, match=r"AudioWAV: missing \(CREMA-D AudioWAV/ folder\)$"):
        crema_d.read(tmp_path / "nowhere")
    assert crema_d.TASK.labels == ("NEU", "HAP", "SAD", "ANG", "FEA", "DIS")
    assert crema_d.TASK.tfds.name == "crema_d"


def test_crema_d_leaves_out_the_four_clips_tfds_leaves_out(tmp_path):
    """TFDS's clip list and speaker split, re-typed from tensorflow/datasets
    tensorflow_datasets/audio/crema_d.py `_split_generators`: the `bad_files` are skipped before
    the speakers are drawn, so actor 1040, whose only clip here is one of them, is no speaker."""
    bad_files = set(
        [
            "FileName",
            "1040_ITH_SAD_XX",
            "1006_TIE_NEU_XX",
            "1013_WSI_DIS_XX",
            "1017_IWW_FEA_XX",
        ]
    )
    names = [
        f"{1001 + a}_{s}_{e}_XX" for a in range(39) for s in ("DFA", "IEO") for e in ("NEU", "ANG")
    ]
    names += ["1040_ITH_SAD_XX", "1006_TIE_NEU_XX", "1013_WSI_DIS_XX", "1017_IWW_FEA_XX"]
    for n in names:
        touch(tmp_path / "AudioWAV" / f"{n}.wav")
    speaker_ids, wav_names = [], []
    for wav_name in names:  # the summary table's rows
        if (not wav_name) or (wav_name in bad_files):
            continue
        speaker_ids.append(wav_name.split("_")[0])
        wav_names.append(wav_name)
    splits = _crema_d_splits(list(zip(wav_names, speaker_ids, strict=True)), TFDS_PROBS, 0)
    expected = {f"AudioWAV/{n}.wav": split for split, ids in splits.items() for n in ids}
    clips = crema_d.read(tmp_path)
    assert {c.clip_id: c.split for c in clips} == expected
    assert len(clips) == len(names) - 4
    assert crema_d.TFDS_EXCLUDED == bad_files - {"FileName"}
    assert all(c.label == c.path.stem.split("_")[2] for c in clips)


def test_dementiabank(tmp_path):
    base = tmp_path / "dementia" / "English" / "Pitt"
    files = []
    for folder, label in (("Dementia", "dementia"), ("Control", "control")):
        for spk in range(6):
            for session in range(2):
                f = touch(base / folder / "cookie" / f"{folder[0]}{spk:03d}-{session}.mp3")
                files.append((f, label, f"{folder[0]}{spk:03d}"))
    clips = dementiabank.read(tmp_path)
    split_of = tfds_split([(str(f), s) for f, _, s in files])
    assert clips == [
        Clip(f.relative_to(tmp_path).as_posix(), f, label, split_of[spk], speaker=spk)
        for f, label, spk in files
    ]
    assert dementiabank.TASK.labels == ("dementia", "control")
    touch(base / "Control" / "cookie" / "nosession.mp3")
    with pytest.raises(NossError, match="nosession.mp3: expected <speaker>-<session>.mp3"):
        dementiabank.read(tmp_path)
    with pytest.raises(NossError, match="DementiaBank Dementia/cookie folder"):
        dementiabank.read(tmp_path / "x")


ESC_ROWS = [
    ("1-1-A-20.wav", 1, 20, "crying_baby"),
    ("1-2-A-0.wav", 1, 0, "dog"),
    ("2-3-A-29.wav", 2, 29, "drinking_sipping"),
    ("5-4-A-24.wav", 5, 24, "coughing"),
    ("3-5-A-30.wav", 3, 30, "door_wood_knock"),
    ("4-6-A-19.wav", 4, 19, "thunderstorm"),
]


@pytest.mark.parametrize("header", ["target", "category_name"])
def test_esc50_human_sounds_and_folds(tmp_path, header):
    (tmp_path / "meta").mkdir()
    (tmp_path / "audio").mkdir()
    if header == "target":
        lines = ["filename,fold,target,category"]
        lines += [f"{f},{fold},{t},{name}" for f, fold, t, name in ESC_ROWS]
    else:
        lines = ["filename,fold,category,category_name"]
        lines += [f"{f},{fold},{t},{name}" for f, fold, t, name in ESC_ROWS]
    (tmp_path / "meta" / "esc50.csv").write_text("\n".join(lines) + "\n")
    clips = esc50_hs.read(tmp_path)
    audio = tmp_path / "audio"
    assert clips == [
        Clip("audio/1-1-A-20.wav", audio / "1-1-A-20.wav", "crying_baby", "fold1"),
        Clip("audio/2-3-A-29.wav", audio / "2-3-A-29.wav", "drinking_sipping", "fold2"),
        Clip("audio/5-4-A-24.wav", audio / "5-4-A-24.wav", "coughing", "fold5"),
    ]
    assert esc50_hs.FOLDS == ("fold1", "fold2", "fold3", "fold4", "fold5")
    assert esc50_hs.TASK.folds == esc50_hs.FOLDS
    assert len(esc50_hs.HUMAN_NON_SPEECH) == 10 and min(esc50_hs.HUMAN_NON_SPEECH) == 20


def test_esc50_errors(tmp_path):
    (tmp_path / "meta").mkdir()
    (tmp_path / "audio").mkdir()
    meta = tmp_path / "meta" / "esc50.csv"
    meta.write_text("filename,fold,target,category\n1-1-A-21.wav,1,21,coughing\n")
    with pytest.raises(NossError, match="class 21 is 'coughing', expected 'sneezing'"):
        esc50_hs.read(tmp_path)
    meta.write_text("filename,fold,target,category\n1-1-A-21.wav,one,21,sneezing\n")
    with pytest.raises(NossError, match="bad row"):
        esc50_hs.read(tmp_path)
    meta.write_text("filename,target,category\n1-1-A-21.wav,21,sneezing\n")
    with pytest.raises(NossError, match="bad row"):
        esc50_hs.read(tmp_path)
    meta.write_text("filename,fold,label,category\n1-1-A-21.wav,1,21,sneezing\n")
    with pytest.raises(NossError, match=f"^{meta}: no column named target"):
        esc50_hs.read(tmp_path)
    meta.write_text("filename,fold,category,category_name\n1-1-A-21.wav,1,21,coughing\n")
    with pytest.raises(NossError, match="class 21 is 'coughing', expected 'sneezing'"):
        esc50_hs.read(tmp_path)
    # an empty category name is not checked
    meta.write_text("filename,fold,target,category\n1-1-A-21.wav,1,21,\n")
    assert [c.label for c in esc50_hs.read(tmp_path)] == ["sneezing"]
    (tmp_path / "audio").rmdir()
    with pytest.raises(NossError, match=r"audio: missing \(ESC-50 audio/ folder\)$"):
        esc50_hs.read(tmp_path)


def write_mask_labels(root, rows, name="labels.csv", header="file_name,label"):
    (root / "lab").mkdir(parents=True, exist_ok=True)
    (root / "lab" / name).write_text(header + "\n" + "\n".join(",".join(r) for r in rows) + "\n")


def test_mask_withheld_test_labels(tmp_path):
    rows = [(f"train_{i:05d}.wav", ("clear", "mask")[i % 2]) for i in range(25)]
    rows += [(f"devel_{i:05d}.wav", "mask") for i in range(4)]
    rows += [(f"test_{i:05d}.wav", "?") for i in range(3)] + [("test_99999.wav", "")]
    write_mask_labels(tmp_path, rows)
    clips = mask.read(tmp_path)
    assert len(clips) == 29  # withheld test rows dropped
    train = sorted(n for n, _ in rows if n.startswith("train_"))
    order = np.random.RandomState(0).permutation(len(train))
    held = {f"wav/{train[i]}" for i in order[:2]}  # 25 // 10 = 2
    for c in clips:
        name = c.clip_id.split("/")[1]
        assert c.path == tmp_path / "wav" / name
        if name.startswith("devel_"):
            assert c.split == "test"
        else:
            assert c.split == ("validation" if c.clip_id in held else "train")
    assert [c.clip_id for c in clips] == sorted(c.clip_id for c in clips)
    assert dict((c.clip_id, c.label) for c in clips) == {f"wav/{n}": lab for n, lab in rows[:29]}


def test_mask_carves_at_least_one_validation_clip(tmp_path):
    rows = [(f"train_{i:05d}.wav", "clear") for i in range(5)] + [("devel_00001.wav", "mask")]
    write_mask_labels(tmp_path, rows)
    assert [c.split for c in mask.read(tmp_path)].count("validation") == 1


def test_mask_with_published_test_labels_and_other_columns(tmp_path):
    rows = [("train_1.wav", "clear"), ("devel_1.wav", "mask"), ("test_1.wav", "clear")]
    write_mask_labels(tmp_path, rows[:2], "a.csv", "filename,mask")
    write_mask_labels(tmp_path, rows[2:], "b.csv", "file,label")
    clips = mask.read(tmp_path)
    assert [(c.clip_id, c.label, c.split) for c in clips] == [
        ("wav/devel_1.wav", "mask", "validation"),
        ("wav/test_1.wav", "clear", "test"),
        ("wav/train_1.wav", "clear", "train"),
    ]
    assert mask.TASK.headline == "balanced_accuracy"


def test_mask_errors(tmp_path):
    (tmp_path / "lab").mkdir()
    with pytest.raises(NossError, match=f"^{tmp_path / 'lab'}: no label CSV found$"):
        mask.read(tmp_path)
    write_mask_labels(tmp_path, [("dev_1.wav", "mask")])
    with pytest.raises(
        NossError, match=f"^{tmp_path / 'lab'}: 'dev_1.wav' does not start with train_, devel_"
    ):
        mask.read(tmp_path)
    with pytest.raises(NossError, match=r"lab: missing \(ComParE lab/ folder\)$"):
        mask.read(tmp_path / "x")
    write_mask_labels(tmp_path, [("train_1.wav", "mask")], header="name,label")
    with pytest.raises(NossError, match=f"^{tmp_path / 'lab' / 'labels.csv'}: no column named"):
        mask.read(tmp_path)
    write_mask_labels(tmp_path, [("train_1.wav", "mask")], header="file,class")
    with pytest.raises(NossError, match=f"^{tmp_path / 'lab' / 'labels.csv'}: no column named"):
        mask.read(tmp_path)


def test_savee(tmp_path):
    files = []
    speakers = ("DC", "JE", "JK", "KL", "P1", "P2", "P3", "P4", "P5", "P6")
    for spk in speakers:
        for code in ("a", "d", "f", "h", "n", "sa", "su"):
            files.append((touch(tmp_path / "AudioData" / spk / f"{code}01.wav"), code, spk))
    (tmp_path / "AudioData" / "info.txt").write_text("not a speaker")
    clips = savee.read(tmp_path)
    probs = [("train", 0.6), ("validation", 0.2), ("test", 0.2)]
    split_of = tfds_split([(str(f), s) for f, _, s in files], probs)
    files.sort(key=lambda t: (t[2], t[0].name))
    assert clips == [
        Clip(f.relative_to(tmp_path).as_posix(), f, savee.CODES[code], split_of[spk], speaker=spk)
        for f, code, spk in files
    ]
    per_split = {s: sum(1 for spk in speakers if split_of[spk] == s) for s in split_of.values()}
    assert per_split == {"train": 6, "validation": 2, "test": 2}  # 60/20/20, not 70/10/20
    assert savee.CODES["sa"] == "sadness" and savee.CODES["su"] == "surprise"


@pytest.mark.parametrize("name", ["x01.wav", "01.wav", "aX01.wav", "SA01.wav"])
def test_savee_refuses_unknown_codes(tmp_path, name):
    touch(tmp_path / "AudioData" / "DC" / "a01.wav")
    touch(tmp_path / "AudioData" / "DC" / name)
    with pytest.raises(NossError, match=f"{name}: expected <emotion code><nn>.wav, code one of"):
        savee.read(tmp_path)


def test_savee_needs_its_folder(tmp_path):
    with pytest.raises(NossError, match=r"AudioData: missing \(SAVEE AudioData/ folder\)"):
        savee.read(tmp_path)


def write_wav(path, seconds):
    path.parent.mkdir(parents=True, exist_ok=True)
    sf.write(str(path), np.zeros(int(16000 * seconds), np.float32), 16000)


def speech_commands_layout(root, test_set=True):
    for rel in (
        "yes/aa_nohash_0.wav",
        "yes/bb_nohash_1.wav",
        "bed/cc_nohash_0.wav",
        "no/dd_nohash_0.wav",
        "go/odd.wav",
    ):
        touch(root / rel)
    write_wav(root / "_background_noise_" / "running_tap.wav", 2.0)
    write_wav(root / "_background_noise_" / "white_noise.wav", 2.6)
    (root / "validation_list.txt").write_text("yes/bb_nohash_1.wav\n")
    (root / "testing_list.txt").write_text("  no/dd_nohash_0.wav\n\n")
    if test_set:
        touch(root / "test_set" / "_silence_" / "ee_nohash_0.wav")
        touch(root / "test_set" / "_unknown_" / "ff_nohash_0.wav")
        touch(root / "test_set" / "up" / "gg_nohash_0.wav")


def test_speech_commands(tmp_path):
    speech_commands_layout(tmp_path)
    got = [
        (c.clip_id, c.label, c.split, c.speaker, c.start, c.duration)
        for c in speech_commands.read(tmp_path)
    ]
    noise = "_background_noise_"
    assert got == [
        (f"{noise}/running_tap.wav@0.000", "_silence_", "validation", None, 0.0, 1.0),
        (f"{noise}/running_tap.wav@0.500", "_silence_", "validation", None, 0.5, 1.0),
        (f"{noise}/white_noise.wav@0.000", "_silence_", "train", None, 0.0, 1.0),
        (f"{noise}/white_noise.wav@0.500", "_silence_", "train", None, 0.5, 1.0),
        (f"{noise}/white_noise.wav@1.000", "_silence_", "train", None, 1.0, 1.0),
        (f"{noise}/white_noise.wav@1.500", "_silence_", "train", None, 1.5, 1.0),
        ("bed/cc_nohash_0.wav", "_unknown_", "train", "cc", 0.0, None),
        ("go/odd.wav", "go", "train", None, 0.0, None),
        ("yes/aa_nohash_0.wav", "yes", "train", "aa", 0.0, None),
        ("yes/bb_nohash_1.wav", "yes", "validation", "bb", 0.0, None),
        ("test_set/_silence_/ee_nohash_0.wav", "_silence_", "test", None, 0.0, None),
        ("test_set/_unknown_/ff_nohash_0.wav", "_unknown_", "test", "ff", 0.0, None),
        ("test_set/up/gg_nohash_0.wav", "up", "test", "gg", 0.0, None),
    ]
    clips = speech_commands.read(tmp_path)
    assert clips[0].path == tmp_path / noise / "running_tap.wav"
    assert clips[-1].path == tmp_path / "test_set" / "up" / "gg_nohash_0.wav"


def test_speech_commands_lists_variant(tmp_path):
    speech_commands_layout(tmp_path, test_set=False)
    with pytest.raises(NossError) as err:
        speech_commands.read(tmp_path)
    assert str(err.value) == (
        f"{tmp_path / 'test_set'}: missing. TFDS speech_commands tests on the official test "
        "archive: unpack speech_commands_test_set_v0.02.tar.gz into "
        f"{tmp_path / 'test_set'}/ (or run --tasks speech_commands_lists to test on "
        "testing_list.txt, a different task)"
    )
    clips = [c for c in speech_commands.read_lists(tmp_path) if c.label != "_silence_"]
    assert [(c.clip_id, c.split) for c in clips] == [
        ("bed/cc_nohash_0.wav", "train"),
        ("go/odd.wav", "train"),
        ("no/dd_nohash_0.wav", "test"),
        ("yes/aa_nohash_0.wav", "train"),
        ("yes/bb_nohash_1.wav", "validation"),
    ]
    (tmp_path / "testing_list.txt").unlink()
    with pytest.raises(NossError, match="Speech Commands testing_list.txt"):
        speech_commands.read_lists(tmp_path)


def test_speech_commands_needs_its_noise_folder(tmp_path):
    with pytest.raises(
        NossError, match=r"_background_noise_: missing \(Speech Commands _background_noise_/\)$"
    ):
        speech_commands._silence_clips(tmp_path)


def test_speech_commands_silence_needs_more_than_one_second(tmp_path):
    write_wav(tmp_path / "_background_noise_" / "a.wav", 1.0)
    write_wav(tmp_path / "_background_noise_" / "b.wav", 1.5)
    starts = [(c.path.name, c.start) for c in speech_commands._silence_clips(tmp_path)]
    assert starts == [("b.wav", 0.0)]
    assert speech_commands.TASK.labels[-2:] == ("_unknown_", "_silence_")
    assert speech_commands.WORDS == (
        "yes",
        "no",
        "up",
        "down",
        "left",
        "right",
        "on",
        "off",
        "stop",
        "go",
    )


def test_voxceleb1_iden_split(tmp_path):
    (tmp_path / "iden_split.txt").write_text(
        "1 id10001/vid1/00001.wav\n\n2  id10001/vid2/00001.wav \n3 id10300/vid3/00001.wav\n"
        "1 id11251/v/1.wav\n"
    )
    every = voxceleb1._iden_split(tmp_path)
    assert every == [
        Clip("id10001/vid1/00001.wav", tmp_path / "wav/id10001/vid1/00001.wav", "id10001", "train"),
        Clip(
            "id10001/vid2/00001.wav",
            tmp_path / "wav/id10001/vid2/00001.wav",
            "id10001",
            "validation",
        ),
        Clip("id10300/vid3/00001.wav", tmp_path / "wav/id10300/vid3/00001.wav", "id10300", "test"),
        Clip("id11251/v/1.wav", tmp_path / "wav/id11251/v/1.wav", "id11251", "train"),
    ]
    # no vox1_meta.csv: every speaker but id10270-id10309
    assert [c.clip_id for c in voxceleb1.read(tmp_path)] == [
        "id10001/vid1/00001.wav",
        "id10001/vid2/00001.wav",
        "id11251/v/1.wav",
    ]
    with pytest.raises(NossError, match=r"iden_split.txt: missing \(VoxCeleb1 iden_split.txt\)$"):
        voxceleb1.read(tmp_path / "x")
    for bad in ("4 id10001/v/1.wav\n", "1 id10001/1.wav\n", "1id10001/v/1.wav\n"):
        (tmp_path / "iden_split.txt").write_text(bad)
        with pytest.raises(NossError, match=r"iden_split.txt:1: expected '<1\|2\|3> idXXXXX"):
            voxceleb1._iden_split(tmp_path)


def test_voxceleb1_speaker_sets():
    assert len(voxceleb1.ALL_SPEAKERS) == 1251
    assert voxceleb1.ALL_SPEAKERS[0] == "id10001" and voxceleb1.ALL_SPEAKERS[-1] == "id11251"
    assert voxceleb1.TEST_SET_SPEAKERS == {f"id{i}" for i in range(10270, 10310)}
    assert voxceleb1.tfds_label("1") == "id10001"
    assert voxceleb1.tfds_label("1251") == "id11251"


@pytest.mark.parametrize("sep", ["\t", ","])
def test_voxceleb1_dev_speakers_from_meta(tmp_path, sep):
    rows = [["VoxCeleb1 ID", "VGGFace1 ID", "Gender", "Nationality", "Set"]]
    rows += [["id10001", "A", "m", "x", "dev"], ["id10002", "B", "f", "y", "test"]]
    rows += [["id10003 ", "C", "m", "z", " dev"]]
    text = "\ufeff" + "\n".join(sep.join(r) for r in rows) + "\n"
    (tmp_path / "vox1_meta.csv").write_text(text, encoding="utf-8")
    assert voxceleb1.dev_speakers(tmp_path) == {"id10001", "id10003"}
    (tmp_path / "vox1_meta.csv").write_text("id,set\nid10001,dev\n")
    with pytest.raises(NossError, match="expected columns 'VoxCeleb1 ID' and 'Set'"):
        voxceleb1.dev_speakers(tmp_path)
    (tmp_path / "vox1_meta.csv").write_text("VoxCeleb1 ID,Gender\nid10001,m\n")
    with pytest.raises(NossError, match="expected columns"):
        voxceleb1.dev_speakers(tmp_path)
    (tmp_path / "vox1_meta.csv").write_text("VoxCeleb1 ID,Set\n")
    with pytest.raises(NossError, match="expected columns"):
        voxceleb1.dev_speakers(tmp_path)
    (tmp_path / "vox1_meta.csv").write_text("")
    with pytest.raises(NossError, match="expected columns"):
        voxceleb1.dev_speakers(tmp_path)
    meta = tmp_path / "vox1_meta.csv"
    # ragged rows: extra cells (key None) are dropped, missing ones are ""
    meta.write_text(f"VoxCeleb1 ID{sep}Set\nid10001{sep}dev{sep}extra\nid10002\n")
    assert voxceleb1.dev_speakers(tmp_path) == {"id10001"}
    meta.write_text(f"VoxCeleb1 ID{sep}Set\n" + "i" * 200_000 + f"{sep}dev\n")
    with pytest.raises(NossError, match=f"^{meta}: not a readable CSV \\(field larger"):
        voxceleb1.dev_speakers(tmp_path)


def test_voxceleb1_default_dev_set_is_1211_speakers(tmp_path):
    dev = voxceleb1.dev_speakers(tmp_path)
    assert len(dev) == 1211 and "id10270" not in dev and "id10310" in dev and "id10269" in dev


def voxforge_archive(root, lang, name, files):
    folder = root / lang / "Trunk" / "Audio" / "Main" / "16kHz_16bit" / name
    for f in files:
        touch(folder / f)
    return folder


def test_voxforge(tmp_path, caplog):
    voxforge_archive(
        tmp_path, "de", "anna-20100101-abc", ["wav/a1.wav", "wav/a2.wav", "wav/._a1.wav"]
    )
    voxforge_archive(tmp_path, "en", "bob-x", ["flac/b1.flac", "etc/README", "flac/._b1.flac"])
    voxforge_archive(tmp_path, "en", "carl", ["wav/c1.wav"])
    voxforge_archive(tmp_path, "fr", "anna-2011", ["wav/a3.wav"])
    skipped = voxforge_archive(tmp_path, "aa", "zed-1", ["wav/z.wav"])  # sorts first
    for i in range(8):
        voxforge_archive(tmp_path, "it", f"s{i}-1", [f"wav/s{i}.wav"])
    with caplog.at_level(logging.WARNING):
        clips = voxforge.read(tmp_path)
    assert [r.getMessage() for r in caplog.records] == [
        f"voxforge: skipped {skipped} (language 'aa' is not one of de, en, es, fr, it, ru)",
        "voxforge: 1 .flac files not read, as TFDS voxforge reads only .wav "
        "(--tasks voxforge_all reads them too)",
    ]
    # "carl" has no "-": TFDS keeps ".tgz" in the speaker
    speakers = ["anna", "bob", "carl.tgz", "anna"] + [f"s{i}" for i in range(8)]
    split_of = tfds_split([(s, s) for s in speakers])
    got = [(c.clip_id.split("/")[-1], c.label, c.speaker, c.split) for c in clips]
    expected = [("a1.wav", "de", "anna"), ("a2.wav", "de", "anna"), ("c1.wav", "en", "carl.tgz")]
    expected += [("a3.wav", "fr", "anna")] + [(f"s{i}.wav", "it", f"s{i}") for i in range(8)]
    assert got == [(f, lang, spk, split_of[spk]) for f, lang, spk in expected]
    assert clips[0].clip_id == "de/Trunk/Audio/Main/16kHz_16bit/anna-20100101-abc/wav/a1.wav"
    assert clips[0].path == tmp_path / clips[0].clip_id
    caplog.clear()
    with caplog.at_level(logging.WARNING):
        every = voxforge.read_all(tmp_path)
    assert [r.getMessage() for r in caplog.records if ".flac" in r.getMessage()] == []
    assert len(every) == len(clips) + 1
    flac = [c for c in every if c.clip_id.endswith(".flac")]
    assert [(c.label, c.speaker, c.split) for c in flac] == [("en", "bob", split_of["bob"])]


def test_voxforge_archives_and_speaker(tmp_path):
    a = voxforge_archive(tmp_path, "ru", "ivan-1-2", ["wav/1.wav"])
    b = voxforge_archive(tmp_path, "es", "maria", ["wav/1.wav"])
    touch(tmp_path / "es" / "Trunk" / "Audio" / "Main" / "16kHz_16bit" / "loose.wav")
    assert voxforge.archives(tmp_path) == [(b, "es"), (a, "ru")]
    assert voxforge.archive_speaker(a) == "ivan"
    assert voxforge.archive_speaker(b) == "maria.tgz"
    assert voxforge.LANGUAGES == ("de", "en", "es", "fr", "it", "ru")
