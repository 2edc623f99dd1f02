#!/usr/bin/env python3
"""Desktop app performance under Xvfb; prints its figures as JSON.

  scripts/desktop-perf.py [--records 100000] [--bin-dir DIR] [--runs N]
                          [--screenshot FILE]

Builds two profiles signed in to a local ferry-server (one with no records,
one with --records tasks), then for each starts the built app through
tauri-driver and measures:
  - cold start: from launching the app to the record list shown (with rows,
    for a profile that has them), as seen through WebDriver;
  - memory: PSS of the app and its WebKit processes (/proc/PID/smaps_rollup),
    after scrolling the list;
  - search and sort: from the keystroke (or click) to the new rows rendered,
    timed inside the webview.
With --runs N, each profile is measured N times (the profiles are built
once) and the figures of every run are printed. With --screenshot, the
window is saved as a PNG after the last run's scrolling and searches, to
check that it still renders as it should.
Needs the binaries of `make app`, tauri-driver, WebKitWebDriver and Xvfb.
"""

import argparse
import json
import os
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
import http.client as http_client
import uuid

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
# The profiles are encrypted as any is; with no keyring here, by a passphrase.
PASSPHRASE_ENV = {"FERRY_KEYRING": "off", "FERRY_PASSPHRASE": "desktop perf passphrase"}


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def http(method, url, body=None, token=None, timeout=120):
    data = json.dumps(body).encode() if body is not None else None
    req = urllib.request.Request(url, data=data, method=method)
    req.add_header("content-type", "application/json")
    if token:
        req.add_header("authorization", f"Bearer {token}")
    with urllib.request.urlopen(req, timeout=timeout) as r:
        text = r.read()
        return json.loads(text) if text else None


def wait_until(what, f, patience=60):
    start = time.monotonic()
    while True:
        try:
            if f():
                return
        except Exception:
            pass
        if time.monotonic() - start > patience:
            raise TimeoutError(f"timed out waiting for {what}")
        time.sleep(0.05)


class Server:
    def __init__(self, bin_dir, tmp, name, records):
        self.db = f"sqlite://{tmp}/{name}.db"
        srv = os.path.join(bin_dir, "ferry-server")
        subprocess.run([srv, "--db", self.db, "seed-demo"], check=True, capture_output=True)
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.proc = subprocess.Popen(
            [srv, "--db", self.db, "serve", "--listen", f"127.0.0.1:{self.port}", "--metrics-listen", "off"],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        wait_until("the server", lambda: http("GET", f"{self.url}/v1/health"))
        token = http(
            "POST",
            f"{self.url}/v1/auth/login",
            {"username": "alice", "password": "demo", "device_name": "perf"},
        )["token"]
        if records == 0:
            # The demo records go, so this profile holds nothing at all.
            changes = http("GET", f"{self.url}/v1/changes?limit=5000", token=token)["changes"]
            deletes = [
                {
                    "mutation_id": str(uuid.uuid4()),
                    "collection": r["collection"],
                    "record_id": r["id"],
                    "op": "delete",
                    "base_version": r["version"],
                    "hlc": "2026-11-27T04:00:00.000Z-0000-perf",
                }
                for r in changes
            ]
            for i in range(0, len(deletes), 1000):
                http("POST", f"{self.url}/v1/push", {"mutations": deletes[i : i + 1000]}, token)
        statuses = ["todo", "doing", "done"]
        words = "plumber invoice garden roof window paint ledger meeting review draft".split()
        for start in range(0, records, 1000):
            batch = []
            for i in range(start, min(records, start + 1000)):
                batch.append(
                    {
                        "mutation_id": str(uuid.uuid4()),
                        "collection": "tasks",
                        "record_id": str(uuid.uuid4()),
                        "op": "put",
                        "base_version": None,
                        "fields": {
                            "title": f"Task {i} {words[i % 10]} {words[(i * 7) % 10]}",
                            "status": statuses[i % 3],
                            "priority": i % 5,
                            "due": f"2027-{1 + i % 12:02d}-{1 + i % 28:02d}",
                            "notes": " ".join(words[(i + k) % 10] for k in range(40)),
                        },
                        "hlc": "2026-11-27T04:00:00.000Z-0000-perf",
                    }
                )
            http("POST", f"{self.url}/v1/push", {"mutations": batch}, token)

    def stop(self):
        self.proc.terminate()
        self.proc.wait()


def profile_for(bin_dir, tmp, name, server):
    path = os.path.join(tmp, f"profile-{name}")
    cli = os.path.join(bin_dir, "ferry")
    env = dict(os.environ, **PASSPHRASE_ENV)
    for args, stdin in ((["login", server.url, "alice"], b"demo\n"), (["sync"], None)):
        done = subprocess.run([cli, "--profile", path, *args], input=stdin, env=env, capture_output=True)
        if done.returncode != 0:
            sys.exit(f"ferry {args[0]} failed: {done.stderr.decode(errors='replace').strip()}")
    return path


class Driver:
    def __init__(self, base):
        self.base = base

    def call(self, method, path, body=None):
        # tauri-driver now and then forwards a command on a connection
        # WebKitWebDriver has closed ("client error (SendRequest)" in its
        # log): the command never arrived, so it is sent again.
        for attempt in range(3):
            try:
                return http(method, f"{self.base}{path}", body)["value"]
            except (http_client.RemoteDisconnected, ConnectionResetError):
                if attempt == 2:
                    raise
                time.sleep(0.2)

    def find(self, css):
        try:
            v = self.call("POST", "/element", {"using": "css selector", "value": css})
            return next(iter(v.values()))
        except Exception:
            return None

    def click(self, css):
        eid = None
        wait_until(css, lambda: (eid := self.find(css)) is not None)
        eid = self.find(css)
        self.call("POST", f"/element/{eid}/click", {})

    def run_async(self, script):
        return self.call("POST", "/execute/async", {"script": script, "args": []})


def descendants(pid):
    out = [pid]
    try:
        with open(f"/proc/{pid}/task/{pid}/children") as f:
            kids = [int(k) for k in f.read().split()]
    except OSError:
        kids = []
    for k in kids:
        out += descendants(k)
    return out


def pss_mb(pids):
    total = 0
    for pid in pids:
        try:
            with open(f"/proc/{pid}/smaps_rollup") as f:
                for line in f:
                    if line.startswith("Pss:"):
                        total += int(line.split()[1])
        except OSError:
            pass
    return round(total / 1024, 1)


def pss_by_process(pids):
    out = {}
    for pid in pids:
        try:
            with open(f"/proc/{pid}/comm") as f:
                name = f.read().strip()
        except OSError:
            continue
        out[name] = round(out.get(name, 0) + pss_mb([pid]), 1)
    return out


def other_webkit_processes(ours):
    """WebKit processes on the machine that are not this app's."""
    n = 0
    for entry in os.listdir("/proc"):
        if entry.isdigit() and int(entry) not in ours:
            try:
                with open(f"/proc/{entry}/comm") as f:
                    n += f.read().startswith(("WebKitWebProces", "WebKitNetworkPr"))
            except OSError:
                pass
    return n


def app_pid(profile):
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/comm") as f:
                if f.read().strip() != "ferry-desktop":
                    continue
            with open(f"/proc/{entry}/environ", "rb") as f:
                if f"FERRY_PROFILE={profile}".encode() in f.read().split(b"\0"):
                    return int(entry)
        except OSError:
            continue
    return None


def timed(prepare, act, ready):
    """A script for the webview: runs `prepare`, then `act`, and answers
    the milliseconds from `act` until `ready` (a JavaScript expression)
    holds, checked at every frame; -1 after 5 s."""
    return (
        "const done = arguments[arguments.length - 1];\n"
        + prepare
        + "\nconst t0 = performance.now();\n"
        + act
        + "\nconst check = () => {\n"
        + "  if (" + ready + ") done(performance.now() - t0);\n"
        + "  else if (performance.now() - t0 > 5000) done(-1);\n"
        + "  else requestAnimationFrame(check);\n"
        + "};\n"
        + "requestAnimationFrame(check);\n"
    )


# From an input to the first row showing `expect`.
TIMED_SEARCH = timed(
    """const [term, expect] = %s;
const input = document.querySelector('[data-testid=search]');
const row = () => document.querySelector('[data-testid=row]');""",
    """input.value = term;
input.dispatchEvent(new Event('input', { bubbles: true }));""",
    "row()?.textContent.includes(expect)",
)

# From a click on a column header to another first row.
TIMED_SORT = timed(
    """const header = document.querySelector('[data-testid=sort-%s]');
const first = () => document.querySelector('[data-testid=row]')?.getAttribute('data-id');
const before = first();""",
    "header.click();",
    "first() && first() !== before",
)

# Jumps the list to `fraction` of its scroll range and times until the
# row that belongs at the top there is shown (past 8 million pixels the
# list scrolls proportionally: RecordList's scrollRatio), within a few
# rows: the header's height is not part of the scroll range.
TIMED_SCROLL = timed(
    """const fraction = %f;
const list = document.querySelector('[data-testid=record-list]');
const total = Number(list.getAttribute('data-total'));
const view = list.clientHeight - 34;
const first = Math.min(total - 1, Math.floor((fraction * Math.max(0, total * 36 - view)) / 36));
const shown = () => [...document.querySelectorAll('[data-testid=row]')].some((r) => Math.abs(Number(r.dataset.index) - first) <= 5);""",
    "list.scrollTop = fraction * (list.scrollHeight - list.clientHeight);",
    "shown()",
)

SCROLL = """
const done = arguments[arguments.length - 1];
const list = document.querySelector('[data-testid=record-list]') || document.querySelector('[data-testid=row]').parentElement.parentElement;
let n = 0;
const step = () => {
  list.scrollTop = (list.scrollHeight * n) / 20;
  if (++n > 20) setTimeout(() => done(document.querySelectorAll('[data-testid=row]').length), 500);
  else setTimeout(step, 50);
};
step();
"""


def measure(app, profile, display, records, has_rows=True, screenshot=None):
    port, native = free_port(), free_port()
    env = dict(os.environ, DISPLAY=display, FERRY_PROFILE=profile, **PASSPHRASE_ENV)
    # The driver's and the app's output, to see why a run failed.
    os.makedirs(os.path.join(ROOT, "test-artifacts", "desktop"), exist_ok=True)
    log = open(os.path.join(ROOT, "test-artifacts", "desktop", "perf-app.log"), "ab")
    driver = subprocess.Popen(
        [shutil.which("tauri-driver") or os.path.expanduser("~/.cargo/bin/tauri-driver"),
         "--port", str(port), "--native-port", str(native), "--native-driver", "/usr/bin/WebKitWebDriver"],
        env=env, stdout=log, stderr=subprocess.STDOUT,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        wait_until("tauri-driver", lambda: http("GET", f"{base}/status"))
        t0 = time.monotonic()
        sid = http("POST", f"{base}/session", {"capabilities": {"alwaysMatch": {"tauri:options": {"application": app}}}})["value"]["sessionId"]
    except Exception:
        print(f"no session: {alive(driver.pid, profile)}", file=sys.stderr)
        driver.terminate()
        driver.wait()
        raise
    d = Driver(f"{base}/session/{sid}")
    try:
        result = measure_in(d, t0, profile, records, has_rows)
        if screenshot:
            import base64
            with open(screenshot, "wb") as f:
                f.write(base64.b64decode(d.call("GET", "/screenshot")))
        return result
    except TimeoutError:
        shot = d.call("GET", "/screenshot")
        path = os.path.join(ROOT, "test-artifacts", "desktop", "perf-timeout.png")
        os.makedirs(os.path.dirname(path), exist_ok=True)
        with open(path, "wb") as f:
            import base64
            f.write(base64.b64decode(shot))
        raise
    except Exception:
        import traceback
        print(f"lost the session: {alive(driver.pid, profile)}\n{traceback.format_exc(limit=4)}", file=sys.stderr)
        raise
    finally:
        try:
            http("DELETE", f"{base}/session/{sid}")
        except Exception:
            pass
        driver.terminate()
        driver.wait()
        # An app left running would hold its profile's lock for the next run.
        pid = app_pid(profile)
        if pid:
            os.kill(pid, 15)
            wait_until("the app to quit", lambda: app_pid(profile) is None, patience=20)


def alive(driver_pid, profile):
    """Which of the driver's and the app's processes are still running."""
    names = {}
    for pid in descendants(driver_pid) + ([app_pid(profile)] if app_pid(profile) else []):
        try:
            with open(f"/proc/{pid}/stat") as f:
                stat = f.read()
            names[pid] = stat[stat.index("(") + 1 : stat.rindex(")")] + " " + stat[stat.rindex(")") + 2]
        except OSError:
            pass
    return names


def measure_retrying(failures, *args, **kwargs):
    """A run that loses its WebDriver session is started again (at most
    twice); each such failure is counted in the output."""
    for attempt in range(3):
        try:
            return measure(*args, **kwargs)
        except TimeoutError:
            raise
        except (OSError, http_client.HTTPException) as e:
            failures.append(repr(e))
            if attempt == 2:
                raise


def measure_in(d, t0, profile, records, has_rows):
    shown = "[data-testid=row]" if has_rows else "[data-testid=list-count]"
    wait_until("the record list", lambda: d.find(shown))
    cold = time.monotonic() - t0
    # Clicks sent while the window is still starting up can be lost: repeat.
    def on_tasks():
        d.click("[data-testid=collection-tasks]")
        return d.call("POST", "/execute/sync", {"script": "return document.querySelector('h1')?.textContent", "args": []}) == "Tasks"
    wait_until("the tasks list", on_tasks)
    if has_rows:
        wait_until("task rows", lambda: d.find("[data-testid=row]"))
    time.sleep(1)
    pid = app_pid(profile)
    before_scroll = pss_by_process(descendants(pid)) if pid else {}
    rows_after_scroll = d.run_async(SCROLL) if has_rows else 0
    time.sleep(1)
    pid = app_pid(profile)
    memory = pss_mb(descendants(pid)) if pid else None
    by_process = pss_by_process(descendants(pid)) if pid else {}
    others = other_webkit_processes(descendants(pid)) if pid else None
    searches, sorts, jumps = [], [], []
    if records:
        # Anywhere in the list, far from the windows already loaded.
        for fraction in (0.37, 0.91, 0.12, 0.64, 0.5, 0.83, 0.05, 0.71, 0.28, 1.0):
            jumps.append(d.run_async(TIMED_SCROLL % fraction))
        for i in range(10):
            n = (i * 7919) % records
            searches.append(d.run_async(TIMED_SEARCH % json.dumps([f"Task {n} ", f"Task {n} "])))
        d.run_async(TIMED_SEARCH % json.dumps(["", "Task"]))
        for i in range(6):
            sorts.append(d.run_async(TIMED_SORT % ("due" if i % 2 == 0 else "priority")))
    return {
        "cold_start_to_rows_s": round(cold, 3),
        "pss_mb_app_and_webkit": memory,
        "pss_mb_by_process": by_process,
        "pss_mb_by_process_before_scrolling": before_scroll,
        # PSS shares a library's pages among every process mapping it: other
        # WebKit apps running at the time make these figures lower.
        "other_webkit_processes": others,
        "rows_in_dom_after_scrolling": rows_after_scroll,
        "search_ms": [round(x, 1) for x in searches],
        "search_ms_median": round(statistics.median(searches), 1) if searches else None,
        "search_ms_max": round(max(searches), 1) if searches else None,
        "sort_ms": [round(x, 1) for x in sorts],
        "sort_ms_max": round(max(sorts), 1) if sorts else None,
        "scroll_jump_ms": [round(x, 1) for x in jumps],
        "scroll_jump_ms_max": round(max(jumps), 1) if jumps else None,
    }


def summary(runs):
    """Each figure's range over the runs: [min, max]."""
    def span(values):
        values = [v for v in values if v is not None]
        return [min(values), max(values)] if values else None
    out = {}
    for name in ("empty_profile", "full_profile"):
        rs = [r[name] for r in runs]
        out[name] = {
            "cold_start_to_rows_s": span([r["cold_start_to_rows_s"] for r in rs]),
            "pss_mb_app_and_webkit": span([r["pss_mb_app_and_webkit"] for r in rs]),
        }
    full = [r["full_profile"] for r in runs]
    out["full_profile"].update({
        "search_ms_first": span([r["search_ms"][0] for r in full if r["search_ms"]]),
        "search_ms_median": span([r["search_ms_median"] for r in full]),
        "search_ms_max": span([r["search_ms_max"] for r in full]),
        "sort_ms_max": span([r["sort_ms_max"] for r in full]),
        "scroll_jump_ms_max": span([r["scroll_jump_ms_max"] for r in full]),
    })
    out["memory_growth_mb"] = span([r["memory_growth_mb"] for r in runs])
    return out


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--records", type=int, default=100_000)
    target = os.environ.get("CARGO_TARGET_DIR", os.path.expanduser("~/.cache/ferry/target"))
    ap.add_argument("--bin-dir", default=os.path.join(target, "debug"))
    ap.add_argument("--runs", type=int, default=1)
    ap.add_argument("--screenshot", help="PNG of the window after the last run")
    args = ap.parse_args()
    app = os.path.join(args.bin_dir, "ferry-desktop")
    tmp = tempfile.mkdtemp(prefix="ferry-perf-")
    xvfb = None
    display = os.environ.get("DISPLAY")
    if not display:
        n = next(n for n in range(90, 200) if not os.path.exists(f"/tmp/.X{n}-lock"))
        xvfb = subprocess.Popen(["Xvfb", f":{n}", "-screen", "0", "1280x800x24", "-nolisten", "tcp"], stderr=subprocess.DEVNULL)
        display = f":{n}"
        wait_until("Xvfb", lambda: os.path.exists(f"/tmp/.X11-unix/X{n}"))
    servers = []
    try:
        empty_srv = Server(args.bin_dir, tmp, "empty", 0)
        servers.append(empty_srv)
        big_srv = Server(args.bin_dir, tmp, "big", args.records)
        servers.append(big_srv)
        empty = profile_for(args.bin_dir, tmp, "empty", empty_srv)
        big = profile_for(args.bin_dir, tmp, "big", big_srv)
        # The first start of a profile warms the disk cache, as on a laptop in use.
        failures = []
        measure_retrying(failures, app, big, display, 0)
        runs = []
        for run in range(args.runs):
            shot = args.screenshot if run == args.runs - 1 else None
            result_empty = measure_retrying(failures, app, empty, display, 0, has_rows=False)
            result_big = measure_retrying(failures, app, big, display, args.records, screenshot=shot)
            growth = None
            if result_big["pss_mb_app_and_webkit"] and result_empty["pss_mb_app_and_webkit"]:
                growth = round(result_big["pss_mb_app_and_webkit"] - result_empty["pss_mb_app_and_webkit"], 1)
            runs.append({"empty_profile": result_empty, "full_profile": result_big, "memory_growth_mb": growth})
        out = {"records": args.records, "date": time.strftime("%Y-%m-%d"), "binary": app, "lost_sessions": failures}
        if len(runs) == 1:
            out.update(runs[0])
        else:
            out["runs"] = runs
            out["summary"] = summary(runs)
        # A million records: issue 19's targets; 100,000: the app's own.
        out["targets"] = {
            "cold_start_to_rows_s": "< 2" if args.records >= 1_000_000 else "< 1.5",
            "pss_mb_app_and_webkit": "< 400 with the full profile" if args.records >= 1_000_000 else "< 300 with the full profile",
            "search_and_sort_ms": "< 100",
        }
        if args.records < 1_000_000:
            out["targets"]["memory_growth_mb"] = "< 60"
        print(json.dumps(out, indent=2))
    finally:
        for s in servers:
            s.stop()
        if xvfb:
            xvfb.terminate()
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
