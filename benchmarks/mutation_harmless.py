"""Surviving mutants judged harmless (equivalent or irrelevant), for `mutation_report.py`.

Keyed by (repository file, removed line(s), added line(s)) exactly as the report prints them, so
an entry still matches after mutmut renumbers its mutants; a mutant whose line changed no longer
matches and is listed as open again, to be judged anew.
"""

_FE = "noss_eval/frontend.py"
_SP = "noss_eval/splits.py"
_ST = "noss_eval/stats.py"
_ZIP = "for (name, _), size in zip(probs, sizes, strict=True):"
_STFT = "stft = tf.signal.stft(audio, cfg.frame_length, cfg.frame_step, cfg.fft_length)"
_META = 'lines = read_text(meta, "VoxCeleb1 vox1_meta.csv").splitlines()'
_DEV = 'return frozenset(r.get("VoxCeleb1 ID", "") for r in rows if r.get("Set") == "dev")'
_SAVEE = (
    'return split_by_speaker(root, entries, (("train", 0.6), ("validation", 0.2), ("test", 0.2)))'
)

HARMLESS: dict[tuple[str, str, str], str] = {
    # frontend.py
    (
        _FE,
        "x = np.asarray(waveform, dtype=np.float32)",
        "x = np.asarray(waveform, dtype=None)",
    ): "equivalent: log_mel casts to float32 first thing; zero padding is exact in any dtype",
    (
        _FE,
        "x = np.asarray(waveform, dtype=np.float32)",
        "x = np.asarray(waveform, )",
    ): "equivalent: log_mel casts to float32 first thing; zero padding is exact in any dtype",
    (
        _FE,
        "if x.size < cfg.min_samples:",
        "if x.size <= cfg.min_samples:",
    ): "equivalent: at exactly min_samples the pad width is 0",
    (
        _FE,
        _STFT,
        "stft = tf.signal.stft(audio, cfg.frame_length, cfg.frame_step, None)",
    ): "equivalent: tf.signal.stft's default fft_length is the next power of two, 512 = ours",
    (
        _FE,
        _STFT,
        "stft = tf.signal.stft(audio, cfg.frame_length, cfg.frame_step, )",
    ): "equivalent: tf.signal.stft's default fft_length is the next power of two, 512 = ours",
    # splits.py
    (
        _SP,
        _ZIP,
        "for (name, _), size in zip(probs, sizes, strict=None):",
    ): "equivalent: sizes is built from probs, one per split; the lengths always match",
    (
        _SP,
        _ZIP,
        "for (name, _), size in zip(probs, sizes, ):",
    ): "equivalent: sizes is built from probs, one per split; the lengths always match",
    (
        _SP,
        _ZIP,
        "for (name, _), size in zip(probs, sizes, strict=False):",
    ): "equivalent: sizes is built from probs, one per split; the lengths always match",
    # stats.py
    (
        _ST,
        "diff = a.correct.astype(np.float64) - b.correct.astype(np.float64)",
        "diff = a.correct.astype(None) - b.correct.astype(np.float64)",
    ): "equivalent: astype(None) is float64",
    (
        _ST,
        "diff = a.correct.astype(np.float64) - b.correct.astype(np.float64)",
        "diff = a.correct.astype(np.float64) - b.correct.astype(None)",
    ): "equivalent: astype(None) is float64",
    (
        _ST,
        "k = np.arange(m + 1)",
        "k = np.arange(m + 2)",
    ): "equivalent: the extra outcome k = m + 1 has Binomial(m, 1/2) probability 0",
    (
        _ST,
        "values = (values[:, None] + (w * (2 * k - m))[None, :]).ravel()",
        "values = (values[:, None] - (w * (2 * k - m))[None, :]).ravel()",
    ): "equivalent: each term's null distribution is symmetric, and the test is two-sided",
    (
        _ST,
        "if len(values) > 2_000_000:",
        "if len(values) >= 2_000_000:",
    ): "irrelevant: moves the arbitrary enumeration cap by one value (then Monte Carlo)",
    (
        _ST,
        "if len(values) > 2_000_000:",
        "if len(values) > 2000001:",
    ): "irrelevant: moves the arbitrary enumeration cap by one value (then Monte Carlo)",
    (
        _ST,
        "return float(min(1.0, probs[np.abs(values) >= observed - 1e-12].sum()))",
        "return float(min(1.0, probs[np.abs(values) > observed - 1e-12].sum()))",
    ): "equivalent in practice: differs only for a value exactly at observed - 1e-12",
    (
        _ST,
        "total += w * (2 * rng.binomial(m, 0.5, size=draws) - m)",
        "total -= w * (2 * rng.binomial(m, 0.5, size=draws) - m)",
    ): "equivalent: negates every draw's total, and only |total| is compared",
    (
        _ST,
        "return float((1 + np.sum(np.abs(total) >= observed - 1e-12)) / (1 + draws))",
        "return float((1 + np.sum(np.abs(total) > observed - 1e-12)) / (1 + draws))",
    ): "equivalent in practice: differs only for a draw exactly at observed - 1e-12",
    # task readers
    (
        "tasks/savee.py",
        'code = re.match("^([a-zA-Z]+)", f.name)',
        'code = re.match("^([a-za-z]+)", f.name)',
    ): "equivalent: a code with an upper-case letter is refused either way (CODES are lower)",
    (
        "tasks/savee.py",
        _SAVEE,
        'return split_by_speaker(root, entries, (("train", 0.6), ("validation", 0.2), '
        '("test", 1.2)))',
    ): "equivalent: split_boundaries never reads the last split's share (it ends at n_items)",
    (
        "tasks/speech_commands.py",
        "clips = _main_archive(root, test_on_lists=False)",
        "clips = _main_archive(root, test_on_lists=None)",
    ): "equivalent: test_on_lists is only used as a truth value",
    (
        "tasks/voxceleb1.py",
        'text = meta.read_text(encoding="utf-8-sig")',
        'text = meta.read_text(encoding="UTF-8-SIG")',
    ): "equivalent: codec names are case-insensitive",
    (
        "tasks/voxceleb1.py",
        '{k.strip(): (v or "").strip() for k, v in r.items() if k}',
        '{k.strip(): (v or "XXXX").strip() for k, v in r.items() if k}',
    ): "equivalent: a missing Set cell is not 'dev' either way; the ID is the first column",
    (
        "tasks/voxceleb1.py",
        '{k.strip(): (v or "").strip() for k, v in r.items() if isinstance(k, str)}',
        '{k.strip(): (v or "XXXX").strip() for k, v in r.items() if isinstance(k, str)}',
    ): "equivalent: a missing Set cell is not 'dev' either way; the ID is the first column",
    **{
        ("tasks/voxceleb1.py", _META, _META.replace('"VoxCeleb1 vox1_meta.csv"', what)): (
            "equivalent: read_text names the file only when it is missing, and dev_speakers has "
            "just checked meta.is_file()"
        )
        for what in ("None", '"XXVoxCeleb1 vox1_meta.csvXX"', '"voxceleb1 vox1_meta.csv"')
        + ('"VOXCELEB1 VOX1_META.CSV"',)
    },
    **{
        ("tasks/voxceleb1.py", _DEV, _DEV.replace('"VoxCeleb1 ID", ""', new)): (
            "equivalent: csv.DictReader gives every row every header key (None -> ''), and the "
            "header was checked to have 'VoxCeleb1 ID'"
        )
        for new in ('"VoxCeleb1 ID", None', '"VoxCeleb1 ID", ', '"VoxCeleb1 ID", "XXXX"')
    },
    (
        "noss_eval/layout.py",
        'return require(path, what).read_text(encoding="utf-8-sig")',
        'return require(path, what).read_text(encoding="UTF-8-SIG")',
    ): "equivalent: codec names are case-insensitive",
    (
        "noss_eval/layout.py",
        'with open(require(path, "metadata CSV"), newline="", encoding="utf-8-sig") as fh:',
        'with open(require(path, "metadata CSV"), newline="", encoding="UTF-8-SIG") as fh:',
    ): "equivalent: codec names are case-insensitive",
    (
        _FE,
        "if x.size < cfg.frame_length:",
        "if x.size <= cfg.frame_length:",
    ): "equivalent: at exactly one frame the pad width is 0",
    (
        _FE,
        "magnitude = np.abs(scipy.fft.rfft(frames * _hann(cfg.frame_length), n=cfg.fft_length, "
        "axis=1))",
        "magnitude = np.abs(scipy.fft.rfft(frames * _hann(cfg.frame_length), n=cfg.fft_length, ))",
    ): "equivalent: frames is 2-D, so rfft's default axis -1 is axis 1",
    (
        "noss_eval/probes.py",
        "out = x.astype(np.float64, copy=True)",
        "out = x.astype(None, copy=True)",
    ): "equivalent: astype(None) is float64",
    (
        _ST,
        "gap = np.round(np.abs((1.0 - tpr) - fpr), 12)[::-1]  # ascending threshold, as upstream",
        "gap = np.round(np.abs((1.0 - tpr) - fpr), 13)[::-1]  # ascending threshold, as upstream",
    ): "equivalent in practice: float error on the gaps is ~1e-16; both roundings merge ties",
    (
        _ST,
        'return float(binomtest(int(only_a.sum()), m, 0.5).pvalue), "mcnemar-exact"',
        'return float(binomtest(int(only_a.sum()), m, ).pvalue), "mcnemar-exact"',
    ): "equivalent: binomtest's default p is 0.5",
    (
        "noss_eval/probes.py",
        'ProbeConfig("logistic", l2, s, 1e5, cw, standardize=False, max_iter=None)',
        'ProbeConfig("logistic", l2, s, 1e5, cw, standardize=None, max_iter=None)',
    ): "equivalent: standardize is only used as a truth value",
    (
        "noss_eval/probes.py",
        "std[std == 0] = 1.0",
        "std[std == 0] = 2.0",
    ): "equivalent: a feature with zero spread is centred to 0 (up to ~1e-17), and 0 / any "
    "non-zero scale is 0",
    (
        "noss_eval/cache.py",
        "if free < need:",
        "if free <= need:",
    ): "irrelevant: refuses one more byte count (free == need, to the byte) of a rough estimate",
    **{
        ("tasks/crema_d.py", line, line.replace("strict=True", new)): (
            "equivalent: fields is built from files, one per file; the lengths always match"
        )
        for line in (
            "bad = next((f for f, parts in zip(files, fields, strict=True) if len(parts) != 4), "
            "None)",
            "root, [(f, parts[2], parts[0]) for f, parts in zip(files, fields, strict=True)]",
        )
        for new in ("strict=None", "", "strict=False")
    },
}

# Survivors that matter but that no test can kill on this machine: reported as such, not as
# harmless.
UNKILLABLE: dict[tuple[str, str, str], str] = {
    (
        "noss_eval/cache.py",
        "if not folder.is_dir() or not os.access(folder, os.W_OK | os.X_OK):",
        "if not folder.is_dir() or not os.access(folder, os.W_OK & os.X_OK):",
    ): "the tests run as root, and os.access grants root W_OK and X_OK on every folder of a "
    "writable file system, so an unwritable folder cannot be made; a non-root run would kill it",
}
