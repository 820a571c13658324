#!/usr/bin/env bash
# Install the .deb with dpkg and check the site service as installed, as root:
#   - dpkg -i configures it (no systemd needed); the opsconsole system user
#     (no login shell), /etc/opsconsole, /var/lib/opsconsole (owner, mode)
#   - the unit: installed, not enabled; `systemd-analyze verify` when present
#   - the unit's ExecStart, run as its User= against a simulated site on
#     loopback written to /etc/opsconsole/site.toml: /healthz; /api/v1/whoami
#     with a viewer token made by `token create` as the service's user (401
#     without); `poll --once --connect` as the wall would; a viewer's
#     `duty set` exits 4; SIGTERM stops it with 0; its files belong to it
#   - the kiosk autostart entry's command, offscreen: draws with the token
#     file, and shows a missing one in its banner
#   - dpkg -i again (the upgrade path); dpkg --purge: the program and the unit's
#     enablement go, the site's data and the user stay
#
#   packaging/smoke-install.sh DEB OUT_DIR
# Run by smoke-test.sh inside a throwaway root (an overlay of / in its own
# mount namespace), or directly in a throwaway CI container
# (OPSCONSOLE_SMOKE_INSTALL=system). It changes the machine it runs on.
set -uo pipefail
DEB=$1
OUT=$2
NAME=$(dpkg-deb -f "$DEB" Package)
UNIT=/lib/systemd/system/$NAME-serve.service
fail=0
ok() { echo "  ok    $*"; }
bad() { echo "  FAIL  $*"; fail=1; }
pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null; done; wait 2>/dev/null; }
trap cleanup EXIT
WORK=$(mktemp -d /var/tmp/opsconsole-install.XXXXXX)
export LANG=C.UTF-8

# ---------------------------------------------------------------- dpkg -i
missing=()
for dep in $(dpkg-deb -f "$DEB" Depends | tr ',' '\n' | sed 's/(.*//; s/|.*//; s/ //g'); do
  dpkg-query -W -f='${Status}' "$dep" 2>/dev/null | grep -q "ok installed" || missing+=("$dep")
done
force=()
if [ ${#missing[@]} -gt 0 ]; then
  echo "  note  not installed here: ${missing[*]} (dpkg -i --force-depends)"
  force=(--force-depends)
fi
if out=$(dpkg -i "${force[@]}" "$DEB" 2>&1) \
   && [ "$(dpkg-query -W -f='${Status}' "$NAME")" = "install ok installed" ]; then
  ok "dpkg -i: configured, without systemd running"
else
  bad "dpkg -i: $(tail -5 <<<"$out")"
fi

# ---------------------------------------------------------------- user, folders, unit
IFS=: read -r _ _ uid _ _ home shell <<<"$(getent passwd opsconsole)"
if [ -n "${uid:-}" ] && [ "$uid" -lt 1000 ] && [ "$home" = /var/lib/opsconsole ] \
   && [ "$shell" = /usr/sbin/nologin ] && [ "$(id -gn opsconsole)" = opsconsole ]; then
  ok "system user opsconsole: uid $uid, group opsconsole, home $home, shell $shell"
else
  bad "user opsconsole: '$(getent passwd opsconsole)'"
fi
check_stat() {  # path, expected "owner:group mode"
  local got
  got=$(stat -c '%U:%G %a' "$1" 2>/dev/null)
  [ "$got" = "$2" ] && ok "$1: $got" || bad "$1: '${got:-missing}', expected '$2'"
}
check_stat /var/lib/opsconsole "opsconsole:opsconsole 2770"
check_stat /etc/opsconsole "root:opsconsole 755"
check_stat "$UNIT" "root:root 644"
if [ -e "/etc/systemd/system/multi-user.target.wants/$NAME-serve.service" ]; then
  bad "the package enabled $NAME-serve (it must wait for a site file)"
else
  ok "$NAME-serve installed, not enabled"
fi
if command -v systemd-analyze >/dev/null; then
  if out=$(systemd-analyze verify "$UNIT" 2>&1) && ! grep -q "$NAME-serve" <<<"$out"; then
    ok "systemd-analyze verify $UNIT"
  else
    bad "systemd-analyze verify: $out"
  fi
else
  echo "  note  no systemd-analyze here: unit not verified"
fi

# ---------------------------------------------------------------- the service as the unit runs it
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
SITE=/etc/opsconsole/site.toml
# a simulated site on loopback (the bundle's own simulator), as the operator's site file
opsconsole simulate --miners 4 --gpus 1 --write-config "$SITE" >"$WORK/simulate.log" 2>&1 &
pids+=($!)
for _ in $(seq 600); do [ -s "$SITE" ] && break; sleep 0.1; done
chgrp opsconsole "$SITE" && chmod 0640 "$SITE"
as_service() { runuser -u opsconsole -g opsconsole -- env -i PATH=/usr/bin:/bin LANG=C.UTF-8 \
  HOME=/var/lib/opsconsole "$@"; }
# as README "Run a site service" says: the service's user, its environment file
install -m 0640 -g opsconsole /dev/null /etc/opsconsole/serve.env
echo "SMOKE_UNUSED_SECRET=x" >/etc/opsconsole/serve.env
as_service sh -c 'set -a; . /etc/opsconsole/serve.env; exec opsconsole token "$@" --config /etc/opsconsole/site.toml' \
  _ create wall --role viewer >"$WORK/wall.token" 2>"$WORK/token.err" \
  && grep -qx 'osc_[A-Za-z0-9_-]*' "$WORK/wall.token" \
  && ok "token create wall --role viewer, as the service's user with serve.env" \
  || bad "token create as opsconsole: $(cat "$WORK/token.err")"
install -m 0400 "$WORK/wall.token" /etc/opsconsole/wall.token
exec_start=$(sed -n 's/^ExecStart=//p' "$UNIT")
user=$(sed -n 's/^User=//p' "$UNIT")
umask_=$(sed -n 's/^UMask=//p' "$UNIT")
# shellcheck disable=SC2086  # ExecStart is a word list
read -ra cmd <<<"${exec_start/--listen 127.0.0.1:8470/--listen 127.0.0.1:$port}"
# setpriv execs (runuser would stand between, and SIGKILL the service 2 s after a SIGTERM)
(umask "$umask_"; exec setpriv --reuid "$user" --regid opsconsole --init-groups env -i \
  PATH=/usr/bin:/bin LANG=C.UTF-8 HOME=/var/lib/opsconsole "${cmd[@]}") >"$WORK/serve.log" 2>&1 &
serve_pid=$!
pids+=("$serve_pid")
http() {  # URL [TOKEN_FILE] -> "STATUS BODY"
  python3 - "$@" <<'EOF'
import sys, urllib.error, urllib.request
req = urllib.request.Request(sys.argv[1])
if len(sys.argv) > 2:
    req.add_header("Authorization", "Bearer " + open(sys.argv[2]).read().strip())
try:
    with urllib.request.urlopen(req, timeout=10) as r:
        print(r.status, r.read().decode()[:300])
except urllib.error.HTTPError as e:
    print(e.code, e.read().decode()[:300])
except OSError as e:
    print(0, e)
EOF
}
base=http://127.0.0.1:$port
up=""
for _ in $(seq 240); do
  got=$(http "$base/healthz")
  case "$got" in 200*'"cycles": '[1-9]*|200*'"cycles":'[1-9]*) up=$got; break ;; esac
  kill -0 "$serve_pid" 2>/dev/null || break
  sleep 0.5
done
[ -n "$up" ] && ok "ExecStart as $user on :$port: /healthz ${up:0:80}" \
  || bad "the service did not come up: $(tail -5 "$WORK/serve.log")"
got=$(http "$base/api/v1/whoami" /etc/opsconsole/wall.token)
[[ "$got" == 200*'"wall"'*'"viewer"'* ]] && ok "/api/v1/whoami with the wall token: ${got:0:70}" \
  || bad "/api/v1/whoami: $got"
got=$(http "$base/api/v1/snapshot")
[[ "$got" == 401* ]] && ok "/api/v1/snapshot without a token: 401" || bad "no token: $got"
out=$(opsconsole poll --once --connect "$base" --token-file /etc/opsconsole/wall.token 2>&1) \
  && grep -q "a-01" <<<"$out" && ok "poll --once --connect with the wall token" \
  || bad "poll --once --connect: $(tail -3 <<<"$out")"
opsconsole duty set row-a idle --yes --connect "$base" --token-file /etc/opsconsole/wall.token \
  >"$WORK/duty.log" 2>&1
rc=$?
[ "$rc" -eq 4 ] && ok "a viewer's duty set: exit 4" || bad "viewer duty set: exit $rc"

# the kiosk autostart entry's command (the port swapped), offscreen
entry=/usr/share/doc/$NAME/examples/$NAME-wall.desktop
# (from the .deb itself where dpkg was told to leave /usr/share/doc out: slim containers)
wall_cmd=$( { cat "$entry" 2>/dev/null || dpkg-deb --fsys-tarfile "$DEB" | tar -xO ".$entry"; } \
  | sed -n 's/^Exec=//p')
if [ -n "$wall_cmd" ]; then
  read -ra wcmd <<<"${wall_cmd/127.0.0.1:8470/127.0.0.1:$port}"
  mkdir -p "$WORK/home" "$WORK/run" && chmod 700 "$WORK/run"
  gui() { env -i PATH=/usr/bin:/bin HOME="$WORK/home" LANG=C.UTF-8 XDG_RUNTIME_DIR="$WORK/run" \
    QT_QPA_PLATFORM=offscreen timeout 150 "$@"; }
  if out=$(gui "${wcmd[@]}" --screenshot "$OUT/smoke-service-wall.png" 2>&1) \
     && [ -s "$OUT/smoke-service-wall.png" ]; then
    ok "autostart entry's wall draws the service: exit 0 (smoke-service-wall.png)"
  else
    bad "autostart wall: $(tail -3 <<<"$out")"
  fi
  # no token file: the wall runs and says why on screen (no data: the screenshot exits 1)
  mv /etc/opsconsole/wall.token "$WORK/wall.token.kept"
  out=$(gui "${wcmd[@]}" --screenshot "$OUT/smoke-service-wall-no-token.png" \
    --screenshot-after 8 2>&1)
  rc=$?
  if [ "$rc" -le 1 ] && [ -s "$OUT/smoke-service-wall-no-token.png" ] \
     && ! grep -q Traceback <<<"$out"; then
    ok "autostart wall without its token file: runs, no traceback (smoke-service-wall-no-token.png: look)"
  else
    bad "autostart wall without a token file: exit $rc: $(tail -3 <<<"$out")"
  fi
else
  bad "$entry: no Exec line"
fi

kill -TERM "$serve_pid" 2>/dev/null
wait "$serve_pid"
rc=$?
[ "$rc" -eq 0 ] && ok "SIGTERM: the service stopped cleanly (exit 0)" \
  || bad "SIGTERM: exit $rc: $(tail -3 "$WORK/serve.log")"
site_dir=$(find /var/lib/opsconsole -mindepth 1 -maxdepth 1 -type d | head -1)
strays=$(find /var/lib/opsconsole -mindepth 1 \( -not -user opsconsole -o -not -group opsconsole \) \
  -printf '%p %u:%g\n' | head -3)
if [ -n "$site_dir" ] && [ -s "$site_dir/duty.sqlite" ] && [ -z "$strays" ] \
   && [ "$(stat -c %a "$site_dir/tokens.json")" = 600 ]; then
  ok "data in $site_dir, all opsconsole:opsconsole, tokens.json 0600"
else
  bad "data dir '$site_dir': ${strays:-$(ls -la "$site_dir" 2>&1 | head -5)}"
fi

# ---------------------------------------------------------------- upgrade, purge
# the same version again: the upgrade path of postinst (configure with the old version)
if out=$(dpkg -i "${force[@]}" "$DEB" 2>&1) && [ -s "$site_dir/duty.sqlite" ] \
   && [ "$(stat -c '%U:%G %a' /var/lib/opsconsole)" = "opsconsole:opsconsole 2770" ]; then
  ok "dpkg -i again (upgrade path): configured, data and folders as they were"
else
  bad "dpkg -i again: $(tail -3 <<<"$out")"
fi
# as `systemctl enable` would leave it: purge must not leave a dangling link
wants=/etc/systemd/system/multi-user.target.wants
mkdir -p "$wants" && ln -sf "$UNIT" "$wants/$NAME-serve.service"
if out=$(dpkg --purge "$NAME" 2>&1) && [ ! -e "/opt/$NAME" ] && [ ! -e "$UNIT" ] \
   && [ ! -L "$wants/$NAME-serve.service" ] \
   && [ -s "$site_dir/duty.sqlite" ] && getent passwd opsconsole >/dev/null; then
  ok "dpkg --purge: program, unit and its enablement gone; the site's data and the user kept"
else
  bad "dpkg --purge: $(tail -3 <<<"$out")"
fi
exit "$fail"
