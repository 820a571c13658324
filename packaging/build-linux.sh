#!/usr/bin/env bash
# Build the Linux one-folder bundle (PyInstaller) and a .deb from it, offline.
#
#   packaging/build-linux.sh              bundle + .deb
#   packaging/build-linux.sh --reuse-bundle   only repackage an existing dist/opsconsole
#
# Needs the project's virtual environment (.venv, or $OPSCONSOLE_VENV): created
# with ./dev.sh setup when missing. PyInstaller (packaging/requirements.txt) is
# pip-installed into it when missing. Name, version, description, maintainer and
# icon come from pyproject.toml (packaging/meta.py).
#
# Output: dist/<name>/ (the bundle: <name> + _internal/) and
#         dist/<name>_<version>_<arch>.deb
# Environment: OPSCONSOLE_DIST (output folder, default dist), DEB_COMPRESS=xz|gzip|zstd
# (default xz: every dpkg reads it; gzip packs ~9x faster, 40 % bigger), DEB_LEVEL (6).
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD

REUSE=0
for arg in "$@"; do
  case "$arg" in
    --reuse-bundle) REUSE=1 ;;
    -h|--help) sed -n '2,15p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "build-linux.sh: unknown argument: $arg" >&2; exit 2 ;;
  esac
done

VENV=${OPSCONSOLE_VENV:-.venv}
PY="$VENV/bin/python"
BUILD="$ROOT/build/packaging"
DIST=$(mkdir -p "${OPSCONSOLE_DIST:-dist}" && cd "${OPSCONSOLE_DIST:-dist}" && pwd)
t_start=$(date +%s.%N)
elapsed() { python3 -c "import sys; print(f'{float(sys.argv[2]) - float(sys.argv[1]):.1f}')" "$1" "$(date +%s.%N)"; }
say() { echo "build-linux: $*" >&2; }

# ---------------------------------------------------------------- tools
if [ ! -x "$PY" ]; then
  say "no virtual environment at $VENV: running ./dev.sh setup"
  ./dev.sh setup </dev/null
fi
missing_tools=()
command -v objdump >/dev/null || missing_tools+=(binutils)   # PyInstaller on Linux needs it
command -v dpkg-deb >/dev/null || missing_tools+=(dpkg)
if [ ${#missing_tools[@]} -gt 0 ]; then
  if command -v apt-get >/dev/null; then
    sudo=""; [ "$(id -u)" -eq 0 ] || sudo="sudo"
    say "installing ${missing_tools[*]}"
    $sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
      "${missing_tools[@]}" >/dev/null
  else
    say "missing tools: ${missing_tools[*]}"; exit 1
  fi
fi
if ! "$PY" -c "import PyInstaller" 2>/dev/null; then
  say "installing PyInstaller into $VENV"
  "$PY" -m pip install -q -r packaging/requirements.txt
fi

eval "$("$PY" packaging/meta.py --shell)"
ARCH=$(dpkg --print-architecture)
BUNDLE="$DIST/$APP_NAME"
DEB="$DIST/${APP_NAME}_${APP_VERSION}_${ARCH}.deb"

# ---------------------------------------------------------------- bundle
mkdir -p "$BUILD" "$DIST"
rm -rf "$BUILD/icons"
QT_QPA_PLATFORM=offscreen "$PY" packaging/make_icons.py "$BUILD/icons" >&2

t_bundle=$(date +%s.%N)
if [ "$REUSE" -eq 1 ] && [ -x "$BUNDLE/$APP_NAME" ]; then
  say "reusing $BUNDLE"
  bundle_s="reused"
else
  OPSCONSOLE_ICON_DIR="$BUILD/icons" "$PY" -m PyInstaller --noconfirm --clean --log-level WARN \
    --distpath "$DIST" --workpath "$BUILD/pyinstaller" packaging/opsconsole.spec
  # Debug sections only (symbols stay): libpython alone carries ~20 MB of them.
  find "$BUNDLE" -type f -name '*.so*' | while read -r so; do
    # (grep without -q: an early exit would SIGPIPE objdump and fail the pipeline)
    if objdump -h "$so" 2>/dev/null | grep '\.debug_info' >/dev/null; then strip --strip-debug "$so"; fi
  done
  bundle_s="$(elapsed "$t_bundle") s"
fi
got=$("$BUNDLE/$APP_NAME" --version)
if [ "$got" != "$APP_NAME $APP_VERSION" ]; then
  say "the bundle says '$got', expected '$APP_NAME $APP_VERSION'"; exit 1
fi

# ---------------------------------------------------------------- dependencies
# Libraries the bundle takes from the system: whatever ldd resolves outside it
# (or cannot resolve) must be covered by Depends.
DEPENDS=(libegl1 libgl1 libfontconfig1 libfreetype6 libxkbcommon0 libxkbcommon-x11-0
  libdbus-1-3 libxcb1 libxcb-cursor0 libxcb-icccm4 libxcb-keysyms1 libxcb-image0
  libxcb-render-util0 libxcb-shape0 libxcb-xinerama0 libxcb-randr0 libxcb-xfixes0
  libxcb-sync1 libxcb-shm0 libxcb-xkb1 libx11-xcb1 libwayland-client0
  libwayland-cursor0 libwayland-egl1)
# (library -> package) for libraries that may be absent on the build machine
declare -A KNOWN=([libEGL.so.1]=libegl1 [libGL.so.1]=libgl1 [libGLX.so.0]=libglx0
  [libGLdispatch.so.0]=libglvnd0 [libOpenGL.so.0]=libopengl0 [libxcb.so.1]=libxcb1
  [libwayland-client.so.0]=libwayland-client0 [libwayland-cursor.so.0]=libwayland-cursor0
  [libwayland-egl.so.1]=libwayland-egl1 [libstdc++.so.6]=libstdc++6 [libgcc_s.so.1]=libgcc-s1)
outside=$(cd "$BUNDLE/_internal" && find . "$BUNDLE/$APP_NAME" -type f \( -name '*.so*' -o -perm -u+x \) \
  -print0 | xargs -0 -n 50 env LD_LIBRARY_PATH="$BUNDLE/_internal" ldd 2>/dev/null \
  | awk '/=>/ && $3 !~ "^'"$BUNDLE"'" {print $1 "\t" $3}' | sort -u || true)
uncovered=()
while IFS=$'\t' read -r lib path; do
  [ -n "$lib" ] || continue
  case "$lib" in libc.so.*|libm.so.*|libdl.so.*|libpthread.so.*|librt.so.*|libresolv.so.*|ld-linux*) continue ;; esac
  pkg=${KNOWN[$lib]:-}
  if [ -z "$pkg" ] && [ "$path" != "not" ]; then
    pkg=$(dpkg -S "$(readlink -f "$path")" 2>/dev/null | head -1 | cut -d: -f1 || true)
  fi
  if [ -z "$pkg" ]; then uncovered+=("$lib (no package known)"); continue; fi
  case " ${DEPENDS[*]} libstdc++6 libgcc-s1 libglx0 libglvnd0 " in
    *" $pkg "*) ;;
    *) uncovered+=("$lib ($pkg)") ;;
  esac
done <<<"$outside"
if [ ${#uncovered[@]} -gt 0 ]; then
  say "WARNING: the bundle uses system libraries not in Depends: ${uncovered[*]}"
fi
# libc6 / libstdc++6 minimum versions from the symbol versions the bundle needs
elf_files() { find "$BUNDLE" -type f \( -name '*.so*' -o -name "$APP_NAME" \) -print0; }
glibc=$(elf_files | xargs -0 objdump -T 2>/dev/null | grep -o 'GLIBC_2\.[0-9]*' | sort -uV | tail -1 | cut -d_ -f2)
glibcxx=$(elf_files | xargs -0 objdump -T 2>/dev/null | grep -o 'GLIBCXX_3\.4\.[0-9]*' | sort -uV | tail -1 | cut -d. -f3)
gcc_for_glibcxx=([19]=4.8 [20]=5 [21]=5 [22]=6 [23]=7 [24]=7 [25]=8 [26]=9 [27]=9 [28]=10
  [29]=11 [30]=12 [31]=13 [32]=14 [33]=14 [34]=15)
libstdcxx_min=${gcc_for_glibcxx[${glibcxx:-30}]:-12}
DEPENDS_LINE="libc6 (>= ${glibc:-2.36}), libstdc++6 (>= $libstdcxx_min), libgcc-s1"
for d in "${DEPENDS[@]}"; do DEPENDS_LINE+=", $d"; done

# ---------------------------------------------------------------- .deb
t_deb=$(date +%s.%N)
STAGE="$BUILD/deb"
rm -rf "$STAGE"
mkdir -p "$STAGE/DEBIAN" "$STAGE/opt" "$STAGE/usr/bin" "$STAGE/usr/share/applications" \
  "$STAGE/usr/share/icons" "$STAGE/usr/share/doc/$APP_NAME/examples" "$STAGE/lib/systemd/system"
cp -a "$BUNDLE" "$STAGE/opt/$APP_NAME"
# relative: resolves the same under / and in a dpkg-deb -x tree (smoke test)
ln -s "../../opt/$APP_NAME/$APP_NAME" "$STAGE/usr/bin/$APP_NAME"
cp -a "$BUILD/icons/hicolor" "$STAGE/usr/share/icons/"
subst() {
  sed -e "s|@NAME@|$APP_NAME|g" -e "s|@DISPLAY_NAME@|$APP_DISPLAY_NAME|g" "$1" > "$2"
}
subst resources/desktop/opsconsole.desktop.in "$STAGE/usr/share/applications/$APP_NAME.desktop"
subst resources/desktop/opsconsole-wall.desktop.in \
  "$STAGE/usr/share/applications/$APP_NAME-wall.desktop"
subst resources/desktop/opsconsole-wall-autostart.desktop.in \
  "$STAGE/usr/share/doc/$APP_NAME/examples/$APP_NAME-wall.desktop"
cp resources/examples/site.toml "$STAGE/usr/share/doc/$APP_NAME/examples/site.toml"
# the site service (README "Run a site service"); /lib: where bookworm's systemd looks
cp packaging/opsconsole-serve.service "$STAGE/lib/systemd/system/$APP_NAME-serve.service"
cat > "$STAGE/usr/share/doc/$APP_NAME/copyright" <<EOF
Format: https://www.debian.org/doc/packaging-manuals/copyright-format/1.0/
Upstream-Name: $APP_NAME
Source: $APP_NAME source repository

Files: *
Copyright: $APP_MAINTAINER
License: $APP_LICENSE
 See /usr/share/common-licenses/Apache-2.0 for the Apache License 2.0.

Files: opt/$APP_NAME/_internal/*
Comment: A bundled third-party runtime, unmodified: CPython (PSF-2.0), Qt 6 and
 PySide6/shiboken6 (LGPL-3, sources at https://download.qt.io and
 https://code.qt.io/cgit/pyside/pyside-setup.git), pyqtgraph (MIT), numpy and
 OpenBLAS (BSD-3-Clause), pysnmp and pyasn1 (BSD-2-Clause), cryptography
 (Apache-2.0 or BSD-3-Clause), nvidia-ml-py (BSD-3-Clause), platformdirs (MIT),
 and shared libraries from the Debian build system under their own licenses.
 The Qt libraries are separate shared objects under opt/$APP_NAME/_internal and
 may be replaced by the user.
License: various
 See /usr/share/common-licenses/LGPL-3 for the LGPL version 3.
EOF
{
  echo "$APP_NAME ($APP_VERSION) unstable; urgency=medium"
  echo
  echo "  * Binary build of $APP_NAME $APP_VERSION (PyInstaller one-folder bundle)."
  echo
  echo " -- $APP_MAINTAINER  $(date -R -d "@${SOURCE_DATE_EPOCH:-$(git log -1 --format=%ct 2>/dev/null || date +%s)}")"
} | gzip -9n > "$STAGE/usr/share/doc/$APP_NAME/changelog.gz"
installed_kb=$(du -sk --apparent-size "$STAGE" --exclude=DEBIAN | cut -f1)
cat > "$STAGE/DEBIAN/control" <<EOF
Package: $APP_NAME
Version: $APP_VERSION
Architecture: $ARCH
Maintainer: $APP_MAINTAINER
Installed-Size: $installed_kb
Depends: $DEPENDS_LINE
Recommends: fonts-dejavu-core
Section: admin
Priority: optional
Description: ${APP_DESCRIPTION%%:*}
$(echo "$APP_DESCRIPTION." | fold -s -w 72 | sed 's/ *$//; s/^/ /')
 .
 Self-contained build: Python, Qt 6 and the libraries it needs live
 under /opt/$APP_NAME. Start the console with "$APP_NAME", the read-only
 wall display with "$APP_NAME --wall". Examples (a site file, an autostart
 entry for a kiosk user) are in /usr/share/doc/$APP_NAME/examples.
 .
 The site service runs as the system user $APP_NAME from the unit
 $APP_NAME-serve.service, installed but not enabled: write
 /etc/$APP_NAME/site.toml, then "systemctl enable --now $APP_NAME-serve".
EOF
# Maintainer scripts (packaging/debian/): the service's system user and group,
# /etc/opsconsole, /var/lib/opsconsole; the unit is installed, never enabled or
# started by the package (it needs a site file first); each works without systemd
# (containers, chroots).
for script in postinst prerm postrm; do
  install -m 755 "packaging/debian/$script" "$STAGE/DEBIAN/$script"
done
(cd "$STAGE" && find . -path ./DEBIAN -prune -o -type f -print0 | sort -z \
  | xargs -0 md5sum | sed 's| \./| |' > DEBIAN/md5sums)
chmod -R u+rwX,go+rX,go-w "$STAGE"
find "$STAGE/opt" -type f -name '*.so*' -exec chmod a-x {} +   # libraries are not programs
rm -f "$DEB"
dpkg-deb --root-owner-group -Z"${DEB_COMPRESS:-xz}" -z"${DEB_LEVEL:-6}" --build "$STAGE" "$DEB" >/dev/null
deb_s=$(elapsed "$t_deb")

# ---------------------------------------------------------------- report
echo "bundle:        $BUNDLE  $(du -sh "$BUNDLE" | cut -f1)  (build: $bundle_s)"
echo ".deb:          $DEB  $(du -h "$DEB" | cut -f1)  (installed $((installed_kb / 1024)) MiB; packing: $deb_s s)"
echo "Depends:       $DEPENDS_LINE"
echo "total:         $(elapsed "$t_start") s"
