#!/usr/bin/env bash
# Build opsconsole for macOS: the .app (PyInstaller, the BUNDLE step of
# packaging/opsconsole.spec) and a compressed .dmg with an Applications link.
# macOS only (hdiutil); Python >= 3.11 from python.org or Homebrew.
#
#   packaging/macos/build.sh
#
# Output: dist/<display name>.app and dist/<name>-<version>-macos-<arch>.dmg
# (arch of the Python used: arm64 on Apple silicon runners, x86_64 on Intel).
# Info.plist (name, version, bundle id, minimum macOS) comes from pyproject.toml
# via packaging/meta.py and the spec.
#
# Signing (optional): OPSCONSOLE_CODESIGN_IDENTITY="Developer ID Application: ..."
# signs the app (else PyInstaller signs ad hoc, enough to run locally); with
# NOTARY_PROFILE (a `xcrun notarytool store-credentials` profile) the .dmg is
# notarized and stapled too.
set -euo pipefail
cd "$(dirname "$0")/../.."
ROOT=$PWD
[ "$(uname -s)" = Darwin ] || { echo "macos/build.sh: runs on macOS only" >&2; exit 2; }

PYTHON=${PYTHON:-python3}
VENV=${OPSCONSOLE_VENV:-.venv}
t0=$(date +%s)
[ -x "$VENV/bin/python" ] || "$PYTHON" -m venv "$VENV"
PY="$ROOT/$VENV/bin/python"
"$PY" -m pip install -q --upgrade pip
"$PY" -m pip install -q -e . -r packaging/requirements.txt
eval "$("$PY" packaging/meta.py --shell)"

BUILD="$ROOT/build/packaging"
DIST="$ROOT/dist"
mkdir -p "$BUILD" "$DIST"
QT_QPA_PLATFORM=offscreen "$PY" packaging/make_icons.py "$BUILD/icons"
OPSCONSOLE_ICON_DIR="$BUILD/icons" "$PY" -m PyInstaller --noconfirm --clean --log-level WARN \
  --distpath "$DIST" --workpath "$BUILD/pyinstaller" packaging/opsconsole.spec
t_bundle=$(date +%s)

APP="$DIST/$APP_DISPLAY_NAME.app"
got=$("$APP/Contents/MacOS/$APP_NAME" --version)
[ "$got" = "$APP_NAME $APP_VERSION" ] || { echo "the app says '$got'" >&2; exit 1; }
plist_version=$(/usr/libexec/PlistBuddy -c "Print :CFBundleShortVersionString" "$APP/Contents/Info.plist")
[ "$plist_version" = "$APP_VERSION" ] || { echo "Info.plist says $plist_version" >&2; exit 1; }
codesign --verify --deep --strict "$APP"

ARCH=$("$PY" -c "import platform; print(platform.machine())")
DMG="$DIST/${APP_NAME}-${APP_VERSION}-macos-${ARCH}.dmg"
STAGE="$BUILD/dmg"
rm -rf "$STAGE" "$DMG"
mkdir -p "$STAGE/Examples"
ditto "$APP" "$STAGE/$APP_DISPLAY_NAME.app"
ln -s /Applications "$STAGE/Applications"
cp resources/examples/site.toml "$STAGE/Examples/site.toml"
cat > "$STAGE/Examples/README.txt" <<TXT
$APP_DISPLAY_NAME $APP_VERSION

Drag $APP_DISPLAY_NAME.app to Applications. The command line is inside the app:
  "/Applications/$APP_DISPLAY_NAME.app/Contents/MacOS/$APP_NAME" --version
  "/Applications/$APP_DISPLAY_NAME.app/Contents/MacOS/$APP_NAME" check-config site.toml
  "/Applications/$APP_DISPLAY_NAME.app/Contents/MacOS/$APP_NAME" --wall --config site.toml
site.toml here is the commented example site file.
TXT
hdiutil create -volname "$APP_DISPLAY_NAME $APP_VERSION" -srcfolder "$STAGE" -ov -format UDZO "$DMG"

if [ -n "${OPSCONSOLE_CODESIGN_IDENTITY:-}" ]; then
  codesign --force --sign "$OPSCONSOLE_CODESIGN_IDENTITY" "$DMG"
  if [ -n "${NOTARY_PROFILE:-}" ]; then
    xcrun notarytool submit "$DMG" --keychain-profile "$NOTARY_PROFILE" --wait
    xcrun stapler staple "$DMG"
  fi
fi

echo "app:   $APP  $(du -sh "$APP" | cut -f1)  (build: $((t_bundle - t0)) s)"
echo "dmg:   $DMG  $(du -h "$DMG" | cut -f1)"
echo "total: $(( $(date +%s) - t0 )) s"
