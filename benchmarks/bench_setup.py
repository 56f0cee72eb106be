"""Set-up for benchmarks/run.py: homes for the tool, the baseline, result rows."""

from __future__ import annotations

import json
import os
import shutil
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bench_support import ChildResult, Served, Window, run_child, start_server

from meetzy_numbers.sandbox import SEED, Sandbox

HERE = Path(__file__).resolve().parent
BASELINE = HERE / "bench_baseline.py"
MAIN_SID = SEED.main_account_sid
MAIN_TOKEN = next(token for sid, _, token, _ in SEED.accounts if sid == MAIN_SID)
# Packages a start-up without network work should not need to import.
WATCHED = ("twilio", "requests", "rich", "keyring", "phonenumbers")
HEALTH_DAYS = 7  # the tool's default health window (config health.window_days)


@dataclass(frozen=True)
class Sizes:
    subaccounts: int
    numbers_per_account: int
    calls: int
    health_subaccounts: int
    health_numbers_per_account: int
    health_calls: int
    show_numbers: int
    reset_count: int
    startup_runs: int
    warm_runs: int


@dataclass
class Row:
    scenario: str
    tool: float | None = None
    baseline: float | None = None
    tool_requests: int | None = None
    baseline_requests: int | None = None
    lower_bound: float | None = None
    note: str = ""
    unit: str = "s"


def tool_command() -> list[str]:
    """The installed console script, else `python -m meetzy_numbers`."""
    beside = Path(sys.executable).with_name("meetzy-numbers")
    if beside.exists():
        return [str(beside)]
    found = shutil.which("meetzy-numbers")
    return [found] if found else [sys.executable, "-m", "meetzy_numbers"]


def base_env() -> dict[str, str]:
    """This environment without anything that would steer either side."""
    dropped = ("TWILIO_", "MEETZY_NUMBERS_", "PYTHON_KEYRING", "PYTHONPROFILE")
    env = {k: v for k, v in os.environ.items() if not k.startswith(dropped)}
    env["TWILIO_ACCOUNT_SID"] = MAIN_SID
    env["TWILIO_AUTH_TOKEN"] = MAIN_TOKEN
    return env


@dataclass
class Home:
    """One MEETZY_NUMBERS_HOME for the tool, talking to one server."""

    path: Path
    served: Served
    keyring: bool = False

    def env(self) -> dict[str, str]:
        env = base_env()
        env["MEETZY_NUMBERS_HOME"] = str(self.path)
        if self.keyring:
            env["PYTHON_KEYRING_BACKEND"] = "bench_keyring.FileKeyring"
            env["BENCH_KEYRING_FILE"] = str(self.path / "keyring.json")
            env["PYTHONPATH"] = os.pathsep.join(
                filter(None, [str(HERE), env.get("PYTHONPATH")])
            )
        return env

    def tool(self, *args: str, stdin: bytes | None = None) -> ChildResult:
        argv = [*tool_command(), "--api-url", self.served.url, *args]
        return run_child(argv, self.env(), stdin)

    def clear_cache(self) -> None:
        shutil.rmtree(self.path / "cache", ignore_errors=True)


@dataclass
class Bench:
    workdir: Path
    sizes: Sizes
    latency_ms: float
    limit: int
    servers: list[Served] = field(default_factory=list)
    imports: dict[str, list[tuple[str, float]]] = field(default_factory=dict)
    loaded: dict[str, dict[str, bool]] = field(default_factory=dict)
    facts: dict[str, Any] = field(default_factory=dict)

    def serve(self, name: str, sandbox: Sandbox) -> Served:
        served = start_server(
            name, sandbox, latency_ms=self.latency_ms, limit=self.limit
        )
        self.servers.append(served)
        return served

    def home(self, name: str, served: Served, *, keyring: bool = False) -> Home:
        path = self.workdir / name
        path.mkdir(parents=True, exist_ok=True)
        lines = [
            f"main_account = {json.dumps(MAIN_SID)}",
            f"webhook_base = {json.dumps(SEED.webhook_base)}",
            f"concurrency = {min(self.limit, 64)}",
            "cache_ttl = 3600",
            "",
        ]
        for agent, name_ in SEED.agents:
            lines += [f"[agents.{agent}]", f"name = {json.dumps(name_)}", ""]
        (path / "config.toml").write_text("\n".join(lines), encoding="utf-8")
        return Home(path, served, keyring)

    def baseline(
        self, served: Served, *args: str, stdin: bytes | None = None
    ) -> ChildResult:
        argv = [sys.executable, str(BASELINE), *args, "--api-url", served.url]
        return run_child(argv, base_env(), stdin)

    def bound(self, window: Window) -> float:
        return window.lower_bound(self.limit, self.latency_ms)

    def close(self) -> None:
        for served in self.servers:
            served.close()


def measure(
    served: Served, run: Callable[[], ChildResult]
) -> tuple[ChildResult, Window]:
    mark = served.mark()
    result = run()
    return result, served.since(mark)


def notes(result: ChildResult | None, window: Window | None, *extra: str) -> str:
    parts = [text for text in extra if text]
    if result is not None and result.returncode != 0:
        lines = result.stderr.decode(errors="replace").strip().splitlines()
        parts.insert(0, f"exit {result.returncode}: {lines[-1] if lines else ''}")
    if result is not None and window is not None and window.requests:
        parts.append(f"cpu {result.cpu_seconds:.2f} s")
    if window is not None and window.refused:
        parts.append(f"{window.refused} x 429")
    if window is not None and window.requests:
        parts.append(f"server {window.server_seconds():.2f} s")
    return "; ".join(parts)


def guarded(name: str, scenario: Callable[[], list[Row]]) -> list[Row]:
    """A scenario that breaks becomes one row saying how, not a crash."""
    try:
        return scenario()
    except Exception as error:  # a benchmark reports; it does not stop
        return [Row(name, note=f"error: {type(error).__name__}: {error}")]


def store_subaccount_credentials(home: Home, snapshot: dict[str, Any]) -> None:
    """`creds set --stdin` for each subaccount: reset must manage them."""
    for sid, account in snapshot["accounts"].items():
        if sid == MAIN_SID:
            continue
        token = f"{account['auth_token']}\n".encode()
        result = home.tool("creds", "set", sid, "--stdin", stdin=token)
        if result.returncode != 0:
            error = result.stderr.decode(errors="replace").strip()
            print(f"  warning: creds set {sid} failed: {error}", flush=True)
