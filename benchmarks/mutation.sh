#!/usr/bin/env bash
# Mutation testing of the engine's core modules and the task readers, in one command:
#
#     bash benchmarks/mutation.sh                 # everything from scratch
#     bash benchmarks/mutation.sh --incremental   # after changing code or adding tests: keeps
#         the last run's results, tests the mutants of changed functions, then re-tests every
#         mutant not yet killed with the current tests (a killed mutant stays killed: fine while
#         tests are only added or strengthened)
#
# Installs mutmut (pinned, outside the project's dependencies) if missing, stages the code under
# build/mutation/ (git-ignored), runs mutmut there and writes benchmarks/MUTATION.md.
#
# Why a staging tree: the package is installed editable and setuptools maps `noss_eval.tasks`,
# `.embedders`, `.configs` to the top-level tasks/, embedders/, configs/ folders through its
# editable finder. mutmut copies the source folder into mutants/ and puts it first on sys.path;
# a copy of noss_eval/ alone would still import the task readers from the original tasks/,
# unmutated. The staging tree holds noss_eval/ with those three folders copied inside it, so
# sys.path's PathFinder (ahead of the editable finder in sys.meta_path) imports every module from
# mutants/. The script checks that after the run (see `check_staged_imports`).
#
# TensorFlow is not fork-safe once it has run ops: mutants are forked from mutmut's fork server
# (`process_isolation = "forkserver"`), which has only imported the tests, never run them.
#
# Environment: MUTMUT_MAX_CHILDREN (default 2) parallel mutant workers; NICE (default 10).
set -euo pipefail

MUTMUT_VERSION=3.8.1
ROOT=$(cd "$(dirname "$0")/.." && pwd)
STAGE="$ROOT/build/mutation"
MAX_CHILDREN=${MUTMUT_MAX_CHILDREN:-2}
NICE=${NICE:-10}
MODE=full
case "${1:-}" in
  "") ;;
  --incremental) MODE=incremental ;;
  *) echo "usage: bash benchmarks/mutation.sh [--incremental]" >&2; exit 2 ;;
esac

cd "$ROOT"
if [ -z "${VIRTUAL_ENV:-}" ] && [ -f .venv/bin/activate ]; then
  # shellcheck disable=SC1091
  . .venv/bin/activate
fi

if [ "$(python -c 'import importlib.metadata as m; print(m.version("mutmut"))' 2>/dev/null)" \
  != "$MUTMUT_VERSION" ]; then
  python -m pip install -q "mutmut==$MUTMUT_VERSION"
fi

# The modules mutated (paths inside the staging tree; the report maps them back to the repo).
MUTATE=(
  noss_eval/probes.py
  noss_eval/stats.py
  noss_eval/splits.py
  noss_eval/frontend.py
  noss_eval/layout.py
  noss_eval/tasks/voxceleb1.py
  noss_eval/tasks/crema_d.py
  noss_eval/tasks/speech_commands.py
  noss_eval/tasks/mask.py
  noss_eval/tasks/esc50_hs.py
  noss_eval/tasks/voxforge.py
  noss_eval/tasks/savee.py
  noss_eval/tasks/dementiabank.py
  noss_eval/cache.py
)
# Fast, relevant tests, plus every tests/test_pinned_*.py. Left out: the slow ones
# (@pytest.mark.slow), Beam/latency/engine tests.
TESTS=(
  test_stats.py test_probes.py test_protocols.py test_properties.py test_frontend.py
  test_cache.py test_tasks.py test_custom_task.py test_leaderboard.py test_tfds.py
)
# End-to-end runs of all eight tasks (~20 s together): every mutant of the probes would rerun
# them; the unit tests above and tests/test_pinned_*.py cover what they check, faster.
DESELECT=(
  "tests/test_tasks.py::test_all_eight_tasks_run_from_official_layouts"
)

# One run at a time: a second run would delete the first one's staging tree under it.
mkdir -p "$ROOT/build"
exec 9>"$ROOT/build/mutation.lock"
if ! flock -n 9; then
  echo "another benchmarks/mutation.sh is running (build/mutation.lock); not starting" >&2
  exit 1
fi

copy_tree() { # copy_tree SRC DST: a folder without caches
  mkdir -p "$2"
  (cd "$1" && find . -type f ! -path '*/__pycache__/*' ! -name '*.pyc' -print0) |
    (cd "$1" && xargs -0 cp --parents -t "$2")
}

stage_tests() { # copies the selected tests into the staging tree; sets SELECTED
  rm -rf "$STAGE/tests"
  mkdir -p "$STAGE/tests"
  cp tests/conftest.py tests/testlib.py tests/real_layouts.py "$STAGE/tests/"
  SELECTED=()
  local t
  for t in "${TESTS[@]}" $(cd tests && ls test_pinned_*.py 2>/dev/null); do
    cp "tests/$t" "$STAGE/tests/"
    SELECTED+=("tests/$t")
  done
}

toml_list() { # toml_list ITEM...: a TOML array of strings
  local out="" item
  for item in "$@"; do out+="\"${item//\"/\\\"}\", "; done
  echo "[${out%, }]"
}

write_config() { # write_config WITH_MUTMUT: the staged pyproject.toml
  cat >"$STAGE/pyproject.toml" <<EOF
[tool.pytest.ini_options]
addopts = "-ra --import-mode=importlib -p no:cacheprovider"
pythonpath = ["tests"]
markers = ["slow: builds wheels or runs the full real-audio pipeline"]
filterwarnings = [
  "ignore::DeprecationWarning",
  "ignore:pkg_resources is deprecated:UserWarning",
]
EOF
  [ "$1" = yes ] || return 0
  cat >>"$STAGE/pyproject.toml" <<EOF

[tool.mutmut]
source_paths = ["noss_eval"]
only_mutate = $(toml_list "${MUTATE[@]}")
pytest_add_cli_args_test_selection = $(toml_list "${SELECTED[@]}")
pytest_add_cli_args = $(toml_list -m "not slow" "${DESELECT_ARGS[@]}")
use_git_change_detection = false
process_isolation = "forkserver"
forkserver_warmup = "collect"
timeout_multiplier = 3.0
timeout_constant = 5.0
EOF
}

DESELECT_ARGS=()
for d in "${DESELECT[@]}"; do DESELECT_ARGS+=(--deselect "$d"); done

stage_sources() {
  rm -rf "$STAGE/noss_eval"
  copy_tree noss_eval "$STAGE/noss_eval"
  for pkg in tasks embedders configs; do
    rm -rf "${STAGE:?}/noss_eval/$pkg"
    copy_tree "$pkg" "$STAGE/noss_eval/$pkg"
  done
  git -C "$ROOT" log -1 --format='%h %cd' --date=iso >"$STAGE/snapshot.txt" 2>/dev/null || true
  git -C "$ROOT" status --porcelain -- noss_eval tasks | sed 's/^/  /' >>"$STAGE/snapshot.txt" || true
}

if [ "$MODE" = full ]; then
  echo "== staging into $STAGE"
  rm -rf "$STAGE"
  stage_sources
  stage_tests
  write_config no
  cd "$STAGE"
  echo "== baseline test run (tests failing before any mutation are deselected and reported)"
  set +e
  nice -n "$NICE" python -m pytest -q -m "not slow" "${DESELECT_ARGS[@]}" \
    --junitxml=baseline.xml "${SELECTED[@]}" >baseline.log 2>&1
  set -e
  tail -n 1 baseline.log
  python - >baseline-failures.txt <<'EOF'
import xml.etree.ElementTree as ET

for case in ET.parse("baseline.xml").iter("testcase"):
    if case.find("failure") is not None or case.find("error") is not None:
        path = case.get("classname").replace(".", "/") + ".py"
        print(f"{path}::{case.get('name')}")
EOF
else
  [ -d "$STAGE/mutants" ] || { echo "no previous run in $STAGE: run without --incremental" >&2; exit 1; }
  echo "== re-staging sources and tests into $STAGE (previous results kept)"
  stage_sources
  stage_tests
  cd "$STAGE"
fi
mapfile -t BROKEN <baseline-failures.txt
for d in "${BROKEN[@]}"; do [ -n "$d" ] && DESELECT_ARGS+=(--deselect "$d"); done
write_config yes

check_staged_imports() {
  # The staged copy, not the editable install, must be what the tests import.
  python - <<'EOF'
import sys
from pathlib import Path

sys.path.insert(0, str(Path("mutants").resolve()))
import noss_eval.cache, noss_eval.probes, noss_eval.tasks.voxforge  # noqa: E401

for mod in (noss_eval.probes, noss_eval.tasks.voxforge, noss_eval.cache):
    where = Path(mod.__file__).resolve()
    assert Path("mutants").resolve() in where.parents, f"{mod.__name__} imported from {where}"
    print(f"   {mod.__name__} <- {where}")
EOF
}

run_mutmut() { # run_mutmut [MUTANT...]
  set +e
  nice -n "$NICE" mutmut run --max-children "$MAX_CHILDREN" "$@" >>mutmut.log 2>&1
  local rc=$?
  set -e
  tr '\r' '\n' <mutmut.log | grep -v -E '^\s*([⠋⠙⠹⠸⠼⠴⠦⠧⠇⠏]|also copying)' | tail -n 4
  if [ "$rc" -ne 0 ]; then
    echo "mutmut failed (exit $rc): see $STAGE/mutmut.log" >&2
    exit "$rc"
  fi
}

unkilled() { # the names of the mutants not killed so far
  python - <<'EOF'
import json
from pathlib import Path

for meta in sorted(Path("mutants").rglob("*.py.meta")):
    for name, code in json.loads(meta.read_text())["exit_code_by_key"].items():
        if code not in (1, 3):
            print(name)
EOF
}

echo "== mutmut $MUTMUT_VERSION run (max children $MAX_CHILDREN)"
: >mutmut.log
START=$(date +%s)
run_mutmut
if [ "$MODE" = incremental ]; then
  mapfile -t NAMES < <(unkilled)
  echo "== re-testing ${#NAMES[@]} mutants not killed so far, with the current tests"
  [ "${#NAMES[@]}" -eq 0 ] || run_mutmut "${NAMES[@]}"
fi
END=$(date +%s)
echo $((END - START)) >"$MODE-run-seconds"
check_staged_imports
cd "$ROOT"
python benchmarks/mutation_report.py --stage "$STAGE" --mode "$MODE" \
  --max-children "$MAX_CHILDREN" --mutmut-version "$MUTMUT_VERSION" --out benchmarks/MUTATION.md
echo "== wrote benchmarks/MUTATION.md"
