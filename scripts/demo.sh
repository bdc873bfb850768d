#!/usr/bin/env bash
# Sets up hallq in ./.venv on a fresh Debian machine and runs the demo hall
# (embedded SQLite, simulated printers and card readers, the town catalog's ten services).
# Extra arguments go to `hall-server demo`, e.g. --simulate or --port 9000.
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-python3}
if [ ! -x .venv/bin/python ]; then
  if ! "$PY" -m venv .venv 2>/dev/null; then
    SUDO=""; [ "$(id -u)" -ne 0 ] && SUDO="sudo"
    $SUDO apt-get update -qq && $SUDO apt-get install -y -qq python3-venv
    rm -rf .venv && "$PY" -m venv .venv
  fi
fi
.venv/bin/python -m pip install -q --upgrade pip
.venv/bin/python -m pip install -q -e .
exec .venv/bin/hall-server demo "$@"
