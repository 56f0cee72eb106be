"""Plumbing for benchmarks/run.py: child processes, the served sandbox, the machine.

Nothing here decides what is measured; it only measures.
"""

from __future__ import annotations

import math
import os
import platform
import re
import statistics
import subprocess
import sys
import threading
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import ThreadingHTTPServer
from pathlib import Path
from typing import IO, Any
from urllib.parse import parse_qsl, urlencode, urlsplit

from meetzy_numbers.sandbox import Sandbox, serve

# Query parameters that only move through one listing; requests that differ
# in these alone belong to one chain that must run in order.
PAGING = frozenset({"Page", "PageSize", "PageToken"})
CHILD_TIMEOUT = 900.0


@dataclass
class ChildResult:
    returncode: int
    seconds: float
    stdout: bytes
    stderr: bytes
    cpu_seconds: float


def run_child(
    argv: list[str],
    env: dict[str, str],
    stdin: bytes | None = None,
    timeout: float = CHILD_TIMEOUT,
) -> ChildResult:
    """Run one process with stdout into a pipe; its wall time and CPU time.

    `os.wait4` reports the rusage of this child alone. Its peak RSS is no use:
    the child starts as a copy of this big process, and Linux keeps that copy's
    high-water mark across the exec (see `peak_rss_kb`).
    """
    started = time.perf_counter()
    proc = subprocess.Popen(
        argv,
        stdin=subprocess.PIPE if stdin is not None else subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env=env,
    )
    chunks: dict[str, bytes] = {}
    assert proc.stdout is not None and proc.stderr is not None
    readers = [
        threading.Thread(target=_drain, args=(proc.stdout, chunks, "out")),
        threading.Thread(target=_drain, args=(proc.stderr, chunks, "err")),
    ]
    if stdin is not None:
        assert proc.stdin is not None
        readers.append(threading.Thread(target=_feed, args=(proc.stdin, stdin)))
    for thread in readers:
        thread.start()
    watchdog = threading.Timer(timeout, proc.kill)
    watchdog.start()
    try:
        _, status, usage = os.wait4(proc.pid, 0)
    finally:
        watchdog.cancel()
    seconds = time.perf_counter() - started
    proc.returncode = os.waitstatus_to_exitcode(status)
    for thread in readers:
        thread.join()
    return ChildResult(
        returncode=proc.returncode,
        seconds=seconds,
        stdout=chunks.get("out", b""),
        stderr=chunks.get("err", b""),
        cpu_seconds=usage.ru_utime + usage.ru_stime,
    )


def _drain(stream: IO[bytes], into: dict[str, bytes], key: str) -> None:
    into[key] = stream.read()
    stream.close()


def _feed(stream: IO[bytes], data: bytes) -> None:
    try:
        stream.write(data)
        stream.close()
    except BrokenPipeError:
        pass  # the child exited early; its exit code says why


# Starts the command from a small process, so the high-water mark Linux keeps
# across exec is this wrapper's few MB, not the benchmark's hundreds.
_RSS_WRAPPER = """
import resource, subprocess, sys
code = subprocess.run(sys.argv[1:]).returncode
peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
print(f"peak_rss_kb={peak}", file=sys.stderr)
sys.exit(code)
"""


def peak_rss_kb(
    argv: list[str], env: dict[str, str], stdin: bytes | None = None
) -> tuple[int | None, ChildResult]:
    """The peak resident set of one run of `argv`, in KB (None if unreadable)."""
    result = run_child([sys.executable, "-c", _RSS_WRAPPER, *argv], env, stdin)
    lines = result.stderr.decode(errors="replace").strip().splitlines()
    last = lines[-1] if lines else ""
    if not last.startswith("peak_rss_kb="):
        return None, result
    return int(last.partition("=")[2]), result


def median_run(runs: int, once: Callable[[], ChildResult]) -> tuple[float, ChildResult]:
    """The median wall time of `runs` runs, and the last run."""
    results = [once() for _ in range(max(1, runs))]
    return statistics.median(r.seconds for r in results), results[-1]


@dataclass
class Served:
    """One sandbox over HTTP on loopback, counting every request it gets."""

    name: str
    sandbox: Sandbox
    server: ThreadingHTTPServer
    latency_ms: float
    limit: int
    seen: list[tuple[str, str, float]] = field(default_factory=list)
    refused: int = 0
    _lock: threading.Lock = field(default_factory=threading.Lock)

    @property
    def url(self) -> str:
        host, port = self.server.server_address[:2]
        return f"http://{host!s}:{port}"

    def requests(self) -> int:
        """`request_count`, plus the 429s the HTTP layer answers on its own.

        The server turns away requests over the concurrency limit before the
        sandbox sees them, so `Sandbox.request_count` does not count those.
        """
        return self.sandbox.request_count + self.refused

    def mark(self) -> tuple[int, int, int]:
        with self._lock:
            return self.requests(), len(self.seen), self.refused

    def since(self, mark: tuple[int, int, int]) -> Window:
        with self._lock:
            return Window(
                requests=self.requests() - mark[0],
                seen=list(self.seen[mark[1] :]),
                refused=self.refused - mark[2],
            )

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@dataclass
class Window:
    """What a server got between two marks."""

    requests: int
    seen: list[tuple[str, str, float]]
    refused: int

    def server_seconds(self) -> float:
        """CPU seconds the sandbox spent answering (latency and waits left out)."""
        return sum(seconds for _, _, seconds in self.seen)

    def chain(self) -> int:
        """The longest run of requests the data forces into sequence.

        Requests to one resource with one filter form a chain (the pages of a
        listing follow `next_page_uri`; a fetch comes before its update). The
        accounts listing comes before everything, since it says which accounts
        there are.
        """
        groups: Counter[tuple[str, str]] = Counter()
        for _, url, _ in self.seen:
            parts = urlsplit(url)
            query = [(k, v) for k, v in parse_qsl(parts.query) if k not in PAGING]
            groups[(parts.path, urlencode(sorted(query)))] += 1
        accounts = sum(n for (path, _), n in groups.items() if _is_accounts(path))
        rest = [n for (path, _), n in groups.items() if not _is_accounts(path)]
        return accounts + max(rest, default=0)

    def lower_bound(self, limit: int, latency_ms: float) -> float:
        """Seconds: max(ceil(requests / limit), chain) round trips of latency."""
        if self.requests == 0:
            return 0.0
        rounds = max(math.ceil(self.requests / limit), self.chain())
        return rounds * latency_ms / 1000


def _is_accounts(path: str) -> bool:
    return path.rstrip("/").endswith("/Accounts.json")


def start_server(
    name: str, sandbox: Sandbox, *, latency_ms: float, limit: int
) -> Served:
    server, _ = serve(
        sandbox, host="127.0.0.1", latency_ms=latency_ms, concurrency_limit=limit
    )
    # The handler writes the headers and the body in two sends; without
    # TCP_NODELAY, Nagle holds the body until the client's delayed ACK, about
    # 40 ms on every answer, which would swamp the latency being simulated.
    setattr(server.RequestHandlerClass, "disable_nagle_algorithm", True)  # noqa: B010
    served = Served(name, sandbox, server, latency_ms, limit)
    respond = sandbox.respond
    refuse = sandbox.too_many_requests

    def logged_respond(method: str, url: str, **kwargs: Any) -> Any:
        # CPU time of this handler thread: the work, not waits for locks.
        started = time.thread_time()
        try:
            return respond(method, url, **kwargs)
        finally:
            spent = time.thread_time() - started
            with served._lock:
                served.seen.append((method.upper(), url, spent))

    def counted_refuse() -> Any:
        with served._lock:
            served.refused += 1
        return refuse()

    # Instance attributes shadow the methods the HTTP handler calls.
    setattr(sandbox, "respond", logged_respond)  # noqa: B010
    setattr(sandbox, "too_many_requests", counted_refuse)  # noqa: B010
    return served


def machine() -> list[str]:
    model = "unknown CPU"
    try:
        with Path("/proc/cpuinfo").open(encoding="utf-8") as fh:
            for line in fh:
                if line.startswith("model name"):
                    model = line.split(":", 1)[1].strip()
                    break
    except OSError:
        model = platform.processor() or model
    usable = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else 0
    return [
        f"CPU: {model}",
        f"cores: {os.cpu_count()} ({usable or '?'} usable by this process)",
        f"Python: {sys.version.split()[0]} ({sys.executable})",
        f"OS: {platform.platform()}",
        "load average at start: "
        + " ".join(f"{x:.2f}" for x in os.getloadavg())
        + " (other work on the machine skews every figure)",
    ]


_IMPORT_LINE = re.compile(r"^import time:\s+(\d+)\s+\|\s+(\d+)\s+\|(\s+)(\S+)\s*$")


def import_profile(stderr: bytes) -> dict[str, float]:
    """Milliseconds of own import time per top-level package, from -X importtime."""
    totals: dict[str, float] = {}
    for line in stderr.decode(errors="replace").splitlines():
        match = _IMPORT_LINE.match(line)
        if match is None:
            continue
        root = match.group(4).split(".", 1)[0]
        totals[root] = totals.get(root, 0.0) + int(match.group(1)) / 1000
    return totals
