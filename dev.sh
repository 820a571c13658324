#!/usr/bin/env bash
# One entry point for a fresh machine:
#   ./dev.sh demo    install what is missing, then open the GUI on the simulated site
#   ./dev.sh test    install what is missing, then run the whole test suite
#   ./dev.sh setup   only install
# System packages (net-snmp's snmpd, Qt's X/EGL libraries) come from apt when
# missing: as root directly, otherwise through sudo.
set -euo pipefail
cd "$(dirname "$0")"

VENV=${OPSCONSOLE_VENV:-.venv}
PY=${PYTHON:-python3}
DEB_PACKAGES=(snmpd snmp prometheus libegl1 libgl1 libfontconfig1 libxkbcommon0 libxkbcommon-x11-0
  libdbus-1-3 libxcb-cursor0 libxcb-icccm4 libxcb-keysyms1 libxcb-image0
  libxcb-render-util0 libxcb-shape0 libxcb-xinerama0 fonts-dejavu-core xvfb)

need_debs() {
  command -v dpkg-query >/dev/null || return 1
  local p
  for p in "${DEB_PACKAGES[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || return 0
  done
  return 1
}

install_debs() {
  if ! command -v apt-get >/dev/null; then
    echo "dev.sh: not a Debian/Ubuntu system; install net-snmp (snmpd) and Qt's libraries yourself" >&2
    return 0
  fi
  local sudo=""
  [ "$(id -u)" -eq 0 ] || sudo="sudo"
  echo "dev.sh: installing system packages: ${DEB_PACKAGES[*]}" >&2
  $sudo env DEBIAN_FRONTEND=noninteractive apt-get update -qq
  $sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
    "${DEB_PACKAGES[@]}" python3-venv >/dev/null
}

setup() {
  if need_debs; then install_debs; fi
  if [ ! -x "$VENV/bin/python" ]; then
    "$PY" -m venv "$VENV"
  fi
  # the marker avoids a slow reinstall on every run; pyproject changes redo it
  local stamp="$VENV/.opsconsole-installed"
  if [ ! -f "$stamp" ] || [ pyproject.toml -nt "$stamp" ]; then
    "$VENV/bin/python" -m pip install -q --upgrade pip
    "$VENV/bin/python" -m pip install -q -e '.[test]'
    touch "$stamp"
  fi
}

cmd=${1:-help}
shift || true
case "$cmd" in
  setup) setup ;;
  demo)
    setup
    exec "$VENV/bin/opsconsole" --demo "$@" ;;
  test)
    setup
    export QT_QPA_PLATFORM=${QT_QPA_PLATFORM:-offscreen} SNMPSIM_ALLOW_ROOT=true
    set +e
    "$VENV/bin/python" -m pytest "$@"
    rc=$?
    set -e
    # pytest's 5 means "no tests collected": not a failure of the suite
    if [ "$rc" -eq 5 ]; then rc=0; fi
    exit "$rc" ;;
  *)
    sed -n '2,8p' "$0" | sed 's/^# \{0,1\}//'
    exit 2 ;;
esac
