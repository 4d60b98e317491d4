"""`noss-eval report`: one self-contained HTML page, checked in a real (headless) Chromium.

The board is made by the real pipeline's last stages: probe results with real predictions, paired
against a reference measured on the same clips (`compare_measured`: bootstrap interval, exact
test), TRILL's published numbers for the reference itself, `to_row`, `merge_leaderboard`,
`merge_latency` and the runs file, under both protocols. Scores are chosen so that each task ranks
the embedders differently and some deltas are significant and some are not."""

from __future__ import annotations

import csv
import json
import re
import shlex
import zlib
from html.parser import HTMLParser

import numpy as np
import pytest
from browser import full_page_screenshot, headless_chromium, require_browser

from noss_eval.cli import main
from noss_eval.leaderboard import (
    append_run_record,
    merge_latency,
    merge_leaderboard,
    runs_path,
    to_row,
)
from noss_eval.probes import PROTOCOL_NOTES
from noss_eval.references import compare_measured, compare_published, published_reference
from noss_eval.results import Predictions, ProbeResult, RunStamp
from noss_eval.runner import package_versions
from noss_eval.stats import Outcomes, bootstrap_interval

EVIL = '<script>window.__pwned = 1</script><img src=x onerror="window.__pwned = 2">'
N = 200
# accuracy (UAR for mask) per embedder and task: every task ranks the embedders differently
SCORES = {
    "alpha": {"crema_d": 0.80, "mask": 0.56, "savee": 0.62},
    "beta": {"crema_d": 0.63, "mask": 0.78, "savee": 0.66},
    EVIL: {"crema_d": 0.70, "mask": 0.61, "savee": 0.88},
    "trill": {"crema_d": 0.60, "mask": 0.60, "savee": 0.60},
}
LATENCY = {"alpha": 4.0, "beta": 35.0, EVIL: 11.0, "trill": 80.0}
PAPER_BONUS = 0.03  # paper mode picks the best test score: a little higher


def probe_result(embedder: str, task: str, protocol: str, probe: str) -> ProbeResult:
    accuracy = SCORES[embedder][task] + (PAPER_BONUS if protocol == "noss" else 0.0)
    accuracy -= 0.05 if probe == "logistic" else 0.0
    rng = np.random.RandomState(zlib.crc32(f"{embedder}|{task}|{protocol}|{probe}".encode()))
    y = np.array(["a", "b"] * (N // 2))
    correct = np.zeros(N, bool)
    for label in ("a", "b"):  # the same accuracy in each class: accuracy == UAR
        idx = np.flatnonzero(y == label)
        correct[rng.permutation(idx)[: round(accuracy * len(idx))]] = True
    pred = np.where(correct, y, np.where(y == "a", "b", "a"))
    headline = "balanced_accuracy" if task == "mask" else "accuracy"
    outcomes = Outcomes.of(y, pred)
    metrics = {m: outcomes.score(m) for m in ("accuracy", "balanced_accuracy")}
    sha = f"{sorted(SCORES).index(embedder):02d}" * 32
    return ProbeResult(
        embedder=embedder,
        embedder_sha256=sha,
        embedder_fingerprint=sha[::-1],
        task=task,
        probe=probe,
        protocol=protocol,
        config="lda" if probe == "best" else "logistic+C=1",
        headline_metric=headline,
        metrics={**metrics, "macro_f1": metrics["accuracy"]},
        headline_ci=bootstrap_interval(outcomes, headline, n_boot=200),
        validation_score=None if protocol == "noss" else 0.5,
        n_train=100,
        n_validation=0 if protocol == "noss" else 20,
        n_test=N,
        failed_clips=0,
        predictions=Predictions(tuple(f"clip{i}" for i in range(N)), y, pred),
        data_fingerprint="d" * 64,
        data="official",  # the published table applies to paper mode's best rows
    )


def run_id(embedder: str, protocol: str) -> str:
    return f"{sorted(SCORES).index(embedder)}{protocol.replace('-', '')}"


def make_board(folder, latency=True, record_all=True):
    """Each embedder run against a measured TRILL under both protocols, like
    `noss-eval --embedder X --reference trill --protocol P --leaderboard board.csv`."""
    board = folder / "board.csv"
    for day, protocol in enumerate(("noss-eval", "noss"), start=1):
        for hour, embedder in enumerate(("alpha", "beta", EVIL)):
            mine, ref = (
                [probe_result(e, t, protocol, p) for t in SCORES[e] for p in ("logistic", "best")]
                for e in (embedder, "trill")
            )
            rid = run_id(embedder, protocol)
            stamp = RunStamp(0, "layout", rid, "0.1.0", f"2026-01-0{day}T0{hour}:00:00+00:00")
            results = compare_measured(mine, ref) + compare_published(ref, published_reference())
            merge_leaderboard(board, [to_row(r, stamp) for r in results])
            command = ["noss-eval", "--embedder", embedder, "--reference", "trill"]
            command += [
                "--protocol",
                protocol,
                "--data-dir",
                "/data/noss",
                "--leaderboard",
                "b.csv",
            ]
            if record_all or embedder != "beta":
                record = {"run_id": rid, "command": command, "versions": package_versions()}
                append_run_record(runs_path(board), {**record, "seed": 0, "protocol": protocol})
    if latency:
        shas = {e: probe_result(e, "savee", "noss", "best").embedder_sha256 for e in SCORES}
        fps = {e: sha[::-1] for e, sha in shas.items()}
        columns = {fps[e]: {"latency_ms": ms, "size_mb": ms / 4} for e, ms in LATENCY.items()}
        names = {fps[e]: {"embedder": e, "embedder_sha256": sha} for e, sha in shas.items()}
        merge_latency(board, columns, names)
    return board


def csv_rows(board, probe="best"):
    return [r for r in csv.DictReader(board.open(encoding="utf-8")) if r["probe"] == probe]


def not_significant(row) -> bool:
    p = row["delta_p_value"].lstrip("<")
    return bool(row["delta"]) and (not p or float(p) >= 0.05)


TABLES_JS = """
return Array.from(document.querySelectorAll("table.leaderboard")).map(t => ({
  protocol: t.dataset.protocol,
  heading: t.closest("section").querySelector("h2").textContent,
  rows: Array.from(t.tBodies[0].rows).map(r => ({
    name: r.cells[0].textContent,
    cells: Array.from(r.querySelectorAll("td[data-task]")).map(c => ({
      task: c.dataset.task, value: c.dataset.value,
      shown: c.querySelector(".value") && c.querySelector(".value").textContent,
      ci: c.querySelector(".ci") && c.querySelector(".ci").textContent,
      best: c.classList.contains("best"),
      marker: c.querySelector(".best-marker") ? c.querySelector(".best-marker").textContent : "",
      ns: !!c.querySelector("abbr.ns"),
    })),
  })),
}));
"""
ADDRESSES_JS = """
const out = [];
for (const el of document.querySelectorAll("*"))
  for (const a of el.attributes)
    if (["src", "href", "action", "srcset", "data", "poster"].includes(a.localName))
      out.push(a.value);
return out;
"""


@pytest.fixture(scope="module")
def browser():
    require_browser()
    with headless_chromium() as driver:
        yield driver


@pytest.fixture(scope="module")
def report(tmp_path_factory):
    folder = tmp_path_factory.mktemp("report")
    board = make_board(folder, record_all=False)
    assert main(["report", str(board), "--out", str(folder / "report.html")]) == 0
    return board, folder / "report.html"


def test_the_page_shows_the_csv_numbers_best_and_significance(report, browser, tmp_path):
    board, page = report
    browser.get(page.as_uri())
    tables = browser.execute_script(TABLES_JS)
    assert [t["protocol"] for t in tables] == ["noss-eval", "noss"]
    assert [t["heading"] for t in tables] == [
        f"{p} protocol: {PROTOCOL_NOTES[p]}" for p in ("noss-eval", "noss")
    ]
    shown = {
        (t["protocol"], r["name"], c["task"]): c
        for t in tables
        for r in t["rows"]
        for c in r["cells"]
    }
    rows = csv_rows(board)
    assert len(shown) == len(rows) == 2 * 4 * 3  # 4 embedders (one is the reference), 3 tasks
    for r in rows:
        cell = shown[r["protocol"], r["embedder"], r["task"]]
        assert cell["value"] == r["headline_score"]  # the CSV's own string
        assert cell["shown"] == f"{float(r['headline_score']):.2f}"  # the console's rounding
        low, high = float(r["headline_ci_low"]), float(r["headline_ci_high"])
        assert cell["ci"] == f"{low:.1f}-{high:.1f}"
    for (protocol, _, task), cell in shown.items():
        scores = [
            float(r["headline_score"])
            for r in rows
            if (r["protocol"], r["task"]) == (protocol, task)
        ]
        assert cell["best"] == (float(cell["value"]) == max(scores))
        assert cell["marker"] == ("\u2605" if cell["best"] else "")
    assert sum(c["best"] for c in shown.values()) == 6  # one per task and protocol, no ties
    marked = {k for k, c in shown.items() if c["ns"]}
    expected = {(r["protocol"], r["embedder"], r["task"]) for r in rows if not_significant(r)}
    assert marked == expected
    tested = {(r["protocol"], r["embedder"], r["task"]) for r in rows if r["delta_p_value"]}
    assert marked & tested and tested - marked  # p >= 0.05 and p < 0.05 are both on the board
    # the reference's own rows: a published delta (no paired test) on paper mode's only
    assert {k for k in marked if k[1] == "trill"} == {
        k for k in shown if k[1] == "trill" and k[0] == "noss"
    }
    shot = full_page_screenshot(browser, tmp_path / "report.png")
    assert shot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and shot.stat().st_size > 50_000
    print(f"screenshot: {shot}")


def test_sorting_by_a_task_column_orders_rows_by_its_numbers(report, browser):
    board, page = report
    browser.get(page.as_uri())
    table = browser.find_element("id", "leaderboard-0")

    def order():
        names = [r["name"] for r in browser.execute_script(TABLES_JS)[0]["rows"]]
        sort = {
            th.text.split("\n")[0]: th.get_attribute("aria-sort")
            for th in table.find_elements("css selector", "thead th")
        }
        return names, {k: v for k, v in sort.items() if v}

    names, sort = order()
    assert names == sorted(names, key=str.casefold) and sort == {"embedder": "ascending"}
    score = {
        (r["embedder"], r["task"]): float(r["headline_score"])
        for r in csv_rows(board)
        if r["protocol"] == "noss-eval"
    }
    seen = set()
    for task in ("crema_d", "mask", "savee"):
        button = table.find_element("css selector", f'th[data-task="{task}"] button')
        button.click()
        names, sort = order()
        assert [score[n, task] for n in names] == sorted(
            (score[n, task] for n in names), reverse=True
        )
        assert sort == {task: "descending"}
        seen.add(tuple(names))
        button.click()
        names, sort = order()
        assert [score[n, task] for n in names] == sorted(score[n, task] for n in names)
        assert sort == {task: "ascending"}
    assert len(seen) == 3  # each task really reorders the rows
    table.find_element("css selector", 'th[data-column="latency"] button').click()
    names, _ = order()
    assert names == sorted(LATENCY, key=LATENCY.get)  # fastest first


def test_a_name_with_markup_is_text_and_nothing_leaves_the_page(report, browser):
    _, page = report
    html = page.read_text(encoding="utf-8")
    assert not re.search(r"https?:|//[a-z]", html, re.I)  # no address of any kind in the file
    browser.get(page.as_uri())
    assert browser.execute_script("return window.__pwned") is None
    assert browser.execute_script("return document.scripts.length") == 1  # ours only
    assert browser.execute_script("return document.images.length") == 0
    names = {r["name"] for t in browser.execute_script(TABLES_JS) for r in t["rows"]}
    assert EVIL in names  # shown as the text it is
    assert all(a.startswith("#") for a in browser.execute_script(ADDRESSES_JS))
    assert browser.execute_script("return performance.getEntriesByType('resource').length") == 0
    alts = browser.execute_script(
        "return Array.from(document.querySelectorAll('[role=img]')).map(e => e.ariaLabel)"
    )
    assert len(alts) == 3 + 2 and all(alts)  # a chart per task, a frontier per protocol
    assert any(EVIL in a for a in alts)
    assert browser.execute_script("return document.documentElement.lang") == "en"
    assert browser.execute_script(
        "return Array.from(document.querySelectorAll('thead th')).every(th => th.scope === 'col')"
    )


def test_frontier_present_iff_latency_and_provenance_per_run(report, browser, tmp_path):
    board, page = report
    browser.get(page.as_uri())
    assert len(browser.find_elements("css selector", "figure.frontier svg")) == 2
    for r in csv_rows(board):
        run = browser.find_element("id", f"run-{r['run_id']}")
        text = run.text
        assert f"seed\n{r['seed']}" in text and PROTOCOL_NOTES[r["protocol"]] in text
        if r["embedder"] == "beta":
            assert "no record of this run in the runs file" in text
        else:
            record = next(
                json.loads(line)
                for line in runs_path(board).read_text().splitlines()
                if json.loads(line)["run_id"] == r["run_id"]
            )
            assert shlex.join(record["command"]) in text
            assert f"scikit-learn {record['versions']['scikit-learn']}" in text
    plain = make_board(tmp_path, latency=False)
    assert main(["report", str(plain), "--out", str(tmp_path / "plain.html")]) == 0
    browser.get((tmp_path / "plain.html").as_uri())
    assert browser.find_elements("css selector", "figure.frontier") == []
    assert "No latency in this board" in browser.find_element("tag name", "body").text


class _Parser(HTMLParser):
    def __init__(self):
        super().__init__()
        self.cells = {}
        self._task = None

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if tag == "td" and "data-task" in a:
            self.cells.setdefault(a["data-task"], []).append(a["data-value"])


def test_the_run_writes_the_report_beside_the_leaderboard(tmp_path, capsys):
    board, page = tmp_path / "demo.csv", tmp_path / "out" / "demo.html"
    args = ["--demo", "--tasks", "crema_d,mask", "--cache-dir", str(tmp_path / "c")]
    assert main([*args, "--leaderboard", str(board), "--report", str(page), "-q"]) == 0
    assert f"report: {page}" in capsys.readouterr().out
    parser = _Parser()
    parser.feed(page.read_text(encoding="utf-8"))
    rows = csv_rows(board)
    assert parser.cells == {
        t: [r["headline_score"] for r in rows if r["task"] == t] for t in ("crema_d", "mask")
    }
    record = json.loads(runs_path(board).read_text().splitlines()[-1])
    assert record["command"] == [
        "noss-eval",
        *args,
        "--leaderboard",
        str(board),
        "--report",
        str(page),
        "-q",
    ]
    assert record["versions"]["noss-eval"] == "0.1.0"
    assert shlex.join(record["command"]) in page.read_text(encoding="utf-8").replace("&#39;", "'")


def test_report_needs_a_leaderboard_before_the_run(tmp_path, capsys):
    assert main(["--embedder", "dsp", "--data-dir", str(tmp_path), "--report", "r.html"]) == 2
    assert "--report: needs --leaderboard" in capsys.readouterr().err


def one_line_error(capsys, argv) -> str:
    assert main(argv) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1, err
    return err[0]


def test_errors_are_one_line_and_write_nothing(tmp_path, capsys):
    out = tmp_path / "r.html"
    missing = tmp_path / "none.csv"
    assert f"no such file: {missing}" in one_line_error(
        capsys, ["report", str(missing), "--out", str(out)]
    )
    foreign = tmp_path / "foreign.csv"
    foreign.write_text("a,b\n1,2\n")
    assert "is not a noss-eval leaderboard" in one_line_error(
        capsys, ["report", str(foreign), "--out", str(out)]
    )
    board = make_board(tmp_path, latency=False)
    runs = runs_path(board)
    runs.write_text(runs.read_text() + "{not json\n")
    err = one_line_error(capsys, ["report", str(board), "--out", str(out)])
    assert f"{runs}:{len(runs.read_text().splitlines())}: not a JSON object" in err
    runs.write_bytes(b"\xff\xfe\x00bad")
    assert f"cannot read {runs}" in one_line_error(
        capsys, ["report", str(board), "--out", str(out)]
    )
    assert "no such file" in one_line_error(
        capsys, ["report", str(board), "--runs", str(tmp_path / "x.jsonl"), "--out", str(out)]
    )
    (tmp_path / "file").write_text("x")
    err = one_line_error(capsys, ["report", str(board), "--out", str(tmp_path / "file" / "r.html")])
    assert "is not a writable folder" in err
    assert (
        not out.exists() and sorted(p.name for p in tmp_path.iterdir() if p.suffix == ".html") == []
    )


def test_a_full_disk_leaves_no_half_written_page(tmp_path, tiny_disk, capsys):
    board = make_board(tmp_path, latency=False)
    (tiny_disk / "filler").write_bytes(b"\0" * (200 * 1024))
    out = tiny_disk / "r.html"
    err = one_line_error(capsys, ["report", str(board), "--out", str(out)])
    assert err.startswith(f"noss-eval: error: report --out: cannot write {out} (")
    assert sorted(p.name for p in tiny_disk.iterdir()) == ["filler"]


def test_what_the_page_cannot_show_is_said(tmp_path):
    """Without a runs file, with rows of another copy of a task's data, with deltas against two
    references: the page says so, and shows the most recent row."""
    from noss_eval.html_report import write_report

    board = make_board(tmp_path, latency=False)
    runs_path(board).unlink()
    rows = list(csv.DictReader(board.open(encoding="utf-8")))
    alpha = next(
        r for r in rows if (r["embedder"], r["task"], r["probe"]) == ("alpha", "savee", "best")
    )
    newer = {**alpha, "data_fingerprint": "e" * 64, "headline_score": "12.5"}
    newer.update(created="2027-01-01T00:00:00+00:00", reference="frill-published", delta="1.0")
    merge_leaderboard(board, [newer])
    report = write_report(board, tmp_path / "r.html", probe="best")
    page = (tmp_path / "r.html").read_text(encoding="utf-8")
    assert "no runs file (board.runs.jsonl)" in page
    assert "1 older row(s) on another copy of a task&#39;s data are not shown" in page
    (table,) = [t for t in report.tables if t.protocol == alpha["protocol"]]
    (entry,) = [e for e in table.entries if e.label == "alpha"]
    assert entry.cells["savee"].value == "12.5" and entry.average is None
    assert entry.average_note == "deltas against frill-published, trill: not averaged"
    assert "deltas against frill-published, trill: not averaged" in page
    assert "no record of this run in the runs file" in page


def test_a_row_at_chance_and_data_off_the_official_set_are_said_on_the_page(tmp_path):
    """A score whose interval reaches chance is marked in its cell; rows measured on data that
    is not the official set, on another partition, or without a published delta say so."""
    from noss_eval.html_report import write_report

    board = make_board(tmp_path, latency=False)
    rows = list(csv.DictReader(board.open(encoding="utf-8")))
    alpha = next(
        r for r in rows if (r["embedder"], r["task"], r["probe"]) == ("alpha", "savee", "best")
    )
    note = "no delta vs trill-published: data: 120 of 480 official clips"
    changed = {**alpha, "at_chance": "yes", "chance": "14.286", "data": "120 of 480 official clips"}
    changed.update(scored_on="devel (ComParE withholds the test labels)", reference_note=note)
    merge_leaderboard(board, [changed])
    write_report(board, tmp_path / "r.html", probe="best")
    page = (tmp_path / "r.html").read_text(encoding="utf-8")
    assert page.count("&asymp; chance (14.29)") == 1
    assert "savee: data 120 of 480 official clips" in page
    assert "savee: scored on devel (ComParE withholds the test labels)" in page
    assert note in page
