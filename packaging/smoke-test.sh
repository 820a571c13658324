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
    -h|--help) sed -n '2,15p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
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

t_end=$(date +%s)
echo "smoke-test: build $((t_built - t0)) s, checks $((t_end - t_built)) s, total $((t_end - t0)) s;" \
  "screenshot: ${DIST#"$ROOT"/}/smoke-screenshot.png"
if [ "$fail" -ne 0 ]; then
  echo "smoke-test: FAILED" >&2
  exit 1
fi
echo "smoke-test: passed"
