#!/usr/bin/env python3
"""Renders the tables of docs/performance.md from the benches' JSON.

    scripts/bench-tables.py add docs/bench/server.json < run.json   # keep a run
    scripts/bench-tables.py write                                   # rewrite the tables
    scripts/bench-tables.py check                                   # fail if they drift

docs/bench/<suite>.json holds the current runs of one suite (a JSON list,
each item what `ferry-bench <suite>` printed, plus an optional "label").
`add` keeps the last four runs. Each table sits in docs/performance.md
between `<!-- bench:SUITE -->` and `<!-- /bench:SUITE -->`.
"""

import json
import pathlib
import re
import sys

ROOT = pathlib.Path(__file__).resolve().parent.parent
DOC = ROOT / "docs" / "performance.md"
README = ROOT / "README.md"
BENCH = ROOT / "docs" / "bench"
KEEP = 4


def get(run, path):
    value = run
    for key in path.split("."):
        if not isinstance(value, dict) or key not in value:
            return None
        value = value[key]
    return value


def number(v, unit="", digits=0):
    if v is None:
        return "–"
    if digits == 0:
        return f"{v:,.0f}{unit}"
    return f"{v:,.{digits}f}{unit}"


def verdict(runs, target_key):
    if target_key is None:
        return ""
    # Runs from before a figure was measured do not count.
    met = [m for m in (get(r, "targets." + target_key) for r in runs) if m is not None]
    if all(m is True for m in met):
        return " — met"
    if all(m is False for m in met):
        return " — **missed**"
    return f" — met in {sum(1 for m in met if m)} of {len(met)} runs"


# (label, JSON path, unit, digits, target text, key in "targets")
ROWS = {
    "server": [
        ("push, 1000 mutations per request", "push_mutations_per_s", " mutations/s", 0, "≥ 25,000/s", "push_at_least_25000_per_s"),
        ("raw SQLite insert of the same rows, one transaction", "raw_sqlite_insert_rows_per_s", " rows/s", 0, "reference", None),
        ("push slowdown vs raw insert", "push_slowdown_vs_raw", "x", 2, "≤ 4x", "push_within_4x_of_raw"),
        ("pull, `limit=5000`, server throughput", "pull_records_per_s", " records/s", 0, "≥ 150,000/s", "pull_at_least_150000_per_s"),
        ("pull, also parsed into `ferry_protocol::Record`s", "pull_parsed_into_records_per_s", " records/s", 0, "(client side)", None),
    ],
    "everyday": [
        ("import of a 100,000-row CSV (each row an outbox entry)", "import.seconds", " s", 2, "< 10 s", "import_100k_under_10_s"),
        ("import rate", "import.rows_per_s", " rows/s", 0, "", None),
        ("raw SQLite insert of the same rows, one transaction", "import.raw_sqlite_insert_rows_per_s", " rows/s", 0, "reference", None),
        ("import slowdown vs raw insert", "import.slowdown_vs_raw", "x", 2, "", None),
        ("export of the 100,000 records to CSV", "export_csv_seconds", " s", 2, "", None),
        ("set a field on 10,000 records", "bulk.set_field_seconds", " s", 2, "< 2 s", "bulk_edit_10k_under_2_s"),
        ("add a tag to 10,000 records", "bulk.add_tag_seconds", " s", 2, "< 2 s", "bulk_edit_10k_under_2_s"),
        ("delete 10,000 records, then undo", "bulk.delete_and_restore_seconds", " s", 2, "", None),
    ],
    "rows": [
        ("fresh pull of one owner's 10,000 rows of 1,000,000, SQLite", "sqlite.fresh_pull.partition_secs", " s", 2, "", None),
        ("fresh pull of a plain 10,000-record collection, SQLite", "sqlite.fresh_pull.plain_secs", " s", 2, "reference", None),
        ("one owner's rows vs the plain collection, SQLite", "sqlite.fresh_pull.ratio", "x", 2, "≤ 1.5x", "fresh_pull_within_1_5x_sqlite"),
        ("the same, PostgreSQL", "postgres.fresh_pull.ratio", "x", 2, "≤ 1.5x", "fresh_pull_within_1_5x_postgres"),
        ("incremental pull of 10 own changes after 990 elsewhere, SQLite", "sqlite.incremental_pull.low_secs", " s", 3, "", None),
        ("… after 99,000 elsewhere, SQLite", "sqlite.incremental_pull.high_secs", " s", 3, "", None),
        ("busy vs quiet other partitions, SQLite", "sqlite.incremental_pull.ratio", "x", 2, "≤ 2x", "incremental_pull_within_2x_sqlite"),
        ("the same, PostgreSQL", "postgres.incremental_pull.ratio", "x", 2, "≤ 2x", "incremental_pull_within_2x_postgres"),
        ("pushes into one's own rows, SQLite", "sqlite.push.partition_per_s", " mutations/s", 0, "", None),
        ("the same pushes to the plain collection, SQLite", "sqlite.push.plain_per_s", " mutations/s", 0, "reference", None),
        ("cost of the rules per push, SQLite", "sqlite.push.cost", "", 2, "≤ 0.15", "push_cost_within_15_percent_sqlite"),
        ("pushes into one's own rows, PostgreSQL", "postgres.push.partition_per_s", " mutations/s", 0, "", None),
        ("the same pushes to the plain collection, PostgreSQL", "postgres.push.plain_per_s", " mutations/s", 0, "reference", None),
        ("cost of the rules per push, PostgreSQL", "postgres.push.cost", "", 2, "≤ 0.15", "push_cost_within_15_percent_postgres"),
    ],
    "encryption": [
        ("initial pull, encryption off (best)", "initial_pull_seconds.off", " s", 2, "reference", None),
        ("initial pull, encrypted (best)", "initial_pull_seconds.on", " s", 2, "", None),
        ("initial pull, encrypted vs off", "ratios.initial_pull_on_vs_off", "x", 2, "≤ 1.2x", "initial_pull_costs_at_most_20_percent"),
        ("local edit p99, off", "local_edit_ms.off.p99", " ms", 2, "reference", None),
        ("local edit p99, encrypted", "local_edit_ms.on.p99", " ms", 2, "", None),
        ("local edit p99 added by encryption", "ratios.local_edit_p99_added_ms", " ms", 2, "≤ 0.5 ms", "local_edit_p99_costs_at_most_half_a_ms"),
        ("database size, off", "database_mb.off", " MB", 1, "", None),
        ("database size, encrypted", "database_mb.on", " MB", 1, "", None),
    ],
    "files": [
        ("200 files of 1 MB: upload (`ferry sync`)", "small.upload_mb_per_s", " MB/s", 0, "", None),
        ("… upload vs `cp` of the same bytes", "small.upload_vs_cp", "x", 2, "≥ 0.5x", "small_upload_at_least_half_cp"),
        ("200 files of 1 MB: download (`ferry fetch`)", "small.download_mb_per_s", " MB/s", 0, "", None),
        ("… download vs `cp`", "small.download_vs_cp", "x", 2, "≥ 0.5x", "small_download_at_least_half_cp"),
        ("`cp` of the 200 files, same disk", "small.cp_mb_per_s", " MB/s", 0, "reference", None),
        ("`cp` and `sync` of the 200 files (durable, as an upload is)", "small.cp_synced_mb_per_s", " MB/s", 0, "reference", None),
        ("… upload vs `cp` and `sync`", "small.upload_vs_cp_synced", "x", 2, "", None),
        ("… download vs `cp` and `sync`", "small.download_vs_cp_synced", "x", 2, "", None),
        ("SHA-256 of the 200 files, one core (every transfer's check)", "small.sha256_mb_per_s", " MB/s", 0, "reference", None),
        ("one file of 200 MB: upload", "big.upload_mb_per_s", " MB/s", 0, "", None),
        ("… upload vs `cp`", "big.upload_vs_cp", "x", 2, "≥ 0.5x", "big_upload_at_least_half_cp"),
        ("one file of 200 MB: download", "big.download_mb_per_s", " MB/s", 0, "", None),
        ("… download vs `cp`", "big.download_vs_cp", "x", 2, "≥ 0.5x", "big_download_at_least_half_cp"),
        ("`cp` of the 200 MB file, same disk", "big.cp_mb_per_s", " MB/s", 0, "reference", None),
        ("`ferry sync` with nothing to send (the fixed cost of a run)", "big.idle_sync_ms", " ms", 0, "reference", None),
        ("`cp` and `sync` of the 200 MB file", "big.cp_synced_mb_per_s", " MB/s", 0, "reference", None),
        ("… upload vs `cp` and `sync`", "big.upload_vs_cp_synced", "x", 2, "", None),
        ("… download vs `cp` and `sync`", "big.download_vs_cp_synced", "x", 2, "", None),
        ("SHA-256 of the 200 MB file, one core", "big.sha256_mb_per_s", " MB/s", 0, "reference", None),
        ("… SHA-256 alone vs `cp` (the most any checked transfer of one file can reach)", "big.sha256_vs_cp", "x", 2, "", None),
        ("client peak memory, 200 MB upload", "big.upload_peak_rss_mb", " MB", 0, "< 100 MB", "big_transfer_peak_rss_under_100_mb"),
        ("client peak memory, 200 MB download", "big.download_peak_rss_mb", " MB", 0, "< 100 MB", "big_transfer_peak_rss_under_100_mb"),
        ("paging 10,000 records with an image each vs without", "list.with_images_vs_plain", "x", 2, "as fast (≤ 1.2x)", "list_with_images_as_fast"),
        ("… vs 10,000 holding as many more bytes as text instead", "list.with_images_vs_same_bytes_as_text", "x", 2, "", None),
    ],
    "client": [
        ("initial pull (best of six)", "initial_pull.seconds", " s", 2, "", None),
        ("pull vs raw SQLite insert of the same rows (best of six each)", "initial_pull.slowdown_vs_raw", "x", 2, "≤ 3x", "initial_pull_within_3x_of_raw"),
        ("peak RSS during the pull (client and in-process server)", "initial_pull.peak_rss_mb", " MB", 0, "≤ 200 MB", "initial_pull_peak_rss_at_most_200_mb"),
        ("push of 10,000 offline edits, end to end", "push_offline_edits.mutations_per_s", " mutations/s", 0, "≥ 10,000/s", "push_at_least_10000_per_s"),
        ("daily pull: 10,000 records others changed, into a full profile", "daily_pull.seconds", " s", 2, "≤ 0.5 s", "daily_pull_of_10000_under_half_a_second"),
        ("daily pull cost per record vs the initial pull's", "daily_pull.cost_per_record_vs_initial_pull", "x", 1, "≤ 2x", "daily_pull_at_most_2x_initial_cost_per_record"),
        ("sync with nothing to do, median", "noop_sync_ms.median", " ms", 2, "< 5 ms", "noop_sync_median_under_5_ms"),
        ("local edit (record + outbox, committed), p99", "local_edit_ms.p99", " ms", 2, "< 2 ms", "local_edit_p99_under_2_ms"),
        ("page of 100 sorted by a field, p99", "sorted_page_ms.p99", " ms", 2, "< 10 ms", "sorted_page_p99_under_10_ms"),
        ("full-text search, p99", "search_ms.p99", " ms", 1, "< 20 ms", "search_p99_under_20_ms"),
    ],
}


def table(suite, runs):
    head = ["figure"] + [r.get("label") or f"run {i + 1}" for i, r in enumerate(runs)] + ["target"]
    lines = [
        "| " + " | ".join(head) + " |",
        "|" + "---|" * len(head),
    ]
    for label, path, unit, digits, target, key in ROWS[suite]:
        cells = [number(get(r, path), unit, digits) for r in runs]
        lines.append(f"| {label} | " + " | ".join(cells) + f" | {target}{verdict(runs, key)} |")
    sizes = sorted({(r.get("records"), r.get("avg_record_bytes"), r.get("date")) for r in runs}, key=str)
    about = "; ".join(
        f"{n:,} records" + (f" of {b} bytes on average" if b else "") + f", {d}" for n, b, d in sizes if n
    )
    about = about or ", ".join(sorted({str(r["date"]) for r in runs if r.get("date")}))
    lines.append("")
    lines.append(f"Produced by `scripts/bench-tables.py` from `docs/bench/{suite}.json` ({about}).")
    return "\n".join(lines)


def plans(text):
    """The feed plans of the latest rows run, each as a code block."""
    path = BENCH / "rows.json"
    if not path.exists():
        return text
    latest = json.loads(path.read_text())[-1]
    for store in ("sqlite", "postgres"):
        plan = get(latest, f"{store}.feed_plan")
        if plan is None:
            continue
        start, end = f"<!-- rows-plan:{store} -->", f"<!-- /rows-plan:{store} -->"
        pattern = re.compile(re.escape(start) + ".*?" + re.escape(end), re.S)
        block = "```\n" + "\n".join(plan) + "\n```"
        text = pattern.sub(lambda _: f"{start}\n{block}\n{end}", text)
    return text


def summary(text):
    """README's row-rules figures: the latest rows run, per store."""
    path = BENCH / "rows.json"
    start, end = "<!-- bench:rows-summary -->", "<!-- /bench:rows-summary -->"
    if not path.exists() or start not in text:
        return text
    run = json.loads(path.read_text())[-1]
    lines = [
        "| store | one owner's 10,000 of 1,000,000 vs a plain 10,000 (fresh pull) | own changes with 100x more traffic elsewhere | rules' cost per push |",
        "|---|---|---|---|",
    ]
    for store in ("sqlite", "postgres"):
        if get(run, store) is None:
            continue
        f = lambda k, u="x", d=2: number(get(run, f"{store}.{k}"), u, d)
        lines.append(
            f"| {'SQLite' if store == 'sqlite' else 'PostgreSQL'} | {f('fresh_pull.ratio')} (target ≤ 1.5x) "
            f"| {f('incremental_pull.ratio')} (≤ 2x) | {f('push.cost', '', 2)} (≤ 0.15) |"
        )
    lines.append("")
    lines.append(f"`make bench-rows`, {run.get('date')}.")
    pattern = re.compile(re.escape(start) + ".*?" + re.escape(end), re.S)
    text = pattern.sub(lambda _: start + "\n" + "\n".join(lines) + "\n" + end, text)
    return index_use(text, run)


def files_summary(text):
    """README's attachment figures: the latest files run."""
    path = BENCH / "files.json"
    start, end = "<!-- bench:files-summary -->", "<!-- /bench:files-summary -->"
    if not path.exists() or start not in text:
        return text
    run = json.loads(path.read_text())[-1]
    f = lambda k, u="x", d=2: number(get(run, k), u, d)
    lines = [
        "| transfer | upload vs `cp` | download vs `cp` | vs `cp` + `sync` (up / down) | client peak memory (up / down) |",
        "|---|---|---|---|---|",
        f"| 200 files of 1 MB | {f('small.upload_vs_cp')} | {f('small.download_vs_cp')} | {f('small.upload_vs_cp_synced')} / {f('small.download_vs_cp_synced')} | {f('small.upload_peak_rss_mb', ' MB', 0)} / {f('small.download_peak_rss_mb', ' MB', 0)} |",
        f"| one file of 200 MB | {f('big.upload_vs_cp')} | {f('big.download_vs_cp')} | {f('big.upload_vs_cp_synced')} / {f('big.download_vs_cp_synced')} | {f('big.upload_peak_rss_mb', ' MB', 0)} / {f('big.download_peak_rss_mb', ' MB', 0)} |",
        "",
        f"Targets: at least 0.5x `cp` (missed: SHA-256 alone, which every byte received must pass, ran at {f('big.sha256_vs_cp')} of `cp` on one file; see docs/performance.md, \"Attached files\"), under 100 MB. Paging 10,000 records that hold images: {f('list.with_images_vs_plain')} the time without. `make bench-files`, {run.get('date')}.",
    ]
    pattern = re.compile(re.escape(start) + ".*?" + re.escape(end), re.S)
    return pattern.sub(lambda _: start + "\n" + "\n".join(lines) + "\n" + end, text)


def index_use(text, run):
    """README's short form of the feed plans: each table access, per store."""
    start, end = "<!-- bench:rows-index -->", "<!-- /bench:rows-index -->"
    if start not in text:
        return text
    lines = []
    for store, name in (("sqlite", "SQLite"), ("postgres", "PostgreSQL")):
        plan = get(run, f"{store}.feed_plan") or []
        if store == "sqlite":
            steps = [l.strip() for l in plan if l.strip().startswith(("SEARCH", "SCAN"))]
        else:
            steps = [
                re.sub(r"\s*\(cost=.*\)$", "", l.split("->")[-1]).strip()
                for l in plan
                if " Scan " in l or l.strip().startswith(("Seq Scan", "Index"))
                if "Cond" not in l and "Filter" not in l
            ]
        lines.append(f"-- {name}: EXPLAIN of the feed (every table access)")
        lines.extend(steps)
    block = "```\n" + "\n".join(lines) + "\n```"
    pattern = re.compile(re.escape(start) + ".*?" + re.escape(end), re.S)
    return pattern.sub(lambda _: f"{start}\n{block}\n{end}", text)


# The scale suite's figures, one column per setup of its latest run:
# (label, JSON path under results.SETUP, unit, digits, target text).
SCALE_SETUPS = (("sqlite", "SQLite, 1 process"), ("postgres", "PostgreSQL, 1 process"), ("postgres2", "PostgreSQL, 2 processes"))
SCALE_ROWS = [
    ("seeding (straight into the store, 2,000 per push)", "seed_records_per_s", " records/s", 0, ""),
    ("event streams open", "streams_open", "", 0, "every client"),
    ("push of 10 records, p50", "push_p50_ms", " ms", 1, ""),
    ("push of 10 records, p99", "push_p99_ms", " ms", 1, ""),
    ("pull page after an event, p50", "pull_page_p50_ms", " ms", 1, ""),
    ("pull page after an event, p99", "pull_page_p99_ms", " ms", 1, ""),
    ("catch-up page of 2,000 from anywhere in the records, p99", "catch_up_page_p99_ms", " ms", 1, ""),
    ("event delivery (push sent → another client's event), p50", "event_delivery_p50_ms", " ms", 0, ""),
    ("event delivery, p99", "event_delivery_p99_ms", " ms", 0, ""),
    ("pushes not told to some client before the end", "undelivered", "", 0, "0"),
    ("errors", "errors", "", 0, "0"),
    ("server RSS at the end (sum over processes)", "server_rss_mb", " MB", 0, ""),
    ("server peak RSS (sum over processes)", "server_peak_rss_mb", " MB", 0, ""),
    ("database size", "database_mb", " MB", 0, ""),
    ("initial pull of every record into a new profile", "initial_pull.seconds", " s", 1, ""),
    ("… rate", "initial_pull.records_per_s", " records/s", 0, ""),
    ("… client peak memory during the pull", "initial_pull.peak_rss_mb", " MB", 0, "< 400 MB"),
    ("… profile on disk (encrypted)", "initial_pull.profile_mb", " MB", 0, ""),
]


def scale(text):
    """The latest scale run, one column per setup, in docs/performance.md;
    its short form between the scale-summary markers (here or in README)."""
    path = BENCH / "scale.json"
    start, end = "<!-- bench:scale -->", "<!-- /bench:scale -->"
    if not path.exists():
        return text
    run = json.loads(path.read_text())[-1]
    setups = [(k, name) for k, name in SCALE_SETUPS if get(run, f"results.{k}") is not None]
    if start not in text:
        return scale_summary(text, run, setups)
    lines = [
        "| figure | " + " | ".join(name for _, name in setups) + " | target |",
        "|" + "---|" * (len(setups) + 2),
    ]
    for label, path_, unit, digits, target in SCALE_ROWS:
        cells = [number(get(run, f"results.{k}.{path_}"), unit, digits) for k, _ in setups]
        if all(c == "–" for c in cells):
            continue
        lines.append(f"| {label} | " + " | ".join(cells) + f" | {target} |")
    lines.append("")
    lines.append(
        f"Produced by `scripts/bench-tables.py` from `docs/bench/scale.json` ({run.get('records', 0):,} records of "
        f"{run.get('avg_record_bytes')} bytes on average, {run.get('clients', 0):,} clients of which "
        f"{run.get('active_clients')} active, {run.get('seconds')} s per setup, {run.get('date')}"
        + (f"; {run['label']}" if run.get("label") else "") + ")."
    )
    pattern = re.compile(re.escape(start) + ".*?" + re.escape(end), re.S)
    text = pattern.sub(lambda _: start + "\n" + "\n".join(lines) + "\n" + end, text)
    return scale_summary(text, run, setups)


def scale_summary(text, run, setups):
    start, end = "<!-- bench:scale-summary -->", "<!-- /bench:scale-summary -->"
    if start not in text:
        return text
    f = lambda k, p, u=" ms", d=0: number(get(run, f"results.{k}.{p}"), u, d)
    lines = [
        f"| {run.get('records', 0):,} records, {run.get('clients', 0):,} clients ({run.get('active_clients')} active) | push p99 | pull page p99 | event delivery p99 | errors | server RSS | initial pull (client peak memory) |",
        "|---|---|---|---|---|---|---|",
    ]
    for k, name in setups:
        pull = "–"
        if get(run, f"results.{k}.initial_pull.seconds") is not None:
            pull = f"{f(k, 'initial_pull.seconds', ' s', 0)} ({f(k, 'initial_pull.peak_rss_mb', ' MB')})"
        lines.append(
            f"| {name} | {f(k, 'push_p99_ms')} | {f(k, 'pull_page_p99_ms')} | {f(k, 'event_delivery_p99_ms')} "
            f"| {f(k, 'errors', '')} | {f(k, 'server_rss_mb', ' MB')} | {pull} |"
        )
    lines.append("")
    lines.append(f"`make bench-scale`, {run.get('date')}; details in docs/performance.md, \"A million records\".")
    pattern = re.compile(re.escape(start) + ".*?" + re.escape(end), re.S)
    return pattern.sub(lambda _: start + "\n" + "\n".join(lines) + "\n" + end, text)


def scale_desktop(text):
    """The desktop app over a million records (scripts/desktop-perf.py's
    output, `make bench-scale`'s last step): a table in docs/performance.md,
    one line in README."""
    path = BENCH / "scale-desktop.json"
    if not path.exists():
        return text
    run = json.loads(path.read_text())
    full, empty = run.get("full_profile", {}), run.get("empty_profile", {})
    f = lambda v, u, d=0: number(v, u, d)
    def timed(key, what):
        """Slowest and median of the timings in `key` (-1: no rows within 5 s)."""
        values = full.get(key) or []
        late = sum(1 for v in values if v < 0)
        ok = sorted(v for v in values if v >= 0)
        ranked = ok + [float("inf")] * late
        median = ranked[len(ranked) // 2] if ranked else None
        slowest = f"over 5,000 ms ({late} of {len(values)} {what})" if late else (f(max(ok), " ms") if ok else "–")
        median = "over 5,000 ms" if median == float("inf") else f(median, " ms")
        return slowest, median, (not late and bool(ok) and max(ok) < 100)

    search_max, search_median, search_ok = timed("search_ms", "searches")
    sort_max, _, sort_ok = timed("sort_ms", "sorts")
    jump_max, jump_median, _ = timed("scroll_jump_ms", "jumps")
    rows = [
        ("launch to the list shown", f(full.get("cold_start_to_rows_s"), " s", 2), "< 2 s",
         full.get("cold_start_to_rows_s") is not None and full["cold_start_to_rows_s"] < 2),
        ("search, slowest of 10 (typed to rows shown)", search_max, "< 100 ms", search_ok),
        ("search, median", search_median, "", None),
        ("sort by a column, slowest of 6", sort_max, "< 100 ms", sort_ok),
        ("scroll: jump anywhere, slowest of 10 (to the row shown)", jump_max, "", None),
        ("… median", jump_median, "", None),
        ("memory (PSS of the app and its WebKit processes), after scrolling", f(full.get("pss_mb_app_and_webkit"), " MB"), "< 400 MB",
         full.get("pss_mb_app_and_webkit") is not None and full["pss_mb_app_and_webkit"] < 400),
        ("… the same app with an empty profile", f(empty.get("pss_mb_app_and_webkit"), " MB"), "reference", None),
        ("launch to the list, empty profile", f(empty.get("cold_start_to_rows_s"), " s", 2), "reference", None),
    ]
    verdict_of = lambda ok: "" if ok is None else (" — met" if ok else " — **missed**")
    start, end = "<!-- bench:scale-desktop -->", "<!-- /bench:scale-desktop -->"
    lines = ["| figure | this run | target |", "|---|---|---|"]
    lines += [f"| {label} | {value} | {target}{verdict_of(ok)} |" for label, value, target, ok in rows]
    lines.append("")
    lines.append(
        f"Produced by `scripts/bench-tables.py` from `docs/bench/scale-desktop.json` ({run.get('records', 0):,} records"
        + (f", {run['date']}" if run.get("date") else "") + (f"; {run['label']}" if run.get("label") else "") + ")."
    )
    pattern = re.compile(re.escape(start) + ".*?" + re.escape(end), re.S)
    text = pattern.sub(lambda _: start + "\n" + "\n".join(lines) + "\n" + end, text)
    start, end = "<!-- bench:scale-desktop-summary -->", "<!-- /bench:scale-desktop-summary -->"
    short = [
        "| the desktop app, 1,000,000 records | launch to list | search (slowest of 10) | sort (slowest of 6) | scroll jump (slowest of 10) | memory (PSS) |",
        "|---|---|---|---|---|---|",
        f"| this run | {rows[0][1]} | {rows[1][1]} | {rows[3][1]} | {rows[4][1]} | {rows[6][1]} |",
        "| target | < 2 s | < 100 ms | | | < 400 MB |",
    ]
    pattern = re.compile(re.escape(start) + ".*?" + re.escape(end), re.S)
    return pattern.sub(lambda _: start + "\n" + "\n".join(short) + "\n" + end, text)


def render(text):
    text = scale_desktop(scale(plans(text)))
    for suite in ROWS:
        path = BENCH / f"{suite}.json"
        if not path.exists():
            continue
        runs = json.loads(path.read_text())
        start, end = f"<!-- bench:{suite} -->", f"<!-- /bench:{suite} -->"
        pattern = re.compile(re.escape(start) + ".*?" + re.escape(end), re.S)
        if not pattern.search(text):
            sys.exit(f"{DOC}: no {start} … {end} markers")
        text = pattern.sub(lambda _: f"{start}\n{table(suite, runs)}\n{end}", text)
    return text


def main():
    cmd = sys.argv[1] if len(sys.argv) > 1 else "write"
    if cmd == "add":
        path = pathlib.Path(sys.argv[2])
        run = json.load(sys.stdin)
        if len(sys.argv) > 3:
            run["label"] = sys.argv[3]
        runs = json.loads(path.read_text()) if path.exists() else []
        runs = (runs + [run])[-KEEP:]
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(runs, indent=2, ensure_ascii=False) + "\n")
        return
    text = DOC.read_text()
    new = render(text)
    readme = README.read_text()
    new_readme = scale_desktop(scale(files_summary(summary(readme))))
    if cmd == "check":
        if new != text or new_readme != readme:
            sys.exit("docs/performance.md or README.md: bench figures differ from docs/bench/*.json; run scripts/bench-tables.py write")
        return
    if cmd != "write":
        sys.exit(__doc__)
    DOC.write_text(new)
    README.write_text(new_readme)


if __name__ == "__main__":
    main()
