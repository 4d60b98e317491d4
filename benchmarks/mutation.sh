#!/usr/bin/env bash
# Mutation testing of the engine's core modules and the task readers, in one command:
#
#     bash benchmarks/mutation.sh
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
# mutants/. The script checks that before the run (see `check_staged_imports`).
#
# Environment: MUTMUT_MAX_CHILDREN (default 2) parallel mutant workers; NICE (default 10).
set -euo pipefail

MUTMUT_VERSION=3.8.1
ROOT=$(cd "$(dirname "$0")/.." && pwd)
STAGE="$ROOT/build/mutation"
MAX_CHILDREN=${MUTMUT_MAX_CHILDREN:-2}
NICE=${NICE:-10}

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
# Fast, relevant tests. Left out: the slow ones (@pytest.mark.slow), Beam/latency/engine tests.
TESTS=(
  test_stats.py test_probes.py test_protocols.py test_properties.py test_frontend.py
  test_cache.py test_tasks.py test_custom_task.py test_leaderboard.py test_tfds.py
)
# End-to-end runs of all eight tasks (~20 s together): every mutant of the probes would rerun
# them; the unit tests above and tests/test_pinned_*.py cover what they check, faster.
DESELECT=(
  "tests/test_tasks.py::test_all_eight_tasks_run_from_official_layouts"
)

echo "== staging into $STAGE"
rm -rf "$STAGE"
mkdir -p "$STAGE/tests"
copy_tree() { # copy_tree SRC DST: a folder without caches
  mkdir -p "$2"
  (cd "$1" && find . -type f ! -path '*/__pycache__/*' ! -name '*.pyc' -print0) |
    (cd "$1" && xargs -0 cp --parents -t "$2")
}
copy_tree noss_eval "$STAGE/noss_eval"
for pkg in tasks embedders configs; do
  rm -rf "${STAGE:?}/noss_eval/$pkg"
  copy_tree "$pkg" "$STAGE/noss_eval/$pkg"
done
cp tests/conftest.py tests/testlib.py tests/real_layouts.py "$STAGE/tests/"
SELECTED=()
for t in "${TESTS[@]}" $(cd tests && ls test_pinned_*.py 2>/dev/null); do
  cp "tests/$t" "$STAGE/tests/"
  SELECTED+=("tests/$t")
done

cd "$STAGE"
cat >pyproject.toml <<EOF
[tool.pytest.ini_options]
addopts = "-ra --import-mode=importlib -p no:cacheprovider"
pythonpath = ["tests"]
markers = ["slow: builds wheels or runs the full real-audio pipeline"]
filterwarnings = [
  "ignore::DeprecationWarning",
  "ignore:pkg_resources is deprecated:UserWarning",
]
EOF
echo "== baseline test run (tests failing before any mutation are deselected and reported)"
DESELECT_ARGS=()
for d in "${DESELECT[@]}"; do DESELECT_ARGS+=(--deselect "$d"); done
set +e
nice -n "$NICE" python -m pytest -q -p no:cacheprovider -m "not slow" "${DESELECT_ARGS[@]}" \
  --junitxml=baseline.xml "${SELECTED[@]}" >baseline.log 2>&1
set -e
tail -n 3 baseline.log
mapfile -t BROKEN < <(python - <<'EOF'
import xml.etree.ElementTree as ET

for case in ET.parse("baseline.xml").iter("testcase"):
    if case.find("failure") is not None or case.find("error") is not None:
        path = case.get("classname").replace(".", "/") + ".py"
        print(f"{path}::{case.get('name')}")
EOF
)
printf '%s\n' "${BROKEN[@]}" >baseline-failures.txt
for d in "${BROKEN[@]}"; do [ -n "$d" ] && DESELECT_ARGS+=(--deselect "$d"); done

toml_list() { # toml_list ITEM...: a TOML array of strings
  local out="" item
  for item in "$@"; do out+="\"${item//\"/\\\"}\", "; done
  echo "[${out%, }]"
}
cat >>pyproject.toml <<EOF

[tool.mutmut]
source_paths = ["noss_eval"]
only_mutate = $(toml_list "${MUTATE[@]}")
pytest_add_cli_args_test_selection = $(toml_list "${SELECTED[@]}")
pytest_add_cli_args = $(toml_list -m "not slow" "${DESELECT_ARGS[@]}")
use_git_change_detection = false
timeout_multiplier = 5.0
timeout_constant = 10.0
EOF

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

echo "== mutmut $MUTMUT_VERSION run (max children $MAX_CHILDREN)"
START=$(date +%s)
nice -n "$NICE" mutmut run --max-children "$MAX_CHILDREN" 2>&1 | tr '\r' '\n' |
  grep -v -E '^\s*[⠋⠙⠹⠸⠼⠴⠦⠧⠇⠏]' | tail -n 25
END=$(date +%s)
check_staged_imports
cd "$ROOT"
python benchmarks/mutation_report.py --stage "$STAGE" --seconds $((END - START)) \
  --max-children "$MAX_CHILDREN" --mutmut-version "$MUTMUT_VERSION" --out benchmarks/MUTATION.md
echo "== wrote benchmarks/MUTATION.md"
