#!/usr/bin/env bash
# Sets up hallq in ./.venv on a fresh Debian machine and runs the city hub demo: a hub on
# embedded SQLite and the work plan's network ("1+21+N": a city center, 18 town centers,
# 225 village points), every hall a real hall server with simulated visitors, pushing to the
# hub over HTTP. Extra arguments go to `hall-hub demo`, e.g. --port 9000 or --db /tmp/city.db.
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/venv.sh
hallq_venv ""
exec .venv/bin/hall-hub demo "$@"
