"""`noss-eval download`: fetch the openly downloadable NOSS datasets into the layouts the task
readers expect under `data_dir/<dataset folder>/`.

Where each dataset comes from (URLs, sizes, sha256, cited) is data: `configs/downloads.yaml`.
Every file goes to a `.part` file first and is resumed with an HTTP Range request (by a re-run,
or by a retry after a dropped connection); it is renamed from `.part` only once its size and
published sha256 match, so a file without `.part` is verified. A file that does not match is
moved aside (`.bad`) so a re-run starts clean. Archives are unpacked member by member into a
temporary folder (members with absolute paths or `..`, links leading outside, are refused) and
renamed into place, so an interrupted run never leaves a half layout a reader would accept.
Partial downloads and temporary folders live under `data_dir/.noss-download/`.

`base_url` (the CLI takes it from NOSS_EVAL_DOWNLOAD_BASE) replaces every URL's scheme with a
mirror: `https://host/path` is fetched from `<base_url>/host/path`, the layout `wget -x` makes.

The modules, each importing only those before it: `catalog` (the data model and
configs/downloads.yaml), `fetch` (one file: resume, retries, verification), `unpack` (safe
tar/zip extraction), `datasets` (a dataset folder by kind, and `download`).
"""

from noss_eval.download.catalog import (
    KINDS,
    Archive,
    DatasetSource,
    Remote,
    check_data_dir,
    how_to_get,
    instructions,
    load_catalog,
    resolve,
)
from noss_eval.download.datasets import (
    GIVE_UP_AFTER,
    STAGE,
    download,
    download_dataset,
    parse_checksums,
    voxforge_place,
)
from noss_eval.download.fetch import (
    BASE_ENV,
    CHUNK,
    PROGRESS_EVERY,
    ByteMeter,
    Fetcher,
    human,
    sha256_of,
)
from noss_eval.download.unpack import unpack

__all__ = [
    "BASE_ENV",
    "CHUNK",
    "GIVE_UP_AFTER",
    "KINDS",
    "PROGRESS_EVERY",
    "STAGE",
    "Archive",
    "ByteMeter",
    "DatasetSource",
    "Fetcher",
    "Remote",
    "check_data_dir",
    "download",
    "download_dataset",
    "how_to_get",
    "human",
    "instructions",
    "load_catalog",
    "parse_checksums",
    "resolve",
    "sha256_of",
    "unpack",
    "voxforge_place",
]
