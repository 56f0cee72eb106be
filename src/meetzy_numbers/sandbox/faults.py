"""Fault injection: latency, rate limits, server errors and time-outs.

Faults are decided before a request touches the state, so a 429, a 503 or a
time-out that is not applied changes nothing. A time-out with `apply` set runs
the request first and then raises, like a purchase that went through while the
client gave up waiting.
"""

from __future__ import annotations

import json
import random
import threading
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any, Literal

_TIMEOUT_KEYS = frozenset({"method", "path_contains", "times", "apply"})


@dataclass
class TimeoutFault:
    """The next `times` requests matching method and path time out."""

    method: str | None = None
    path_contains: str = ""
    times: int = 1
    apply: bool = True

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> TimeoutFault:
        unknown = set(d) - _TIMEOUT_KEYS
        if unknown:
            raise ValueError(f"unknown timeout fault keys: {sorted(unknown)}")
        method = d.get("method")
        return cls(
            method=str(method).upper() if method else None,
            path_contains=str(d.get("path_contains", "")),
            times=int(d.get("times", 1)),
            apply=bool(d.get("apply", True)),
        )

    def matches(self, method: str, path: str) -> bool:
        if self.method and self.method != method.upper():
            return False
        return self.path_contains in path


@dataclass
class Faults:
    """What goes wrong, and how often; all off by default."""

    latency_ms: float = 0
    rate_limit_every: int | None = None
    rate_limit_all: bool = False
    retry_after: float = 1
    concurrency_limit: int | None = None
    error_rate: float = 0
    seed: int = 0
    timeouts: list[TimeoutFault] = field(default_factory=list)
    slow_seconds: float = 5

    def __post_init__(self) -> None:
        self.timeouts = [
            t if isinstance(t, TimeoutFault) else TimeoutFault.from_dict(t)
            for t in self.timeouts
        ]
        if self.rate_limit_every is not None and self.rate_limit_every < 1:
            raise ValueError("rate_limit_every must be at least 1")
        if not 0 <= self.error_rate <= 1:
            raise ValueError("error_rate must be between 0 and 1")

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Faults:
        known = {f.name for f in fields(cls)}
        unknown = set(d) - known
        if unknown:
            raise ValueError(f"unknown fault keys: {sorted(unknown)}")
        return cls(**d)

    @classmethod
    def from_file(cls, path: Path | str) -> Faults:
        data = json.loads(Path(path).read_text(encoding="utf-8"))
        if not isinstance(data, dict):
            raise ValueError(f"{path}: faults must be a JSON object")
        return cls.from_dict(data)


Decision = Literal["ok", "rate_limited", "error", "timeout_applied", "timeout_dropped"]


class FaultState:
    """The running counters behind a `Faults`: request numbers, RNG, time-outs."""

    def __init__(self, faults: Faults) -> None:
        self.faults = faults
        self._lock = threading.Lock()
        self._rng = random.Random(faults.seed)
        self._remaining = [t.times for t in faults.timeouts]
        self.request_count = 0

    def tick(self) -> None:
        """Count a request turned away before fault decisions (concurrency)."""
        with self._lock:
            self.request_count += 1

    def decide(self, method: str, path: str) -> Decision:
        """Count one request and say which fault, if any, it meets."""
        f = self.faults
        with self._lock:
            self.request_count += 1
            n = self.request_count
            if f.rate_limit_all or (f.rate_limit_every and n % f.rate_limit_every == 0):
                return "rate_limited"
            if f.error_rate and self._rng.random() < f.error_rate:
                return "error"
            for i, fault in enumerate(f.timeouts):
                if self._remaining[i] > 0 and fault.matches(method, path):
                    self._remaining[i] -= 1
                    return "timeout_applied" if fault.apply else "timeout_dropped"
        return "ok"
