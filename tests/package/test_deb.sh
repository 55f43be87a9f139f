#!/usr/bin/env bash
# The Debian package (cmake/packaging.cmake): builds it from the release
# build, checks what it declares (dependencies, the conffile, the maintainer
# scripts), checks its systemd unit with systemd-analyze, then installs its
# files into an empty root and starts the server the way the unit does (its
# ExecStart, as an unprivileged user, on the config the package ships) and
# checks that it serves: /v1/healthz, the web app at /, and a sign-up.
#   tests/package/test_deb.sh [BUILD_DIR]     default build/release
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
build=${1:-$root/build/release}
work=$(mktemp -d)
pid=
cleanup() { [ -n "$pid" ] && kill "$pid" 2>/dev/null; wait 2>/dev/null || true; rm -rf "$work"; }
trap cleanup EXIT
fail() { echo "test_deb: FAILED: $*" >&2; [ -f "$work/server.log" ] && tail -20 "$work/server.log" >&2; exit 1; }

# The package carries the web app as built (clients/web/dist): built here
# when it is not yet (the clients_web test, which runs first, builds it).
if [ ! -f "$root/clients/web/dist/index.html" ]; then
  (cd "$root/clients/web" &&
    { [ node_modules/.package-lock.json -nt package-lock.json ] || npm ci --no-audit --no-fund; } &&
    npm run build >/dev/null)
fi
cmake --build "$build" --target package >/dev/null
deb=$(ls -t "$build"/parleyd_*_amd64.deb | head -1)
echo "test_deb: $deb"

info=$(dpkg-deb -I "$deb")
depends=$(dpkg-deb -f "$deb" Depends)
for lib in libc6 libssl3 libsodium23 libsqlite3-0 librdkafka1 libpq5 libhiredis0.14 libmimalloc2.0 adduser; do
  grep -q "\b$lib\b" <<<"$depends" || fail "Depends lacks $lib: $depends"
done
for f in postinst prerm postrm conffiles; do grep -q " $f\b" <<<"$info" || fail "no $f in the control archive"; done
dpkg-deb --ctrl-tarfile "$deb" | tar -xO ./conffiles | grep -qx /etc/parley/parleyd.conf || fail "the config is not a conffile"

dpkg-deb --ctrl-tarfile "$deb" | tar -x -C "$work" ./postinst ./prerm ./postrm
for f in postinst prerm postrm; do sh -n "$work/$f" || fail "$f is not valid sh"; done
dpkg-deb -x "$deb" "$work/root"
for f in usr/bin/parleyd usr/lib/systemd/system/parleyd.service etc/parley/parleyd.conf usr/share/parley/web/index.html; do
  [ -e "$work/root/$f" ] || fail "the package does not install /$f"
done
# The unit, with its binary where this test put it (systemd-analyze
# checks that ExecStart's command exists).
unit=$work/parleyd.service
sed "s#/usr/bin/parleyd#$work/root/usr/bin/parleyd#" "$work/root/usr/lib/systemd/system/parleyd.service" >"$unit"
systemd-analyze verify "$unit" || fail "systemd-analyze verify refuses the unit"

# ExecStart as the unit runs it, under another user, on the shipped config;
# what the unit's StateDirectory and a free port give it comes from the
# environment (which overrides the config file).
exec_start=$(sed -n 's/^ExecStart=//p' "$unit")
config=$work/root/etc/parley/parleyd.conf
grep -q '^data-dir = /var/lib/parley$' "$config" || fail "the shipped config does not keep data in /var/lib/parley"
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
mkdir -p "$work/state"
# As root, the server runs as nobody (the unit's User= is a system user,
# never root); otherwise as whoever runs this.
as_service_user=()
if [ "$(id -u)" = 0 ]; then
  chown nobody "$work/state"
  chmod 755 "$work"
  as_service_user=(setpriv --reuid=nobody --regid=nogroup --clear-groups)
fi
(cd "$work/state" && exec "${as_service_user[@]}" env \
    PARLEY_DATA_DIR="$work/state" PARLEY_LISTEN="127.0.0.1:$port" PARLEY_WEB_DIR="$work/root/usr/share/parley/web" \
    PARLEY_PWHASH_LIMITS=min ${exec_start/\/etc\/parley\/parleyd.conf/$config} >"$work/server.log" 2>&1) &
pid=$!
for _ in $(seq 1 300); do
  curl -sf "http://127.0.0.1:$port/v1/healthz" >/dev/null && break
  kill -0 "$pid" 2>/dev/null || fail "the server exited"
  sleep 0.1
done
curl -sf "http://127.0.0.1:$port/v1/healthz" >/dev/null || fail "healthz never answered"
curl -sf "http://127.0.0.1:$port/" | grep -q '<div id="root">\|<html' || fail "the web app is not served at /"
curl -sf -X POST -H 'Content-Type: application/json' -d '{"username":"debian","password":"correct horse battery"}' \
    "http://127.0.0.1:$port/v1/users" | grep -q '"user_id"' || fail "a sign-up failed"
[ -n "$(ls -A "$work/state")" ] || fail "nothing was written to the data directory"
kill -TERM "$pid"
wait "$pid" || fail "the server did not stop cleanly on SIGTERM"
pid=
echo "test_deb: ok"
