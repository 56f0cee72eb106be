"""The HTTP layer under twilio-python: base-URL rewrite, time-outs, retries, logging.

twilio-python retries nothing and logs at INFO with headers; this client is the
one place that decides what is safe to send again, how long to wait, and what
an operator sees with ``-v``: method, path, status and milliseconds, never a
credential or a body.
"""

from __future__ import annotations

import base64
import logging
import random
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from email.utils import parsedate_to_datetime
from typing import Any, Protocol
from urllib.parse import urlencode, urlsplit, urlunsplit

from twilio.http import HttpClient
from twilio.http.response import Response

from meetzy_numbers.errors import MeetzyError, Unreachable

log = logging.getLogger("meetzy_numbers.http")

RETRYABLE_STATUS = frozenset({429, 500, 502, 503, 504})


class UncertainOutcome(Unreachable):
    """A request that is not safe to repeat got no clear answer.

    A purchase that timed out may still have happened: the caller must look
    before it tries again.
    """


@dataclass(frozen=True)
class Answer:
    status: int
    text: str
    headers: Mapping[str, str]


class Transport(Protocol):
    """Sends one HTTP request; raises TimeoutError or ConnectionError on failure."""

    def send(
        self,
        method: str,
        url: str,
        *,
        params: Mapping[str, Any] | None,
        data: Mapping[str, Any] | None,
        headers: Mapping[str, str],
        timeout: float,
    ) -> Answer: ...


class RequestsTransport:
    """Real HTTP with a pooled session sized for the tool's concurrency."""

    def __init__(self, pool_size: int = 16) -> None:
        import requests
        from requests.adapters import HTTPAdapter

        self._requests = requests
        self._session = requests.Session()
        adapter = HTTPAdapter(pool_connections=4, pool_maxsize=pool_size)
        self._session.mount("https://", adapter)
        self._session.mount("http://", adapter)

    def send(
        self,
        method: str,
        url: str,
        *,
        params: Mapping[str, Any] | None,
        data: Mapping[str, Any] | None,
        headers: Mapping[str, str],
        timeout: float,
    ) -> Answer:
        requests = self._requests
        try:
            response = self._session.request(
                method,
                url,
                params=params,
                data=data,
                headers=dict(headers),
                timeout=timeout,
                allow_redirects=False,
            )
        except requests.Timeout as error:
            raise TimeoutError(str(error)) from None
        except requests.ConnectionError as error:
            raise ConnectionError(_first_line(error)) from None
        return Answer(response.status_code, response.text, response.headers)


class SandboxTransport:
    """Hands each request to the in-process sandbox, in Twilio's wire format."""

    def __init__(self, sandbox: Any) -> None:
        self._sandbox = sandbox

    def send(
        self,
        method: str,
        url: str,
        *,
        params: Mapping[str, Any] | None,
        data: Mapping[str, Any] | None,
        headers: Mapping[str, str],
        timeout: float,
    ) -> Answer:
        from meetzy_numbers.sandbox.store import StateFileError

        try:
            answer = self._sandbox.handle(
                method,
                url,
                params=_strings(params),
                data=_strings(data),
                headers=dict(headers),
            )
        except (StateFileError, AttributeError, KeyError, TypeError) as error:
            # A state file edited into the wrong shape breaks the simulation,
            # not the tool: say how to restore it.
            raise sandbox_broken(error) from None
        return Answer(answer.status, answer.body, answer.headers)


def sandbox_broken(error: Exception) -> MeetzyError:
    reason = _first_line(error).split(";")[0]
    return MeetzyError(
        f"the sandbox's state file cannot be used ({reason})",
        hint="restore the sandbox with: meetzy-numbers sandbox reset",
    )


@dataclass(frozen=True)
class RetryPolicy:
    attempts: int = 5
    base_delay: float = 0.25
    max_delay: float = 8.0
    max_retry_after: float = 30.0

    def delay(self, attempt: int, retry_after: float | None) -> float:
        if retry_after is not None:
            return min(retry_after, self.max_retry_after)
        ceiling = min(self.max_delay, self.base_delay * 2**attempt)
        return random.uniform(ceiling / 2, ceiling)


def is_idempotent(method: str, url: str) -> bool:
    """Whether sending the request twice does no more than sending it once.

    POSTs to a collection create something (a purchase, a validation call);
    POSTs to one record set fields to the same values again.
    """
    if method in ("GET", "DELETE", "HEAD"):
        return True
    path = urlsplit(url).path
    last = path.rsplit("/", 1)[-1]
    return method == "POST" and last[:2] in ("PN", "CA", "AC") and last[2:3] != "."


class GatewayHttpClient(HttpClient):  # type: ignore[misc]  # twilio is untyped
    def __init__(
        self,
        transport: Transport,
        *,
        base_url: str | None = None,
        timeout: float = 15.0,
        retry: RetryPolicy | None = None,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        super().__init__(logging.getLogger("twilio.http_client"), False, timeout)
        self.transport = transport
        self.base_url = base_url.rstrip("/") if base_url else None
        self.retry = retry or RetryPolicy()
        self._sleep = sleep
        self._local = threading.local()
        self.request_count = 0
        self._count_lock = threading.Lock()

    @property
    def last_answer(self) -> Answer | None:
        """The last answer this thread received: list errors hide it otherwise."""
        answer: Answer | None = getattr(self._local, "answer", None)
        return answer

    def request(
        self,
        method: str,
        uri: str,
        params: dict[str, object] | None = None,
        data: dict[str, object] | None = None,
        headers: dict[str, str] | None = None,
        auth: tuple[str, str] | None = None,
        timeout: float | None = None,
        allow_redirects: bool = False,
    ) -> Response:
        method = method.upper()
        url = self._rewrite(uri)
        sent_headers = dict(headers or {})
        if auth:
            token = base64.b64encode(f"{auth[0]}:{auth[1]}".encode()).decode()
            sent_headers["Authorization"] = f"Basic {token}"
        limit = timeout or self.timeout or 15.0
        safe = is_idempotent(method, url)
        shown = _shown(method, url, params)

        for attempt in range(self.retry.attempts):
            last = attempt == self.retry.attempts - 1
            started = time.perf_counter()
            try:
                answer = self.transport.send(
                    method,
                    url,
                    params=params,
                    data=data,
                    headers=sent_headers,
                    timeout=limit,
                )
            except (TimeoutError, ConnectionError) as error:
                elapsed = (time.perf_counter() - started) * 1000
                kind = "timed out" if isinstance(error, TimeoutError) else "failed"
                log.info("%s %s after %.0f ms", shown, kind, elapsed)
                if not safe:
                    raise UncertainOutcome(
                        f"{shown} {kind} and may have taken effect"
                    ) from None
                if last:
                    raise Unreachable(
                        f"Twilio could not be reached: {shown} {kind} "
                        f"{self.retry.attempts} times"
                    ) from None
                self._sleep(self.retry.delay(attempt, None))
                continue
            finally:
                with self._count_lock:
                    self.request_count += 1

            elapsed = (time.perf_counter() - started) * 1000
            log.info("%s -> %d in %.0f ms", shown, answer.status, elapsed)
            self._local.answer = answer
            if answer.status in RETRYABLE_STATUS:
                # A 429 was refused before any work; anything else is only
                # safe to repeat when repeating cannot do a thing twice.
                if answer.status != 429 and not safe:
                    raise UncertainOutcome(
                        f"{shown} answered {answer.status} and may have taken effect"
                    )
                if last:
                    what = (
                        "kept rate-limiting (429)"
                        if answer.status == 429
                        else f"kept answering {answer.status}"
                    )
                    raise Unreachable(
                        f"Twilio {what}: {shown}, {self.retry.attempts} attempts"
                    )
                self._sleep(self.retry.delay(attempt, _retry_after(answer.headers)))
                continue
            return Response(answer.status, answer.text, dict(answer.headers))
        raise AssertionError("unreachable")  # pragma: no cover

    def _rewrite(self, url: str) -> str:
        if not self.base_url:
            return url
        base = urlsplit(self.base_url)
        parts = urlsplit(url)
        path = base.path.rstrip("/") + parts.path
        return urlunsplit((base.scheme, base.netloc, path, parts.query, ""))


def _retry_after(headers: Mapping[str, str]) -> float | None:
    value = next((v for k, v in headers.items() if k.lower() == "retry-after"), None)
    if value is None:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        moment = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, moment.timestamp() - time.time())


def _shown(method: str, url: str, params: Mapping[str, Any] | None) -> str:
    parts = urlsplit(url)
    query = parts.query
    if params:
        query = "&".join(filter(None, [query, urlencode(_strings(params) or {})]))
    return f"{method} {parts.path}" + (f"?{query}" if query else "")


def _strings(values: Mapping[str, Any] | None) -> dict[str, str] | None:
    if values is None:
        return None
    return {key: _wire(value) for key, value in values.items() if value is not None}


def _wire(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def _first_line(error: BaseException) -> str:
    return str(error).splitlines()[0] if str(error) else type(error).__name__
