#!/usr/bin/env bash
# Installs everything the tests need on a fresh Debian machine (system Chromium, CJK fonts,
# PostgreSQL, the Python packages, axe-core from npm), starts a throwaway PostgreSQL for the
# hub's tests (stopped on exit), then runs lint, the import rules, the core's types and the
# whole test suite.
set -euo pipefail
cd "$(dirname "$0")/.."

need_apt=()
command -v chromium >/dev/null 2>&1 || need_apt+=(chromium)
# grep reads all of fc-list's output (no -q): under pipefail an early exit is a SIGPIPE failure
fc-list 2>/dev/null | grep -i "Noto Sans CJK" >/dev/null || need_apt+=(fonts-noto-cjk)
command -v openssl >/dev/null 2>&1 || need_apt+=(openssl)  # tests/security: a TLS certificate
if [ ${#need_apt[@]} -gt 0 ]; then
  SUDO=""; [ "$(id -u)" -ne 0 ] && SUDO="sudo"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${need_apt[@]}"
fi

. scripts/venv.sh
hallq_venv "[test]"

if [ ! -f tests/node_modules/axe-core/axe.min.js ]; then
  npm install --silent --no-audit --no-fund --prefix tests axe-core@4 >/dev/null
fi

bash scripts/pg.sh install
PG_DIR=$(mktemp -d /tmp/hallq-test-pg.XXXXXX)
chmod 755 "$PG_DIR"
trap 'bash scripts/pg.sh stop "$PG_DIR"; rm -rf "$PG_DIR"' EXIT
HALLQ_TEST_POSTGRES=$(bash scripts/pg.sh start "$PG_DIR")
export HALLQ_TEST_POSTGRES

.venv/bin/ruff check .
.venv/bin/ruff format --check .
.venv/bin/lint-imports            # the rooms' import rules (pyproject: [tool.importlinter])
.venv/bin/mypy
.venv/bin/mypy --strict hall_server/core
.venv/bin/python -m pytest -q "$@"   # not exec: the trap stops PostgreSQL afterwards
