#!/usr/bin/env bash
# Release installers: the desktop app's .deb and .rpm (Tauri CLI from npm)
# and ferry-server's .deb (cargo-deb). Prints where they are and their sizes.
#   scripts/package.sh            both
#   scripts/package.sh desktop    only the app
#   scripts/package.sh server     only the server
set -euo pipefail
cd "$(dirname "$0")/.."
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/ferry/target}"
what="${1:-all}"

if [ "$what" = all ] || [ "$what" = desktop ]; then
  # The workspace's default members leave the app out, hence -p. The UI is
  # built first by the config's beforeBuildCommand.
  node ui/node_modules/@tauri-apps/cli/tauri.js build --bundles deb,rpm -- -p ferry-desktop
  ls -l "$CARGO_TARGET_DIR"/release/bundle/deb/*.deb "$CARGO_TARGET_DIR"/release/bundle/rpm/*.rpm
fi

if [ "$what" = all ] || [ "$what" = server ]; then
  if ! command -v cargo-deb >/dev/null && [ ! -x "$HOME/.cargo/bin/cargo-deb" ]; then
    echo "Installing cargo-deb (cargo install)"
    cargo install cargo-deb --locked --quiet
  fi
  # The admin console is built into the binary.
  (cd ui && npx vite build --config vite.admin.config.ts)
  cargo deb -p ferry-server
  ls -l "$CARGO_TARGET_DIR"/debian/ferry-server_*.deb
fi
