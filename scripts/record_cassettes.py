"""Re-record the cassettes in ``cassettes/`` by running the tool's real gateway.

Every cassette is one call the tool makes, sent by ``meetzy_numbers.gateway``
over real HTTP (``RequestsTransport``) and recorded by vcrpy in record mode
"all". The tests replay them and never record (``tests/test_cassettes.py``).

Default: against Prism serving Twilio's API description, which answers with
Twilio's published examples and refuses requests the description rejects (a
422 stops the recording). Prism holds no state, so the cassettes that need it
(two pages of numbers, an update whose answer shows the change, subaccounts,
errors) are recorded against the tool's sandbox served over HTTP, which speaks
Twilio's wire format. ``cassettes/README.md`` lists where each one came from.

    npm ci                                  # Prism and Twilio's API description
    python scripts/record_cassettes.py      # starts Prism itself
    python scripts/record_cassettes.py --api-url http://127.0.0.1:4010
    python scripts/record_cassettes.py --only number_fetch --only accounts_list

Against live Twilio (every cassette, including the sandbox ones):

    TWILIO_ACCOUNT_SID=AC… TWILIO_AUTH_TOKEN=… \\
        python scripts/record_cassettes.py --live --number PN… [--release PN…]

Live recording lists, fetches and checks; it changes a number only when told
which. ``--number`` names a number of the main account to fetch and to
relabel for the update cassette (its friendly name is put back afterwards,
unrecorded); without it the update cassette is kept as it is. ``--release``
names a number to release for the delete cassette: that is irreversible,
Twilio takes the number back. The two-page cassette lists the account with a
page size of half its numbers, so it needs at least two. The error cassettes
fetch a number that does not exist and send a wrong auth token twice.

Before anything is written: the Authorization header is dropped, every
account SID becomes a fixed fake one (``AC`` + "0" * 32 for the main account,
``AC`` + "1" * 32, "2" * 32 … for the others, in order of appearance), every
``auth_token`` in an answer becomes ``[filtered]``, the secrets in use are
removed wherever they appear, and all hosts become ``https://api.twilio.com``.
A cassette that still holds a secret or a real account SID is not saved, and
nor is one with a 422 or 5xx in it; the previous cassette then stays.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import re
import secrets
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import vcr

import meetzy_numbers.gateway as gateway_module
from meetzy_numbers.errors import CredentialsError, MeetzyError, NotFound
from meetzy_numbers.gateway import Gateway
from meetzy_numbers.gateway.http import GatewayHttpClient, RequestsTransport
from meetzy_numbers.model.accounts import Account
from meetzy_numbers.model.numbers import (
    State,
    agent_label,
    assigned_routing,
    twilio_number,
)
from meetzy_numbers.store.credentials import CredentialStore, make_credential

ROOT = Path(__file__).resolve().parent.parent
CASSETTES = ROOT / "cassettes"
SPEC = "node_modules/@twilio/cli-core/src/services/twilio-api/twilio_api_v2010.json"
TWILIO = "https://api.twilio.com"
MISSING_SID = "PN" + "0" * 32
WRONG_TOKEN = "0" * 32
ACCOUNT_SID = re.compile(r"AC[0-9a-fA-F]{32}")
AUTH_TOKEN_FIELD = re.compile(r'("auth_token"\s*:\s*)"[^"]*"')
LIVE_LABEL = "meetzy-numbers cassette"
WEBHOOK_BASE = "https://voice.meetzy.example"


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


# -- scenarios ----------------------------------------------------------------

Action = Callable[[], object]


@dataclass(frozen=True)
class Plan:
    """The call to record, and what to do after it, unrecorded."""

    run: Action
    after: Action | None = None
    expect: type[MeetzyError] | None = None  # the error Twilio should answer


@dataclass(frozen=True)
class Options:
    number: str | None
    release: str | None
    live: bool


@dataclass(frozen=True)
class Scenario:
    name: str
    source: str
    what: str
    prepare: Callable[[Target, Options], Plan | None]


@contextlib.contextmanager
def page_size(size: int) -> Iterator[None]:
    saved = gateway_module.PAGE_SIZE
    gateway_module.PAGE_SIZE = size
    try:
        yield
    finally:
        gateway_module.PAGE_SIZE = saved


def _numbers_list(t: Target, o: Options) -> Plan:
    gateway = t.gateway()
    return Plan(lambda: gateway.list_numbers(t.main))


def _two_pages(t: Target, o: Options) -> Plan | None:
    gateway = t.gateway()
    count = len(gateway.list_numbers(t.main))
    if count < 2:
        print("  skipped: needs two numbers in the main account", file=sys.stderr)
        return None

    def run() -> object:
        # The gateway asks for PAGE_SIZE records a page; half the account
        # makes Twilio's paging (next_page_uri, PageToken) happen once.
        with page_size((count + 1) // 2):
            return gateway.list_numbers(t.main)

    return Plan(run)


def _first_sid(t: Target, o: Options) -> str:
    if o.number:
        return o.number
    numbers = t.gateway().list_numbers(t.main)
    if not numbers:
        sys.exit(f"{t.source}: the main account has no numbers to fetch")
    return str(numbers[0]["sid"])


def _fetch(t: Target, o: Options) -> Plan:
    gateway, sid = t.gateway(), _first_sid(t, o)
    return Plan(lambda: gateway.fetch_number(t.main, sid))


def _update(t: Target, o: Options) -> Plan | None:
    gateway = t.gateway()
    if o.live:
        if not o.number:
            print("  skipped: pass --number PN… to relabel a number", file=sys.stderr)
            return None
        sid, before = o.number, gateway.fetch_number(t.main, o.number)
        name = str(before["friendly_name"] or "")
        return Plan(
            lambda: gateway.update_number(t.main, sid, {"friendly_name": LIVE_LABEL}),
            lambda: gateway.update_number(t.main, sid, {"friendly_name": name}),
        )
    numbers = gateway.list_numbers(t.main)
    free = next(n for n in numbers if _unassigned(n, t.main_sid))
    changes = {
        **assigned_routing(WEBHOOK_BASE, "sales-es"),
        "friendly_name": agent_label("sales-es"),
    }
    return Plan(lambda: gateway.update_number(t.main, str(free["sid"]), changes))


def _unassigned(raw: dict[str, Any], account_sid: str) -> bool:
    record = twilio_number(raw, account_sid, "", WEBHOOK_BASE)
    return record.state is State.UNASSIGNED


def _delete(t: Target, o: Options) -> Plan | None:
    if o.live and not o.release:
        print("  skipped: pass --release PN… to release a number", file=sys.stderr)
        return None
    gateway, sid = t.gateway(), o.release or _first_sid(t, o)
    return Plan(lambda: gateway.release_number(t.main, sid))


def _accounts(t: Target, o: Options) -> Plan:
    return Plan(t.gateway().accounts)


def _check(t: Target, o: Options) -> Plan:
    credential = make_credential(t.main_sid, t.token, source="recording")
    gateway = t.gateway()
    return Plan(lambda: gateway.check(credential))


def _caller_ids(t: Target, o: Options) -> Plan:
    gateway = t.gateway()
    return Plan(lambda: gateway.list_caller_ids(t.main))


def _not_found(t: Target, o: Options) -> Plan:
    gateway = t.gateway()
    return Plan(lambda: gateway.fetch_number(t.main, MISSING_SID), expect=NotFound)


def _bad_list(t: Target, o: Options) -> Plan:
    gateway = t.gateway(WRONG_TOKEN)
    return Plan(lambda: gateway.list_numbers(t.main), expect=CredentialsError)


def _bad_check(t: Target, o: Options) -> Plan:
    credential = make_credential(t.main_sid, WRONG_TOKEN, source="recording")
    gateway = t.gateway(WRONG_TOKEN)
    return Plan(lambda: gateway.check(credential), expect=CredentialsError)


# name, where it is recorded unless --live, what it holds, how.
SCENARIOS = (
    Scenario("numbers_list", "prism", "IncomingPhoneNumbers list", _numbers_list),
    Scenario(
        "numbers_list_two_pages",
        "sandbox",
        "IncomingPhoneNumbers list, two pages",
        _two_pages,
    ),
    Scenario("number_fetch", "prism", "IncomingPhoneNumber fetch", _fetch),
    Scenario("number_update", "sandbox", "IncomingPhoneNumber update", _update),
    Scenario("number_delete", "prism", "IncomingPhoneNumber delete", _delete),
    Scenario("accounts_list", "prism", "Accounts list", _accounts),
    Scenario(
        "accounts_list_subaccounts",
        "sandbox",
        "Accounts list with subaccounts",
        _accounts,
    ),
    Scenario("account_fetch", "prism", "Account fetch (credentials check)", _check),
    Scenario("caller_ids_list", "prism", "OutgoingCallerIds list", _caller_ids),
    Scenario(
        "number_fetch_not_found",
        "sandbox",
        "IncomingPhoneNumber fetch, 404",
        _not_found,
    ),
    Scenario(
        "numbers_list_bad_credentials",
        "sandbox",
        "IncomingPhoneNumbers list, 401",
        _bad_list,
    ),
    Scenario(
        "account_fetch_bad_credentials", "sandbox", "Account fetch, 401", _bad_check
    ),
)


# -- recording ----------------------------------------------------------------


def record(scenario: Scenario, target: Target, options: Options) -> str | None:
    """Record one cassette; the source it came from, or None when skipped."""
    print(f"{scenario.name}: {scenario.what} ({target.source})", file=sys.stderr)
    plan = scenario.prepare(target, options)
    if plan is None:
        return None
    path = CASSETTES / f"{scenario.name}.yaml"
    # A fresh file: record mode "all" would keep the old cassette's other
    # requests, and a failed recording must leave the old cassette in place.
    fresh = path.with_suffix(".recording.yaml")
    fresh.unlink(missing_ok=True)
    hidden = [target.token]
    scrubber = Scrubber(target.main_sid, hidden)
    recorder = vcr.VCR(
        serializer="yaml",
        record_mode="all",
        filter_headers=["authorization"],
        before_record_request=scrubber.request,
        before_record_response=scrubber.response,
        decode_compressed_response=True,
    )
    try:
        with recorder.use_cassette(str(fresh)) as cassette:
            _run(scenario.name, plan)
            statuses = [response["status"]["code"] for response in cassette.responses]
        if plan.after is not None:
            plan.after()
        _verify(fresh, statuses, leaks(fresh, hidden))
        fresh.replace(path)
    finally:
        fresh.unlink(missing_ok=True)
    return target.source


def _run(name: str, plan: Plan) -> None:
    try:
        plan.run()
    except MeetzyError as error:
        if plan.expect is None or not isinstance(error, plan.expect):
            raise
    else:
        if plan.expect is not None:
            sys.exit(f"{name}: expected {plan.expect.__name__}")


def _verify(path: Path, statuses: list[int], leaked: list[str]) -> None:
    problem = None
    if 422 in statuses:
        problem = "the server refused a request as invalid (422)"
    elif any(status >= 500 for status in statuses):
        problem = f"the server failed ({statuses})"
    elif leaked:
        problem = "it would publish " + ", ".join(leaked)
    if problem:
        sys.exit(f"{path.name} not saved: {problem}")


def write_index(sources: dict[str, str]) -> None:
    lines = [
        "# Cassettes",
        "",
        "Recorded by `scripts/record_cassettes.py` through the tool's gateway and",
        "replayed by `tests/test_cassettes.py` (replay only, never the network).",
        "Account SIDs are rewritten to fake ones, the Authorization header is",
        "dropped and auth tokens are filtered.",
        "",
        "| cassette | call | recorded against |",
        "|---|---|---|",
    ]
    for scenario in SCENARIOS:
        source = sources.get(scenario.name, "")
        lines.append(f"| `{scenario.name}.yaml` | {scenario.what} | {source} |")
    (CASSETTES / "README.md").write_text("\n".join(lines) + "\n", encoding="utf-8")


def _previous_sources() -> dict[str, str]:
    index = CASSETTES / "README.md"
    if not index.exists():
        return {}
    rows = re.findall(r"^\| `(\w+)\.yaml` \| .* \| (.*) \|$", index.read_text(), re.M)
    return dict(rows)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--api-url", help="a running Prism (default: start one)")
    parser.add_argument("--live", action="store_true", help="record against Twilio")
    parser.add_argument("--number", help="live: a PN… number that may be relabelled")
    parser.add_argument("--release", help="live: a PN… number to release for good")
    parser.add_argument("--only", action="append", help="record only this cassette")
    args = parser.parse_args(argv)
    chosen = [s for s in SCENARIOS if not args.only or s.name in args.only]
    unknown = set(args.only or []) - {s.name for s in SCENARIOS}
    if unknown:
        parser.error(f"unknown cassettes: {', '.join(sorted(unknown))}")
    options = Options(args.number, args.release, args.live)
    CASSETTES.mkdir(exist_ok=True)
    sources = _previous_sources()
    try:
        with contextlib.ExitStack() as stack:
            targets = _targets(stack, args, chosen)
            for scenario in chosen:
                source = record(scenario, targets[scenario.source], options)
                if source is not None:
                    sources[scenario.name] = source
    except MeetzyError as error:
        sys.exit(f"recording stopped: {error.message}")
    finally:
        write_index(sources)


def _targets(
    stack: contextlib.ExitStack, args: argparse.Namespace, chosen: list[Scenario]
) -> dict[str, Target]:
    if args.live:
        sid = os.environ.get("TWILIO_ACCOUNT_SID", "").strip()
        token = os.environ.get("TWILIO_AUTH_TOKEN", "").strip()
        if not (sid and token):
            sys.exit("--live needs TWILIO_ACCOUNT_SID and TWILIO_AUTH_TOKEN")
        live = Target("Twilio", None, "AC" + sid[2:].lower(), token)
        return {"prism": live, "sandbox": live}
    targets: dict[str, Target] = {}
    if any(s.source == "sandbox" for s in chosen):
        targets["sandbox"] = stack.enter_context(sandbox())
    if any(s.source == "prism" for s in chosen):
        url = stack.enter_context(prism(args.api_url))
        # Prism checks no secret; a random SID and token exercise the scrubbing.
        sid, token = "AC" + secrets.token_hex(16), secrets.token_hex(16)
        targets["prism"] = Target("Prism", url, sid, token)
    return targets


if __name__ == "__main__":
    main()
