"""Write benchmarks/MUTATION.md from a finished mutmut run in the staging tree.

Called by `benchmarks/mutation.sh`; reads `<stage>/mutants/**/*.meta` (mutmut's per-file
results) and each survivor's diff, maps the staged paths back to the repository's
(`noss_eval/tasks/x.py` is `tasks/x.py`), and lists every survivor: those judged harmless in
`benchmarks/mutation_harmless.py` with their reason, and the rest as open.
"""

from __future__ import annotations

import argparse
import contextlib
import datetime
import os
import sys
from collections import Counter
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from mutation_harmless import HARMLESS, UNKILLABLE  # noqa: E402

STATUS = {1: "killed", 3: "killed", 0: "survived", 36: "timeout", -24: "timeout", 24: "timeout"}
STATUS.update({152: "timeout", 255: "timeout"})
MAPPED = {"noss_eval/tasks/": "tasks/", "noss_eval/embedders/": "embedders/"}


def repo_path(staged: str) -> str:
    for prefix, target in MAPPED.items():
        if staged.startswith(prefix):
            return target + staged[len(prefix) :]
    return staged


def status_of(code: int | None) -> str:
    if code is None:
        return "not checked"
    return STATUS.get(code, {33: "no tests", 5: "no tests", 34: "skipped"}.get(code, "other"))


def changed_lines(diff: str) -> tuple[str, str]:
    """The removed and added lines of a mutant's diff, stripped and joined."""
    minus = [ln[1:].strip() for ln in diff.splitlines() if ln.startswith("-")]
    plus = [ln[1:].strip() for ln in diff.splitlines() if ln.startswith("+")]
    minus = [ln for ln in minus if not ln.startswith("--")]
    plus = [ln for ln in plus if not ln.startswith("++")]
    return " / ".join(minus), " / ".join(plus)


def function_of(mutant: str) -> str:
    name = mutant.rsplit(".", 1)[-1].rsplit("__mutmut_", 1)[0]
    name = name.replace("ǁ", ".").strip(".")
    return name[2:] if name.startswith("x_") else name.removeprefix("x.")


def load(stage: Path) -> dict[str, dict[str, int | None]]:
    results = {}
    for meta in sorted((stage / "mutants").rglob("*.py.meta")):
        import json

        staged = meta.relative_to(stage / "mutants").as_posix()[: -len(".meta")]
        codes = json.loads(meta.read_text())["exit_code_by_key"]
        if codes:
            results[staged] = codes
    return results


def diffs_for(stage: Path, names: list[tuple[str, str]]) -> dict[str, str]:
    from mutmut.mutation.diff_apply import get_diff_for_mutant

    out = {}
    with contextlib.chdir(stage):
        for staged, name in names:
            try:
                out[name] = get_diff_for_mutant(name, path=staged)
            except Exception as exc:  # a diff we cannot read is reported, not fatal
                out[name] = f"(no diff: {type(exc).__name__}: {exc})"
    return out


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--stage", type=Path, required=True)
    ap.add_argument("--out", type=Path, required=True)
    ap.add_argument("--mode", choices=("full", "incremental"), default="full")
    ap.add_argument("--seconds", type=int, default=None, help="the full run's wall time")
    ap.add_argument("--max-children", type=int, default=0)
    ap.add_argument("--mutmut-version", default="")
    args = ap.parse_args()
    stage = args.stage.resolve()
    results = load(stage)
    others = [
        (staged, name, code)
        for staged, codes in results.items()
        for name, code in codes.items()
        if status_of(code) != "killed"
    ]
    diffs = diffs_for(stage, [(s, n) for s, n, _ in others])

    harmless, open_survivors, unkilled, unkillable = [], [], [], []
    used = set()
    for staged, name, code in others:
        status = status_of(code)
        minus, plus = changed_lines(diffs[name])
        key = (repo_path(staged), minus, plus)
        reason = HARMLESS.get(key)
        row = (repo_path(staged), function_of(name), name, minus, plus, reason)
        if status == "survived" and reason:
            harmless.append(row)
            used.add(key)
        elif status == "survived" and key in UNKILLABLE:
            unkillable.append((*row[:5], UNKILLABLE[key]))
        elif status == "survived":
            open_survivors.append(row)
        else:
            unkilled.append((*row[:5], status))

    full_s = args.seconds if args.seconds is not None else seconds(stage, "full")
    rerun_s = seconds(stage, "incremental") if args.mode == "incremental" else None
    lines = ["# Mutation testing", ""]
    lines += [
        f"- Tool: mutmut {args.mutmut_version} (pinned by `benchmarks/mutation.sh`, not a "
        "project dependency)",
        "- Command: `bash benchmarks/mutation.sh` (stages the code under `build/mutation/`, runs "
        f"`mutmut run --max-children {args.max_children}` there, writes this file through "
        "`benchmarks/mutation_report.py`)"
        + (
            "; these numbers: a full run, then `bash benchmarks/mutation.sh --incremental`, "
            "which tests the mutants of functions changed since and re-tests every mutant not "
            "yet killed with the current tests (tests were only added or strengthened in "
            "between, so a killed mutant stays killed)"
            if args.mode == "incremental"
            else ""
        ),
        f"- Date: {datetime.date.today().isoformat()}",
        f"- Wall time of the full mutation run: {duration(full_s)}"
        + (f"; of the incremental run: {duration(rerun_s)}" if rerun_s is not None else "")
        + f" ({args.max_children} workers, `nice -n 10`, on a shared 2-core machine)",
        f"- Python {sys.version.split()[0]}, {os.cpu_count()} CPUs",
        f"- Sources mutated: as staged from commit {snapshot(stage)}",
        "",
        "Test selection: " + ", ".join(f"`{t}`" for t in selected_tests(stage)) + ".",
        "",
        "Deselected: " + (", ".join(f"`{t}`" for t in deselected(stage)) or "none") + ".",
        "Tests failing before any mutation (deselected by the script, listed here so they are "
        "not hidden): " + (", ".join(f"`{t}`" for t in baseline_failures(stage)) or "none") + ".",
        "",
        "Staging: `noss_eval/tasks/` in the staged tree is the repository's `tasks/` (mapped "
        "back below); the script checks after the run that `noss_eval.tasks.*`, "
        "`noss_eval.probes` and `noss_eval.cache` import from `build/mutation/mutants/`, not "
        "from the editable install.",
        "",
        "Kill rate = killed / total. A timeout (the mutant made a test run past mutmut's limit) "
        "also counts as detected in the `detected` column. `other` = no covering test, "
        "suspicious, segfault or not checked.",
        "",
        "| module | killed | survived | timeout | other | total | kill rate | detected |",
        "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    total = Counter()
    for staged, codes in results.items():
        c = Counter(status_of(code) for code in codes.values())
        other = sum(v for k, v in c.items() if k not in ("killed", "survived", "timeout"))
        n = sum(c.values())
        row = Counter(
            killed=c["killed"], survived=c["survived"], timeout=c["timeout"], other=other, n=n
        )
        total.update(row)
        lines.append(table_row(repo_path(staged), row))
    lines.append(table_row("**overall**", total))
    rate = total["killed"] / max(1, total["n"])
    unchecked = sum(1 for *_, st in unkilled if st == "not checked")
    lines += [
        "",
        *(
            [
                f"**Incomplete run: {unchecked} mutants not checked** (the run was stopped "
                "before it reached them); they count as not killed below.",
                "",
            ]
            if unchecked
            else []
        ),
        f"Overall kill rate: **{rate:.1%}** ({total['killed']} of {total['n']}); target 90 %: "
        + ("reached." if rate >= 0.9 else "**not reached**."),
        f"Survivors judged harmless: {len(harmless)}; relevant but not killable here: "
        f"{len(unkillable)}; open (not judged harmless): {len(open_survivors)}.",
        "",
        "## Surviving mutants judged harmless (equivalent or irrelevant)",
        "",
        "Reasons live in `benchmarks/mutation_harmless.py`, keyed by file and the changed line, "
        "so they survive renumbering.",
        "",
    ]
    lines += survivor_rows(harmless, with_reason=True)
    lines += ["", "## Surviving mutants that matter but cannot be killed on this machine", ""]
    lines += survivor_rows(unkillable, with_reason=True) or ["None."]
    lines += ["", "## Surviving mutants not judged harmless (open)", ""]
    lines += survivor_rows(open_survivors, with_reason=False) or ["None."]
    lines += ["", "## Timeouts and others", ""]
    lines += [
        f"- `{name}` ({path}, `{func}`) {status}: `{m}` -> `{p}`"
        for path, func, name, m, p, status in unkilled
    ] or ["None."]
    stale = sorted(set(HARMLESS) - used)
    if stale:
        lines += ["", f"({len(stale)} harmless-list entries matched no survivor this run.)"]
    args.out.write_text("\n".join(lines) + "\n", encoding="utf-8")
    print(f"kill rate {rate:.1%}; {len(open_survivors)} open survivors", file=sys.stderr)


def snapshot(stage: Path) -> str:
    path = stage / "snapshot.txt"
    if not path.exists():
        return "(unknown)"
    head, *dirty = path.read_text().splitlines()
    return f"`{head}`" + (
        "; files then modified in the work tree: " + ", ".join(f"`{d.strip()}`" for d in dirty)
        if dirty
        else ""
    )


def seconds(stage: Path, mode: str) -> int | None:
    path = stage / f"{mode}-run-seconds"
    return int(path.read_text()) if path.exists() else None


def duration(s: int | None) -> str:
    return "unknown" if s is None else f"{s // 60} min {s % 60} s"


def table_row(name: str, c: Counter) -> str:
    n = max(1, c["n"])
    return (
        f"| {name} | {c['killed']} | {c['survived']} | {c['timeout']} | {c['other']} | {c['n']} "
        f"| {c['killed'] / n:.1%} | {(c['killed'] + c['timeout']) / n:.1%} |"
    )


def survivor_rows(rows: list, with_reason: bool) -> list[str]:
    out = []
    for path, func, name, minus, plus, reason in rows:
        line = f"- `{path}` `{func}` (`{name.rsplit('__', 1)[-1]}`): `{minus}` -> `{plus}`"
        out.append(line + (f" — {reason}" if with_reason else ""))
    return out


def _mutmut_config(stage: Path) -> dict:
    import tomllib

    return tomllib.loads((stage / "pyproject.toml").read_text())["tool"]["mutmut"]


def selected_tests(stage: Path) -> list[str]:
    return _mutmut_config(stage)["pytest_add_cli_args_test_selection"]


def deselected(stage: Path) -> list[str]:
    extra = _mutmut_config(stage)["pytest_add_cli_args"]
    return [extra[i + 1] for i, a in enumerate(extra) if a == "--deselect"]


def baseline_failures(stage: Path) -> list[str]:
    path = stage / "baseline-failures.txt"
    return [ln for ln in path.read_text().splitlines() if ln.strip()] if path.exists() else []


if __name__ == "__main__":
    main()
