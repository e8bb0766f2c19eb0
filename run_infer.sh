#!/usr/bin/env bash
# The SE_ResNet50 inference guide end to end. Its first step, set-up, is here: it creates .venv from
# requirements.txt when needed (or uses $PYTHON); the other steps run in senet_infer/driver/main.py, which
# numbers and prints this one with them (the steps table, senet_infer/driver/steps.py, says how many there are).
# `bash run_infer.sh --help` lists the options.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
source "$root/scripts/python_env.sh"

started=$SECONDS
py="$(project_python "$root")" || { echo "step set-up failed" >&2; exit 1; }

export PYTHONPATH="$root${PYTHONPATH:+:$PYTHONPATH}"
exec "$py" -m senet_infer.driver.main --set-up-seconds "$((SECONDS - started))" --set-up-python "$py" "$@"
