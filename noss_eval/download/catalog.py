"""The download catalog: what each NOSS dataset is made of (Remote files, Archives, a
DatasetSource per dataset folder) as `configs/downloads.yaml` publishes it (URLs, sizes, sha256,
cited), the task names that lead to it, and what to do by hand for the datasets that cannot be
fetched openly."""

from __future__ import annotations

import os
import re
import urllib.parse
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from importlib import resources
from pathlib import Path, PurePosixPath

import yaml

from noss_eval.errors import NossError

KINDS = ("archives", "listed", "url_list", "manual")


@dataclass(frozen=True)
class Remote:
    """One file to fetch; `size` and `sha256` are None where none is published."""

    url: str
    size: int | None = None
    sha256: str | None = None

    @property
    def name(self) -> str:
        return PurePosixPath(urllib.parse.urlsplit(self.url).path).name or "download"


@dataclass(frozen=True)
class Archive:
    remote: Remote
    into: str = "."  # where its members go, under the dataset folder
    strip: int = 0  # leading folders dropped from every member
    marker: str = ""  # a path under the dataset folder that exists once it is unpacked


@dataclass(frozen=True)
class DatasetSource:
    name: str  # the dataset folder under data_dir (a task's dataset_dir)
    title: str
    licence: str
    kind: str
    cited: str = ""
    archives: tuple[Archive, ...] = ()
    index: Remote | None = None
    select: str = ""
    into: str = ""
    instructions: str = ""

    @property
    def manual(self) -> bool:
        return self.kind == "manual"


def load_catalog(path: Path | None = None) -> dict[str, DatasetSource]:
    """The datasets of `path` (default: the packaged configs/downloads.yaml), by folder name."""
    where = str(path) if path else "noss_eval/configs/downloads.yaml"
    try:
        if path is None:
            text = resources.files("noss_eval.configs").joinpath("downloads.yaml").read_text()
        else:
            text = Path(path).read_text(encoding="utf-8")
        raw = yaml.safe_load(text)
    except (OSError, yaml.YAMLError) as exc:
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise NossError(f"{where}: cannot read the download catalog ({first})") from None
    if not isinstance(raw, dict):
        raise NossError(f"{where}: expected a mapping of dataset folders")
    return {name: _dataset(where, name, entry) for name, entry in raw.items()}


def _dataset(where: str, name: str, entry: object) -> DatasetSource:
    def bad(field: str, why: str) -> NossError:
        return NossError(f"{where}: {name}.{field}: {why}")

    if not isinstance(entry, dict):
        raise bad("", "expected a mapping")
    kind = entry.get("kind")
    if kind not in KINDS:
        raise bad("kind", f"expected one of {', '.join(KINDS)}, got {kind!r}")
    archives = []
    for i, item in enumerate(entry.get("archives") or ()):
        field = f"archives[{i}]"
        if not isinstance(item, dict):
            raise bad(field, "expected a mapping")
        archives.append(
            Archive(
                _remote(item, bad, field),
                str(item.get("into", ".")),
                int(item.get("strip", 0)),
                str(item.get("marker", "")),
            )
        )
    index = _remote(entry["index"], bad, "index") if "index" in entry else None
    source = DatasetSource(
        name=name,
        title=str(entry.get("title", name)),
        licence=str(entry.get("licence", "")),
        kind=kind,
        cited=str(entry.get("cited", "")),
        archives=tuple(archives),
        index=index,
        select=str(entry.get("select", "")),
        into=str(entry.get("into", "")),
        instructions=str(entry.get("instructions", "")),
    )
    needs = {
        "archives": ("archives", source.archives),
        "listed": ("index", index),
        "url_list": ("index", index),
        "manual": ("instructions", source.instructions),
    }[kind]
    if not needs[1]:
        raise bad(needs[0], f"required for kind {kind}")
    if kind == "listed" and not (source.select and source.into):
        raise bad("select", "kind listed needs select and into")
    return source


def _remote(item: object, bad: Callable[[str, str], NossError], field: str) -> Remote:
    if not isinstance(item, dict) or not isinstance(item.get("url"), str):
        raise bad(f"{field}.url", "required")
    size, digest = item.get("size"), item.get("sha256")
    if size is not None and (not isinstance(size, int) or size < 0):
        raise bad(f"{field}.size", f"expected bytes or null, got {size!r}")
    if digest is not None and not re.fullmatch(r"[0-9a-f]{64}", str(digest)):
        raise bad(f"{field}.sha256", f"expected 64 hex digits or null, got {digest!r}")
    return Remote(item["url"], size, digest)


def resolve(names: Sequence[str], catalog: dict[str, DatasetSource] | None = None):
    """The datasets behind task names (or dataset folder names), each once, in the order given;
    an unknown name is a one-line error listing the known ones."""
    from noss_eval.tasks import BUILTIN_TASKS

    catalog = load_catalog() if catalog is None else catalog
    folders = {name: task.dataset_dir for name, task in BUILTIN_TASKS.items()}
    found: dict[str, DatasetSource] = {}
    for name in names:
        folder = folders.get(name, name)
        if folder not in catalog:
            known = sorted({*folders, *catalog})
            raise NossError(f"unknown task '{name}'; known: {', '.join(known)}")
        found.setdefault(folder, catalog[folder])
    if not found:
        raise NossError("name at least one task to download")
    return list(found.values())


def how_to_get(dataset_dir: str, task_name: str) -> str:
    """One line for --list-tasks: the download command, or that it is fetched by hand."""
    source = load_catalog().get(dataset_dir)
    if source is None:
        return "by hand (no download known)"
    if source.manual:
        return f"by hand: `noss-eval download {task_name}` prints where and how"
    return f"noss-eval download {task_name} --data-dir DIR"


def instructions(source: DatasetSource, data_dir: Path | None = None) -> str:
    """What to do by hand for a dataset that cannot be fetched openly (one screen)."""
    root = f"{data_dir}/{source.name}" if data_dir else f"<data-dir>/{source.name}"
    body = source.instructions.format(root=root, licence=source.licence)
    head = f"{source.name}: {source.title} cannot be downloaded openly; fetch it by hand"
    return f"{head}\n{body.rstrip()}"


def check_data_dir(data_dir: Path, option: str = "data_dir") -> Path:
    """`data_dir`, made if missing, that this process can write; else a one-line error."""
    path = Path(data_dir).expanduser()
    try:
        path.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise NossError(f"{option} {path}: cannot create it ({exc.strerror or exc})") from None
    if not path.is_dir():
        raise NossError(f"{option} {path}: not a folder")
    if not os.access(path, os.W_OK | os.X_OK):
        raise NossError(f"{option} {path}: not writable; choose a folder you can write")
    return path
