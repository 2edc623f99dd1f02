#!/usr/bin/env bash
# Installer test (`make test-package`): builds the packages, installs the
# app's .deb, starts the installed app under Xvfb: three very first starts
# (each in a new home on a new session bus), then on a signed-in profile;
# waits for its window (launch-to-window times and the app's start-up
# milestones printed as JSON), takes screenshots, checks that it sees a newer
# signed release on a local server,
# purges it and checks that nothing of it remains but the user's data.
# Then installs ferry-server's .deb, starts the unit's command as the ferry
# user, reaches /v1/health, purges it.
# Runs as root or with sudo; changes only its own packages on the machine.
set -euo pipefail
cd "$(dirname "$0")/.."
root="$PWD"
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/ferry/target}"
art="$root/test-artifacts/package"
rm -rf "$art" && mkdir -p "$art"
sudo=""
[ "$(id -u)" -eq 0 ] || sudo="sudo"
export DEBIAN_FRONTEND=noninteractive

fail() { echo "test-package: FAIL: $*" >&2; exit 1; }
say() { echo "test-package: $*"; }

work="$(mktemp -d)"
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT

# What this test uses beyond `make deps`: a session bus (as in a desktop
# session; without one GLib spends a second failing to start one) and the
# desktop entry checker.
need=()
for p in dbus-daemon desktop-file-utils curl rpm; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || need+=("$p")
done
if [ ${#need[@]} -gt 0 ]; then
  $sudo apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
fi

version="$(sed -n 's/^version = "\(.*\)"/\1/p' Cargo.toml | head -1)"
[ -n "$version" ] || fail "no workspace version in Cargo.toml"

# --- Build ------------------------------------------------------------------
if [ -z "${FERRY_SKIP_BUILD:-}" ]; then
  scripts/package.sh
fi
cargo build -q -p ferry-server -p ferry-cli
deb="$CARGO_TARGET_DIR/release/bundle/deb/Ferry_${version}_amd64.deb"
rpm="$CARGO_TARGET_DIR/release/bundle/rpm/Ferry-${version}-1.x86_64.rpm"
server_deb="$(ls "$CARGO_TARGET_DIR"/debian/ferry-server_"${version}"*_amd64.deb | head -1)"
for f in "$deb" "$rpm" "$server_deb"; do [ -f "$f" ] || fail "missing package $f"; done
pkg="$(dpkg-deb -f "$deb" Package)"
dpkg-deb -I "$deb" > "$art/desktop-control.txt"
for field in Package Version Maintainer Description Homepage Section Depends; do
  [ -n "$(dpkg-deb -f "$deb" "$field")" ] || fail "the .deb has no $field"
done
[ "$(dpkg-deb -f "$deb" Version)" = "$version" ] || fail "the .deb is not version $version"
# One maintainer and homepage on every package: the workspace's first author.
maintainer="$(sed -n 's/^authors = \["\([^"]*\)".*/\1/p' Cargo.toml | head -1)"
homepage="$(sed -n 's/^homepage = "\(.*\)"/\1/p' Cargo.toml | head -1)"
rpm -qip "$rpm" > "$art/desktop-rpm-info.txt"
dpkg-deb -I "$server_deb" > "$art/server-control.txt"
for f in "$deb" "$server_deb"; do
  [ "$(dpkg-deb -f "$f" Maintainer)" = "$maintainer" ] || fail "$f: Maintainer is not $maintainer"
  [ "$(dpkg-deb -f "$f" Homepage)" = "$homepage" ] || fail "$f: Homepage is not $homepage"
done
[ "$(rpm -qp --qf '%{URL}' "$rpm")" = "$homepage" ] || fail "the .rpm's URL is not $homepage"

# --- A local server with a newer signed release -----------------------------
port="$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')"
url="http://127.0.0.1:$port"
newer="$(python3 -c "v='$version'.split('-')[0].split('.'); v[2]=str(int(v[2])+1); print('.'.join(v))")"
mkdir -p "$work/releases"
tauri="node $root/ui/node_modules/@tauri-apps/cli/tauri.js"
$tauri signer generate --ci -p '' -w "$work/update.key" >/dev/null
cp "$deb" "$work/releases/Ferry_${newer}_amd64.deb"
$tauri signer sign -f "$work/update.key" -p '' --app-version "$newer" \
  "$work/releases/Ferry_${newer}_amd64.deb" >/dev/null
python3 - "$work/releases" "$newer" "$url" <<'EOF'
import json, sys
d, v, url = sys.argv[1:]
sig = open(f"{d}/Ferry_{v}_amd64.deb.sig").read()
json.dump({"version": v, "notes": "Test release", "pub_date": "2026-11-27T08:00:00Z",
           "platforms": {"linux-x86_64-deb": {"signature": sig, "url": f"{url}/Ferry_{v}_amd64.deb"}}},
          open(f"{d}/{v}.json", "w"))
EOF
bin="$CARGO_TARGET_DIR/debug"
"$bin/ferry-server" --db "sqlite://$work/server.db" seed-demo >/dev/null 2>&1
"$bin/ferry-server" --db "sqlite://$work/server.db" serve --listen "127.0.0.1:$port" \
  --releases "$work/releases" >"$art/server.log" 2>&1 &
pids+=($!)
for _ in $(seq 1 100); do curl -fs "$url/v1/health" >/dev/null && break; sleep 0.1; done
curl -fs "$url/v1/health" >/dev/null || fail "the local server did not start"
code="$(curl -s -o /dev/null -w '%{http_code}' "$url/v1/app/update/linux-x86_64/$version")"
[ "$code" = 200 ] || fail "the server offers no update to $version (HTTP $code)"

# --- Install ----------------------------------------------------------------
if dpkg -s "$pkg" >/dev/null 2>&1; then $sudo apt-get purge -y -qq "$pkg" >/dev/null; fi
before="$work/before.txt"
find /usr /etc /opt -xdev 2>/dev/null | sort > "$before"
$sudo apt-get install -y -qq --no-install-recommends "$deb" >"$art/apt-install.log" 2>&1 \
  || { cat "$art/apt-install.log"; fail "apt-get install $deb"; }
dpkg -L "$pkg" | sort > "$art/installed-files.txt"
desktop_file="$(grep '^/usr/share/applications/.*\.desktop$' "$art/installed-files.txt" | head -1)"
[ -n "$desktop_file" ] || fail "no desktop entry installed"
cp "$desktop_file" "$art/"
grep -q '^Exec=ferry-desktop' "$desktop_file" || fail "the desktop entry does not start ferry-desktop"
if command -v desktop-file-validate >/dev/null; then
  desktop-file-validate "$desktop_file" || fail "desktop-file-validate $desktop_file"
fi
icons="$(grep -c '^/usr/share/icons/hicolor/.*/apps/ferry-desktop.png$' "$art/installed-files.txt" || true)"
[ "$icons" -ge 6 ] || fail "only $icons icon sizes installed"
[ -x /usr/bin/ferry-desktop ] || fail "/usr/bin/ferry-desktop is not installed"

# --- Start the installed app ------------------------------------------------
n=90
while [ -e "/tmp/.X$n-lock" ]; do n=$((n + 1)); done
Xvfb ":$n" -screen 0 1280x860x24 -nolisten tcp >/dev/null 2>&1 &
pids+=($!)
export DISPLAY=":$n"
for _ in $(seq 1 100); do [ -S "/tmp/.X11-unix/X$n" ] && break; sleep 0.05; done
xdotool getdisplaygeometry >/dev/null || fail "Xvfb did not start"
# A new session bus, as a new desktop session has: nothing on it has been
# started yet (the desktop portal, the accessibility bus).
# The bus and what it starts keep the user's own home, as before the test's
# throwaway one (the document portal mounts under it).
real_home="$HOME"
session_bus() {
  local bus
  bus="$(env -u XDG_CONFIG_HOME -u XDG_DATA_HOME -u XDG_CACHE_HOME HOME="$real_home" \
    dbus-daemon --session --fork --nopidfile --print-address=1 --print-pid=1)"
  export DBUS_SESSION_BUS_ADDRESS="$(echo "$bus" | head -1)"
  pids+=("$(echo "$bus" | sed -n 2p)")
}

# The user's data lives under a throwaway home: profile, webview cache, window state.
export HOME="$work/home" XDG_CONFIG_HOME="$work/home/.config" XDG_DATA_HOME="$work/home/.local/share" \
  XDG_CACHE_HOME="$work/home/.cache" FERRY_KEYRING=off FERRY_PASSPHRASE="package test passphrase"
mkdir -p "$HOME"

# Starts the installed app on profile $1 (home $3, else $HOME); sets app_pid,
# window and launch_s. The log has the app's start-up milestones.
launch() {
  local profile="$1" log="$2" home="${3:-$HOME}" start end
  start="$(date +%s.%N)"
  HOME="$home" XDG_CONFIG_HOME="$home/.config" XDG_DATA_HOME="$home/.local/share" \
    XDG_CACHE_HOME="$home/.cache" FERRY_LOG="${FERRY_LOG:-warn,ferry=info},ferry_desktop::startup=debug" \
    /usr/bin/ferry-desktop --profile "$profile" >"$log" 2>&1 &
  app_pid=$!
  pids+=("$app_pid")
  window=""
  local deadline=$((SECONDS + 30))
  while [ -z "$window" ] && [ $SECONDS -lt $deadline ]; do
    window="$(xdotool search --onlyvisible --pid "$app_pid" --name '^Ferry$' 2>/dev/null | head -1 || true)"
    [ -n "$window" ] || sleep 0.01
  done
  end="$(date +%s.%N)"
  [ -n "$window" ] || { cat "$log"; fail "no Ferry window within 30 s"; }
  launch_s="$(python3 -c "print(round($end - $start, 3))")"
}

# A screenshot once the page has drawn: the webview below the menu bar holds
# more than a handful of colours (text, icons), not a blank background. With
# "rows", also the first row of the record list (its text, below the column
# headers), which comes a moment after the list's header.
screenshot() {
  local out="$1" want="${2:-}" deadline=$((SECONDS + 20)) colours=0 row=0
  while [ $SECONDS -lt $deadline ]; do
    import -window "$window" "$out" 2>/dev/null || true
    colours="$(convert "$out" -crop +0+40 +repage -format %k info: 2>/dev/null || echo 0)"
    if [ "$want" = rows ]; then
      row="$(convert "$out" -crop 900x24+260+157 +repage -format %k info: 2>/dev/null || echo 0)"
      [ "$colours" -gt 50 ] && [ "$row" -gt 10 ] && return 0
    else
      [ "$colours" -gt 50 ] && return 0
    fi
    sleep 0.2
  done
  [ "$want" = rows ] && fail "the record list showed no rows ($row colours in its first row, $out)"
  fail "the window stayed blank ($colours colours in $out)"
}

quit_app() {
  kill "$app_pid" 2>/dev/null || true
  wait "$app_pid" 2>/dev/null || true
}

# The app's start-up milestones in a log, as JSON: {"window built": ms, ...}.
milestones() {
  sed 's/\x1b\[[0-9;]*m//g' "$1" | python3 -c '
import json, re, sys
print(json.dumps({m[1]: int(m[2]) for m in re.finditer(r"start: (.+?) ms=(\d+)", sys.stdin.read())}))'
}

# The very first start, three times: each in a new home on a new session bus.
first_launch_s=()
first_milestones=()
for i in 1 2 3; do
  say "first start $i: new home, new session bus, empty profile"
  session_bus
  home="$work/first-home-$i"
  mkdir -p "$home"
  launch "$home/profiles/fresh" "$art/app-first-$i.log" "$home"
  first_launch_s+=("$launch_s")
  screenshot "$art/installed-app-first-start-$i.png"
  quit_app
  first_milestones+=("$(milestones "$art/app-first-$i.log")")
done

say "a profile signed in to the local server: sees the newer release"
"$bin/ferry" --profile "$HOME/profiles/alice" login "$url" alice <<<"demo" >/dev/null
"$bin/ferry" --profile "$HOME/profiles/alice" sync >/dev/null
FERRY_LOG="warn,ferry=info,tauri_plugin_updater=debug" launch "$HOME/profiles/alice" "$art/app-alice.log"
signed_in_launch_s="$launch_s"
signed_in_milestones="$(milestones "$art/app-alice.log")"
deadline=$((SECONDS + 20))
until grep -q "a newer Ferry is available" "$art/app-alice.log"; do
  [ $SECONDS -lt $deadline ] || { cat "$art/app-alice.log"; fail "the app did not see version $newer"; }
  sleep 0.2
done
screenshot "$art/installed-app-records.png" rows
sed 's/\x1b\[[0-9;]*m//g' "$art/app-alice.log" | grep "a newer Ferry is available" | grep -q "version=$newer" \
  || fail "the app saw another version than $newer"
quit_app

# --- Uninstall --------------------------------------------------------------
$sudo apt-get purge -y -qq "$pkg" >"$art/apt-purge.log" 2>&1 || { cat "$art/apt-purge.log"; fail "apt-get purge"; }
dpkg -s "$pkg" >/dev/null 2>&1 && fail "$pkg is still installed"
left=0
while read -r f; do
  [ -d "$f" ] && continue   # shared directories such as /usr/bin stay
  if [ -e "$f" ]; then echo "left behind: $f" >&2; left=1; fi
done < "$art/installed-files.txt"
[ $left -eq 0 ] || fail "files of $pkg remain after purge"
find /usr /etc /opt -xdev 2>/dev/null | sort > "$work/after.txt"
comm -13 "$before" "$work/after.txt" > "$art/new-system-files.txt"
if grep -i 'ferry' "$art/new-system-files.txt"; then fail "new files named ferry remain on the system"; fi
[ -f "$HOME/profiles/alice/ferry.db" ] || fail "the user's profile is gone"

deb_bytes="$(stat -c %s "$deb")"
rpm_bytes="$(stat -c %s "$rpm")"
installed_kb="$(dpkg-deb -f "$deb" Installed-Size)"

# --- Server package ----------------------------------------------------------
say "server package"
created_user=0
getent passwd ferry >/dev/null || created_user=1
had_data=0
[ -e /var/lib/ferry ] && had_data=1
if dpkg -s ferry-server >/dev/null 2>&1; then $sudo apt-get purge -y -qq ferry-server >/dev/null; fi
$sudo apt-get install -y -qq --no-install-recommends "$server_deb" >"$art/apt-install-server.log" 2>&1 \
  || { cat "$art/apt-install-server.log"; fail "apt-get install $server_deb"; }
dpkg -L ferry-server | sort > "$art/installed-files-server.txt"
getent passwd ferry >/dev/null || fail "no ferry user"
[ "$(stat -c %U /var/lib/ferry)" = ferry ] || fail "/var/lib/ferry is not the ferry user's"
[ "$(stat -c %G:%a /etc/ferry/server.toml)" = ferry:640 ] || fail "/etc/ferry/server.toml is not root:ferry 640"
unit=/lib/systemd/system/ferry-server.service
[ -f "$unit" ] || unit=/usr/lib/systemd/system/ferry-server.service
[ -f "$unit" ] || fail "no systemd unit installed"
exec_start="$(sed -n 's/^ExecStart=//p' "$unit")"
[ -n "$exec_start" ] || fail "the unit has no ExecStart"
sport="$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')"
# No systemd here: the unit's command line, as its user, in its directory;
# only the port differs (the environment overrides the config file).
(cd /var/lib/ferry && exec $sudo env FERRY_LISTEN="127.0.0.1:$sport" runuser -u ferry -- $exec_start) \
  >"$art/server-package.log" 2>&1 &
server_pid=$!
pids+=("$server_pid")
health=""
for _ in $(seq 1 100); do
  health="$(curl -fs "http://127.0.0.1:$sport/v1/health" || true)"
  [ -n "$health" ] && break
  sleep 0.1
done
echo "$health" | grep -q '"status":"ok"' || { cat "$art/server-package.log"; fail "/v1/health of the packaged server: $health"; }
[ "$(stat -c %U /var/lib/ferry/ferry.db)" = ferry ] || fail "the database is not the ferry user's"
code="$(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$sport/v1/app/update/linux-x86_64/$version")"
[ "$code" = 204 ] || fail "the packaged server's empty releases directory answers $code"
# The admin console is inside the binary: its page and the scripts it names.
console="$(curl -fs "http://127.0.0.1:$sport/admin/")" || fail "the packaged server has no admin console at /admin/"
script="$(echo "$console" | grep -o '/admin/assets/[^"]*\.js' | head -1)"
[ -n "$script" ] || fail "the console's page names no script: $console"
curl -fs -o /dev/null "http://127.0.0.1:$sport$script" || fail "the packaged console's $script is missing"
# runuser (and sudo) pass SIGTERM on to the server, which stops cleanly.
kill -TERM "$server_pid" 2>/dev/null || true
wait "$server_pid" 2>/dev/null || true
$sudo apt-get purge -y -qq ferry-server >"$art/apt-purge-server.log" 2>&1 || fail "apt-get purge ferry-server"
for f in /usr/bin/ferry-server "$unit" /etc/ferry; do
  [ ! -e "$f" ] || fail "$f remains after purge"
done
[ -f /var/lib/ferry/ferry.db ] || fail "purge deleted the server's database"
# Leave the machine as found.
[ $had_data -eq 1 ] || $sudo rm -rf /var/lib/ferry
[ $created_user -eq 0 ] || $sudo deluser --system ferry >/dev/null 2>&1 || true

python3 - "$deb_bytes" "$rpm_bytes" "$installed_kb" "$signed_in_launch_s" "$signed_in_milestones" \
  "${first_launch_s[*]}" "${first_milestones[@]}" <<'EOF' | tee "$art/figures.json"
import json, sys
deb, rpm, inst, signed, signed_ms, first = sys.argv[1:7]
print(json.dumps({
    "deb_bytes": int(deb), "deb_mb": round(int(deb) / 1e6, 2),
    "rpm_bytes": int(rpm), "installed_kb": int(inst),
    "launch_to_window_s": {"first_start": [float(f) for f in first.split()],
                           "signed_in": float(signed)},
    # Milliseconds after main() (the app's log, ferry_desktop::startup).
    "start_milestones_ms": {"first_start": [json.loads(m) for m in sys.argv[7:]],
                            "signed_in": json.loads(signed_ms)},
}, indent=2))
EOF
say "ok"
