#!/usr/bin/env bash
# Makes a PostgreSQL server answer on 127.0.0.1:5432 with trust authentication
# for loopback connections and a database `test`, for the PostgreSQL tests
# (FERRY_TEST_PG_URL=postgres://postgres@127.0.0.1:5432/test).
# Uses a server that already answers there; otherwise installs Debian's
# `postgresql` if missing and starts its cluster (no systemd needed).
# Safe to re-run.
set -euo pipefail

default_url=postgres://postgres@127.0.0.1:5432/test
# A server named elsewhere that answers is used as it is.
if [ -n "${FERRY_TEST_PG_URL:-}" ] && [ "$FERRY_TEST_PG_URL" != "$default_url" ]; then
  if psql -X -q "$FERRY_TEST_PG_URL" -tAc "SELECT 1" >/dev/null 2>&1; then
    echo "PostgreSQL ready: FERRY_TEST_PG_URL answers"
    exit 0
  fi
  echo "FERRY_TEST_PG_URL is set but does not answer; setting up $default_url instead" >&2
fi

host=127.0.0.1
port=5432
sudo=""
[ "$(id -u)" -eq 0 ] || sudo="sudo"

answers() {
  command -v pg_isready >/dev/null && pg_isready -q -h "$host" -p "$port" -t 2
}

psql_ok() {
  psql -X -q -h "$host" -p "$port" -U postgres -d postgres -tAc "$1"
}

if ! answers; then
  if ! command -v pg_ctlcluster >/dev/null || ! ls /usr/lib/postgresql/*/bin/postgres >/dev/null 2>&1; then
    echo "Installing PostgreSQL (Debian package postgresql)"
    $sudo apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends postgresql >/dev/null
  fi
  # The newest installed version's cluster on our port, created if missing.
  version=$(ls /usr/lib/postgresql | sort -V | tail -1)
  cluster=$(pg_lsclusters -h 2>/dev/null | awk -v p="$port" -v v="$version" '$1 == v && $3 == p {print $2; exit}')
  if [ -z "$cluster" ]; then
    cluster=main
    $sudo pg_createcluster -p "$port" "$version" "$cluster" >/dev/null
  fi
  conf=/etc/postgresql/$version/$cluster
  hba=$conf/pg_hba.conf
  # Trust on loopback: these are test clusters on a developer or CI machine.
  if ! $sudo grep -q '^# ferry: trust loopback' "$hba"; then
    tmp=$(mktemp)
    {
      echo '# ferry: trust loopback'
      echo 'host all all 127.0.0.1/32 trust'
      echo 'host all all ::1/128 trust'
      echo 'local all postgres trust'
      $sudo cat "$hba"
    } >"$tmp"
    $sudo cp "$tmp" "$hba"
    rm -f "$tmp"
  fi
  # Enough connections for parallel tests and the load bench.
  $sudo mkdir -p "$conf/conf.d"
  echo "max_connections = 300" | $sudo tee "$conf/conf.d/ferry.conf" >/dev/null
  echo "Starting PostgreSQL $version cluster $cluster on $host:$port"
  $sudo pg_ctlcluster --skip-systemctl-redirect "$version" "$cluster" start || \
    $sudo pg_ctlcluster --skip-systemctl-redirect "$version" "$cluster" restart
  for _ in $(seq 1 30); do
    answers && break
    sleep 1
  done
  answers || { echo "PostgreSQL did not start on $host:$port" >&2; exit 1; }
fi

if ! psql_ok "SELECT 1" >/dev/null 2>&1; then
  echo "PostgreSQL on $host:$port does not let user postgres in without a password;" >&2
  echo "set FERRY_TEST_PG_URL to a URL that works (trust authentication, database test)." >&2
  exit 1
fi
if [ "$(psql_ok "SELECT 1 FROM pg_database WHERE datname = 'test'")" != 1 ]; then
  psql_ok "CREATE DATABASE test" >/dev/null
fi
echo "PostgreSQL ready: postgres://postgres@$host:$port/test"
