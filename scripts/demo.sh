#!/usr/bin/env bash
# Sets up hallq in ./.venv on a fresh Debian machine and runs the demo hall
# (embedded SQLite, simulated printers and card readers, the town catalog's ten services).
# Extra arguments go to `hall-server demo`, e.g. --simulate or --port 9000.
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/venv.sh
hallq_venv ""
exec .venv/bin/hall-server demo "$@"
