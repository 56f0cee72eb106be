"""The scenarios of benchmarks/run.py: each runs the tool, then the baseline."""

from __future__ import annotations

import json
import sys
from collections import Counter
from functools import partial
from typing import Any

from bench_setup import (
    BASELINE,
    HEALTH_DAYS,
    MAIN_SID,
    WATCHED,
    Bench,
    Home,
    Row,
    base_env,
    guarded,
    measure,
    notes,
    store_subaccount_credentials,
    tool_command,
)
from bench_support import (
    ChildResult,
    Window,
    import_profile,
    median_run,
    peak_rss_kb,
    run_child,
)

from meetzy_numbers.sandbox import Sandbox

COLD = "1 inventory cold (list -A -o csv --refresh)"
WARM_CSV = "2a inventory warm (list -A -o csv)"
WARM_TABLE = "2b inventory warm table (list -A)"
RESET = "3 bulk reset (reset - --yes -o json)"
HEALTH = "4 health (health -A -o json)"
HEALTH_BIG = "4b health, the big inventory, same calls (tool only)"
SHOW = "5 show, cold cache (show NUMBER -o json)"
HELP = "6a start-up: meetzy-numbers --help"
CACHED = "6b start-up: cached list, one small account"
BARE = "6c start-up: python -c pass"
MEMORY = "7 peak RSS, cold inventory"
NAMES = (
    *(COLD, WARM_CSV, WARM_TABLE, RESET, HEALTH, HEALTH_BIG, SHOW),
    *(HELP, CACHED, BARE, MEMORY),
)


def run_all(bench: Bench) -> list[Row]:
    sizes = bench.sizes
    large = bench.serve(
        "large",
        Sandbox.large(
            subaccounts=sizes.subaccounts,
            numbers_per_account=sizes.numbers_per_account,
            calls=sizes.calls,
        ),
    )
    snapshot = large.sandbox.snapshot()
    home = bench.home("large", large, keyring=True)
    store_subaccount_credentials(home, snapshot)
    rows = guarded(COLD, lambda: inventory(bench, home))
    rows += guarded(RESET, lambda: reset(bench, home, snapshot))
    health_server = bench.serve(
        "health",
        Sandbox.large(
            subaccounts=sizes.health_subaccounts,
            numbers_per_account=sizes.health_numbers_per_account,
            calls=sizes.health_calls,
        ),
    )
    health_home = bench.home("health", health_server)
    rows += guarded(HEALTH, lambda: health(bench, health_home, home))
    rows += guarded(SHOW, lambda: show(bench))
    rows += guarded(HELP, lambda: startup(bench, health_home))
    rows += guarded(MEMORY, lambda: memory(bench, home))
    return rows


def _rows_in(result: ChildResult) -> int:
    return max(0, result.stdout.count(b"\n") - 1)


def inventory(bench: Bench, home: Home) -> list[Row]:
    served = home.served
    cold, window = measure(
        served, lambda: home.tool("list", "-A", "-o", "csv", "--refresh")
    )
    base, base_window = measure(served, lambda: bench.baseline(served, "inventory"))
    rows = [
        Row(
            COLD,
            cold.seconds,
            base.seconds,
            window.requests,
            base_window.requests,
            bench.bound(window),
            notes(cold, window, f"{_rows_in(cold)} rows, baseline {_rows_in(base)}"),
        )
    ]
    runs = bench.sizes.warm_runs
    results: dict[str, tuple[float, ChildResult, Window]] = {}
    warm: tuple[tuple[str, tuple[str, ...]], ...] = (
        (WARM_CSV, ("list", "-A", "-o", "csv")),
        (WARM_TABLE, ("list", "-A")),
    )
    for name, args in warm:
        mark = served.mark()
        seconds, last = median_run(runs, partial(home.tool, *args))
        results[name] = (seconds, last, served.since(mark))
    csv_seconds = results[WARM_CSV][0]
    for name, (seconds, last, warm_window) in results.items():
        extra = f"table/csv {seconds / csv_seconds:.2f}x" if name == WARM_TABLE else ""
        rows.append(
            Row(
                name,
                seconds,
                base.seconds,
                warm_window.requests,
                base_window.requests,
                None,
                notes(last, warm_window, f"{_rows_in(last)} lines", extra),
            )
        )
    bench.facts["table_csv"] = results[WARM_TABLE][0] / csv_seconds
    return rows


def memory(bench: Bench, home: Home) -> list[Row]:
    """Peak RSS of a cold inventory on each side, each started from a small parent."""
    argv = [*tool_command(), "--api-url", home.served.url]
    tool_kb, tool_run = peak_rss_kb(
        [*argv, "list", "-A", "-o", "csv", "--refresh"], home.env()
    )
    base_kb, _ = peak_rss_kb(
        [sys.executable, str(BASELINE), "inventory", "--api-url", home.served.url],
        base_env(),
    )
    return [
        Row(
            MEMORY,
            tool_kb / 1024 if tool_kb else None,
            base_kb / 1024 if base_kb else None,
            unit="MB",
            note=notes(tool_run, None, f"{_rows_in(tool_run)} rows"),
        )
    ]


def reset_targets(snapshot: dict[str, Any], count: int) -> list[tuple[str, str, str]]:
    """(account, sid, number) of routed numbers, spread evenly over the accounts."""
    buckets = [
        [
            (account, sid, rec["phone_number"])
            for sid, rec in numbers.items()
            if rec.get("voice_url")
            or rec.get("status_callback")
            or rec.get("trunk_sid")
        ]
        for account, numbers in snapshot["incoming_phone_numbers"].items()
        if account != MAIN_SID
    ]
    share = -(-count // max(1, len(buckets)))
    chosen = [item for bucket in buckets for item in bucket[:share]]
    return chosen[:count]


def reset(bench: Bench, home: Home, snapshot: dict[str, Any]) -> list[Row]:
    """The same routed numbers reset by each side, the server restored in between.

    The tool reads the numbers on stdin and finds them in its cache, warm from
    the inventory rows as after any `list`; the baseline is handed each number's
    account and SID. Both then fetch and update: two requests per number.
    """
    served = home.served
    targets = reset_targets(snapshot, bench.sizes.reset_count)
    numbers = "".join(f"{number}\n" for _, _, number in targets).encode()
    result, window = measure(
        served, lambda: home.tool("reset", "-", "--yes", "-o", "json", stdin=numbers)
    )
    served.sandbox.reset()
    pairs = "".join(f"{account},{sid}\n" for account, sid, _ in targets).encode()
    base, base_window = measure(
        served, lambda: bench.baseline(served, "reset", stdin=pairs)
    )
    served.sandbox.reset()
    try:
        outcomes = Counter(item.get("outcome") for item in json.loads(result.stdout))
        summary = ", ".join(f"{n} {what}" for what, n in sorted(outcomes.items()))
    except (ValueError, AttributeError, TypeError):
        outcomes, summary = Counter(), "results unreadable"
    bench.facts["reset_failed"] = outcomes.get("failed", 0) + (
        len(targets) - sum(outcomes.values())
    )
    return [
        Row(
            RESET,
            result.seconds,
            base.seconds,
            window.requests,
            base_window.requests,
            bench.bound(window),
            notes(result, window, f"{len(targets)} numbers: {summary}"),
        )
    ]


def health(bench: Bench, home: Home, large_home: Home) -> list[Row]:
    """Health over the default window, both sides cold; 4b reruns the tool on
    the big inventory (more numbers, the same calls) to show what grows."""
    if home.tool("health", "--help").returncode != 0:
        bench.facts["health_missing"] = True
        return [
            Row(HEALTH, note="n/a (command missing)"),
            Row(HEALTH_BIG, note="n/a (command missing)"),
        ]
    served = home.served
    home.clear_cache()
    result, window = measure(served, lambda: home.tool("health", "-A", "-o", "json"))
    base, base_window = measure(
        served, lambda: bench.baseline(served, "health", "--days", str(HEALTH_DAYS))
    )
    large_home.clear_cache()
    big, big_window = measure(
        large_home.served, lambda: large_home.tool("health", "-A", "-o", "json")
    )
    bench.facts["health_big_numbers"] = _json_items(big)
    bench.facts["health_requests"] = (
        window.requests,
        big_window.requests,
        base_window.requests,
    )
    return [
        Row(
            HEALTH,
            result.seconds,
            base.seconds,
            window.requests,
            base_window.requests,
            bench.bound(window),
            notes(result, window, f"{_json_items(result)} numbers"),
        ),
        Row(
            HEALTH_BIG,
            big.seconds,
            None,
            big_window.requests,
            None,
            bench.bound(big_window),
            notes(big, big_window, f"{_json_items(big)} numbers"),
        ),
    ]


def _json_items(result: ChildResult) -> str:
    try:
        data = json.loads(result.stdout)
    except ValueError:
        return "?"
    return str(len(data)) if isinstance(data, list | dict) else "?"


def show(bench: Bench) -> list[Row]:
    """One number of a 10,000-number account, with no cache on either side."""
    sandbox = Sandbox.large(
        subaccounts=1, numbers_per_account=bench.sizes.show_numbers, calls=0
    )
    served = bench.serve("show", sandbox)
    buckets = sandbox.snapshot()["incoming_phone_numbers"]
    number = next(
        rec["phone_number"]
        for account, recs in buckets.items()
        if account != MAIN_SID
        for rec in list(recs.values())[-1:]
    )
    home = bench.home("show", served)
    result, window = measure(served, lambda: home.tool("show", number, "-o", "json"))
    base, base_window = measure(
        served, lambda: bench.baseline(served, "show", "--number", number)
    )
    return [
        Row(
            SHOW,
            result.seconds,
            base.seconds,
            window.requests,
            base_window.requests,
            bench.bound(window),
            notes(result, window, f"number {number}"),
        )
    ]


def startup(bench: Bench, home: Home) -> list[Row]:
    runs = bench.sizes.startup_runs
    account = "Load Test 01"
    env = home.env()
    home.tool("list", "-s", account, "-o", "csv")  # fills the cache
    help_s, help_run = median_run(
        runs, lambda: run_child([*tool_command(), "--help"], env)
    )
    mark = home.served.mark()
    list_s, list_run = median_run(runs, lambda: home.tool("list", "-s", account))
    list_window = home.served.since(mark)
    bare_s, bare_run = median_run(
        runs, lambda: run_child([sys.executable, "-c", "pass"], base_env())
    )
    profiled = {**env, "PYTHONPROFILEIMPORTTIME": "1"}
    cached = [*tool_command(), "--api-url", home.served.url, "list", "-s", account]
    for label, argv in (
        ("--help", [*tool_command(), "--help"]),
        ("a cached list", cached),
    ):
        # The quietest of three runs: a stray recompile or a busy core
        # inflates one run's figures, never all three.
        profiles = [import_profile(run_child(argv, profiled).stderr) for _ in range(3)]
        totals = min(profiles, key=lambda p: sum(p.values()))
        bench.loaded[label] = {name: name in totals for name in WATCHED}
        bench.imports[label] = sorted(totals.items(), key=lambda kv: -kv[1])[:8]
    bench.facts["help_bare"] = help_s / bare_s
    return [
        Row(
            HELP,
            help_s,
            None,
            None,
            None,
            None,
            notes(help_run, None, f"{help_s / bare_s:.1f}x bare interpreter"),
        ),
        Row(
            CACHED,
            list_s,
            None,
            list_window.requests,
            None,
            None,
            notes(list_run, list_window, f"{_rows_in(list_run)} lines"),
        ),
        Row(BARE, bare_s, None, None, None, None, notes(bare_run, None)),
    ]
