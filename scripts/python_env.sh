# Sourced by run_infer.sh and tests/run.sh: pick the Python interpreter and make sure it has the
# project's packages. $PYTHON wins when set (used as is); otherwise ./.venv is created from
# requirements.txt, and reinstalled when requirements.txt changes.

project_python() {
    local root="$1"
    if [[ -n "${PYTHON:-}" ]]; then
        echo "$PYTHON"
        return 0
    fi
    local venv="$root/.venv"
    local stamp="$venv/.requirements.sha256"
    local want
    want="$(sha256sum "$root/requirements.txt" | cut -d' ' -f1)"
    if [[ -x "$venv/bin/python" && -f "$stamp" && "$(cat "$stamp")" == "$want" ]]; then
        echo "$venv/bin/python"
        return 0
    fi
    local base="${BASE_PYTHON:-python3}"
    echo "set-up: installing requirements.txt into $venv (first run takes a few minutes)" >&2
    "$base" -m venv "$venv" >&2 || return 1
    "$venv/bin/python" -m pip install --quiet --disable-pip-version-check -r "$root/requirements.txt" >&2 || {
        echo "set-up: pip install -r requirements.txt failed" >&2
        return 1
    }
    echo "$want" > "$stamp"
    echo "$venv/bin/python"
}
