#!/usr/bin/env bash
# moto in server mode (from PyPI, in a venv under ~/.cache/ferry): a real S3
# API on loopback for the blob store tests. Installs it when missing and
# prints the path of `moto_server`; the tests start it on a port they pick.
set -euo pipefail

venv="$HOME/.cache/ferry/moto"
version="5.2.5"

if ! "$venv/bin/python" -c "import moto, sys; sys.exit(moto.__version__ != '$version')" 2>/dev/null; then
  echo "Installing moto $version (pip, into $venv)" >&2
  python3 -m venv "$venv"
  "$venv/bin/pip" install --quiet --disable-pip-version-check "moto[server]==$version"
fi
echo "$venv/bin/moto_server"
