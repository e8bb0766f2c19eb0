#!/usr/bin/env bash
# The test command: sets up .venv (or uses $PYTHON) and runs the suite with pytest. Extra arguments go to
# pytest: `bash tests/run.sh -k metric`; a file or test named among them runs alone
# (`bash tests/run.sh tests/test_metric.py`), otherwise the whole suite runs.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
source "$root/scripts/python_env.sh"
py="$(project_python "$root")"
cd "$root"
targets=(tests)
for arg in "$@"; do
    if [[ "$arg" != -* && -e "${arg%%::*}" ]]; then
        targets=()  # the caller named what to run
        break
    fi
done
exec "$py" -m pytest "${targets[@]}" "$@"
