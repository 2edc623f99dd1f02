#!/usr/bin/env bash
# Schemathesis (from PyPI, in a venv under ~/.cache/ferry) against a seeded
# ferry-server on a free loopback port: a bounded run that must find no 5xx
# answer and no answer that breaks the served OpenAPI document.
#
#   scripts/schemathesis.sh BIN_DIR [SECONDS]     (FERRY_SOAK=1: 600 s)
#
# /v1/events (an endless stream) and /v1/auth/logout (it would revoke the
# token the run uses) are left out here; tests/reliability covers both.
set -euo pipefail

bin="$1"
seconds="${2:-45}"
[ "${FERRY_SOAK:-}" = 1 ] && seconds=600
venv="$HOME/.cache/ferry/schemathesis"
version="4.32.5"

if ! "$venv/bin/schemathesis" --version 2>/dev/null | grep -q "$version"; then
  echo "Installing schemathesis $version (pip, into $venv)"
  python3 -m venv "$venv"
  "$venv/bin/pip" install --quiet --disable-pip-version-check "schemathesis==$version"
fi

dir="$(mktemp -d)"
server_pid=""
cleanup() {
  [ -n "$server_pid" ] && kill "$server_pid" 2>/dev/null && wait "$server_pid" 2>/dev/null
  rm -rf "$dir"
}
trap cleanup EXIT

db="sqlite://$dir/ferry.db"
"$bin/ferry-server" --db "$db" seed-demo >/dev/null
"$bin/ferry-server" --db "$db" serve --listen 127.0.0.1:0 --metrics-listen off >"$dir/out" 2>"$dir/log" &
server_pid=$!
for _ in $(seq 100); do
  grep -q "listening on" "$dir/out" 2>/dev/null && break
  sleep 0.1
done
url="$(sed -n 's/.*listening on \(http:[^ ]*\).*/\1/p' "$dir/out")"
[ -n "$url" ] || { echo "ferry-server did not start:" >&2; cat "$dir/log" >&2; exit 1; }

token="$(curl -fsS -X POST "$url/v1/auth/login" -H 'content-type: application/json' \
  -d '{"username":"alice","password":"demo","device_name":"schemathesis"}' |
  python3 -c 'import json, sys; print(json.load(sys.stdin)["token"])')"

seed="${FERRY_SEED:-$RANDOM}"
echo "schemathesis against $url for ${seconds}s, seed $seed (replay with FERRY_SEED=$seed)"
cd "$dir"
"$venv/bin/schemathesis" run "$url/v1/openapi.json" \
  --url "$url" \
  --header "Authorization: Bearer $token" \
  --checks not_a_server_error,response_schema_conformance,status_code_conformance,content_type_conformance \
  --exclude-path /v1/events --exclude-path /v1/auth/logout \
  --max-time "$seconds" --request-timeout 10 --workers 1 \
  --seed "$seed" --generation-database none --no-color \
  --warnings off
