#!/usr/bin/env bash
# Starts the demo: a ferry-server on loopback with the demo schema, users and
# records. Safe to re-run: the demo database is reused and seeding is idempotent.
set -euo pipefail

server="$1"
dir="${FERRY_DEMO_DIR:-$HOME/.cache/ferry/demo}"
listen="${FERRY_DEMO_LISTEN:-127.0.0.1:8787}"
mkdir -p "$dir"
db="sqlite://$dir/ferry.db"

if curl -fsS "http://$listen/v1/health" >/dev/null 2>&1; then
  echo "A server already answers on http://$listen (stop it, or set FERRY_DEMO_LISTEN=127.0.0.1:PORT)." >&2
  exit 1
fi

"$server" --db "$db" seed-demo

cat <<MSG

Ferry demo server: http://$listen   (data in $dir; Ctrl-C stops it)

  Users: alice and bob (write contacts and tasks), carol (reads contacts); password "demo".
  Try it:
    curl -s http://$listen/v1/health
    TOKEN=\$(curl -s -X POST http://$listen/v1/auth/login -H 'content-type: application/json' \\
      -d '{"username":"alice","password":"demo","device_name":"terminal"}' | sed 's/.*"token":"\\([^"]*\\)".*/\\1/')
    curl -s -H "Authorization: Bearer \$TOKEN" http://$listen/v1/schema
    curl -s -H "Authorization: Bearer \$TOKEN" "http://$listen/v1/changes?limit=2"
  API reference: http://$listen/v1/openapi.json

MSG
exec "$server" --db "$db" serve --listen "$listen"
