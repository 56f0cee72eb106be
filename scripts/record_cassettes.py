"""Re-record the cassettes in ``cassettes/`` by running the tool's real gateway.

Every cassette is one call the tool makes, sent by ``meetzy_numbers.gateway``
over real HTTP (``RequestsTransport``) and recorded by vcrpy in record mode
"all". The tests replay them and never record (``tests/test_cassettes.py``).

Default: against Prism serving Twilio's API description, which answers with
Twilio's published examples and refuses requests the description rejects (a
422 stops the recording). Prism holds no state, so the cassettes that need it
(two pages of numbers or calls, an update or a purchase whose answer shows
the change, subaccounts, errors) are recorded against the tool's sandbox
served over HTTP, which speaks Twilio's wire format; so is the number search,
whose answer spells capabilities as Twilio does (Prism's example does not).
``cassettes/README.md`` lists where each one came from.

    npm ci                                  # Prism and Twilio's API description
    python scripts/record_cassettes.py      # starts Prism itself
    python scripts/record_cassettes.py --api-url http://127.0.0.1:4010
    python scripts/record_cassettes.py --only number_fetch --only accounts_list

Against live Twilio (every cassette, including the sandbox ones):

    TWILIO_ACCOUNT_SID=AC… TWILIO_AUTH_TOKEN=… \\
        python scripts/record_cassettes.py --live --number PN… [--release PN…]

Live recording lists, fetches, searches and checks; it changes something
only when told what. ``--number`` names a number of the main account to
fetch and to relabel for the update cassette (its friendly name is put back
afterwards, unrecorded); without it the update cassette is kept as it is.
``--release`` names a number to release for the delete cassette: that is
irreversible, Twilio takes the number back. ``--buy`` names a number for sale
to buy for the purchase cassette (Twilio charges for it; it is released
again afterwards, unrecorded), ``--unbundled`` a GB number for sale that
Twilio should refuse to sell without a regulatory bundle (21649; should it
sell it after all, the number stays in the account), ``--verify`` a phone
for Twilio to call with a validation request, and ``--remove-caller-id`` a
caller ID (PN…) to remove for good. The two-page cassette lists the account
with a page size of half its numbers, so it needs at least two; the calls
cassettes need two calls in the main account. The error cassettes fetch a
number that does not exist, send a wrong auth token twice and ask to verify
a caller ID the account already has. The early-stop cassette needs a server
that ignores ``StartTime>``, so it is never recorded live.

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
import sys
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import vcr
from cassette_support import ROOT, Scrubber, Target, leaks, page_size, prism, sandbox

from meetzy_numbers.errors import CredentialsError, MeetzyError, NotFound, TwilioFailure
from meetzy_numbers.gateway import ALREADY_VERIFIED, AlreadyVerified
from meetzy_numbers.gateway.errors import NEEDS_BUNDLE
from meetzy_numbers.model.numbers import (
    State,
    agent_label,
    assigned_routing,
    twilio_number,
)
from meetzy_numbers.store.credentials import make_credential

CASSETTES = ROOT / "cassettes"
MISSING_SID = "PN" + "0" * 32
WRONG_TOKEN = "0" * 32
LIVE_LABEL = "meetzy-numbers cassette"
WEBHOOK_BASE = "https://voice.meetzy.example"
AGENT = "sales-es"
# A search that finds a few numbers, in the sandbox and on Twilio alike.
SEARCH = ("US", "Local", {"area_code": "212", "voice_enabled": True})
# A phone for Prism's validation request: Prism calls nobody.
EXAMPLE_PHONE = "+14155550100"
CALLS_IN_WINDOW = 5


# -- scenarios ----------------------------------------------------------------

Action = Callable[[], object]


@dataclass(frozen=True)
class Plan:
    """The call to record, and what to do after it, unrecorded."""

    run: Action
    after: Action | None = None
    expect: type[MeetzyError] | None = None  # the error Twilio should answer
    code: int | None = None  # and its Twilio error code, when that matters


@dataclass(frozen=True)
class Options:
    """What live recording may change: nothing it is not told."""

    live: bool = False
    number: str | None = None
    release: str | None = None
    buy: str | None = None
    unbundled: str | None = None
    verify: str | None = None
    remove_caller_id: str | None = None


@dataclass(frozen=True)
class Scenario:
    name: str
    source: str
    what: str
    prepare: Callable[[Target, Options], Plan | None]


def _skipped(why: str) -> Plan | None:
    print(f"  skipped: {why}", file=sys.stderr)
    return None


def _numbers_list(t: Target, o: Options) -> Plan:
    gateway = t.gateway()
    return Plan(lambda: gateway.list_numbers(t.main))


def _two_pages(t: Target, o: Options) -> Plan | None:
    gateway = t.gateway()
    count = len(gateway.list_numbers(t.main))
    if count < 2:
        return _skipped("needs two numbers in the main account")

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
            return _skipped("pass --number PN… to relabel a number")
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
        return _skipped("pass --release PN… to release a number")
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


def _calls_list(t: Target, o: Options) -> Plan | None:
    newest = t.newest_calls(CALLS_IN_WINDOW)
    if len(newest) < 2:
        return _skipped("needs two calls in the main account")
    since: datetime = newest[-1].start_time
    gateway = t.gateway()

    def run() -> object:
        # Pages smaller than the window: the second page must keep the
        # StartTime> filter, and the walk must not stop before it.
        with page_size((len(newest) + 1) // 2):
            return gateway.list_calls(t.main, start_after=since)

    return Plan(run)


def _calls_early_stop(t: Target, o: Options) -> Plan | None:
    if o.live:
        return _skipped("Twilio honours StartTime>: no older call comes back")
    newest = t.newest_calls(2)
    if len(newest) < 2 or newest[0].start_time <= newest[1].start_time:
        sys.exit(f"{t.source}: needs two calls that started at different times")
    # The window opens just after the second call: the first is in it, the
    # second is not, and a server that ignores StartTime> still sends it.
    since: datetime = newest[1].start_time + timedelta(seconds=1)
    gateway = t.gateway()
    return Plan(lambda: gateway.list_calls(t.main, start_after=since))


def _search(t: Target, o: Options) -> Plan:
    country, kind, filters = SEARCH
    gateway = t.gateway()
    return Plan(lambda: gateway.search_available(t.main, country, kind, **filters))


def _for_sale(t: Target, country: str, kind: str, filters: dict[str, Any]) -> str:
    found = t.gateway().search_available(t.main, country, kind, **filters)
    if not found:
        sys.exit(f"{t.source}: no {country} {kind} numbers for sale")
    return str(found[0]["phone_number"])


def _buy(t: Target, o: Options) -> Plan | None:
    if o.live and not o.buy:
        return _skipped("pass --buy +… to buy a number (Twilio charges for it)")
    gateway, phone = t.gateway(), o.buy or _for_sale(t, *SEARCH)
    routing = assigned_routing(WEBHOOK_BASE, AGENT)
    bought: dict[str, Any] = {}

    def run() -> object:
        label = agent_label(AGENT)
        bought.update(
            gateway.buy_number(t.main, phone, routing=routing, friendly_name=label)
        )
        return bought

    def release() -> None:
        gateway.release_number(t.main, str(bought["sid"]))

    return Plan(run, release if o.live else None)


def _buy_unbundled(t: Target, o: Options) -> Plan | None:
    if o.live and not o.unbundled:
        return _skipped("pass --unbundled +44… (a GB number for sale)")
    gateway = t.gateway()
    phone = o.unbundled or _for_sale(t, "GB", "Local", {})
    return Plan(
        lambda: gateway.buy_number(t.main, phone),
        expect=TwilioFailure,
        code=NEEDS_BUNDLE,
    )


def _validation(t: Target, o: Options) -> Plan | None:
    if o.live and not o.verify:
        return _skipped("pass --verify +… to have Twilio call that phone")
    gateway, phone = t.gateway(), o.verify or EXAMPLE_PHONE
    label = agent_label(AGENT)
    return Plan(
        lambda: gateway.request_validation(
            t.main, phone, friendly_name=label, call_delay=5
        )
    )


def _already_verified(t: Target, o: Options) -> Plan | None:
    gateway = t.gateway()
    known = gateway.list_caller_ids(t.main)
    if not known:
        return _skipped("needs a verified caller ID in the main account")
    phone = str(known[0]["phone_number"])
    return Plan(
        lambda: gateway.request_validation(t.main, phone),
        expect=AlreadyVerified,
        code=ALREADY_VERIFIED,
    )


def _remove_caller_id(t: Target, o: Options) -> Plan | None:
    if o.live and not o.remove_caller_id:
        return _skipped("pass --remove-caller-id PN… to remove a caller ID")
    gateway = t.gateway()
    sid = o.remove_caller_id
    if not sid:
        known = gateway.list_caller_ids(t.main)
        if not known:
            sys.exit(f"{t.source}: the main account has no caller IDs")
        sid = str(known[0]["sid"])
    return Plan(lambda: gateway.delete_caller_id(t.main, sid))


def _call_fetch(t: Target, o: Options) -> Plan | None:
    newest = t.newest_calls(1)
    if not newest:
        return _skipped("needs a call in the main account")
    gateway, sid = t.gateway(), str(newest[0].sid)
    return Plan(lambda: gateway.fetch_call(t.main, sid))


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
    Scenario(
        "calls_list",
        "sandbox",
        "Calls list since a start time (StartTime>), two pages",
        _calls_list,
    ),
    Scenario(
        "calls_list_early_stop",
        "prism",
        "Calls list ignoring StartTime>, read up to the first older call",
        _calls_early_stop,
    ),
    Scenario("call_fetch", "prism", "Call fetch", _call_fetch),
    Scenario(
        "available_numbers_search",
        "sandbox",
        "AvailablePhoneNumbers US Local search",
        _search,
    ),
    Scenario("number_buy", "sandbox", "IncomingPhoneNumbers create (buy)", _buy),
    Scenario(
        "number_buy_needs_bundle",
        "sandbox",
        "IncomingPhoneNumbers create of a GB number without a bundle, 21649",
        _buy_unbundled,
    ),
    Scenario(
        "caller_id_validation",
        "prism",
        "OutgoingCallerIds create (validation request)",
        _validation,
    ),
    Scenario(
        "caller_id_validation_already_verified",
        "sandbox",
        "OutgoingCallerIds create for a verified number, 21450",
        _already_verified,
    ),
    Scenario("caller_id_delete", "prism", "OutgoingCallerId delete", _remove_caller_id),
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
        if plan.code is not None and getattr(error, "code", None) != plan.code:
            sys.exit(f"{name}: expected Twilio error {plan.code}: {error.message}")
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
    parser.add_argument("--buy", help="live: a +… number for sale to buy (charged)")
    parser.add_argument(
        "--unbundled", help="live: a +44… number for sale, refused without a bundle"
    )
    parser.add_argument("--verify", help="live: a +… phone for a validation call")
    parser.add_argument(
        "--remove-caller-id", help="live: a PN… caller ID to remove for good"
    )
    parser.add_argument("--only", action="append", help="record only this cassette")
    args = parser.parse_args(argv)
    chosen = [s for s in SCENARIOS if not args.only or s.name in args.only]
    unknown = set(args.only or []) - {s.name for s in SCENARIOS}
    if unknown:
        parser.error(f"unknown cassettes: {', '.join(sorted(unknown))}")
    options = Options(
        live=args.live,
        number=args.number,
        release=args.release,
        buy=args.buy,
        unbundled=args.unbundled,
        verify=args.verify,
        remove_caller_id=args.remove_caller_id,
    )
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
