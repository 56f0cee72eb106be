"""What ``record_cassettes.py`` records against, and how it scrubs a cassette.

Targets: Prism serving Twilio's API description (started here unless one is
given), the tool's sandbox served over HTTP, or live Twilio. Scrubbing: the
vcrpy hooks that rewrite account SIDs, filter auth tokens and secrets and
point every request at ``https://api.twilio.com``, and the check run on a
saved cassette before it replaces the previous one.
"""

from __future__ import annotations

import contextlib
import re
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import meetzy_numbers.gateway as gateway_module
from meetzy_numbers.gateway import Gateway
from meetzy_numbers.gateway.errors import mapped_errors
from meetzy_numbers.gateway.http import GatewayHttpClient, RequestsTransport
from meetzy_numbers.model.accounts import Account
from meetzy_numbers.store.credentials import CredentialStore

ROOT = Path(__file__).resolve().parent.parent
SPEC = "node_modules/@twilio/cli-core/src/services/twilio-api/twilio_api_v2010.json"
TWILIO = "https://api.twilio.com"
# An account SID, but not the "AC" astride a page token's "PA" and the call SID
# after it (PageToken=PACA…): where a capital comes before, SID hex follows.
ACCOUNT_SID = re.compile(r"(?:(?<![A-Z])AC|AC(?=[0-9a-f]))[0-9a-fA-F]{32}")
AUTH_TOKEN_FIELD = re.compile(r'("auth_token"\s*:\s*)"[^"]*"')


def fake_account(index: int) -> str:
    """The fake SID for the index-th account of a cassette, 0 being the main one."""
    return "AC" + (str(index) * 32 if index < 10 else f"{index:032d}")


class MemoryBackend:
    """Credentials that live only as long as this run."""

    def __init__(self) -> None:
        self.entries: dict[str, str] = {}

    def read(self, account_sid: str) -> str | None:
        return self.entries.get(account_sid)

    def write(self, account_sid: str, payload: str) -> None:
        self.entries[account_sid] = payload

    def delete(self, account_sid: str) -> bool:
        return self.entries.pop(account_sid, None) is not None

    def describe(self) -> str:
        return "memory"


# -- scrubbing ----------------------------------------------------------------


class Scrubber:
    """vcrpy hooks that make one cassette safe to publish."""

    def __init__(self, main_sid: str, hidden: list[str]) -> None:
        self.fakes = {main_sid: fake_account(0)}
        self.hidden = [secret for secret in hidden if secret]

    def text(self, text: str) -> str:
        for secret in self.hidden:
            text = text.replace(secret, "[filtered]")
        text = AUTH_TOKEN_FIELD.sub(r'\1"[filtered]"', text)
        return ACCOUNT_SID.sub(lambda match: self._fake(match.group(0)), text)

    def _fake(self, sid: str) -> str:
        # vcrpy runs the request hook more than once on the same request.
        if sid in self.fakes.values():
            return sid
        if sid not in self.fakes:
            self.fakes[sid] = fake_account(len(self.fakes))
        return self.fakes[sid]

    def request(self, request: Any) -> Any:
        parts = urlsplit(request.uri)
        twilio = urlsplit(TWILIO)
        uri = urlunsplit((twilio.scheme, twilio.netloc, *parts[2:]))
        request.uri = self.text(uri)
        if request.body:
            request.body = self.text(_decoded(request.body))
        return request

    def response(self, response: dict[str, Any]) -> dict[str, Any]:
        body = response["body"].get("string")
        if body:
            scrubbed = self.text(_decoded(body)).encode()
            response["body"]["string"] = scrubbed
            for name in list(response["headers"]):
                if name.lower() == "content-length":
                    response["headers"][name] = [str(len(scrubbed))]
        response["headers"] = {
            name: [self.text(str(value)) for value in values]
            for name, values in response["headers"].items()
            if name.lower() != "set-cookie"
        }
        return response


def _decoded(body: str | bytes) -> str:
    return body.decode("utf-8") if isinstance(body, bytes) else body


def leaks(path: Path, hidden: list[str]) -> list[str]:
    """What in a saved cassette must not be published."""
    text = path.read_text(encoding="utf-8")
    found = [f"a secret in use ({len(s)} characters)" for s in hidden if s in text]
    allowed = {fake_account(i) for i in range(100)}
    found += sorted(set(ACCOUNT_SID.findall(text)) - allowed)
    if re.search(r"(?im)^\s*authorization:", text):
        found.append("an Authorization header")
    return found


# -- targets ------------------------------------------------------------------


@dataclass
class Target:
    """A Twilio-compatible server and the main account's credentials on it."""

    source: str
    url: str | None
    main_sid: str
    token: str = field(repr=False)

    @property
    def main(self) -> Account:
        return Account(self.main_sid, "main account", is_main=True)

    def gateway(self, token: str | None = None) -> Gateway:
        env = {"TWILIO_ACCOUNT_SID": self.main_sid}
        env["TWILIO_AUTH_TOKEN"] = token or self.token
        store = CredentialStore(MemoryBackend(), env=env)
        http = GatewayHttpClient(RequestsTransport(), base_url=self.url)
        return Gateway(main_sid=self.main_sid, credentials=store, http=http)

    def newest_calls(self, count: int) -> list[Any]:
        """The main account's newest calls with a start time, read unrecorded."""
        gateway = self.gateway()
        client = gateway.client(gateway.credential(self.main, manage=False))
        calls = client.api.v2010.accounts(self.main_sid).calls
        with mapped_errors(gateway.http, action="read the calls of", account=self.main):
            page = list(calls.page(page_size=count))
        return [c for c in page if isinstance(c.start_time, datetime)][:count]


@contextlib.contextmanager
def page_size(size: int) -> Iterator[None]:
    """The gateway asks for ``size`` records a page meanwhile."""
    saved = gateway_module.PAGE_SIZE
    gateway_module.PAGE_SIZE = size
    try:
        yield
    finally:
        gateway_module.PAGE_SIZE = saved


@contextlib.contextmanager
def prism(api_url: str | None) -> Iterator[str]:
    """A Prism to record against: the one given, or one started here."""
    if api_url:
        yield api_url.rstrip("/")
        return
    binary, spec = ROOT / "node_modules/.bin/prism", ROOT / SPEC
    if not binary.exists() or not spec.is_file():
        sys.exit("Prism is not installed: run `npm ci` first, or pass --api-url")
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = int(sock.getsockname()[1])
    command = [str(binary), "mock", "--host", "127.0.0.1", "-p", str(port), str(spec)]
    process = subprocess.Popen(
        command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    url = f"http://127.0.0.1:{port}"
    try:
        _wait_for(url)
        yield url
    finally:
        process.terminate()
        process.wait(timeout=10)


def _wait_for(url: str) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            urllib.request.urlopen(f"{url}/2010-04-01/Accounts.json", timeout=2)
            return
        except urllib.error.HTTPError:
            return  # any answer means it is serving
        except OSError:
            time.sleep(0.3)
    sys.exit(f"Prism did not start on {url}")


@contextlib.contextmanager
def sandbox() -> Iterator[Target]:
    """The tool's sandbox over HTTP, seeded in memory."""
    from meetzy_numbers.sandbox import SEED, Sandbox, serve

    server, _ = serve(Sandbox(None))
    host, port = server.server_address[:2]
    main = SEED.main_account_sid
    token = next(acct[2] for acct in SEED.accounts if acct[0] == main)
    try:
        yield Target("sandbox", f"http://{host!s}:{port}", main, token)
    finally:
        server.shutdown()
        server.server_close()
