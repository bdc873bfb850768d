# Sourced by demo.sh and test.sh: make ./.venv (installing Debian's python3-venv if the
# interpreter lacks it) and install hallq into it with the extras given, e.g. `hallq_venv "[test]"`.
hallq_venv() {
  local py=${PYTHON:-python3}
  if [ ! -x .venv/bin/python ]; then
    if ! "$py" -m venv .venv 2>/dev/null; then
      local sudo=""; [ "$(id -u)" -ne 0 ] && sudo="sudo"
      $sudo apt-get update -qq && $sudo apt-get install -y -qq python3-venv
      rm -rf .venv && "$py" -m venv .venv
    fi
  fi
  .venv/bin/python -m pip install -q --upgrade pip
  .venv/bin/python -m pip install -q -e ".$1"
}
