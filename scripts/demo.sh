#!/usr/bin/env bash
# Starts the demo: a ferry-server on loopback with the demo schema, users and
# records, and (when users are named) one Ferry window per user, each signed
# in on its own profile. Safe to re-run: the demo database and profiles are
# reused and seeding is idempotent.
#
#   scripts/demo.sh BIN_DIR              the server alone, in the foreground
#   scripts/demo.sh BIN_DIR alice [bob …]  the server and a window per user
set -euo pipefail

bin="$1"
shift
users=("$@")
dir="${FERRY_DEMO_DIR:-$HOME/.cache/ferry/demo}"
listen="${FERRY_DEMO_LISTEN:-127.0.0.1:8787}"
url="http://$listen"
mkdir -p "$dir"
db="sqlite://$dir/ferry.db"

if curl -fsS "$url/v1/health" >/dev/null 2>&1; then
  echo "A server already answers on $url (stop it, or set FERRY_DEMO_LISTEN=127.0.0.1:PORT)." >&2
  exit 1
fi

"$bin/ferry-server" --db "$db" seed-demo

if [ ${#users[@]} -eq 0 ]; then
  cat <<MSG

Ferry demo server: $url   (data in $dir; Ctrl-C stops it)

  Admin console: $url/admin/   (user admin, password "demo")

  Users: alice and bob (write contacts and tasks), carol (reads the contacts of the north region); password "demo".
  Try it:
    curl -s $url/v1/health
    TOKEN=\$(curl -s -X POST $url/v1/auth/login -H 'content-type: application/json' \\
      -d '{"username":"alice","password":"demo","device_name":"terminal"}' | sed 's/.*"token":"\\([^"]*\\)".*/\\1/')
    curl -s -H "Authorization: Bearer \$TOKEN" $url/v1/schema
    curl -s -H "Authorization: Bearer \$TOKEN" "$url/v1/changes?limit=2"
  API reference: $url/v1/openapi.json

MSG
  exec "$bin/ferry-server" --db "$db" serve --listen "$listen"
fi

if [ -z "${DISPLAY:-}" ] && [ -z "${WAYLAND_DISPLAY:-}" ]; then
  echo "No display: the demo app needs a desktop session (or run it under xvfb-run)." >&2
  exit 1
fi

pids=()
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
}
trap cleanup EXIT INT TERM

"$bin/ferry-server" --db "$db" serve --listen "$listen" >"$dir/server.log" 2>&1 &
pids+=($!)
for _ in $(seq 1 100); do
  curl -fsS "$url/v1/health" >/dev/null 2>&1 && break
  sleep 0.1
done

# The demo keeps off the OS keyring, so its profiles are encrypted with this passphrase.
export FERRY_PASSPHRASE="${FERRY_PASSPHRASE:-ferry demo passphrase}"
for user in "${users[@]}"; do
  profile="$dir/profile-$user"
  # Sign each profile in with the CLI, so the window opens ready to use.
  if ! FERRY_KEYRING=off "$bin/ferry" --profile "$profile" status --json 2>/dev/null | grep -q "\"username\": *\"$user\""; then
    echo demo | FERRY_KEYRING=off "$bin/ferry" --profile "$profile" login "$url" "$user" >/dev/null
  fi
  FERRY_KEYRING=off FERRY_PROFILE="$profile" "$bin/ferry-desktop" &
  pids+=($!)
done

cat <<MSG

Ferry demo: server $url, a window for: ${users[*]} (password "demo").
  Admin console: $url/admin/ in a browser (user admin, password "demo").
  Try: work offline in one window (status bar), edit the same field of a
  record in both, go online again, and resolve the conflict.
  carol sees only the contacts of the north: set a north contact's Region
  to south in alice's window, and watch it leave carol's list.
  Closing the windows (or Ctrl-C here) stops the demo.

MSG
# Stop when the windows are closed.
for p in "${pids[@]:1}"; do wait "$p" || true; done
