#!/usr/bin/env bash
# The test command: sets up .venv (or uses $PYTHON) and runs the whole suite with pytest.
# Extra arguments go to pytest, e.g. `bash tests/run.sh -k metric`.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
source "$root/scripts/python_env.sh"
py="$(project_python "$root")"
cd "$root"
exec "$py" -m pytest tests "$@"
