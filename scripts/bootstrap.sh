#!/usr/bin/env bash
# Install everything the bot needs on a fresh Debian/Ubuntu machine (run as root) or on a
# developer machine that already has Python 3.11: system packages (scripts/apt-packages.txt),
# then a virtualenv with the project, then the speech models (scripts/prepare_models.py).
# Idempotent: skips what is already there. Usage: bash scripts/bootstrap.sh [.venv]
set -euo pipefail
VENV=${1:-.venv}
APT_PACKAGES=(python3 python3-venv python3-dev build-essential)

need_apt=()
pick_python() {
  for candidate in python3.11 python3.12 python3; do
    if command -v "$candidate" >/dev/null 2>&1 &&
      "$candidate" -c 'import sys, venv, ensurepip; sys.exit(not ((3, 11) <= sys.version_info[:2] < (3, 13)))' 2>/dev/null; then
      echo "$candidate"
      return 0
    fi
  done
  return 1
}

if ! PYTHON=$(pick_python); then
  need_apt+=("${APT_PACKAGES[@]}")
fi
if [ -f scripts/apt-packages.txt ]; then
  while read -r pkg; do
    [[ -z "$pkg" || "$pkg" == \#* ]] && continue
    dpkg -s "$pkg" 2>/dev/null | grep -q '^Status: install ok installed' || need_apt+=("$pkg")
  done < scripts/apt-packages.txt
fi
if [ ${#need_apt[@]} -gt 0 ]; then
  echo "== installing system packages: ${need_apt[*]}"
  if [ "$(id -u)" != 0 ]; then
    echo "error: need root (or sudo) to apt-get install ${need_apt[*]}" >&2
    exit 1
  fi
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${need_apt[@]}"
fi
PYTHON=${PYTHON:-$(pick_python)} || { echo "error: no Python 3.11/3.12 with venv" >&2; exit 1; }

if [ ! -x "$VENV/bin/python" ]; then
  echo "== creating $VENV with $PYTHON"
  "$PYTHON" -m venv "$VENV"
fi
echo "== installing Python packages into $VENV"
"$VENV/bin/python" -m pip install --quiet --disable-pip-version-check --upgrade pip
"$VENV/bin/python" -m pip install --quiet --disable-pip-version-check -e '.[dev]'
echo "== preparing models"
"$VENV/bin/python" scripts/prepare_models.py
echo "== install done"
