#!/usr/bin/env bash
# The SE_ResNet50 inference guide end to end. Step 1 (set-up) is here: it creates .venv from
# requirements.txt when needed (or uses $PYTHON); the other steps run in senet_infer/driver/main.py.
# `bash run_infer.sh --help` lists the options.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
source "$root/scripts/python_env.sh"

started=$SECONDS
echo "[1/11] set-up: reads requirements.txt, writes .venv (or uses \$PYTHON)"
py="$(project_python "$root")" || { echo "step set-up failed" >&2; exit 1; }
echo "[1/11] set-up done in $((SECONDS - started)) s: $py"

export PYTHONPATH="$root${PYTHONPATH:+:$PYTHONPATH}"
exec "$py" -m senet_infer.driver.main "$@"
