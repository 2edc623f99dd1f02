#!/usr/bin/env bash
# Installs what building and testing Ferry needs on Debian/Ubuntu, and only
# what is missing: safe to re-run.
set -euo pipefail

packages=(
  build-essential pkg-config curl ca-certificates
  # Tauri (desktop app) build
  libwebkit2gtk-4.1-dev libgtk-3-dev libsoup-3.0-dev libjavascriptcoregtk-4.1-dev
  librsvg2-dev libayatana-appindicator3-dev
  # Headless runs, screenshots, desktop end-to-end tests, browser tests
  xvfb xauth xdotool imagemagick webkit2gtk-driver chromium
  # schemathesis's venv (make test-hostile); chattr for the read-only database test
  python3-venv e2fsprogs
)

missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done

if [ ${#missing[@]} -gt 0 ]; then
  echo "Installing system packages: ${missing[*]}"
  sudo=""
  [ "$(id -u)" -eq 0 ] || sudo="sudo"
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

if ! command -v cargo >/dev/null; then
  echo "Rust is missing: install it from https://rustup.rs (stable), then re-run." >&2
  exit 1
fi
if ! command -v node >/dev/null || [ "$(node -p 'process.versions.node.split(".")[0]')" -lt 20 ]; then
  echo "Node.js 20 or newer is needed for the UI build (found: $(node --version 2>/dev/null || echo none))." >&2
  exit 1
fi

# The WebDriver bridge for the desktop end-to-end test.
if ! command -v tauri-driver >/dev/null && [ ! -x "$HOME/.cargo/bin/tauri-driver" ]; then
  echo "Installing tauri-driver (cargo install)"
  cargo install tauri-driver --locked --quiet
fi

# UI packages, from the lock file, when it changed since the last install.
if [ -f ui/package-lock.json ]; then
  stamp=ui/node_modules/.ferry-lock
  if [ ! -f "$stamp" ] || ! cmp -s ui/package-lock.json "$stamp"; then
    echo "Installing UI packages (npm ci)"
    (cd ui && npm ci --no-audit --no-fund --loglevel=error)
    cp ui/package-lock.json "$stamp"
  fi
fi
