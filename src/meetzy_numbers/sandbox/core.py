"""`Sandbox`: Twilio's 2010 REST API answered in-process."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, unquote, urlsplit

from . import render, routes
from .api import ApiError, Request
from .faults import Faults, FaultState
from .large import build_large
from .seed import build_seed
from .state import Json
from .store import Store

JSON_HEADERS = {"Content-Type": "application/json"}


@dataclass
class SandboxResponse:
    status: int
    body: str
    headers: dict[str, str] = field(default_factory=lambda: dict(JSON_HEADERS))


def _error(status: int, code: int, message: str) -> SandboxResponse:
    body = json.dumps(render.error_body(status, code, message))
    return SandboxResponse(status, body, dict(JSON_HEADERS))


def internal_error() -> SandboxResponse:
    return _error(500, 20500, "Internal Server Error")


class Sandbox:
    """An in-process stand-in for Twilio's REST API (2010-04-01).

    With a `state_file` the state lives in that JSON file, created from the seed
    on first use and shared safely by threads and processes; with None it lives
    in memory. Faults default to `faults.json` beside the state file, if any.
    """

    def __init__(
        self, state_file: Path | None, *, faults: Faults | None = None
    ) -> None:
        path = Path(state_file) if state_file is not None else None
        if faults is None and path is not None:
            candidate = path.parent / "faults.json"
            if candidate.exists():
                faults = Faults.from_file(candidate)
        self.faults = faults or Faults()
        self._fault_state = FaultState(self.faults)
        self._make_document: Callable[[], Json] = lambda: build_seed(time.time())
        self._store = Store(path, self._make_document)
        self._inflight = 0
        self._inflight_lock = threading.Lock()

    @classmethod
    def large(
        cls,
        *,
        subaccounts: int = 10,
        numbers_per_account: int = 1000,
        calls: int = 50_000,
        faults: Faults | None = None,
    ) -> Sandbox:
        """A memory-only sandbox with a big deterministic inventory."""
        sandbox = cls(None, faults=faults)

        def make() -> Json:
            return build_large(subaccounts, numbers_per_account, calls, time.time())

        sandbox._make_document = make
        sandbox._store = Store(None, make)
        return sandbox

    @property
    def request_count(self) -> int:
        """Requests handled so far, faulted ones included."""
        return self._fault_state.request_count

    def handle(
        self,
        method: str,
        url: str,
        *,
        params: dict[str, str] | None = None,
        data: dict[str, str] | None = None,
        headers: dict[str, str] | None = None,
    ) -> SandboxResponse:
        """Answer one request; raises TimeoutError when a time-out fault fires."""
        response, timed_out = self.respond(
            method, url, params=params, data=data, headers=headers
        )
        if timed_out:
            raise TimeoutError(f"sandbox: {method.upper()} {url} timed out (fault)")
        return response

    def respond(
        self,
        method: str,
        url: str,
        *,
        params: dict[str, str] | None = None,
        data: dict[str, str] | None = None,
        headers: dict[str, str] | None = None,
    ) -> tuple[SandboxResponse, bool]:
        """Like `handle`, but reports a time-out fault instead of raising it.

        The HTTP server uses this to answer late instead of not at all.
        """
        method = method.upper()
        parts = urlsplit(url)
        path = unquote(parts.path)
        args = dict(parse_qsl(parts.query, keep_blank_values=True))
        args.update(params or {})
        args.update(data or {})
        lowered = {k.lower(): v for k, v in (headers or {}).items()}
        faults = self.faults
        with self._inflight_lock:
            self._inflight += 1
            inflight = self._inflight
        try:
            if faults.latency_ms:
                time.sleep(faults.latency_ms / 1000)
            limit = faults.concurrency_limit
            if limit is not None and inflight > limit:
                self._fault_state.tick()
                return self.too_many_requests(), False
            decision = self._fault_state.decide(method, path)
            if decision == "rate_limited":
                return self.too_many_requests(), False
            if decision in ("error", "timeout_dropped"):
                unavailable = _error(503, 20503, "Service Unavailable")
                return unavailable, decision == "timeout_dropped"
            request = Request(method, path, args, lowered, time.time())
            return self._dispatch(request), decision == "timeout_applied"
        finally:
            with self._inflight_lock:
                self._inflight -= 1

    def too_many_requests(self) -> SandboxResponse:
        response = _error(429, 20429, "Too Many Requests")
        retry = self.faults.retry_after
        response.headers["Retry-After"] = (
            str(int(retry)) if float(retry).is_integer() else str(retry)
        )
        return response

    def _dispatch(self, request: Request) -> SandboxResponse:
        with self._store.transaction() as state:
            try:
                status, body = routes.dispatch(state, request)
            except ApiError as exc:
                return _error(exc.status, exc.code, exc.message)
        text = "" if body is None else json.dumps(body)
        return SandboxResponse(status, text, dict(JSON_HEADERS))

    def reset(self) -> None:
        """Restore the seed (or the large inventory) and persist it."""
        self._store.replace(self._make_document())

    def snapshot(self) -> dict[str, Any]:
        """A deep copy of everything Twilio 'has', records in wire format."""
        with self._store.transaction() as state:
            doc = state.doc
            return {
                "accounts": {
                    sid: render.account(sid, acct)
                    for sid, acct in state.accounts.items()
                },
                "incoming_phone_numbers": _render_buckets(
                    doc["numbers"], render.incoming_number
                ),
                "outgoing_caller_ids": _render_buckets(
                    doc["caller_ids"], render.caller_id
                ),
                "calls": _render_buckets(doc["calls"], render.call),
                "available_phone_numbers": {
                    country: [
                        {**render.available(e), "type": e["type"]} for e in entries
                    ]
                    for country, entries in doc["available"].items()
                },
                "api_keys": json.loads(json.dumps(doc["api_keys"])),
                "bundles": json.loads(json.dumps(doc["bundles"])),
                "addresses": json.loads(json.dumps(doc["addresses"])),
            }


def _render_buckets(
    buckets: dict[str, dict[str, Json]], to_json: Callable[[str, str, Json], Json]
) -> dict[str, dict[str, Json]]:
    return {
        account: {sid: to_json(account, sid, rec) for sid, rec in bucket.items()}
        for account, bucket in buckets.items()
    }
