"""`noss-eval download` against a real HTTP server on 127.0.0.1 (Range support, drops and
throttling on demand) serving tiny archives built in the official shapes; what it unpacks is
read by the real task readers."""

from __future__ import annotations

import hashlib
import io
import os
import re
import shutil
import signal
import subprocess
import sys
import tarfile
import threading
import time
import zipfile
from dataclasses import dataclass, field, replace
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import unquote, urlsplit

import pytest

from noss_eval.cli import main
from noss_eval.download.catalog import Remote, load_catalog
from noss_eval.download.datasets import STAGE, download, voxforge_place
from noss_eval.download.fetch import BASE_ENV, Fetcher
from noss_eval.download.unpack import unpack
from noss_eval.errors import NossError
from noss_eval.sources import open_layout
from noss_eval.synthetic import write_crema_d, write_esc50, write_speech_commands, write_voxforge
from noss_eval.tasks import BUILTIN_TASKS

SERVER_LIFETIME = 120.0  # seconds: the server stops by itself even if a test hangs


@dataclass
class ServerState:
    root: Path
    requests: list[tuple[str, str | None]] = field(default_factory=list)
    drop_at: dict[str, int] = field(default_factory=dict)  # path -> byte offset to stop at, once
    slow: float = 0.0  # seconds of sleep per 16 KiB sent
    ranges: bool = True  # honour Range requests


class Handler(BaseHTTPRequestHandler):
    """GET files under state.root; `Range: bytes=N-` answered 206 (or 416 past the end)."""

    def do_GET(self) -> None:
        state: ServerState = self.server.state
        path = unquote(urlsplit(self.path).path).lstrip("/")
        wanted = self.headers.get("Range")
        state.requests.append((path, wanted))
        file = state.root / path
        if not file.is_file():
            self.send_error(404)
            return
        data, start = file.read_bytes(), 0
        match = re.fullmatch(r"bytes=(\d+)-", wanted or "")
        if match and state.ranges:
            start = int(match.group(1))
            if start >= len(data):
                self.send_response(416)
                self.send_header("Content-Range", f"bytes */{len(data)}")
                self.send_header("Content-Length", "0")
                self.end_headers()
                return
            self.send_response(206)
            self.send_header("Content-Range", f"bytes {start}-{len(data) - 1}/{len(data)}")
        else:
            self.send_response(200)
        self.send_header("Content-Length", str(len(data) - start))
        self.end_headers()
        stop = state.drop_at.pop(path, len(data))
        for at in range(start, max(start, stop), 16384):
            self.wfile.write(data[at : min(at + 16384, stop)])
            if state.slow:
                time.sleep(state.slow)
        self.wfile.flush()  # then the connection closes, short of Content-Length if dropped

    def log_message(self, *args) -> None:
        pass


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    state = ServerState(tmp_path_factory.mktemp("www"))
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    httpd.daemon_threads = True
    httpd.state = state
    thread = threading.Thread(target=httpd.serve_forever, kwargs={"poll_interval": 0.05})
    thread.daemon = True
    thread.start()
    timer = threading.Timer(SERVER_LIFETIME, httpd.shutdown)
    timer.daemon = True
    timer.start()
    yield state, f"http://127.0.0.1:{httpd.server_address[1]}"
    timer.cancel()
    httpd.shutdown()
    httpd.server_close()
    thread.join(5)


@pytest.fixture
def www(server):
    """(state, base URL) with a clean request log and no drops or throttling."""
    state, base = server
    state.requests.clear()
    state.drop_at.clear()
    state.slow, state.ranges = 0.0, True
    return state, base


def _sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _tar(folder: Path, out: Path) -> Path:
    """The official shape: members at the top (`./yes/...`), gzip-compressed."""
    out.parent.mkdir(parents=True, exist_ok=True)
    with tarfile.open(out, "w:gz") as tar:
        for path in sorted(folder.rglob("*")):
            tar.add(path, arcname=f"./{path.relative_to(folder).as_posix()}", recursive=False)
    return out


SC_MAIN = "download.tensorflow.org/data/speech_commands_v0.02.tar.gz"
SC_TEST = "download.tensorflow.org/data/speech_commands_test_set_v0.02.tar.gz"
ESC_ZIP = "github.com/karolpiczak/ESC-50/archive/master.zip"


@pytest.fixture(scope="module")
def archives(server, tmp_path_factory):
    """Tiny Speech Commands archives (main and test set) and an ESC-50 GitHub zip, served at the
    official URLs' paths (the layout `wget -x` makes)."""
    state, _ = server
    work = tmp_path_factory.mktemp("build")
    write_speech_commands(work / "sc", n_speakers=5, test_set=True)
    shutil.move(work / "sc" / "test_set", work / "sc_test")
    _tar(work / "sc", state.root / SC_MAIN)
    _tar(work / "sc_test", state.root / SC_TEST)
    write_esc50(work / "ESC-50-master", per_fold=1, rate=16000)
    (state.root / ESC_ZIP).parent.mkdir(parents=True, exist_ok=True)
    with zipfile.ZipFile(state.root / ESC_ZIP, "w", zipfile.ZIP_DEFLATED) as zf:
        for path in sorted((work / "ESC-50-master").rglob("*")):
            zf.write(path, path.relative_to(work).as_posix())
    return state.root


def _catalog(root: Path, **override_sha: str):
    """The shipped catalog, with the Speech Commands archives' sizes and checksums swapped for
    the tiny ones' (or the given sha256 for `main` / `test`)."""
    catalog = load_catalog()
    sc = catalog["speech_commands"]
    fixed = []
    for archive, key, rel in zip(sc.archives, ("main", "test"), (SC_MAIN, SC_TEST), strict=True):
        path = root / rel
        digest = override_sha.get(key, _sha(path))
        fixed.append(
            replace(
                archive, remote=replace(archive.remote, size=path.stat().st_size, sha256=digest)
            )
        )
    catalog["speech_commands"] = replace(sc, archives=tuple(fixed))
    return catalog


def _read(name: str, data_dir: Path):
    dataset = open_layout(BUILTIN_TASKS[name], data_dir)
    assert dataset is not None
    return dataset.clips


def test_catalog_cites_tfds_checksums():
    catalog = load_catalog()
    sc = catalog["speech_commands"]
    assert [a.remote.sha256[:8] for a in sc.archives] == ["af14739e", "cc2a00c1"]
    assert [a.remote.size for a in sc.archives] == [2428923189, 112563277]
    assert catalog["esc50"].archives[0].remote.sha256 is None  # none is published
    assert catalog["crema_d"].index.sha256.startswith("66b5d959")
    assert catalog["voxforge"].index.sha256.startswith("9cc218a5")
    assert {n for n, s in catalog.items() if s.manual} == {
        "voxceleb1",
        "savee",
        "mask",
        "dementiabank",
    }


def test_download_unpacks_layouts_the_readers_accept_then_skips(www, archives, tmp_path):
    state, base = www
    data = tmp_path / "data"
    done, manual = download(
        ["speech_commands", "esc50_hs"],
        data,
        base_url=base,
        catalog=_catalog(archives),
        progress=False,
    )
    assert done == [data / "speech_commands", data / "esc50"] and manual == []
    clips = _read("speech_commands", data)
    assert {c.split for c in clips} == {"train", "validation", "test"}
    assert any(c.label == "_silence_" and c.split == "test" for c in clips)  # from test_set/
    assert len(_read("esc50_hs", data)) == 50  # 10 classes x 5 folds; dog filtered out
    assert (data / "esc50" / "meta" / "esc50.csv").is_file()  # ESC-50-master/ stripped
    assert not (data / STAGE).exists()  # archives and partial files cleaned away
    assert all(rng is None for _, rng in state.requests)
    state.requests.clear()
    download(
        ["speech_commands_lists", "esc50"],
        data,
        base_url=base,
        catalog=_catalog(archives),
        progress=False,
    )
    assert state.requests == []  # complete: nothing fetched again


def test_only_the_missing_test_archive_is_fetched_into_an_existing_folder(www, archives, tmp_path):
    state, base = www
    data = tmp_path / "data"
    (data / "speech_commands").mkdir(parents=True)
    # unpacked by hand
    subprocess.run(["tar", "-xzf", archives / SC_MAIN, "-C", data / "speech_commands"], check=True)
    download(["speech_commands"], data, base_url=base, catalog=_catalog(archives), progress=False)
    assert [p for p, _ in state.requests] == [SC_TEST]
    assert any(c.split == "test" for c in _read("speech_commands", data))


def test_bad_checksum_is_one_line_and_nothing_is_unpacked(www, archives, tmp_path):
    _, base = www
    data = tmp_path / "data"
    catalog = _catalog(archives, main="0" * 64)
    with pytest.raises(NossError) as caught:
        download(
            ["speech_commands"], data, base_url=base, catalog=catalog, progress=False, retries=0
        )
    message = str(caught.value)
    assert "\n" not in message
    assert "speech_commands_v0.02.tar.gz" in message and "re-run" in message
    assert not (data / "speech_commands").exists()
    stage = data / STAGE / "speech_commands"
    assert (stage / "speech_commands_v0.02.tar.gz.bad").is_file()  # moved aside
    assert not (stage / "speech_commands_v0.02.tar.gz.part").exists()
    # A re-run with the right checksum starts clean (no Range from the bad file).
    www[0].requests.clear()
    download(["speech_commands"], data, base_url=base, catalog=_catalog(archives), progress=False)
    assert (SC_MAIN, None) in www[0].requests
    assert _read("speech_commands", data)


def test_truncated_download_resumes_with_a_range_request(www, archives, tmp_path):
    state, base = www
    data = tmp_path / "data"
    size = (archives / SC_MAIN).stat().st_size
    state.drop_at[SC_MAIN] = size // 2
    with pytest.raises(NossError) as caught:
        download(
            ["speech_commands"],
            data,
            base_url=base,
            catalog=_catalog(archives),
            progress=False,
            retries=0,
        )
    assert f"{base}/{SC_MAIN}" in str(caught.value) and "\n" not in str(caught.value)
    part = data / STAGE / "speech_commands" / "speech_commands_v0.02.tar.gz.part"
    assert part.stat().st_size == size // 2
    assert not (data / "speech_commands").exists()
    state.requests.clear()
    download(
        ["speech_commands"],
        data,
        base_url=base,
        catalog=_catalog(archives),
        progress=False,
        retries=0,
    )
    assert (SC_MAIN, f"bytes={size // 2}-") in state.requests
    assert _read("speech_commands", data)


def test_a_dropped_connection_is_resumed_within_the_run(www, archives, tmp_path):
    state, base = www
    size = (archives / SC_TEST).stat().st_size
    state.drop_at[SC_TEST] = size // 3
    dest = tmp_path / "t.tar.gz"
    remote = Remote(f"http://{SC_TEST}", size, _sha(archives / SC_TEST))
    Fetcher(base, retries=1, backoff=0, progress=False).fetch(remote, dest)
    assert dest.read_bytes() == (archives / SC_TEST).read_bytes()
    assert state.requests == [(SC_TEST, None), (SC_TEST, f"bytes={size // 3}-")]


def test_a_server_without_ranges_is_fetched_again_from_the_start(www, archives, tmp_path):
    state, base = www
    state.ranges = False
    dest = tmp_path / "t.tar.gz"
    dest.with_name("t.tar.gz.part").write_bytes(b"stale bytes of another file")
    size = (archives / SC_TEST).stat().st_size
    remote = Remote(f"http://{SC_TEST}", size, _sha(archives / SC_TEST))
    Fetcher(base, retries=0, progress=False).fetch(remote, dest)
    assert dest.read_bytes() == (archives / SC_TEST).read_bytes()


def test_killed_download_resumes_in_the_next_run(www, archives, tmp_path, monkeypatch):
    """kill -9 in the middle of a transfer, then `noss-eval download` again."""
    state, base = www
    state.slow = 0.02
    data = tmp_path / "data"
    env = {**os.environ, BASE_ENV: base}
    command = [
        sys.executable,
        "-m",
        "noss_eval",
        "download",
        "esc50_hs",
        "--data-dir",
        str(data),
        "--no-progress",
    ]
    part = data / STAGE / "esc50" / "master.zip.part"
    process = subprocess.Popen(command, env=env, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 15
        while not (part.exists() and part.stat().st_size >= 64 * 1024):
            assert process.poll() is None and time.monotonic() < deadline
            time.sleep(0.01)
        process.send_signal(signal.SIGKILL)
        process.wait(10)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait(10)
    had = part.stat().st_size
    assert 0 < had < (archives / ESC_ZIP).stat().st_size
    assert not (data / "esc50").exists()
    state.slow = 0.0
    state.requests.clear()
    monkeypatch.setenv(BASE_ENV, base)
    assert main(["download", "esc50_hs", "--data-dir", str(data), "--no-progress"]) == 0
    assert state.requests == [(ESC_ZIP, f"bytes={had}-")]
    assert len(_read("esc50_hs", data)) == 50


def _evil_tar(path: Path, member: tarfile.TarInfo, payload: bytes = b"x") -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    with tarfile.open(path, "w:gz") as tar:
        ok = tarfile.TarInfo("./yes/a.wav")
        ok.size = 1
        tar.addfile(ok, io.BytesIO(b"a"))
        tar.addfile(member, io.BytesIO(payload) if member.isfile() else None)
    return path


def _member(name: str, link: str | None = None, kind: bytes = tarfile.REGTYPE):
    info = tarfile.TarInfo(name)
    info.type = kind
    if link is not None:
        info.linkname = link
    else:
        info.size = 1
    return info


@pytest.mark.parametrize(
    "member",
    [
        _member("../evil"),
        _member("./yes/../../evil"),
        _member("/tmp/noss-eval-evil"),
        _member("link", "../evil", tarfile.SYMTYPE),
        _member("link", "/etc", tarfile.SYMTYPE),
        _member("hard", "../evil", tarfile.LNKTYPE),
    ],
    ids=["dotdot", "nested-dotdot", "absolute", "symlink-up", "symlink-absolute", "hardlink"],
)
def test_unpack_refuses_members_that_leave_the_folder(member, tmp_path):
    archive = _evil_tar(tmp_path / "evil.tar.gz", member)
    with pytest.raises(NossError, match="refused") as caught:
        unpack(archive, tmp_path / "out" / "x", show=False)
    assert member.name in str(caught.value) and "\n" not in str(caught.value)
    assert not (tmp_path / "out" / "evil").exists() and not (tmp_path / "evil").exists()
    assert not Path("/tmp/noss-eval-evil").exists()


def test_a_link_chain_leading_outside_is_refused(tmp_path):
    archive = tmp_path / "chain.tar"
    with tarfile.open(archive, "w") as tar:
        tar.addfile(_member("a/b/d", "../..", tarfile.SYMTYPE))  # -> the root: inside
        tar.addfile(_member("a/b/d/e", "../../..", tarfile.SYMTYPE))  # really root/../..
    with pytest.raises(NossError, match="refused"):
        unpack(archive, tmp_path / "out" / "x", show=False)


def test_zip_member_with_dotdot_is_refused(tmp_path):
    archive = tmp_path / "evil.zip"
    with zipfile.ZipFile(archive, "w") as zf:
        zf.writestr("ESC-50-master/meta/esc50.csv", "filename,fold,target,category\n")
        zf.writestr("ESC-50-master/../../evil", "x")
    with pytest.raises(NossError, match=r"'\.\.'"):
        unpack(archive, tmp_path / "out" / "x", strip=1, show=False)
    assert not (tmp_path / "evil").exists() and not (tmp_path / "out" / "evil").exists()


def test_evil_archive_download_leaves_no_layout(www, archives, tmp_path):
    state, base = www
    evil = _evil_tar(state.root / "evil" / SC_TEST, _member("../evil"))
    shutil.copy(archives / SC_MAIN, state.root / "evil" / SC_MAIN)
    catalog = _catalog(archives)
    sc = catalog["speech_commands"]
    test = sc.archives[1]
    remote = replace(test.remote, size=evil.stat().st_size, sha256=_sha(evil))
    catalog["speech_commands"] = replace(
        sc, archives=(sc.archives[0], replace(test, remote=remote))
    )
    data = tmp_path / "data"
    with pytest.raises(NossError, match=r"\.\./evil"):
        download(
            ["speech_commands"],
            data,
            base_url=f"{base}/evil",
            catalog=catalog,
            progress=False,
            retries=0,
        )
    assert not (data / "speech_commands").exists() and not (data / "evil").exists()
    assert not list((data / STAGE / "speech_commands").glob("unpack-*"))


def _served_index(state, name: str, rel: str, lines: list[str]) -> dict:
    """`lines` served as dataset `name`'s index file at `rel`, and the catalog that expects
    exactly that file (its size and sha256)."""
    index = state.root / rel
    index.parent.mkdir(parents=True, exist_ok=True)
    index.write_text("\n".join(lines) + "\n")
    catalog = load_catalog()
    catalog[name] = replace(
        catalog[name],
        index=replace(catalog[name].index, size=index.stat().st_size, sha256=_sha(index)),
    )
    return catalog


def test_crema_d_files_are_checked_against_the_tfds_list(www, tmp_path):
    state, base = www
    audio = tmp_path / "crema" / "AudioWAV"
    write_crema_d(audio.parent, n_actors=12, sentences=("DFA",))
    prefix = "media.githubusercontent.com/media/CheyneyComputerScience/CREMA-D/master/AudioWAV"
    lines = [
        "https://raw.githubusercontent.com/CheyneyComputerScience/CREMA-D/master/"
        "processedResults/summaryTable.csv\t10\t" + "0" * 64
    ]
    for wav in sorted(audio.iterdir()):
        (state.root / prefix).mkdir(parents=True, exist_ok=True)
        shutil.copy(wav, state.root / prefix / wav.name)
        lines.append(f"https://{prefix}/{wav.name}\t{wav.stat().st_size}\t{_sha(wav)}")
    catalog = _served_index(
        state, "crema_d", "storage.googleapis.com/tfds-data/manual_checksums/crema_d.txt", lines
    )
    data = tmp_path / "data"
    broken = state.root / prefix / "1003_DFA_SAD_XX.wav"
    good = broken.read_bytes()
    broken.write_bytes(good[:-4] + b"oops")  # same size, other bytes
    with pytest.raises(NossError) as caught:
        download(["crema_d"], data, base_url=base, catalog=catalog, progress=False, jobs=3)
    message = str(caught.value)
    assert "\n" not in message and "1 of 72 failed" in message
    assert "1003_DFA_SAD_XX.wav: sha256" in message
    assert not (data / "crema_d").exists()  # no AudioWAV/ short of a clip
    broken.write_bytes(good)
    state.requests.clear()
    download(["crema_d"], data, base_url=base, catalog=catalog, progress=False, jobs=3)
    assert [p for p, _ in state.requests] == [f"{prefix}/1003_DFA_SAD_XX.wav"]
    assert len(_read("crema_d", data)) == 72
    assert not (data / STAGE).exists()


def test_progress_lines_when_not_on_a_terminal(www, archives, tmp_path, monkeypatch, caplog):
    _, base = www
    monkeypatch.setattr("noss_eval.download.fetch.PROGRESS_EVERY", 0.0)
    size = (archives / SC_TEST).stat().st_size
    remote = Remote(f"http://{SC_TEST}", size, _sha(archives / SC_TEST))
    with caplog.at_level("INFO", logger="noss_eval"):
        Fetcher(base, progress=True).fetch(remote, tmp_path / "t.tar.gz")
    lines = [r.getMessage() for r in caplog.records]
    assert any(
        line.startswith("download speech_commands_test_set_v0.02.tar.gz: ")
        and "(100%)" in line
        and "/s" in line
        for line in lines
    )
    assert any(line.startswith("verify speech_commands_test_set_v0.02.tar.gz: ") for line in lines)


def test_voxforge_archives_are_unpacked_in_place(www, tmp_path):
    state, base = www
    work = tmp_path / "vox"
    write_voxforge(work, speakers_per_language=3, per_session=1)
    urls = []
    for folder in sorted(work.glob("*/Trunk/Audio/Main/16kHz_16bit/*")):
        rel = folder.relative_to(work).parent.as_posix()
        url = f"http://www.repository.voxforge1.org/downloads/{rel}/{folder.name}.tgz"
        target = state.root / urlsplit(url).netloc / urlsplit(url).path.lstrip("/")
        target.parent.mkdir(parents=True, exist_ok=True)
        with tarfile.open(target, "w:gz") as tar:
            tar.add(folder, arcname=folder.name)
        urls.append(f'"{url}"')  # TFDS strips quotes
    catalog = _served_index(
        state,
        "voxforge",
        "storage.googleapis.com/tfds-data/downloads/voxforge/voxforge_urls.txt",
        urls,
    )
    data = tmp_path / "data"
    download(["voxforge"], data, base_url=base, catalog=catalog, progress=False, jobs=3)
    clips = _read("voxforge", data)
    assert {c.label for c in clips} == {"de", "en", "es", "fr", "it", "ru"} and len(clips) == 18
    assert voxforge_place(urls[0].strip('"'))[0].parts[:2] == ("de", "Trunk")


def test_cli_errors_are_one_line_with_exit_2(tmp_path, capsys, monkeypatch):
    assert main(["download", "nope", "--data-dir", str(tmp_path)]) == 2
    assert capsys.readouterr().err.strip().endswith("voxforge_all")
    blocker = tmp_path / "file"
    blocker.write_text("")
    assert main(["download", "esc50_hs", "--data-dir", str(blocker / "data")]) == 2
    err = capsys.readouterr().err
    assert "--data-dir" in err and len(err.strip().splitlines()) == 1
    monkeypatch.setenv(BASE_ENV, "http://127.0.0.1:9")  # nothing listens on the discard port
    assert main(["download", "esc50_hs", "--data-dir", str(tmp_path / "d"), "--retries", "0"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and f"http://127.0.0.1:9/{ESC_ZIP}" in err[0]


def test_manual_datasets_print_instructions_and_exit_2(capsys):
    assert main(["download", "voxceleb1"]) == 2
    out, err = capsys.readouterr()
    assert "vox1.html" in out and "<data-dir>/voxceleb1/wav/" in out and "licence:" in out
    assert len(out.splitlines()) <= 24
    assert err.strip() == "noss-eval: error: voxceleb1: must be fetched by hand, as shown above"
    for name in ("savee", "mask", "dementiabank"):
        assert main(["download", name, "--data-dir", "/x"]) == 2
        out = capsys.readouterr().out
        assert f"/x/{name}/" in out and len(out.splitlines()) <= 24
    assert main(["--list-tasks"]) == 0
    listing = capsys.readouterr().out
    assert "get it: noss-eval download crema_d --data-dir DIR" in listing
    assert "get it: by hand: `noss-eval download voxceleb1`" in listing
