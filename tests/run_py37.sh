#!/usr/bin/env bash
# The torch-free tests under Python 3.7, the oldest Python the project supports: a venv (.venv-py37,
# kept while its requirements stay the same) with the newest releases pip resolves for 3.7 from
# requirements-host.txt, less the step-2 packages (torch, torchvision, pretrainedmodels), plus the
# test tools; then `pytest --without-torch`. Extra arguments go to pytest.
# The interpreter: $PY37 when set, else the newest 3.7 under pyenv, else python3.7 from the PATH.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
source "$root/scripts/python_env.sh"

TORCH_PACKAGES="torch|torchvision|pretrainedmodels"
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

requirements="$(mktemp)"
trap 'rm -f "$requirements"' EXIT
grep -vE "^($TORCH_PACKAGES)([^A-Za-z0-9_.-]|$)" "$root/requirements-host.txt" > "$requirements"
printf '%s\n' "${TEST_PACKAGES[@]}" "# interpreter: $base" >> "$requirements"  # the venv's key: all of this file
py="$(ensure_venv "$root/.venv-py37" "$base" "$requirements" --upgrade)"

echo "Python 3.7 run: $("$py" -c 'import sys; print(sys.version.split()[0])') ($base) with" \
     "$("$py" -m pip list --disable-pip-version-check --format=freeze 2>/dev/null |
        grep -iE '^(numpy|pillow|onnx|onnxruntime|openvino|opencv-python-headless|tqdm|matplotlib|pytest|hypothesis)==' | tr '\n' ' ')"
cd "$root"
exec "$py" -m pytest tests --without-torch "$@"
