"""The real gateway against recorded Twilio answers: replay only, never the network.

`scripts/record_cassettes.py` records the cassettes (Prism, the sandbox over
HTTP, or live Twilio); these tests only ever replay them (record mode "none",
here and under CI), so a request the cassette does not hold fails the test
instead of reaching a server. Expectations are read from the recorded answers,
so the tests hold whichever server the cassettes were recorded against.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from itertools import takewhile
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlsplit

import pytest
import vcr
from vcr.errors import CannotOverwriteExistingCassetteException
from vcr.serializers import yamlserializer

import meetzy_numbers.gateway as gateway_module
from meetzy_numbers.errors import (
    CredentialsError,
    ExitCode,
    MeetzyError,
    NotFound,
    TwilioFailure,
)
from meetzy_numbers.gateway import (
    AVAILABLE_FIELDS,
    CALL_FIELDS,
    CALLER_ID_FIELDS,
    NUMBER_FIELDS,
    SEARCH_SIZE,
    VALIDATION_CALL_FIELDS,
    VALIDATION_FIELDS,
    AlreadyVerified,
    Gateway,
)
from meetzy_numbers.gateway.http import GatewayHttpClient, RequestsTransport
from meetzy_numbers.model.accounts import Account
from meetzy_numbers.store.credentials import (
    CredentialStore,
    FileBackend,
    make_credential,
)

CASSETTES = Path(__file__).resolve().parent.parent / "cassettes"
MAIN_SID = "AC" + "0" * 32
MAIN = Account(MAIN_SID, "main account", is_main=True)
# Replay needs a credential, never a real one: the recorded requests hold none.
DUMMY_TOKEN = "replay-only-dummy-token"
CASSETTE_NAMES = (
    "numbers_list",
    "numbers_list_two_pages",
    "number_fetch",
    "number_update",
    "number_delete",
    "accounts_list",
    "accounts_list_subaccounts",
    "account_fetch",
    "caller_ids_list",
    "number_fetch_not_found",
    "numbers_list_bad_credentials",
    "account_fetch_bad_credentials",
    "calls_list",
    "calls_list_early_stop",
    "call_fetch",
    "available_numbers_search",
    "number_buy",
    "number_buy_needs_bundle",
    "caller_id_validation",
    "caller_id_validation_already_verified",
    "caller_id_delete",
)
# Whatever is in cassettes/, listed or not, is checked for secrets.
PUBLISHED = tuple(
    sorted({*CASSETTE_NAMES, *(path.stem for path in CASSETTES.glob("*.yaml"))})
)
SOURCES = frozenset({"Prism", "sandbox", "Twilio"})
FAKE_ACCOUNTS = frozenset(
    "AC" + (str(i) * 32 if i < 10 else f"{i:032d}") for i in range(100)
)
# An account SID, but not the "AC" astride a page token's "PA" and the call SID
# after it (PageToken=PACA…): where a capital comes before, SID hex follows.
ACCOUNT_SID = re.compile(r"(?:(?<![A-Z])AC|AC(?=[0-9a-f]))[0-9a-fA-F]{32}")
# A bare run of 32 hex digits is what an auth token or API secret looks like;
# inside a SID (PN…, AP…) it is preceded by letters and is not one.
TOKEN_LIKE = re.compile(r"(?<![0-9A-Za-z])[0-9a-fA-F]{32}(?![0-9A-Za-z])")


# -- replaying ----------------------------------------------------------------


def form_body(r1: Any, r2: Any) -> None:
    """Same form fields, empty ones included (vcrpy's body matcher drops those)."""

    def fields(request: Any) -> list[tuple[str, str]]:
        body = request.body or b""
        text = body.decode() if isinstance(body, bytes) else str(body)
        return sorted(parse_qsl(text, keep_blank_values=True))

    if fields(r1) != fields(r2):
        raise AssertionError(f"{fields(r1)} != {fields(r2)}")


@contextmanager
def replay(name: str) -> Iterator[Any]:
    """Play one cassette; fail on any request it lacks or any answer left unplayed."""
    path = CASSETTES / f"{name}.yaml"
    assert path.exists(), f"{path.name} is missing: run scripts/record_cassettes.py"
    recorder = vcr.VCR(
        record_mode="none",
        match_on=("method", "scheme", "host", "port", "path", "query", "form"),
    )
    recorder.register_matcher("form", form_body)
    with recorder.use_cassette(str(path)) as cassette:
        yield cassette
        assert cassette.all_played, f"{name}: some recorded requests were not made"


@pytest.fixture
def gateway(tmp_path: Path) -> Gateway:
    return make_gateway(tmp_path)


def make_gateway(tmp_path: Path, token: str = DUMMY_TOKEN) -> Gateway:
    env = {"TWILIO_ACCOUNT_SID": MAIN_SID, "TWILIO_AUTH_TOKEN": token}
    store = CredentialStore(FileBackend(tmp_path / "credentials.json"), env=env)
    http = GatewayHttpClient(RequestsTransport(), sleep=lambda _: None)
    return Gateway(main_sid=MAIN_SID, credentials=store, http=http)


# -- what was recorded ----------------------------------------------------------


def interactions(name: str) -> list[dict[str, Any]]:
    text = (CASSETTES / f"{name}.yaml").read_text(encoding="utf-8")
    found: list[dict[str, Any]] = yamlserializer.deserialize(text)["interactions"]
    return found


def answers(name: str) -> list[Any]:
    """The JSON body of every recorded answer, in order."""
    return [
        json.loads(item["response"]["body"]["string"] or "null")
        for item in interactions(name)
    ]


def returned(raw: dict[str, Any], fields: tuple[str, ...]) -> dict[str, Any]:
    """What the gateway should make of one wire record: dates in ISO 8601."""
    record = {name: raw.get(name) for name in fields}
    for name in ("date_created", "date_updated", "start_time", "end_time"):
        value = record.get(name)
        if value:
            record[name] = parsedate_to_datetime(str(value)).isoformat()
    return record


def sid_in_uri(name: str) -> str:
    path = urlsplit(str(interactions(name)[0]["request"]["uri"])).path
    return path.rsplit("/", 1)[-1].removesuffix(".json")


def query(interaction: dict[str, Any]) -> dict[str, str]:
    return dict(parse_qsl(urlsplit(str(interaction["request"]["uri"])).query))


def sent(name: str) -> dict[str, str]:
    """The form fields of a cassette's first request."""
    return dict(parse_qsl(interactions(name)[0]["request"]["body"] or ""))


def window_start(name: str) -> datetime:
    """The ``StartTime>`` a recorded list of calls asked for."""
    raw = query(interactions(name)[0])["StartTime>"]
    return datetime.strptime(raw, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC)


def started(raw: dict[str, Any]) -> datetime:
    return parsedate_to_datetime(str(raw["start_time"]))


def call_returned(raw: dict[str, Any]) -> dict[str, Any]:
    """A call as list_calls gives it: the caller under "from", as on the wire."""
    return {**returned(raw, CALL_FIELDS), "from": raw["from"]}


# -- the cassettes ----------------------------------------------------------------


def test_every_cassette_is_recorded_and_tested() -> None:
    recorded = {path.stem for path in CASSETTES.glob("*.yaml")}
    assert recorded == set(CASSETTE_NAMES)


def test_the_index_names_every_cassette_and_its_source() -> None:
    index = (CASSETTES / "README.md").read_text(encoding="utf-8")
    rows = dict(re.findall(r"^\| `(\w+)\.yaml` \| .* \| (.*) \|$", index, re.M))
    assert set(rows) == set(CASSETTE_NAMES)
    assert set(rows.values()) <= SOURCES


def test_numbers_list(gateway: Gateway) -> None:
    with replay("numbers_list"):
        numbers = gateway.list_numbers(MAIN)

    wire = answers("numbers_list")[0]["incoming_phone_numbers"]
    assert numbers, "the cassette should hold at least one number"
    assert numbers == [returned(raw, NUMBER_FIELDS) for raw in wire]
    assert all(number["sid"].startswith("PN") for number in numbers)
    assert all(set(number) == set(NUMBER_FIELDS) for number in numbers)


def test_numbers_list_over_two_pages_is_concatenated(
    gateway: Gateway, monkeypatch: pytest.MonkeyPatch
) -> None:
    first, second = interactions("numbers_list_two_pages")
    size = int(dict(parse_qsl(urlsplit(first["request"]["uri"]).query))["PageSize"])
    monkeypatch.setattr(gateway_module, "PAGE_SIZE", size)

    with replay("numbers_list_two_pages"):
        numbers = gateway.list_numbers(MAIN)

    page_one, page_two = answers("numbers_list_two_pages")
    assert page_one["next_page_uri"] and not page_two["next_page_uri"]
    assert "PageToken=" in second["request"]["uri"]
    assert len(page_one["incoming_phone_numbers"]) == size
    wire = page_one["incoming_phone_numbers"] + page_two["incoming_phone_numbers"]
    assert len(numbers) == len(wire) > size
    assert numbers == [returned(raw, NUMBER_FIELDS) for raw in wire]
    assert len({number["sid"] for number in numbers}) == len(numbers)


def test_number_fetch(gateway: Gateway) -> None:
    sid = sid_in_uri("number_fetch")
    with replay("number_fetch"):
        number = gateway.fetch_number(MAIN, sid)

    assert number == returned(answers("number_fetch")[0], NUMBER_FIELDS)
    assert number["sid"] == sid
    assert number["phone_number"].startswith("+")


def test_number_update_returns_the_changed_fields(gateway: Gateway) -> None:
    sid = sid_in_uri("number_update")
    sent = parse_qsl(interactions("number_update")[0]["request"]["body"])
    changes = {_snake(name): value for name, value in sent}
    assert changes, "the update cassette should change something"

    with replay("number_update"):
        number = gateway.update_number(MAIN, sid, changes)

    assert number["sid"] == sid
    assert {name: number[name] for name in changes} == changes
    assert number == returned(answers("number_update")[0], NUMBER_FIELDS)


def _snake(parameter: str) -> str:
    """Twilio's VoiceUrl as twilio-python's voice_url."""
    return re.sub(r"(?<!^)(?=[A-Z])", "_", parameter).lower()


def test_number_delete_returns_none(gateway: Gateway) -> None:
    sid = sid_in_uri("number_delete")
    with replay("number_delete"):
        outcome = gateway.release_number(MAIN, sid)  # type: ignore[func-returns-value]
        assert outcome is None

    (only,) = interactions("number_delete")
    assert only["request"]["method"] == "DELETE"
    assert only["response"]["status"]["code"] == 204


@pytest.mark.parametrize("name", ["accounts_list", "accounts_list_subaccounts"])
def test_accounts_list_puts_the_main_account_first(gateway: Gateway, name: str) -> None:
    with replay(name):
        accounts = gateway.accounts()

    wire = [a for a in answers(name)[0]["accounts"] if a["status"] != "closed"]
    assert accounts[0] == Account(
        MAIN_SID, accounts[0].name, accounts[0].status, is_main=True
    )
    others = accounts[1:]
    assert [a.name.lower() for a in others] == sorted(a.name.lower() for a in others)
    assert not any(a.is_main for a in others)
    expected = {a["sid"]: (a["friendly_name"], a["status"]) for a in wire}
    expected.setdefault(MAIN_SID, ("main account", "active"))
    assert {a.sid: (a.name, a.status) for a in accounts} == expected


def test_accounts_list_with_subaccounts_has_them() -> None:
    wire = answers("accounts_list_subaccounts")[0]["accounts"]
    assert len({account["sid"] for account in wire}) > 1


def test_account_fetch_checks_the_credential(gateway: Gateway) -> None:
    credential = make_credential(MAIN_SID, DUMMY_TOKEN, source="test")
    with replay("account_fetch"):
        account = gateway.check(credential)

    wire = answers("account_fetch")[0]
    owner = wire.get("owner_account_sid")
    assert account == Account(
        sid=wire["sid"],
        name=wire["friendly_name"],
        status=wire["status"],
        is_main=owner in (None, wire["sid"]),
    )


def test_caller_ids_list(gateway: Gateway) -> None:
    with replay("caller_ids_list"):
        caller_ids = gateway.list_caller_ids(MAIN)

    wire = answers("caller_ids_list")[0]["outgoing_caller_ids"]
    assert caller_ids, "the cassette should hold at least one caller ID"
    assert caller_ids == [returned(raw, CALLER_ID_FIELDS) for raw in wire]


def test_calls_list_keeps_the_window_on_every_page(
    gateway: Gateway, monkeypatch: pytest.MonkeyPatch
) -> None:
    first, second = interactions("calls_list")
    size = int(query(first)["PageSize"])
    monkeypatch.setattr(gateway_module, "PAGE_SIZE", size)
    since = window_start("calls_list")

    with replay("calls_list"):
        calls = gateway.list_calls(MAIN, start_after=since)

    # The second page comes from next_page_uri: the filter must ride along.
    assert query(second)["StartTime>"] == query(first)["StartTime>"]
    assert "PageToken" in query(second)
    page_one, page_two = answers("calls_list")
    wire = page_one["calls"] + page_two["calls"]
    assert all(started(raw) >= since for raw in wire)
    assert len(calls) == len(wire) > size
    assert calls == [call_returned(raw) for raw in wire]
    assert all(set(call) == {*CALL_FIELDS, "from"} for call in calls)


def test_calls_list_stops_at_the_first_call_older_than_the_window(
    gateway: Gateway,
) -> None:
    since = window_start("calls_list_early_stop")
    (page,) = answers("calls_list_early_stop")
    inside = list(takewhile(lambda raw: started(raw) >= since, page["calls"]))
    # The server ignored StartTime>: it sent an older call and offered a next
    # page, which the cassette lacks, so reading on would fail the replay.
    assert 0 < len(inside) < len(page["calls"])
    assert page["next_page_uri"]

    with replay("calls_list_early_stop"):
        calls = gateway.list_calls(MAIN, start_after=since)

    assert calls == [call_returned(raw) for raw in inside]


def test_call_fetch(gateway: Gateway) -> None:
    sid = sid_in_uri("call_fetch")
    with replay("call_fetch"):
        call = gateway.fetch_call(MAIN, sid)

    assert call == returned(answers("call_fetch")[0], VALIDATION_CALL_FIELDS)
    assert call["sid"] == sid
    assert call["status"] and call["to"].startswith("+")


def test_search_available_spells_capabilities_in_lower_case(
    gateway: Gateway,
) -> None:
    with replay("available_numbers_search"):
        found = gateway.search_available(
            MAIN, "US", "Local", area_code="212", voice_enabled=True
        )

    (only,) = interactions("available_numbers_search")
    assert urlsplit(only["request"]["uri"]).path.endswith(
        "/AvailablePhoneNumbers/US/Local.json"
    )
    assert query(only) == {
        "AreaCode": "212",
        "VoiceEnabled": "true",
        "PageSize": str(SEARCH_SIZE),
    }
    wire = answers("available_numbers_search")[0]["available_phone_numbers"]
    assert found, "the cassette should hold at least one number for sale"
    # Twilio spells SMS and MMS in capitals in search results, not elsewhere.
    assert any(key != key.lower() for raw in wire for key in raw["capabilities"])
    assert found == [
        {
            **returned(raw, AVAILABLE_FIELDS),
            "capabilities": {
                k.lower(): bool(v) for k, v in raw["capabilities"].items()
            },
        }
        for raw in wire
    ]
    assert all(number["capabilities"]["voice"] for number in found)


def test_number_buy_returns_the_number_bought_with_its_routing(
    gateway: Gateway,
) -> None:
    form = sent("number_buy")
    phone = form.pop("PhoneNumber")
    changes = {_snake(name): value for name, value in form.items()}
    routing = {k: v for k, v in changes.items() if k != "friendly_name"}
    assert routing, "the purchase cassette should route the number"

    with replay("number_buy"):
        number = gateway.buy_number(
            MAIN, phone, routing=routing, friendly_name=changes["friendly_name"]
        )

    assert interactions("number_buy")[0]["response"]["status"]["code"] == 201
    assert number == returned(answers("number_buy")[0], NUMBER_FIELDS)
    assert number["sid"].startswith("PN")
    assert number["phone_number"] == phone
    assert {name: number[name] for name in changes} == changes


def test_request_validation_returns_the_code_to_enter(gateway: Gateway) -> None:
    form = sent("caller_id_validation")
    with replay("caller_id_validation"):
        answer = gateway.request_validation(
            MAIN,
            form["PhoneNumber"],
            friendly_name=form["FriendlyName"],
            call_delay=int(form["CallDelay"]),
        )

    wire = answers("caller_id_validation")[0]
    assert answer == {name: wire.get(name) for name in VALIDATION_FIELDS}
    assert answer["validation_code"]
    assert answer["call_sid"].startswith("CA")


def test_caller_id_delete_returns_none(gateway: Gateway) -> None:
    sid = sid_in_uri("caller_id_delete")
    with replay("caller_id_delete"):
        outcome = gateway.delete_caller_id(MAIN, sid)  # type: ignore[func-returns-value]
        assert outcome is None

    (only,) = interactions("caller_id_delete")
    assert only["request"]["method"] == "DELETE"
    assert f"/OutgoingCallerIds/{sid}.json" in only["request"]["uri"]
    assert only["response"]["status"]["code"] == 204


# -- recorded errors --------------------------------------------------------------


def test_fetching_a_missing_number_is_not_found(gateway: Gateway) -> None:
    sid = sid_in_uri("number_fetch_not_found")
    with replay("number_fetch_not_found"), pytest.raises(NotFound) as caught:
        gateway.fetch_number(MAIN, sid)

    assert caught.value.message == f"number {sid} not found in {MAIN.label()}"
    assert caught.value.exit_code is ExitCode.NOT_FOUND
    assert answers("number_fetch_not_found")[0]["code"] == 20404


def test_listing_with_a_wrong_token_is_a_credentials_error(tmp_path: Path) -> None:
    # A list hides Twilio's answer behind "Unable to fetch page"; the gateway
    # must still find the 401 and say the credentials were refused.
    gateway = make_gateway(tmp_path, token="wrong-dummy-token")
    with replay("numbers_list_bad_credentials"), pytest.raises(CredentialsError) as e:
        gateway.list_numbers(MAIN)

    # The credentials came from the environment, which outranks the keyring:
    # the hint says to fix the variables, not to store new credentials.
    assert e.value.message.startswith(
        f"Twilio refused the credentials from the environment for {MAIN.label()}"
    )
    assert e.value.hint is not None
    assert e.value.hint.startswith("check TWILIO_ACCOUNT_SID with TWILIO_AUTH_TOKEN")
    assert e.value.exit_code is ExitCode.CREDENTIALS


def test_checking_a_wrong_token_is_a_credentials_error(tmp_path: Path) -> None:
    gateway = make_gateway(tmp_path, token="wrong-dummy-token")
    credential = make_credential(MAIN_SID, "wrong-dummy-token", source="test")
    with replay("account_fetch_bad_credentials"), pytest.raises(MeetzyError) as e:
        gateway.check(credential)

    assert isinstance(e.value, CredentialsError)
    assert "Twilio refused the credentials" in e.value.message
    assert answers("account_fetch_bad_credentials")[0]["code"] == 20003


def test_buying_a_gb_number_without_a_bundle_asks_for_one(gateway: Gateway) -> None:
    form = sent("number_buy_needs_bundle")
    assert "BundleSid" not in form
    phone = form["PhoneNumber"]
    with replay("number_buy_needs_bundle"), pytest.raises(TwilioFailure) as e:
        gateway.buy_number(MAIN, phone)

    wire = answers("number_buy_needs_bundle")[0]
    assert wire["code"] == 21649
    assert e.value.message == (
        f"Twilio will not sell {phone} without a regulatory bundle "
        f"(Twilio error 21649: {wire['message']})"
    )
    assert e.value.hint is not None
    assert e.value.hint.startswith("pass --bundle BU… naming a twilio-approved bundle")
    assert (e.value.code, e.value.status) == (21649, 400)
    assert e.value.exit_code is ExitCode.FAILED


def test_validating_a_verified_caller_id_is_already_verified(
    gateway: Gateway,
) -> None:
    phone = sent("caller_id_validation_already_verified")["PhoneNumber"]
    with (
        replay("caller_id_validation_already_verified"),
        pytest.raises(AlreadyVerified) as e,
    ):
        gateway.request_validation(MAIN, phone)

    assert answers("caller_id_validation_already_verified")[0]["code"] == 21450
    assert e.value.message == f"{phone} is already a caller ID of {MAIN.label()}"
    assert (e.value.code, e.value.status) == (21450, 400)
    assert isinstance(e.value, TwilioFailure)
    assert e.value.exit_code is ExitCode.FAILED


def test_a_request_the_cassette_lacks_never_reaches_the_network(
    gateway: Gateway,
) -> None:
    other = "PN" + "f" * 32
    with (
        pytest.raises(CannotOverwriteExistingCassetteException),
        replay("number_fetch"),
    ):
        gateway.fetch_number(MAIN, other)


# -- nothing secret in what is published ------------------------------------------


def leaks(interaction: dict[str, Any]) -> list[str]:
    """Everything in one recorded interaction that must not be published."""
    request, response = interaction["request"], interaction["response"]
    found = [
        f"{name} header"
        for name in request["headers"]
        if name.lower() in ("authorization", "cookie")
    ]
    texts = [request["uri"], str(request.get("body") or "")]
    texts += [str(response["body"].get("string") or "")]
    for headers in (request["headers"], response["headers"]):
        texts += [f"{name}: {value}" for name, value in headers.items()]
    for text in texts:
        found += [
            f"token-like {token[:4]}…"
            for token in TOKEN_LIKE.findall(text)
            if len(set(token)) > 1 or not token[0].isdigit()
        ]
        found += [
            f"account {sid}"
            for sid in ACCOUNT_SID.findall(text)
            if sid not in FAKE_ACCOUNTS
        ]
        found += [
            "an auth_token value"
            for value in re.findall(r'"auth_token"\s*:\s*"([^"]*)"', text)
            if value not in ("[filtered]", "auth_token")
        ]
    return found


@pytest.mark.parametrize("name", PUBLISHED)
def test_cassette_holds_no_secret_and_no_real_account(name: str) -> None:
    for interaction in interactions(name):
        assert leaks(interaction) == []


def test_the_secret_check_finds_what_it_looks_for() -> None:
    leaky = {
        "request": {
            "uri": "https://api.twilio.com/2010-04-01/Accounts/AC"
            + "ab12" * 8
            + ".json",
            "body": None,
            "headers": {"Authorization": ["Basic eA=="]},
        },
        "response": {
            "body": {"string": '{"auth_token": "' + "9f" * 16 + '"}'},
            "headers": {"X-Token": ["0" * 32]},
        },
    }
    assert leaks(leaky) == [
        "Authorization header",
        f"account AC{'ab12' * 8}",
        "token-like 9f9f…",
        "an auth_token value",
    ]


def test_a_page_token_holds_an_account_only_when_it_names_one() -> None:
    def listing(token: str) -> dict[str, Any]:
        uri = f"https://api.twilio.com/2010-04-01/Accounts.json?PageToken={token}"
        response = {"body": {"string": None}, "headers": {}}
        return {
            "request": {"uri": uri, "body": None, "headers": {}},
            "response": response,
        }

    # "PA" + a call SID reads "…ACA…"; "PA" + an account SID is one.
    assert leaks(listing("PACA" + "ab12" * 8)) == []
    assert leaks(listing("PAAC" + "ab12" * 8)) == [f"account AC{'ab12' * 8}"]
