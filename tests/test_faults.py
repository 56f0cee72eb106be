"""Faults injected into a Twilio stand-in served over HTTP: the tool finishes
what it can, reports what it did not do, and never loses or doubles a change."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from threading import Thread
from typing import Any

import pytest

from conftest import Invoke
from meetzy_numbers.sandbox import SEED, Faults, Sandbox, TimeoutFault, serve

pytestmark = pytest.mark.slow

MAIN_TOKEN = next(t for sid, _, t, _ in SEED.accounts if sid == SEED.main_account_sid)
ENV = {"TWILIO_ACCOUNT_SID": SEED.main_account_sid, "TWILIO_AUTH_TOKEN": MAIN_TOKEN}


class Twilio:
    """A large sandbox on loopback, with the faults the test asks for."""

    def __init__(self, numbers: int, faults: Faults | None = None, **serve_args: Any):
        self.sandbox = Sandbox.large(
            subaccounts=0, numbers_per_account=numbers, calls=0, faults=faults
        )
        self.server, self.thread = serve(self.sandbox, **serve_args)
        host, port = self.server.server_address[:2]
        self.url = f"http://{host!s}:{port}"

    def numbers(self) -> dict[str, dict[str, Any]]:
        snapshot = self.sandbox.snapshot()["incoming_phone_numbers"]
        found: dict[str, dict[str, Any]] = snapshot[SEED.main_account_sid]
        return found

    def close(self) -> None:
        self.server.shutdown()
        self.thread.join(timeout=5)


@pytest.fixture
def twilio() -> Iterator[list[Twilio]]:
    started: list[Twilio] = []
    yield started
    for server in started:
        server.close()


def start(
    started: list[Twilio], numbers: int, faults: Faults | None = None, **kw: Any
) -> Twilio:
    server = Twilio(numbers, faults, **kw)
    started.append(server)
    return server


def configure(cli: Invoke, *settings: tuple[str, str]) -> None:
    for key, value in (("webhook_base", SEED.webhook_base), *settings):
        assert cli("config", "set", key, value).exit_code == 0
    for agent, name in SEED.agents:
        assert cli("agents", "add", agent, name).exit_code == 0


def routed(record: dict[str, Any]) -> bool:
    return any(
        record.get(name)
        for name in ("voice_url", "status_callback", "trunk_sid", "sms_url")
    )


def journal_lines(home: Path) -> list[dict[str, Any]]:
    path = home / "journal.jsonl"
    return [json.loads(line) for line in path.read_text().splitlines() if line]


def test_a_429_on_one_call_in_ten_still_resets_all_1000(
    cli: Invoke, twilio: list[Twilio], isolated_home: Path
) -> None:
    server = start(twilio, 1000, Faults(rate_limit_every=10, retry_after=0))
    configure(cli)
    numbers = "\n".join(r["phone_number"] for r in server.numbers().values())

    result = cli(
        "--api-url", server.url, "reset", "-", "--yes", "-o", "json",
        input=numbers, env=ENV,
    )  # fmt: skip

    assert result.exit_code == 0, result.stderr[-2000:]
    outcomes = Counter(r["outcome"] for r in json.loads(result.stdout))
    assert outcomes["failed"] == 0
    assert outcomes["done"] + outcomes["skipped"] == 1000
    assert not any(routed(r) for r in server.numbers().values())
    done = [e for e in journal_lines(isolated_home) if e["status"] == "done"]
    assert len(done) == outcomes["done"]
    assert len({e["number_sid"] for e in done}) == len(done)


def test_every_call_refused_exits_7_and_lists_what_was_not_done(
    cli: Invoke, twilio: list[Twilio]
) -> None:
    healthy = start(twilio, 20)
    refusing = start(twilio, 20, Faults(rate_limit_all=True, retry_after=0))
    configure(cli)
    assert cli("--api-url", healthy.url, "list", env=ENV).exit_code == 0
    targets = [r["phone_number"] for r in healthy.numbers().values() if routed(r)][:5]

    result = cli("--api-url", refusing.url, "reset", *targets, "--yes", env=ENV)

    assert result.exit_code == 7
    for number in targets:
        assert f"error: {number}: Twilio kept rate-limiting (429)" in result.stderr
    assert "reset: 0 done, 0 skipped, 5 failed" in result.stderr
    assert sum(routed(r) for r in refusing.numbers().values()) == sum(
        routed(r) for r in healthy.numbers().values()
    )


def test_server_errors_are_retried(cli: Invoke, twilio: list[Twilio]) -> None:
    server = start(twilio, 60, Faults(error_rate=0.05, retry_after=0, seed=7))
    configure(cli)
    numbers = "\n".join(r["phone_number"] for r in server.numbers().values())

    result = cli("--api-url", server.url, "reset", "-", "--yes", input=numbers, env=ENV)

    assert result.exit_code == 0, result.stderr[-2000:]
    assert not any(routed(r) for r in server.numbers().values())


def test_an_update_that_times_out_is_sent_again(
    cli: Invoke, twilio: list[Twilio], isolated_home: Path
) -> None:
    fault = TimeoutFault(
        method="POST", path_contains="IncomingPhoneNumbers/PN", times=1
    )
    server = start(twilio, 10, Faults(timeouts=[fault], slow_seconds=1.0))
    configure(cli, ("timeout", "0.3"))
    number = next(r["phone_number"] for r in server.numbers().values() if routed(r))

    result = cli("--api-url", server.url, "-v", "reset", number, "--yes", env=ENV)

    assert result.exit_code == 0, result.stderr
    assert "timed out after" in result.stderr
    statuses = [e["status"] for e in journal_lines(isolated_home)]
    assert statuses == ["started", "done"]


def test_a_listing_that_is_not_json_exits_1(cli: Invoke) -> None:
    class Html(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            body = b"<html>maintenance</html>"
            self.send_response(200)
            self.send_header("Content-Type", "text/html")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Html)
    Thread(target=server.serve_forever, daemon=True).start()
    try:
        url = f"http://127.0.0.1:{server.server_address[1]}"
        result = cli("--api-url", url, "list", env=ENV)
    finally:
        server.shutdown()

    assert result.exit_code == 1, result.stderr
    assert "was not JSON" in result.stderr
    assert "Traceback" not in result.output


def test_an_api_key_sid_as_account_sid_exits_4(cli: Invoke) -> None:
    result = cli(
        "list",
        env={"TWILIO_ACCOUNT_SID": "SK" + "a" * 32, "TWILIO_AUTH_TOKEN": "x" * 32},
    )

    assert result.exit_code in (2, 4)
    assert "API key" in result.stderr
    assert "x" * 32 not in result.output


# Whole processes: killed half-way, and two at once


def run_tool(home: Path, url: str, *args: str, stdin: str) -> subprocess.Popen[str]:
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith("TWILIO_")},
        **ENV,
        "MEETZY_NUMBERS_HOME": str(home),
        "MEETZY_NUMBERS_API_URL": url,
    }
    process = subprocess.Popen(
        [sys.executable, "-m", "meetzy_numbers", *args],
        env=env,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert process.stdin is not None
    process.stdin.write(stdin)
    process.stdin.close()
    return process


def one_entry_per_number(home: Path) -> Counter[str]:
    """Reset entries per number, a "started" line and its closing line as one."""
    lines = journal_lines(home)
    closed = {e["ref"] for e in lines if e["status"] != "started"}
    entries = Counter(e["number_sid"] for e in lines if e["status"] == "started")
    assert all(e["id"] in closed for e in lines if e["status"] == "started")
    return entries


def test_a_killed_bulk_reset_finishes_on_the_second_run(
    cli: Invoke, twilio: list[Twilio], isolated_home: Path
) -> None:
    server = start(twilio, 300, latency_ms=15)
    configure(cli, ("concurrency", "4"))
    assert cli("--api-url", server.url, "list", env=ENV).exit_code == 0
    to_reset = {sid for sid, r in server.numbers().items() if routed(r)}
    numbers = "\n".join(r["phone_number"] for r in server.numbers().values())

    first = run_tool(isolated_home, server.url, "reset", "-", "--yes", stdin=numbers)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        path = isolated_home / "journal.jsonl"
        if path.exists() and path.read_text().count('"done"') >= 40:
            break
        time.sleep(0.05)
    first.send_signal(signal.SIGKILL)
    first.wait(timeout=10)
    half = sum(routed(r) for r in server.numbers().values())
    assert 0 < half < len(to_reset)

    second = run_tool(isolated_home, server.url, "reset", "-", "--yes", stdin=numbers)
    assert second.wait(timeout=120) == 0, second.stderr.read() if second.stderr else ""

    assert not any(routed(r) for r in server.numbers().values())
    entries = one_entry_per_number(isolated_home)
    assert set(entries) == to_reset
    assert set(entries.values()) == {1}


def test_two_bulk_runs_at_once_apply_each_change_once(
    cli: Invoke, twilio: list[Twilio], isolated_home: Path
) -> None:
    server = start(twilio, 120, latency_ms=5)
    configure(cli, ("concurrency", "4"))
    assert cli("--api-url", server.url, "list", env=ENV).exit_code == 0
    to_reset = {sid for sid, r in server.numbers().items() if routed(r)}
    numbers = "\n".join(r["phone_number"] for r in server.numbers().values())

    runs = [
        run_tool(isolated_home, server.url, "reset", "-", "--yes", stdin=numbers),
        run_tool(isolated_home, server.url, "reset", "-", "--yes", stdin=numbers),
        run_tool(isolated_home, server.url, "list", "--refresh", stdin=""),
    ]
    for process in runs:
        assert process.wait(timeout=120) == 0

    assert not any(routed(r) for r in server.numbers().values())
    entries = one_entry_per_number(isolated_home)
    assert set(entries) == to_reset
    assert set(entries.values()) == {1}
    cache = json.loads(
        (isolated_home / "cache" / f"{SEED.main_account_sid}.json").read_text()
    )
    assert len(cache["numbers"]) == 120
