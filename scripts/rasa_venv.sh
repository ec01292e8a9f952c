#!/usr/bin/env bash
# Build the Python 3.10 virtualenv with Rasa Open Source (the Rasa server for the tests and for
# running a Rasa assistant beside the bot). Rasa 3.6 needs Python < 3.11, the bot needs 3.11,
# so Rasa lives in its own venv and the bot talks to it over HTTP (README «Use with Rasa»).
#
# Usage: bash scripts/rasa_venv.sh [.venv-rasa]   (or --python: print the Python 3.10 it would use)
# Exit codes: 0 ready (built now or already there), 3 no Python 3.10 on this machine (say so
# and skip), anything else: the install failed. Idempotent: a finished venv has a stamp file
# naming the Rasa version; an unfinished one (no stamp) is removed and built again.
# RASA_PYTHON=/path/to/python3.10 picks the interpreter. Telemetry stays off.
set -euo pipefail
if [ "${1:-}" = "--python" ]; then
  MODE=python
  shift
else
  MODE=build
fi
VENV=${1:-${RASA_VENV:-.venv-rasa}}
RASA_VERSION=3.6.21
STAMP="$VENV/.rasa-$RASA_VERSION"
export RASA_TELEMETRY_ENABLED=false PIP_DISABLE_PIP_VERSION_CHECK=1

find_python() {
  local candidate
  for candidate in "${RASA_PYTHON:-}" python3.10 \
    /root/.pyenv/versions/3.10.*/bin/python3.10 "${HOME:-/root}"/.pyenv/versions/3.10.*/bin/python3.10 \
    /usr/local/bin/python3.10 /usr/bin/python3.10; do
    [ -n "$candidate" ] || continue
    if command -v "$candidate" >/dev/null 2>&1 &&
      "$candidate" -c 'import sys, venv, ensurepip; sys.exit(sys.version_info[:2] != (3, 10))' \
        2>/dev/null; then
      command -v "$candidate"
      return 0
    fi
  done
  return 1
}

if [ "$MODE" = python ]; then
  find_python || exit 3
  exit 0
fi
if [ -f "$STAMP" ] && [ -x "$VENV/bin/python" ]; then
  exit 0
fi
if ! PYTHON=$(find_python); then
  echo "rasa venv: no Python 3.10 here (Rasa Open Source $RASA_VERSION needs Python < 3.11)" >&2
  exit 3
fi

mkdir -p "$(dirname "$VENV")"
exec 9>"$VENV.lock"
flock 9  # a second caller waits for the first build instead of racing it
if [ -f "$STAMP" ] && [ -x "$VENV/bin/python" ]; then
  exit 0
fi
started=$(date +%s)
rm -rf "$VENV"
echo "== building $VENV with $PYTHON: rasa==$RASA_VERSION (about 2 minutes and 2.7 GB)"
"$PYTHON" -m venv "$VENV"
quiet_pip() {  # pip's own warnings about this machine's extra index folders are noise here
  "$VENV/bin/python" -m pip install --quiet "$@" 2> >(grep -v '^WARNING: Location' >&2)
}
quiet_pip --upgrade pip
quiet_pip "rasa==$RASA_VERSION"
"$VENV/bin/python" -m rasa --version >/dev/null
touch "$STAMP"
echo "== $VENV ready in $(($(date +%s) - started)) s"
