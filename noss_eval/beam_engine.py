"""Extraction as an Apache Beam pipeline (the engine Google's NOSS data prep used).

`Create(clips) -> Reshuffle -> embed (one embedder per worker, built in setup) -> write shards`.
Shards land in a staging folder under the cache directory; the driver reads them back and the
shared extraction code writes the cache exactly as the local runner does. Any portable runner
works through pipeline options alone (`--runner=FlinkRunner ...`), provided the workers can read
the audio files and write to the cache directory (a shared filesystem).
"""

from __future__ import annotations

import json
import shutil
import tempfile
import uuid
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

from noss_eval.atomic import atomic_write_text
from noss_eval.cache import read_npz, write_npz
from noss_eval.engines import EmbedderRecipe, Result, embed_clip
from noss_eval.errors import AudioError, NossError
from noss_eval.sources import AudioStream, require_file_stream
from noss_eval.task import Clip

try:
    import apache_beam as beam
    from apache_beam.options.pipeline_options import PipelineOptions
except ImportError:  # Beam is an optional extra
    beam = None


def _require_beam() -> None:
    if beam is None:
        raise NossError("--runner beam needs Apache Beam: pip install 'noss-eval[beam]'")


if beam is not None:

    class EmbedClips(beam.DoFn):
        def __init__(self, recipe: EmbedderRecipe):
            self.recipe = recipe
            self.embedder = None

        def setup(self):
            self.embedder = self.recipe.build(threads=1)

        def process(self, clip: Clip):
            clip, result = embed_clip(self.embedder, clip)
            if isinstance(result, AudioError):
                yield clip.clip_id, None, str(result)
            else:
                yield clip.clip_id, result, None

    class WriteShards(beam.DoFn):
        """Each bundle's vectors as one `.npz` shard (plus its unreadable clips as JSON)."""

        def __init__(self, directory: str):
            self.directory = directory

        def start_bundle(self):
            self.vectors, self.errors = {}, {}

        def process(self, item):
            clip_id, vector, error = item
            if error is None:
                self.vectors[clip_id] = vector
            else:
                self.errors[clip_id] = error

        def finish_bundle(self):
            name = Path(self.directory) / f"shard-{uuid.uuid4().hex}"
            if self.vectors:
                write_npz(name.with_suffix(".npz"), self.vectors)
            if self.errors:
                atomic_write_text(name.with_suffix(".errors.json"), json.dumps(self.errors))


@dataclass
class BeamEngine:
    recipe: EmbedderRecipe
    sample_rate: int
    options: Sequence[str] = ()
    staging_root: Path | None = None  # default: a temporary folder

    def run(self, clips: Sequence[Clip], stream: AudioStream) -> Iterator[Result]:
        _require_beam()
        require_file_stream(stream, "--runner beam")
        if not clips:
            return
        staging = Path(tempfile.mkdtemp(prefix="beam-", dir=self._root()))
        try:
            self._pipeline(list(clips), staging)
            vectors, errors = _read_shards(staging)
        finally:
            shutil.rmtree(staging, ignore_errors=True)
        for clip in clips:
            if clip.clip_id in vectors:
                yield clip, vectors[clip.clip_id]
            elif clip.clip_id in errors:
                yield clip, AudioError(errors[clip.clip_id])
            else:
                raise NossError(f"--runner beam: the pipeline returned nothing for {clip.path}")

    def _root(self) -> str | None:
        if self.staging_root is None:
            return None
        self.staging_root.mkdir(parents=True, exist_ok=True)
        return str(self.staging_root)

    def _pipeline(self, clips: list[Clip], staging: Path) -> None:
        try:
            pipeline = beam.Pipeline(options=PipelineOptions(list(self.options)))
        except (ValueError, TypeError, SystemExit) as exc:
            raise NossError(f"--beam-options: {str(exc).splitlines()[0]}") from None
        with pipeline:
            _ = (
                pipeline
                | "Clips" >> beam.Create(clips)
                | "Spread" >> beam.Reshuffle()
                | "Embed" >> beam.ParDo(EmbedClips(self.recipe))
                | "Write" >> beam.ParDo(WriteShards(str(staging)))
            )


def _read_shards(staging: Path) -> tuple[dict, dict[str, str]]:
    vectors, errors = {}, {}
    for shard in staging.glob("shard-*.npz"):
        vectors.update(read_npz(shard))
    for shard in staging.glob("shard-*.errors.json"):
        errors.update(json.loads(shard.read_text()))
    return vectors, errors
