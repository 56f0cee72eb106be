"""Benchmarks: meetzy-numbers against a plain twilio-python script, on one server.

    python benchmarks/run.py [--tiny] [--latency-ms 50] [--concurrency-limit 20]
                             [--json out.json]

The Twilio sandbox is served over HTTP on 127.0.0.1 with a latency added to
every request and a concurrency limit (a 429 with Retry-After for each request
over it, as Twilio does). Each scenario runs twice against the same server:

- the tool, `meetzy-numbers --api-url http://127.0.0.1:PORT …` as a child
  process, with the main account's credentials in TWILIO_ACCOUNT_SID /
  TWILIO_AUTH_TOKEN, an isolated MEETZY_NUMBERS_HOME whose config.toml sets
  main_account, webhook_base, the agents, `concurrency` (= the limit, at most
  64) and cache_ttl (one hour, so the cache stays warm for the whole run);
  subaccount credentials, which `reset` needs, are stored with
  `meetzy-numbers creds set --stdin` in a file-backed keyring
  (benchmarks/bench_keyring.py);
- the baseline, benchmarks/bench_baseline.py: what a user would write with
  twilio-python (default page size 50, sequential, a 429 retried after
  Retry-After), also as a child process.

Requests are counted on the server. Times are wall-clock seconds of the child
process, start-up included; stdout goes into a pipe. The lower bound is
explained under the table. Peak RSS is measured from a small wrapper process,
since a child forked from this (large) process would inherit its high-water
mark. The server's handler gets TCP_NODELAY: it writes headers and body in two
sends, and Nagle plus delayed ACKs would otherwise add ~40 ms to every answer.

`--tiny` runs a tiny inventory with 1 ms latency in a few seconds (the smoke
test uses it). Nothing fails on slowness: figures only, with the targets
printed for reading.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
from dataclasses import asdict
from pathlib import Path

HERE = Path(__file__).resolve().parent
if str(HERE) not in sys.path:
    sys.path.insert(0, str(HERE))

import bench_scenarios as names  # noqa: E402
from bench_scenarios import run_all  # noqa: E402
from bench_setup import Bench, Row, Sizes  # noqa: E402
from bench_support import machine  # noqa: E402

FULL = Sizes(
    subaccounts=10,
    numbers_per_account=1000,
    calls=50_000,
    health_subaccounts=10,
    health_numbers_per_account=100,
    health_calls=50_000,
    show_numbers=10_000,
    reset_count=1000,
    startup_runs=10,
    warm_runs=5,
)
TINY = Sizes(
    subaccounts=2,
    numbers_per_account=20,
    calls=200,
    health_subaccounts=2,
    health_numbers_per_account=10,
    health_calls=200,
    show_numbers=40,
    reset_count=1000,
    startup_runs=2,
    warm_runs=1,
)
HEADER = (
    "scenario",
    "tool",
    "baseline",
    "ratio",
    "tool req",
    "base req",
    "lower bd",
    "tool/lb",
    "notes",
)


def _compile_package() -> None:
    """Write the package's bytecode once, as an installed package has it.

    Some environments set PYTHONDONTWRITEBYTECODE, and an editable install
    then compiles every module on every start: start-up figures would time the
    compiler, not the tool.
    """
    import compileall

    import meetzy_numbers

    compileall.compile_dir(Path(meetzy_numbers.__file__).parent, quiet=1)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tiny", action="store_true", help="tiny data, 1 ms")
    parser.add_argument("--latency-ms", type=float, default=None)
    parser.add_argument("--concurrency-limit", type=int, default=20)
    parser.add_argument("--json", type=Path, default=None, help="also write JSON")
    args = parser.parse_args(argv)
    sizes = TINY if args.tiny else FULL
    latency = (
        args.latency_ms if args.latency_ms is not None else (1.0 if args.tiny else 50.0)
    )
    limit = max(1, args.concurrency_limit)

    _compile_package()
    print("meetzy-numbers benchmarks")
    for line in machine():
        print(f"  {line}")
    print(
        f"  server: 127.0.0.1, latency {latency:g} ms per request, "
        f"concurrency limit {limit}; tool concurrency {min(limit, 64)}"
    )
    print(f"  data: {_describe(sizes)}")
    print(flush=True)

    with tempfile.TemporaryDirectory(prefix="meetzy-bench-") as workdir:
        bench = Bench(Path(workdir), sizes, latency_ms=latency, limit=limit)
        try:
            rows = run_all(bench)
        finally:
            bench.close()
    _print_table(rows)
    _print_footnotes(bench, latency, limit)
    _print_targets(bench, rows)
    if args.json:
        args.json.write_text(
            json.dumps(
                {
                    "machine": machine(),
                    "latency_ms": latency,
                    "concurrency_limit": limit,
                    "sizes": asdict(sizes),
                    "rows": [asdict(row) for row in rows],
                    "imports": bench.imports,
                    "loaded": bench.loaded,
                },
                indent=2,
            ),
            encoding="utf-8",
        )
        print(f"\nwrote {args.json}")
    return 0


def _describe(sizes: Sizes) -> str:
    return (
        f"{sizes.subaccounts} subaccounts x {sizes.numbers_per_account} numbers, "
        f"{sizes.calls} calls; health: {sizes.health_subaccounts} x "
        f"{sizes.health_numbers_per_account} numbers, {sizes.health_calls} calls; "
        f"show: 1 account of {sizes.show_numbers}"
    )


def _cells(row: Row) -> list[str]:
    ratio = (
        f"{row.baseline / row.tool:.1f}x"
        if row.tool and row.baseline is not None
        else "-"
    )
    over = (
        f"{row.tool / row.lower_bound:.1f}x"
        if row.tool is not None and row.lower_bound
        else "-"
    )
    return [
        row.scenario,
        _figure(row.tool, row.unit),
        _figure(row.baseline, row.unit),
        ratio,
        _count(row.tool_requests),
        _count(row.baseline_requests),
        _figure(row.lower_bound, row.unit) if row.lower_bound else "-",
        over,
        row.note,
    ]


def _figure(value: float | None, unit: str) -> str:
    if value is None:
        return "n/a"
    if unit == "MB":
        return f"{value:.0f} MB"
    return f"{value:.3f} s" if value < 10 else f"{value:.1f} s"


def _count(value: int | None) -> str:
    return "-" if value is None else str(value)


def _print_table(rows: list[Row]) -> None:
    table = [list(HEADER), *(_cells(row) for row in rows)]
    widths = [max(len(line[i]) for line in table) for i in range(len(HEADER) - 1)]
    for index, line in enumerate(table):
        head = "  ".join(cell.ljust(widths[i]) for i, cell in enumerate(line[:-1]))
        print(f"{head}  {line[-1]}".rstrip())
        if index == 0:
            print("  ".join("-" * w for w in widths) + "  -----")


def _print_footnotes(bench: Bench, latency: float, limit: int) -> None:
    print()
    print("ratio = baseline / tool. Requests are counted by the server, 429s included.")
    print(
        f"lower bd = max(ceil(tool requests / {limit}), chain) x {latency:g} ms: "
        "the tool's own requests, sent as fast as the limit allows. chain = the "
        "requests the data forces into sequence: the accounts listing first, then "
        "the longest run of requests to one resource with one filter (the pages of "
        "a listing follow next_page_uri; a number's fetch precedes its update). It "
        "leaves out the server's own work, shown as 'server N s' (CPU time of the "
        "sandbox building answers, in this process), and 'cpu N s' is the tool's "
        "own user+system CPU time."
    )
    print(
        "Warm rows make no requests, so they have no bound; the baseline has no "
        "cache, so its figure there is its cold run. Start-up rows are the median "
        f"of {bench.sizes.startup_runs} runs; warm rows of {bench.sizes.warm_runs}. "
        "Peak RSS: one more cold inventory per side, each started from a small "
        "wrapper process (RUSAGE_CHILDREN)."
    )
    print()
    for label, heavy in bench.imports.items():
        loaded = bench.loaded.get(label, {})
        flags = ", ".join(f"{k} {'yes' if v else 'no'}" for k, v in loaded.items())
        top = ", ".join(f"{name} {ms:.0f} ms" for name, ms in heavy)
        print(f"imports for {label}: imported? {flags}")
        print(f"  heaviest (own import time per top-level package, best of 3): {top}")


def _print_targets(bench: Bench, rows: list[Row]) -> None:
    print()
    print("targets (for reading; nothing fails on them):")
    for line in target_lines(bench, rows):
        print(f"  {line}")


def _verdict(ok: bool) -> str:
    return "met" if ok else "MISSED"


def target_lines(bench: Bench, rows: list[Row]) -> list[str]:
    by_name = {row.scenario: row for row in rows}
    lines: list[str] = []

    def speed(name: str, label: str, bound_times: float) -> None:
        row = by_name.get(name)
        if row is None or row.tool is None or row.baseline is None:
            lines.append(f"{label}: n/a")
            return
        over = row.tool / row.lower_bound if row.lower_bound else None
        faster = row.baseline / row.tool
        over_text = (
            f"{over:.1f}x its lower bound (target <= {bound_times:g}x, "
            f"{_verdict(over <= bound_times)})"
            if over is not None
            else "no lower bound"
        )
        lines.append(
            f"{label}: {over_text}; {faster:.1f}x faster than the baseline "
            f"(target >= 10x, {_verdict(faster >= 10)})"
        )

    speed(names.COLD, "cold inventory", 2)
    ratio = bench.facts.get("table_csv")
    if ratio is not None:
        lines.append(
            f"warm table/csv: {ratio:.2f}x (target <= 2x, {_verdict(ratio <= 2)})"
        )
    speed(names.RESET, "bulk reset", 1.5)
    failed = bench.facts.get("reset_failed")
    if failed is not None:
        lines.append(
            f"bulk reset failures: {failed} (target 0, {_verdict(failed == 0)})"
        )
    counts = bench.facts.get("health_requests")
    if bench.facts.get("health_missing"):
        lines.append("health: n/a (command missing)")
    elif counts:
        small, big, base = counts
        grows = big >= 5 * max(small, 1)
        sizes = bench.sizes
        numbers = sizes.health_subaccounts * sizes.health_numbers_per_account
        lines.append(
            f"health requests: tool {small} for {numbers} numbers, {big} for "
            f"{bench.facts.get('health_big_numbers', '?')} numbers with the same "
            f"calls; baseline {base} "
            f"(target: grows with calls, not numbers, {_verdict(not grows)})"
        )
    help_bare = bench.facts.get("help_bare")
    if help_bare is not None:
        lines.append(
            f"--help: {help_bare:.1f}x the bare interpreter "
            f"(target <= 10x, {_verdict(help_bare <= 10)})"
        )
    return lines


if __name__ == "__main__":
    sys.exit(main())
