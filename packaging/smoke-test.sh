#!/usr/bin/env bash
# Smoke test of the Linux installer: build the bundle and the .deb, unpack the
# .deb into a temporary root (dpkg-deb -x: nothing is installed), and run the
# program from there, in a bare environment (no venv, no source tree):
#   - the package layout: /usr/bin link, desktop entries, hicolor icons, examples, control
#   - `opsconsole --version` matches pyproject
#   - `opsconsole check-config` on the shipped example site file exits 0
#   - `opsconsole -m opsconsole.sim.inference --help` (the demo duties' helper) exits 0
#   - `opsconsole --demo --screenshot PNG` offscreen: a 1920x1080 picture with content
#   - `opsconsole --wall --demo --screenshot PNG` offscreen: exits 0 with a picture
#   - the site service as the .deb declares it (dpkg-deb -c/-I/-e): unit, user,
#     folders, maintainer scripts, the kiosk autostart entry
#   - as root: dpkg -i into a throwaway overlay of /, then the service run as its
#     unit says (packaging/smoke-install.sh; OPSCONSOLE_SMOKE_INSTALL below)
#
#   packaging/smoke-test.sh           fresh build into build/packaging/smoke (gzip .deb: fast)
#   packaging/smoke-test.sh --reuse   test dist/'s .deb from build-linux.sh, rebuilt only
#                                     when older than the sources
# The screenshots are kept beside the .deb (smoke-screenshot.png, smoke-wall.png): look.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
t0=$(date +%s)

REUSE=0
for arg in "$@"; do
  case "$arg" in
    --reuse) REUSE=1 ;;
    -h|--help) sed -n '2,19p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "smoke-test.sh: unknown argument: $arg" >&2; exit 2 ;;
  esac
done

VENV=${OPSCONSOLE_VENV:-.venv}
[ -x "$VENV/bin/python" ] || ./dev.sh setup </dev/null
PY="$ROOT/$VENV/bin/python"
eval "$("$PY" packaging/meta.py --shell)"
ARCH=$(dpkg --print-architecture)

if [ "$REUSE" -eq 1 ]; then
  DIST="$ROOT/${OPSCONSOLE_DIST:-dist}"
  DEB="$DIST/${APP_NAME}_${APP_VERSION}_${ARCH}.deb"
  newer=""
  if [ -f "$DEB" ]; then
    newer=$(find pyproject.toml packaging opsconsole resources -type f -newer "$DEB" \
      -not -name '*.pyc' -not -name 'smoke-test.sh' -print -quit)
  fi
  if [ ! -f "$DEB" ] || [ -n "$newer" ]; then
    echo "smoke-test: ${DEB#"$ROOT"/} missing or older than ${newer:-the sources}: building" >&2
    OPSCONSOLE_DIST="$DIST" packaging/build-linux.sh
  else
    echo "smoke-test: reusing ${DEB#"$ROOT"/}" >&2
  fi
else
  DIST="$ROOT/build/packaging/smoke"
  DEB="$DIST/${APP_NAME}_${APP_VERSION}_${ARCH}.deb"
  OPSCONSOLE_DIST="$DIST" DEB_COMPRESS=${DEB_COMPRESS:-gzip} packaging/build-linux.sh
fi
t_built=$(date +%s)

TMP=$(mktemp -d "${TMPDIR:-/tmp}/opsconsole-smoke.XXXXXX")
trap 'rm -rf "$TMP"' EXIT
FS="$TMP/root"
dpkg-deb -x "$DEB" "$FS"
fail=0
ok() { echo "  ok    $*"; }
bad() { echo "  FAIL  $*"; fail=1; }
echo "smoke-test: ${DEB#"$ROOT"/} unpacked into $FS"

# ---------------------------------------------------------------- layout
BIN="$FS/usr/bin/$APP_NAME"
if [ -L "$BIN" ] && [ "$(readlink -f "$BIN")" = "$FS/opt/$APP_NAME/$APP_NAME" ]; then
  ok "/usr/bin/$APP_NAME -> /opt/$APP_NAME/$APP_NAME"
else
  bad "/usr/bin/$APP_NAME is not a link to /opt/$APP_NAME/$APP_NAME"
fi
for f in "usr/share/applications/$APP_NAME.desktop" "usr/share/applications/$APP_NAME-wall.desktop" \
         "usr/share/doc/$APP_NAME/examples/$APP_NAME-wall.desktop" \
         "usr/share/doc/$APP_NAME/examples/site.toml" "usr/share/doc/$APP_NAME/copyright" \
         "usr/share/icons/hicolor/scalable/apps/$APP_NAME.svg"; do
  [ -s "$FS/$f" ] && ok "/$f" || bad "/$f missing"
done
for size in 48 128 256; do
  png="usr/share/icons/hicolor/${size}x${size}/apps/$APP_NAME.png"
  # PNG header: width and height are big-endian at bytes 16..23
  dims=$(od -An -tu1 -j16 -N8 "$FS/$png" 2>/dev/null \
    | awk '{printf "%dx%d", $3*256+$4, $7*256+$8}')
  [ "$dims" = "${size}x${size}" ] && ok "/$png ($dims)" || bad "/$png: '${dims:-missing}'"
done
grep -q "^Exec=$APP_NAME --wall" "$FS/usr/share/applications/$APP_NAME-wall.desktop" \
  && ok "wall entry runs '$APP_NAME --wall'" || bad "wall entry does not run '$APP_NAME --wall'"
if command -v desktop-file-validate >/dev/null; then
  for f in "$FS"/usr/share/applications/*.desktop "$FS/usr/share/doc/$APP_NAME/examples/"*.desktop; do
    desktop-file-validate "$f" && ok "desktop-file-validate ${f#"$FS"}" \
      || bad "desktop-file-validate ${f#"$FS"}"
  done
fi
control=$(dpkg-deb -f "$DEB" Package Version Architecture Depends)
grep -qx "Version: $APP_VERSION" <<<"$control" && grep -qx "Architecture: $ARCH" <<<"$control" \
  && grep -q "^Depends: .*libxcb-cursor0" <<<"$control" \
  && ok "control: $APP_NAME $APP_VERSION $ARCH, Depends on Qt's libraries" \
  || bad "control fields: $control"

# ---------------------------------------------------------------- the site service, as declared
# What the .deb holds and runs at install time, read with dpkg-deb alone.
UNIT="lib/systemd/system/$APP_NAME-serve.service"
grep -qE " \./$UNIT\$" <<<"$(dpkg-deb -c "$DEB")" && ok "dpkg-deb -c: /$UNIT" \
  || bad "dpkg-deb -c: no /$UNIT"
info=$(dpkg-deb -I "$DEB")
for script in postinst prerm postrm; do
  grep -qE "^ +[0-9]+ bytes, +[0-9]+ lines +\* +$script " <<<"$info" \
    && ok "dpkg-deb -I: $script (executable)" || bad "dpkg-deb -I: no executable $script"
done
CTRL="$TMP/control"
dpkg-deb -e "$DEB" "$CTRL"
for script in postinst prerm postrm; do
  sh -n "$CTRL/$script" && ok "$script: sh -n" || bad "$script: not valid sh"
  # every systemctl call is guarded: no systemd (container, chroot) is no failure
  if grep -q systemctl "$CTRL/$script" && ! grep -q '\[ -d /run/systemd/system \]' "$CTRL/$script"; then
    bad "$script calls systemctl without checking for a running systemd"
  fi
done
grep -q 'useradd --system' "$CTRL/postinst" && grep -q -- '--shell /usr/sbin/nologin' "$CTRL/postinst" \
  && grep -q 'install -d -o opsconsole -g opsconsole -m 2770 /var/lib/opsconsole' "$CTRL/postinst" \
  && ok "postinst: system user opsconsole (nologin), /var/lib/opsconsole opsconsole 2770" \
  || bad "postinst: the user or the data dir is not made as documented"
grep -qE 'systemctl +(enable|start|restart)' "$CTRL/postinst" \
  && bad "postinst enables or starts the service (it needs a site file first)" \
  || ok "postinst neither enables nor starts the service"
[ ! -e "$CTRL/conffiles" ] && ! dpkg-deb -c "$DEB" | grep -q ' \./etc/' \
  && ok "nothing shipped in /etc: an operator's files are never overwritten" \
  || bad "the package ships files in /etc"
for line in "User=opsconsole" "Group=opsconsole" "NoNewPrivileges=yes" "ProtectSystem=strict" \
            "ReadWritePaths=/var/lib/opsconsole" "Restart=on-failure" \
            "ConditionPathExists=/etc/$APP_NAME/site.toml" "WantedBy=multi-user.target"; do
  grep -qx "$line" "$FS/$UNIT" || bad "unit: no '$line'"
done
grep -q "^ExecStart=/usr/bin/$APP_NAME serve --config /etc/$APP_NAME/site.toml " "$FS/$UNIT" \
  && ok "unit: opsconsole serve --config /etc/$APP_NAME/site.toml as opsconsole, hardened" \
  || bad "unit: ExecStart is not 'opsconsole serve --config /etc/$APP_NAME/site.toml'"
grep -qE "^Exec=$APP_NAME --wall --connect https?://127\.0\.0\.1:[0-9]+ --token-file /etc/$APP_NAME/wall\.token" \
  "$FS/usr/share/doc/$APP_NAME/examples/$APP_NAME-wall.desktop" \
  && ok "autostart entry: the wall connects to the local service with /etc/$APP_NAME/wall.token" \
  || bad "autostart entry does not connect to the local service with a token file"

# ---------------------------------------------------------------- the program
# A bare environment: nothing from the venv or the source tree can leak in.
HOMEDIR="$TMP/home"
mkdir -p "$HOMEDIR" "$TMP/run" && chmod 700 "$TMP/run"
run() {
  (cd "$TMP" && env -i PATH=/usr/bin:/bin HOME="$HOMEDIR" LANG=C.UTF-8 \
    XDG_RUNTIME_DIR="$TMP/run" QT_QPA_PLATFORM=offscreen "$@")
}

got=$(run "$BIN" --version 2>&1) || true
[ "$got" = "$APP_NAME $APP_VERSION" ] && ok "--version: $got" \
  || bad "--version: '$got', expected '$APP_NAME $APP_VERSION'"

# the example's secrets come from the environment (see the file's header)
if out=$(run OPS_AUTH=smoke-auth-key OPS_PRIV=smoke-priv-key PDU_COMMUNITY=public \
    PDU_WRITE_COMMUNITY=private "$BIN" check-config \
    "$FS/usr/share/doc/$APP_NAME/examples/site.toml" 2>&1); then
  ok "check-config examples/site.toml: ${out##*: ok: }"
else
  bad "check-config examples/site.toml: $out"
fi

run "$BIN" -m opsconsole.sim.inference --help >/dev/null 2>&1 \
  && ok "-m opsconsole.sim.inference --help (demo duty helper)" \
  || bad "-m opsconsole.sim.inference --help"

SHOT="$TMP/screenshot.png"
t_shot=$(date +%s)
if out=$(run timeout 150 "$BIN" --demo --screenshot "$SHOT" --data-dir "$TMP/data" 2>&1); then
  ok "--demo --screenshot offscreen: exit 0 in $(( $(date +%s) - t_shot )) s"
else
  bad "--demo --screenshot: exit $?: $(tail -3 <<<"$out")"
fi
if [ -f "$SHOT" ]; then
  cp "$SHOT" "$DIST/smoke-screenshot.png"
  if verdict=$(QT_QPA_PLATFORM=offscreen "$PY" - "$SHOT" <<'EOF'
import sys

import numpy as np
from PySide6.QtGui import QImage

img = QImage(sys.argv[1])
if img.isNull():
    sys.exit("not a readable image")
w, h = img.width(), img.height()
img = img.convertToFormat(QImage.Format.Format_RGB32)
px = np.frombuffer(img.constBits(), np.uint32).reshape(h, img.bytesPerLine() // 4)[:, :w]
colours, counts = np.unique(px, return_counts=True)
top = counts.max() / counts.sum()
print(f"{w}x{h}, {len(colours)} colours, the commonest covers {top:.0%}")
sys.exit(0 if (w, h) == (1920, 1080) and len(colours) >= 64 and top < 0.8 else 1)
EOF
  ); then
    ok "screenshot: $verdict"
  else
    bad "screenshot: ${verdict:-unreadable} (want 1920x1080, >= 64 colours, none over 80 %)"
  fi
else
  bad "no screenshot written"
fi

# The wall (the .deb's second desktop entry) on the same demo: it runs, it draws.
WALL="$TMP/wall.png"
if out=$(run timeout 150 "$BIN" --wall --demo --screenshot "$WALL" --data-dir "$TMP/wall-data" 2>&1) \
   && [ -s "$WALL" ]; then
  cp "$WALL" "$DIST/smoke-wall.png"
  ok "--wall --demo --screenshot offscreen: exit 0"
else
  bad "--wall --demo --screenshot: $(tail -3 <<<"$out")"
fi

# ---------------------------------------------------------------- installed, as root
# dpkg -i, the user, folders and unit, then the service as its unit runs it
# (packaging/smoke-install.sh). OPSCONSOLE_SMOKE_INSTALL: auto (default: as
# root, in a throwaway overlay of / in its own mount namespace; skipped where
# that is not allowed), overlay (the same, failing if impossible), system
# (install into this machine: only in a throwaway CI container), no.
MODE=${OPSCONSOLE_SMOKE_INSTALL:-auto}
overlay_ok() {
  [ "$(id -u)" -eq 0 ] && command -v unshare >/dev/null && unshare -m sh -c \
    "mkdir -p '$TMP/probe/u' '$TMP/probe/w' '$TMP/probe/m' && mount -t overlay overlay \
     -o lowerdir=/,upperdir='$TMP/probe/u',workdir='$TMP/probe/w' '$TMP/probe/m'" 2>/dev/null
}
case "$MODE" in
  no) echo "  skip  install checks (OPSCONSOLE_SMOKE_INSTALL=no)" ;;
  system)
    echo "smoke-test: installing into this machine (OPSCONSOLE_SMOKE_INSTALL=system)"
    packaging/smoke-install.sh "$DEB" "$DIST" || fail=1 ;;
  auto|overlay)
    if overlay_ok; then
      echo "smoke-test: dpkg -i into a throwaway overlay of / ($TMP/overlay)"
      OV="$TMP/overlay"
      mkdir -p "$OV/upper" "$OV/work" "$OV/root"
      unshare -m bash -c '
        set -e
        OV=$1; DEB=$2; SELF=$3
        mount --make-rprivate /
        mount -t overlay overlay -o "lowerdir=/,upperdir=$OV/upper,workdir=$OV/work" "$OV/root"
        mount -t proc proc "$OV/root/proc"
        mount --rbind /dev "$OV/root/dev"
        mount --rbind /sys "$OV/root/sys"
        mkdir -p "$OV/root/var/tmp/smoke/out"
        cp "$DEB" "$SELF" "$OV/root/var/tmp/smoke/"
        chroot "$OV/root" bash /var/tmp/smoke/smoke-install.sh "/var/tmp/smoke/${DEB##*/}" \
          /var/tmp/smoke/out' _ "$OV" "$DEB" "$ROOT/packaging/smoke-install.sh" || fail=1
      cp "$OV"/upper/var/tmp/smoke/out/*.png "$DIST/" 2>/dev/null || true
    elif [ "$MODE" = overlay ]; then
      bad "install checks: no overlay mount here (needs root and a mount namespace)"
    else
      echo "  skip  install checks: not root, or no mount namespace here (OPSCONSOLE_SMOKE_INSTALL=system in a throwaway container)"
    fi ;;
  *) bad "OPSCONSOLE_SMOKE_INSTALL=$MODE: use auto, overlay, system or no" ;;
esac

t_end=$(date +%s)
echo "smoke-test: build $((t_built - t0)) s, checks $((t_end - t_built)) s, total $((t_end - t0)) s;" \
  "screenshot: ${DIST#"$ROOT"/}/smoke-screenshot.png"
if [ "$fail" -ne 0 ]; then
  echo "smoke-test: FAILED" >&2
  exit 1
fi
echo "smoke-test: passed"
