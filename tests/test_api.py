"""The Python API (docs/api.md): `noss_eval.evaluate` with a spec, a path or an object, typed
results and their CSV / JSON / DataFrame forms, tasks by name, path or object, errors that
name the argument."""

from __future__ import annotations

import csv
import json
import re
import sys
import types
from pathlib import Path

import numpy as np
import pytest

import noss_eval
from noss_eval import api, synthetic
from noss_eval.cli import main
from noss_eval.embedder import fingerprint
from noss_eval.errors import NossError
from noss_eval.leaderboard import COLUMNS
from noss_eval.results import ProbeResult, RunStamp
from noss_eval.table import format_table
from noss_eval.task import Task

DOC = Path(__file__).resolve().parent.parent / "docs" / "api.md"
VOLATILE = ("run_id", "created")  # differ between any two runs


@pytest.fixture(scope="module")
def data(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("api-data")
    synthetic.write_voxceleb1(root / "voxceleb1")
    return root


class FrameStats:
    """Per 25 ms frame: the log magnitude spectrum; counts its calls."""

    name = "frame-stats"
    version = "1"
    sample_rate = 16000

    def __init__(self, gain: float = 1.0) -> None:
        self.gain = gain  # stands for the weights
        self.calls = 0

    def embed(self, waveform: np.ndarray) -> np.ndarray:
        self.calls += 1
        waveform = np.pad(waveform, (0, max(0, 400 - len(waveform))))
        frames = waveform[: len(waveform) // 400 * 400].reshape(-1, 400)
        spectrum = np.abs(np.fft.rfft(frames * np.hanning(400), axis=1))
        return np.log(self.gain * spectrum + 1e-6)


def stable(rows: list[dict]) -> list[dict]:
    return [{k: str(v) for k, v in r.items() if k not in VOLATILE} for r in rows]


def read_csv(path: Path) -> tuple[list[str], list[dict[str, str]]]:
    with open(path, newline="") as fh:
        reader = csv.DictReader(fh)
        return list(reader.fieldnames or ()), list(reader)


# --- the documented example ------------------------------------------------------------------


def test_the_documented_example_runs_as_written_and_prints_what_the_page_shows(
    tmp_path, monkeypatch, capsys
):
    blocks = re.findall(r"^```(python|text)\n(.*?)^```", DOC.read_text(), re.M | re.S)
    code = "".join(body for kind, body in blocks if kind == "python")
    shown = "".join(body for kind, body in blocks if kind == "text")
    assert "noss_eval.evaluate(" in code and "FrameSpectrum()" in code
    monkeypatch.chdir(tmp_path)  # the example writes relative paths, as a user's would
    exec(compile(code, str(DOC), "exec"), {"__name__": "docs_api_example"})
    printed = capsys.readouterr().out

    def columns(text: str) -> list[list[str]]:  # the numbers may move, the structure may not
        return [line.split()[:3] for line in text.splitlines() if line.strip()]

    assert columns(printed) == columns(shown)
    header, rows = read_csv(tmp_path / "api-example" / "board.csv")
    assert header == list(COLUMNS) and {r["task"] for r in rows} == {"crema_d"}


# --- embedders: a spec, a path, an object ----------------------------------------------------


def test_a_spec_string_gives_typed_rows(tmp_path, data):
    results = noss_eval.evaluate("dsp", "voxceleb1", data_dir=data, cache_dir=tmp_path / "c")
    assert isinstance(results, noss_eval.Results) and len(results) == 3
    assert [r.probe for r in results] == ["logistic", "lda", "best"]
    row = results[0]
    assert isinstance(row, noss_eval.ResultRow)
    assert isinstance(row.result, ProbeResult) and isinstance(row.stamp, RunStamp)
    assert (row.embedder, row.task, row.seed) == ("dsp", "voxceleb1", 0)
    assert 0.0 <= row.headline_score <= 1.0 and row.headline_metric == "accuracy"
    assert isinstance(results[1:], noss_eval.Results) and len(results[1:]) == 2
    assert len(results + results) == 6
    assert str(results) == format_table(results.to_rows())
    assert results.to_rows() == [row.to_row() for row in results]


def test_a_path_to_a_tflite_model_works_as_path_and_as_str(tmp_path, data, dynamic_tflite):
    cache = tmp_path / "c"
    as_path = noss_eval.evaluate(dynamic_tflite, ["voxceleb1"], data_dir=data, cache_dir=cache)
    as_str = noss_eval.evaluate(str(dynamic_tflite), ["voxceleb1"], data_dir=data, cache_dir=cache)
    assert stable(as_path.to_rows()) == stable(as_str.to_rows())
    assert {r["embedder_settings"] for r in as_path.to_rows()} != {""}
    assert '"kind": "tflite"' in as_path[0].result.embedder_settings


def test_an_object_runs_in_process_and_its_cache_key_follows_the_model(tmp_path, data):
    cache = tmp_path / "c"
    model = FrameStats()
    first = noss_eval.evaluate(model, ["voxceleb1"], data_dir=data, cache_dir=cache)
    assert {r.embedder for r in first} == {"frame-stats"} and model.calls > 72
    settings = json.loads(first[0].result.embedder_settings)
    assert settings["kind"] == "python" and settings["version"] == "1"
    assert settings["class"].endswith("FrameStats") and len(settings["probe_output_sha256"]) == 64

    again = FrameStats()  # the same model in a new object: every vector from the cache
    second = noss_eval.evaluate(again, ["voxceleb1"], data_dir=data, cache_dir=cache)
    assert again.calls == 2  # the identity probe only: no clip embedded
    assert stable(second.to_rows()) == stable(first.to_rows())

    # New weights under the same name and version: another key, every clip embedded again.
    changed = FrameStats(gain=3.0)
    noss_eval.evaluate(changed, ["voxceleb1"], data_dir=data, cache_dir=cache)
    assert changed.calls > 72

    def key(obj: object) -> str:
        return fingerprint(api.PythonEmbedder(obj))

    assert key(FrameStats()) == key(FrameStats())
    assert key(FrameStats()) != key(FrameStats(gain=3.0))
    bumped = FrameStats()
    bumped.version = "2"
    assert key(bumped) != key(FrameStats())
    renamed = FrameStats()
    renamed.name = "other"
    assert key(renamed) != key(FrameStats())


def test_a_model_that_is_not_deterministic_never_reuses_a_key(caplog):
    class Noisy(FrameStats):
        def embed(self, waveform):
            return super().embed(waveform) + np.random.rand()

    keys = {fingerprint(api.PythonEmbedder(Noisy())) for _ in range(2)}
    assert len(keys) == 2
    assert "different outputs for the same audio" in caplog.text


@pytest.mark.parametrize(
    "change, message",
    [
        ({"name": None}, "embedder: an object of type Broken needs a `name`"),
        ({"name": ""}, "embedder: an object of type Broken needs a `name`"),
        ({"sample_rate": 0}, "embedder: broken: sample_rate must be a whole number of Hz"),
        ({"embed": lambda self, w: w.mean()}, r"embedder: broken: embed gave shape \[\]"),
        ({"embed": lambda self, w: w[None] * np.nan}, "embedder: broken: embed gave NaN"),
        ({"embed": lambda self, w: 1 / 0}, "embedder: broken: embed failed on 2 s of generated"),
        ({"embed": "not callable"}, "embedder: broken: needs a method embed"),
    ],
)
def test_a_broken_object_is_one_line_naming_it(tmp_path, data, change, message):
    attributes = {
        "name": "broken",
        "sample_rate": 16000,
        "embed": lambda self, w: w[None, :10],
        **change,
    }
    broken = type("Broken", (), attributes)()
    with pytest.raises(NossError, match=message) as caught:
        noss_eval.evaluate(broken, ["voxceleb1"], data_dir=data, cache_dir=tmp_path / "c")
    assert "\n" not in str(caught.value)


def test_an_object_failing_on_real_clips_is_one_line_naming_it(tmp_path, data):
    class TwoSecondsOnly(FrameStats):
        def embed(self, waveform):
            if len(waveform) != 32000:
                raise ValueError(f"expected 2 s, got {len(waveform)} samples")
            return super().embed(waveform)

    with pytest.raises(NossError, match="^embedder: frame-stats: embed failed") as caught:
        noss_eval.evaluate(TwoSecondsOnly(), ["voxceleb1"], data_dir=data, cache_dir=tmp_path)
    assert "expected 2 s, got 24000 samples" in str(caught.value)
    assert isinstance(caught.value.__cause__, ValueError)  # the object's own traceback


@pytest.mark.parametrize(
    "kwargs, field",
    [
        ({"workers": 2}, "workers"),
        ({"runner": "beam"}, "runner"),
        ({"embedder_options": {"a": 1}}, "embedder_options"),
    ],
)
def test_an_object_is_refused_where_it_cannot_run(tmp_path, data, kwargs, field):
    model = FrameStats()
    with pytest.raises(NossError, match=f"^{field}: ") as caught:
        noss_eval.evaluate(model, ["voxceleb1"], data_dir=data, cache_dir=tmp_path / "c", **kwargs)
    assert "\n" not in str(caught.value) and model.calls <= 2  # no clip embedded
    assert not (tmp_path / "c").exists()


# --- results: JSON, CSV, DataFrame -----------------------------------------------------------


def test_results_round_trip_through_json_typed_and_equal(tmp_path, data):
    results = noss_eval.evaluate(
        FrameStats(), ["voxceleb1"], data_dir=data, cache_dir=tmp_path / "c", reference="dsp"
    )
    assert len(results) == 6 and results[0].comparison.paired is not None  # paired deltas
    back = noss_eval.Results.from_json(results.to_json())
    assert back == results and back is not results
    assert back.to_rows() == results.to_rows()
    for a, b in zip(results, back, strict=True):
        assert a == b and a.stamp == b.stamp and a.comparison == b.comparison
        assert a.result.predictions.clip_ids == b.result.predictions.clip_ids
        for name in ("y_true", "y_pred"):
            x, y = getattr(a.result.predictions, name), getattr(b.result.predictions, name)
            assert x.dtype == y.dtype and np.array_equal(x, y)
        assert type(b.headline_ci) is tuple and b.metrics == a.metrics
    path = tmp_path / "results.json"
    assert results.to_json(path) == path.read_text()
    assert noss_eval.Results.from_json(path) == results
    assert results[:3] != results[3:]


@pytest.mark.parametrize(
    "text, message",
    [
        ("{not json", "from_json: not JSON"),
        ('{"rows": []}', "from_json: not noss-eval results"),
        ('{"format": "noss-eval-results", "version": 99, "rows": []}', "version 99"),
        ('{"format": "noss-eval-results", "version": 1, "rows": [{}]}', "a malformed row"),
    ],
)
def test_from_json_refuses_what_it_cannot_read_in_one_line(text, message):
    with pytest.raises(NossError, match=message):
        noss_eval.Results.from_json(text)


def test_to_csv_writes_what_the_cli_writes_for_the_same_run(tmp_path, data):
    board = tmp_path / "cli.csv"
    common = ["--data-dir", str(data), "--tasks", "voxceleb1", "--no-progress", "-q"]
    cli = ["--embedder", "dsp", *common, "--cache-dir", str(tmp_path / "c1")]
    assert main([*cli, "--leaderboard", str(board)]) == 0
    results = noss_eval.evaluate(
        "dsp",
        ["voxceleb1"],
        data_dir=data,
        cache_dir=tmp_path / "c2",  # computed afresh
    )
    written = results.to_csv(tmp_path / "api.csv")
    cli_header, cli_rows = read_csv(board)
    api_header, api_rows = read_csv(written)
    assert api_header == cli_header == list(COLUMNS)
    assert stable(api_rows) == stable(cli_rows)
    # leaderboard= merges into a board as --leaderboard does, with the run's record beside it
    merged = tmp_path / "api-board.csv"
    noss_eval.evaluate(
        "dsp", ["voxceleb1"], data_dir=data, cache_dir=tmp_path / "c2", leaderboard=merged
    )
    assert stable(read_csv(merged)[1]) == stable(cli_rows)
    assert merged.with_suffix(".runs.jsonl").is_file()


def test_to_frame_needs_pandas_and_says_so(tmp_path, data, monkeypatch):
    results = noss_eval.evaluate("dsp", ["voxceleb1"], data_dir=data, cache_dir=tmp_path / "c")
    monkeypatch.setitem(sys.modules, "pandas", None)  # not installed
    with pytest.raises(ImportError, match="pip install pandas"):
        results.to_frame()
    fake = types.ModuleType("pandas")
    fake.DataFrame = lambda rows, columns: (rows, columns)  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "pandas", fake)
    rows, columns = results.to_frame()
    assert rows == results.to_rows() and list(columns) == list(COLUMNS)


# --- tasks -----------------------------------------------------------------------------------


def write_custom_task(root: Path) -> Path:
    rng, rows = np.random.RandomState(0), ["file,word,talker"]
    for s in range(10):
        for k, word in enumerate(("alpha", "beta", "gamma")):
            rel = f"clips/spk{s}_{word}.wav"
            synthetic._write(
                root / "audio" / rel, synthetic.class_signal(rng, k, 3, 16000, 0.8), 16000
            )
            rows.append(f"{rel},{word},spk{s}")
    (root / "labels.csv").write_text("\n".join(rows) + "\n")
    path = root / "words.yaml"
    path.write_text(
        "name: words\naudio_dir: audio\ncsv: labels.csv\n"
        "columns: {path: file, label: word, speaker: talker}\n"
    )
    return path


def test_custom_tasks_by_path_and_as_task_objects(tmp_path):
    path = write_custom_task(tmp_path / "words")
    task = noss_eval.load_task(path)
    assert isinstance(task, Task) and task.name == "words"
    assert noss_eval.load_task("voxceleb1").name == "voxceleb1"
    cache = tmp_path / "c"
    by_path = noss_eval.evaluate("dsp", path, cache_dir=cache)  # no data_dir: the file says
    by_str = noss_eval.evaluate("dsp", [str(path)], cache_dir=cache)
    by_task = noss_eval.evaluate("dsp", [task], cache_dir=cache)
    assert {r.task for r in by_path} == {"words"} and len(by_path) == 3
    assert stable(by_path.to_rows()) == stable(by_str.to_rows()) == stable(by_task.to_rows())


def test_tasks_and_data_are_checked_before_anything_runs(tmp_path, data):
    bad = tmp_path / "bad.yaml"
    bad.write_text("title: no name\n")
    fake = Task("voxceleb1", "t", "voxceleb1", ("a", "b"), read=lambda root: [], layout="-")
    cases = [
        ("nope", "tasks: unknown task 'nope'; give one of voxceleb1, "),
        (tmp_path / "missing.yaml", "tasks: no such task file: "),
        (bad, "tasks: task file .*bad.yaml: needs 'name' and 'csv'"),
        (["voxceleb1", "voxceleb1"], "tasks: 'voxceleb1' is given twice"),
        ([], "tasks: empty"),
        (3, r"tasks: 3 \(int\) is not a task name"),
        ([fake], "tasks: a Task named 'voxceleb1' that is not the built-in one"),
    ]
    for tasks, message in cases:
        with pytest.raises(NossError, match=message):
            noss_eval.evaluate("dsp", tasks, data_dir=data, cache_dir=tmp_path / "c")
    with pytest.raises(NossError, match="path_or_name: unknown task 'nope'"):
        noss_eval.load_task("nope")
    with pytest.raises(NossError, match="^data_dir: required for built-in tasks"):
        noss_eval.evaluate("dsp", "voxceleb1", cache_dir=tmp_path / "c")
    assert not (tmp_path / "c").exists()


# --- errors name arguments -------------------------------------------------------------------


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"protocol": "x"}, "protocol: 'x' is not one of noss-eval, noss"),
        ({"embedder_options": {"hop": 5}}, r"embedder_options\['hop'\]: must be a fraction"),
        ({"embedder": "nope"}, "embedder: unknown embedder 'nope'"),
        ({"reference": "nope"}, "reference: unknown embedder 'nope'"),
        ({"published_reference": "x"}, "published_reference: 'x' is not one of"),
        ({"seed": -1}, "seed: must be a whole number"),
        ({"threads": 0}, "threads: must be at least 1"),
        ({"workers": 0}, "workers: must be at least 1"),
        ({"probe_solver": "x"}, "probe_solver: 'x' is not one of auto, lbfgs, adam"),
        ({"protocol": "noss", "probe_solver": "adam"}, "probe_solver adam: protocol noss uses"),
        ({"source": "x"}, "source: 'x' is not one of layout, tfds"),
        ({"data_dir": "/no/such/dir"}, "data_dir: no such directory"),
        ({"leaderboard": "."}, "leaderboard: . is a folder, not a file"),
    ],
)
def test_errors_name_the_argument_not_a_flag(tmp_path, data, kwargs, message):
    args = {"embedder": "dsp", "tasks": ["voxceleb1"], "data_dir": data, "cache_dir": tmp_path}
    with pytest.raises(NossError, match=f"^{message}") as caught:
        noss_eval.evaluate(**{**args, **kwargs})
    assert "--" not in str(caught.value) and "\n" not in str(caught.value)


def test_flags_in_messages_become_arguments():
    assert api.as_fields("--embedder-option output: bad; see --tasks") == (
        "embedder_options['output']: bad; see tasks"
    )
    assert api.as_fields("--leaderboard runs file: x (--beam-options '--a=1')") == (
        "leaderboard runs file: x (beam_options '--a=1')"
    )
    assert api.as_fields("/data/my--embedder.tflite: --unknown-flag") == (
        "/data/my--embedder.tflite: --unknown-flag"
    )
