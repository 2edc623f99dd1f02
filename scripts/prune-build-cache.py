#!/usr/bin/env python3
"""Keeps the shared build cache from filling the disk.

Every build of a test with other features or from another checkout leaves a
new copy of its executable (100-300 MB each) in the cache; only the newest
are used again. This removes all but the two newest copies of each
executable in target/{debug,release}/deps, and the incremental caches when
less than 15 GB is free. It never fails the build.
"""

import os
import re
import shutil
import sys

KEEP = 2
LOW_GB = 15


def prune(target):
    freed = 0
    for profile in ("debug", "release"):
        deps = os.path.join(target, profile, "deps")
        if not os.path.isdir(deps):
            continue
        groups = {}
        for name in os.listdir(deps):
            path = os.path.join(deps, name)
            match = re.match(r"^(.*)-[0-9a-f]{16}$", name)
            if match and os.path.isfile(path) and os.access(path, os.X_OK):
                groups.setdefault(match.group(1), []).append(path)
        for paths in groups.values():
            paths.sort(key=os.path.getmtime, reverse=True)
            for path in paths[KEEP:]:
                freed += os.path.getsize(path)
                os.remove(path)
                if os.path.exists(path + ".d"):
                    os.remove(path + ".d")
    if shutil.disk_usage(target).free < LOW_GB * 1e9:
        for profile in ("debug", "release"):
            incremental = os.path.join(target, profile, "incremental")
            if os.path.isdir(incremental):
                freed += sum(
                    os.path.getsize(os.path.join(d, f)) for d, _, fs in os.walk(incremental) for f in fs
                )
                shutil.rmtree(incremental, ignore_errors=True)
    return freed


def main():
    target = os.environ.get("CARGO_TARGET_DIR") or os.path.expanduser("~/.cache/ferry/target")
    if not os.path.isdir(target):
        return
    try:
        freed = prune(target)
    except OSError as e:
        print(f"prune-build-cache: {e}", file=sys.stderr)
        return
    free = shutil.disk_usage(target).free / 1e9
    print(f"build cache: {freed / 1e9:.1f} GB of old executables removed; {free:.0f} GB free")


if __name__ == "__main__":
    main()
