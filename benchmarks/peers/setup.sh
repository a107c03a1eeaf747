#!/usr/bin/env bash
# Create one private venv per peer under benchmarks/.venvs/<peer>.
# Peers pin conflicting dependencies (e.g. SQLAlchemy, pydantic), so they never
# share an interpreter with each other or with modelplane.
# Usage: peers/setup.sh [peer ...]   (default: zenml mlflow)
# Exit status: number of peers whose venv could not be created (0 = all good).
set -u
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
VENVS="$(dirname "$HERE")/.venvs"
PY="${PYTHON:-python3}"
mkdir -p "$VENVS"
peers=("$@")
[ ${#peers[@]} -eq 0 ] && peers=(zenml mlflow)
failed=0
# pip on this machine warns about a missing local index for every package; drop that noise.
quiet_pip() {
    "$@" 2> >(grep -v "is ignored: it is neither a file nor a directory" >&2)
}
for peer in "${peers[@]}"; do
    venv="$VENVS/$peer"
    req="$HERE/requirements-$peer.txt"
    stamp="$venv/.installed"
    # The stamp records which requirements were installed; reinstall if they changed.
    if [ -f "$stamp" ] && cmp -s "$stamp" "$req"; then
        echo "[setup] $peer: venv ready ($venv)"
        continue
    fi
    echo "[setup] $peer: creating venv and installing $(tr '\n' ' ' < "$req")(takes minutes)"
    rm -rf "$venv"
    if "$PY" -m venv "$venv" \
        && quiet_pip "$venv/bin/python" -m pip install --quiet --disable-pip-version-check --upgrade pip \
        && quiet_pip "$venv/bin/python" -m pip install --quiet --disable-pip-version-check -r "$req"; then
        cp "$req" "$stamp"
        echo "[setup] $peer: installed"
    else
        echo "[setup] $peer: INSTALL FAILED; this peer will be skipped" >&2
        failed=$((failed + 1))
    fi
done
exit "$failed"
