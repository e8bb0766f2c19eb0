# Sourced by run_infer.sh and tests/run.sh: pick the Python interpreter and make
# sure it has the project's packages. $PYTHON wins when set (used as is); otherwise ./.venv is
# created from requirements.txt, and reinstalled when requirements.txt changes.

# ensure_venv VENV BASE_PYTHON REQUIREMENTS [PIP_OPTION...]: print VENV's python, after creating VENV
# with BASE_PYTHON and installing REQUIREMENTS into it when the file's hash differs from the last install.
ensure_venv() {
    local venv="$1" base="$2" requirements="$3"
    shift 3
    local stamp="$venv/.requirements.sha256"
    local want
    want="$(sha256sum "$requirements" | cut -d' ' -f1)"
    if [[ -x "$venv/bin/python" && -f "$stamp" && "$(cat "$stamp")" == "$want" ]]; then
        echo "$venv/bin/python"
        return 0
    fi
    echo "set-up: installing $(basename "$requirements") into $venv (first run takes a few minutes)" >&2
    rm -f "$stamp"
    "$base" -m venv "$venv" >&2 || return 1
    "$venv/bin/python" -m pip install --quiet --disable-pip-version-check "$@" -r "$requirements" >&2 || {
        echo "set-up: pip install -r $requirements failed" >&2
        return 1
    }
    echo "$want" > "$stamp"
    echo "$venv/bin/python"
}

project_python() {
    local root="$1"
    if [[ -n "${PYTHON:-}" ]]; then
        echo "$PYTHON"
        return 0
    fi
    ensure_venv "$root/.venv" "${BASE_PYTHON:-python3}" "$root/requirements.txt"
}
