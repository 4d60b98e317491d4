"""`--embedder` resolution: presets, kinds, paths, handles, plug-ins, and one-line errors."""

import pytest

from noss_eval.embedder import Embedder, parse_options, registry, resolve_embedder
from noss_eval.errors import NossError

PLUGIN = """
import numpy as np

class Toy:
    def __init__(self, name="toy", dim=3):
        self.name, self.sample_rate, self.model_sha256 = name, 8000, "0" * 64
        self.settings = {"kind": "toy", "dim": dim}

    def embed(self, waveform):
        return np.ones((2, self.settings["dim"]), np.float32) * waveform.mean()

PRESET = {"kind": "toy", "dim": 5, "about": "a toy preset"}
"""


@pytest.fixture
def plugin(tmp_path, monkeypatch):
    """A real installed distribution (dist-info on sys.path) exposing the entry-point group."""
    (tmp_path / "toy_plugin.py").write_text(PLUGIN)
    info = tmp_path / "toy_plugin-0.1.dist-info"
    info.mkdir()
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: toy-plugin\nVersion: 0.1\n")
    (info / "entry_points.txt").write_text(
        "[noss_eval.embedders]\ntoy = toy_plugin:Toy\ntoy-five = toy_plugin:PRESET\n"
    )
    monkeypatch.syspath_prepend(str(tmp_path))


def test_builtin_presets_and_kinds():
    kinds, presets = registry()
    assert {"tflite", "savedmodel", "dsp"} <= set(kinds)
    assert {
        "trill",
        "trill-distilled",
        "frill",
        "frill-nofrontend",
        *(f"trillsson{i}" for i in range(1, 6)),
    } <= set(presets)
    assert presets["trill"]["output"] == "layer19"
    assert presets["trill"]["call"] == "samples_and_rate"
    assert presets["frill-nofrontend"]["call"] == "logmel_windows"


def test_plugins_register_kinds_and_presets(plugin):
    kinds, presets = registry()
    assert "toy" in kinds and presets["toy-five"]["dim"] == 5
    toy = resolve_embedder("toy", {"dim": 4})
    assert isinstance(toy, Embedder) and toy.embed(__import__("numpy").ones(10)).shape == (2, 4)
    assert resolve_embedder("toy-five").settings["dim"] == 5


def test_paths_pick_the_kind(dynamic_tflite, trill_like):
    assert resolve_embedder(str(dynamic_tflite)).settings["kind"] == "tflite"
    assert resolve_embedder(str(trill_like)).settings["kind"] == "savedmodel"
    assert resolve_embedder("dsp").name == "dsp"


@pytest.mark.parametrize(
    "spec, message",
    [
        ("no-such-model", "unknown embedder 'no-such-model'"),
        ("missing.tflite", "no such file: missing.tflite"),
    ],
)
def test_bad_specs_are_one_line_errors(spec, message):
    with pytest.raises(NossError, match=message) as err:
        resolve_embedder(spec)
    assert "\n" not in str(err.value)


def test_directory_without_saved_model_and_stray_file(tmp_path):
    with pytest.raises(NossError, match="not a SavedModel"):
        resolve_embedder(str(tmp_path))
    stray = tmp_path / "weights.bin"
    stray.write_bytes(b"x")
    with pytest.raises(NossError, match="neither a .tflite file nor a SavedModel"):
        resolve_embedder(str(stray))


def test_bad_option_names_the_kind():
    with pytest.raises(NossError, match="bad option for kind 'dsp'"):
        resolve_embedder("dsp", {"colour": "blue"})


def test_parse_options_types_values():
    assert parse_options(["output=layer19", "threads=2", "hop=0.25", "output-x=0"]) == {
        "output": "layer19",
        "threads": 2,
        "hop": 0.25,
        "output_x": 0,
    }
    with pytest.raises(NossError, match="expected KEY=VALUE"):
        parse_options(["threads"])
