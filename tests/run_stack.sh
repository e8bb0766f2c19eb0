#!/usr/bin/env bash
# The whole suite on an older stack, as a host of the guide's era has it: `bash tests/run_stack.sh STACK`
# with STACK one of tests/stacks/*.txt (guide: Python 3.7 + torch 1.6.0; modelzoo: the ModelZoo README's
# pins and every other floor of requirements-host.txt). In .venv-STACK (kept while its inputs stay the same):
#   1. the stack's own packages, as the host holds them before this project;
#   2. python -m pip install -r requirements-host.txt -c <the host's freeze>: the README's command for a
#      host whose packages must not move; a package of the stack that changes fails the set-up;
#   3. the test tools (pytest, hypothesis, openvino) under the same freeze;
# then pytest on the whole suite (extra arguments go to pytest) and, for the guide's stack,
# run_infer.sh end to end on a small demo (every step, int8 calibration in the perf step, fp32 and int8).
# The interpreter: $PY37 when set, else the newest 3.7 under pyenv, else python3.7 from the PATH.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
stack="${1:?usage: bash tests/run_stack.sh STACK [pytest args] (STACK: $(cd "$root/tests/stacks" && ls *.txt | sed 's/\.txt$//' | tr '\n' ' '))}"
shift
stack_file="$root/tests/stacks/$stack.txt"
[[ -f "$stack_file" ]] || { echo "error: $stack_file: no such stack" >&2; exit 2; }
TEST_PACKAGES=(pytest hypothesis openvino)  # openvino: the runner's second backend, which the tests exercise

find_python37() {
    if [[ -n "${PY37:-}" ]]; then
        echo "$PY37"
        return 0
    fi
    local roots=() root found
    if command -v pyenv >/dev/null 2>&1; then
        roots+=("$(pyenv root)")
    fi
    roots+=("${PYENV_ROOT:-}" "$HOME/.pyenv")
    for root in "${roots[@]}"; do
        [[ -n "$root" ]] || continue
        found="$(ls -d "$root"/versions/3.7*/bin/python 2>/dev/null | sort -V | tail -n 1)"
        if [[ -n "$found" ]]; then
            echo "$found"
            return 0
        fi
    done
    command -v python3.7
}

base="$(find_python37)" || {
    echo "error: no Python 3.7 found (looked for \$PY37, pyenv's versions/3.7*, python3.7 on the PATH); install one with 'pyenv install 3.7'" >&2
    exit 1
}
[[ "$("$base" -c 'import sys; print("%d.%d" % sys.version_info[:2])')" == "3.7" ]] || {
    echo "error: $base is not Python 3.7" >&2
    exit 1
}

venv="$root/.venv-$stack"
stamp="$venv/.stack.sha256"
want="$(cat "$stack_file" "$root/requirements-host.txt" "${BASH_SOURCE[0]}" <(echo "$base ${TEST_PACKAGES[*]}") | sha256sum | cut -d' ' -f1)"
py="$venv/bin/python"
pip() { "$py" -m pip --disable-pip-version-check "$@"; }
if [[ ! -x "$py" || ! -f "$stamp" || "$(cat "$stamp")" != "$want" ]]; then
    echo "set-up: $stack stack in $venv (first run takes a few minutes)" >&2
    rm -rf "$venv"
    "$base" -m venv "$venv"
    pip install --quiet -r "$stack_file" >&2
    held="$venv/.host-freeze.txt"
    pip freeze > "$held"
    pip install --quiet -r "$root/requirements-host.txt" -c "$held" >&2 || {
        echo "set-up: requirements-host.txt cannot be installed beside the $stack stack without changing it (above)" >&2
        exit 1
    }
    pip install --quiet -c "$held" "${TEST_PACKAGES[@]}" >&2
    changed="$(grep -vxFf <(pip freeze) "$held" | tr '\n' ' ' || true)"
    [[ -z "$changed" ]] || { echo "set-up: the $stack stack changed: $changed" >&2; exit 1; }
    echo "$want" > "$stamp"
fi

echo "$stack stack: Python $("$py" -c 'import sys; print(sys.version.split()[0])') ($base) with" \
     "$(pip list --format=freeze 2>/dev/null |
        grep -iE '^(torch|torchvision|pretrainedmodels|numpy|pillow|onnx|onnxruntime|nncf|openvino|opencv-python|opencv-python-headless|protobuf|scipy|tqdm|matplotlib|pytest|hypothesis)==' | tr '\n' ' ')"
cd "$root"
"$py" -m pytest tests "$@"
if [[ "$stack" == guide && $# -eq 0 ]]; then
    work="$(mktemp -d)"
    trap 'rm -rf "$work"' EXIT
    e2e=(--offline --demo-images 64 --perf-batch-sizes 1,8 --perf-loop 3 --perf-precisions fp32,int8 --work-dir "$work")
    echo "run_infer.sh on the $stack stack: ${e2e[*]}"
    PYTHON="$py" bash run_infer.sh "${e2e[@]}"
fi
