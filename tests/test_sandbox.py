"""The Twilio sandbox, driven directly and through twilio-python 9."""

from __future__ import annotations

import base64
import json
import multiprocessing
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from collections import Counter
from datetime import UTC, datetime, timedelta
from email.utils import parsedate_to_datetime
from pathlib import Path
from typing import Any

import phonenumbers
import pytest
from twilio.base.exceptions import TwilioException, TwilioRestException
from twilio.http.http_client import HttpClient
from twilio.http.response import Response
from twilio.rest import Client

from meetzy_numbers.sandbox import SEED, Faults, Sandbox, SandboxResponse, serve
from meetzy_numbers.sandbox.pool import build_pool

API = "https://api.twilio.com/2010-04-01"
MAIN, SPAIN, LATAM, UK = (a[0] for a in SEED.accounts)
TOKENS = {sid: token for sid, _, token, _ in SEED.accounts}
MAIN_KEY, MAIN_KEY_SECRET, _ = SEED.api_keys[0]


def basic(user: str, secret: str) -> dict[str, str]:
    token = base64.b64encode(f"{user}:{secret}".encode()).decode()
    return {"Authorization": f"Basic {token}"}


def creds(account: str = MAIN) -> dict[str, str]:
    return basic(account, TOKENS[account])


def call(
    sb: Sandbox,
    method: str,
    path: str,
    *,
    headers: dict[str, str] | None = None,
    **kwargs: Any,
) -> tuple[int, Any]:
    response = sb.handle(
        method, API + path, headers=creds() if headers is None else headers, **kwargs
    )
    return response.status, json.loads(response.body) if response.body else None


class SandboxHttpClient(HttpClient):
    """twilio-python's transport, answered by the sandbox in-process."""

    def __init__(self, sandbox: Sandbox) -> None:
        super().__init__(logger=None, is_async=False)
        self.sandbox = sandbox

    def request(
        self,
        method: str,
        url: str,
        params: dict[str, object] | None = None,
        data: dict[str, object] | None = None,
        headers: dict[str, str] | None = None,
        auth: tuple[str, str] | None = None,
        timeout: float | None = None,
        allow_redirects: bool = False,
    ) -> Response:
        sent = dict(headers or {})
        if auth:
            sent.update(basic(*auth))
        answer = self.sandbox.handle(
            method,
            url,
            params={k: str(v) for k, v in (params or {}).items()},
            data={k: str(v) for k, v in (data or {}).items()},
            headers=sent,
        )
        return Response(answer.status, answer.body, answer.headers)


def twilio(sb: Sandbox, user: str = MAIN, secret: str | None = None) -> Client:
    return Client(
        user,
        secret if secret is not None else TOKENS[user],
        account_sid=MAIN,
        http_client=SandboxHttpClient(sb),
    )


def seed_number(**where: Any) -> Any:
    return next(
        n for n in SEED.numbers if all(getattr(n, k) == v for k, v in where.items())
    )


@pytest.fixture
def sb() -> Sandbox:
    return Sandbox(None)


# -- the seed ------------------------------------------------------------------


def test_seed_covers_every_case() -> None:
    numbers = SEED.numbers
    assert len(numbers) >= 30
    for n in numbers:
        parsed = phonenumbers.parse(n.phone_number)
        assert phonenumbers.is_valid_number(parsed), n.phone_number
    codes = {phonenumbers.parse(n.phone_number).country_code for n in numbers}
    assert codes == {1, 34, 52, 54, 57, 44}
    assert {n.state for n in numbers} == {"assigned", "partial", "unassigned"}
    assert len({n.reason for n in numbers if n.state == "partial"}) >= 7
    owned = Counter(n.agent for n in numbers if n.state == "assigned")
    known = {agent for agent, _ in SEED.agents}
    assert len(known) >= 5
    assert [a for a in known if owned[a] == 1] == ["collections-co"]
    assert SEED.unknown_agent in owned and SEED.unknown_agent not in known
    marked = [n for n in numbers if n.marked_for_return]
    assert [m.friendly_name for m in marked] == ["RETURN 2026-11-20 | meetzy:sales-es"]
    health = Counter(n.health for n in numbers if n.state == "assigned")
    assert health["healthy"] >= 3
    assert min(health["warning"], health["spam"], health["unknown"]) >= 2
    uk = [n for n in numbers if n.phone_number.startswith("+44")]
    assert sum(n.account_sid == UK for n in uk) > len(uk) / 2
    assert [a[1] for a in SEED.accounts if not a[3]] == ["Meetzy UK"]
    sids = [n.sid for n in numbers] + [a[0] for a in SEED.accounts]
    assert all(len(s) == 34 and s[2:] == s[2:].lower() for s in sids)


def test_pool_numbers_are_valid_and_in_their_country() -> None:
    for country, entries in build_pool().items():
        for entry in entries:
            parsed = phonenumbers.parse(entry["phone_number"])
            assert phonenumbers.is_valid_number(parsed), entry["phone_number"]
            assert phonenumbers.region_code_for_number(parsed) == country


def _state_of(rec: dict[str, Any]) -> str:
    """The tool's rule, restated here to check the seed says what it means."""
    base = SEED.webhook_base
    routing = [
        rec[f]
        for f in (
            "voice_url",
            "status_callback",
            "voice_application_sid",
            "trunk_sid",
            "sms_url",
            "sms_application_sid",
            "voice_fallback_url",
            "sms_fallback_url",
        )
        if rec[f]
    ]
    if not routing:
        return "unassigned"
    voice, status = rec["voice_url"] or "", rec["status_callback"] or ""
    agent = voice.removeprefix(f"{base}/agents/").removesuffix("/voice")
    if len(routing) == 2 and status == f"{base}/agents/{agent}/status":
        return "assigned"
    return "partial"


def test_seed_records_match_seed_facts(sb: Sandbox) -> None:
    snap = sb.snapshot()
    now = time.time()
    for fact in SEED.numbers:
        rec = snap["incoming_phone_numbers"][fact.account_sid][fact.sid]
        assert rec["phone_number"] == fact.phone_number
        assert rec["friendly_name"] == fact.friendly_name
        assert _state_of(rec) == fact.state, fact
        week = [
            c
            for c in snap["calls"][fact.account_sid].values()
            if c["from"] == fact.phone_number
            and parsedate_to_datetime(c["start_time"]).timestamp() >= now - 7 * 86400
        ]
        answered = [c for c in week if c["status"] == "completed"]
        short = [c for c in answered if int(c["duration"]) < 10]
        if len(week) < 10:
            health = "unknown"
        elif len(answered) / len(week) < 0.2 or len(short) > len(answered) / 2:
            health = "spam"
        elif len(answered) / len(week) < 0.6:
            health = "warning"
        else:
            health = "healthy"
        assert health == fact.health, fact
    statuses = {c["status"] for b in snap["calls"].values() for c in b.values()}
    assert statuses == {"completed", "no-answer", "busy", "failed"}


# -- lists, fetch, update, delete ----------------------------------------------


def test_paging_through_twilio_python(sb: Sandbox) -> None:
    client = twilio(sb)
    numbers = client.api.v2010.accounts(MAIN).incoming_phone_numbers.list(page_size=5)
    expected = [n.sid for n in SEED.numbers if n.account_sid == MAIN]
    assert sorted(n.sid for n in numbers) == sorted(expected)
    assert sb.request_count == 3

    number = seed_number(state="assigned", health="healthy", account_sid=MAIN)
    before = sb.request_count
    calls = client.api.v2010.accounts(MAIN).calls.list(
        from_=number.phone_number, page_size=20
    )
    assert len(calls) > 20 and sb.request_count - before == 2
    assert {c._from for c in calls} == {number.phone_number}
    starts = [c.start_time for c in calls]
    assert starts == sorted(starts, reverse=True)


def test_page_token_and_previous_page(sb: Sandbox) -> None:
    status, first = call(sb, "GET", f"/Accounts/{MAIN}/Calls.json?PageSize=20")
    assert status == 200 and first["previous_page_uri"] is None
    assert first["next_page_uri"].startswith(f"/2010-04-01/Accounts/{MAIN}/Calls.json")
    assert "PageToken=PA" in first["next_page_uri"]
    _, second = call(sb, "GET", first["next_page_uri"].removeprefix("/2010-04-01"))
    assert second["page"] == 1 and second["start"] == 20 and second["end"] == 39
    assert not {c["sid"] for c in first["calls"]} & {c["sid"] for c in second["calls"]}
    _, back = call(sb, "GET", second["previous_page_uri"].removeprefix("/2010-04-01"))
    assert [c["sid"] for c in back["calls"]] == [c["sid"] for c in first["calls"]]
    status, body = call(sb, "GET", f"/Accounts/{MAIN}/Calls.json?PageSize=1001")
    assert (status, body["code"]) == (400, 20001)


def test_fetch_update_clear_and_delete(sb: Sandbox) -> None:
    client = twilio(sb)
    fact = seed_number(state="assigned", agent="sales-es")
    numbers = client.api.v2010.accounts(SPAIN).incoming_phone_numbers
    record = numbers(fact.sid).fetch()
    assert record.voice_url.endswith("/agents/sales-es/voice")
    assert record.capabilities == {
        "voice": True,
        "sms": False,
        "mms": False,
        "fax": False,
    }

    updated = numbers(fact.sid).update(
        voice_url="", status_callback="", friendly_name="x"
    )
    assert updated.voice_url is None and updated.status_callback is None
    assert updated.friendly_name == "x"
    assert updated.date_updated > record.date_updated
    assert updated.voice_method == "POST"

    trunk = "TK" + "a" * 32
    app = "AP" + "b" * 32
    assert (
        numbers(fact.sid).update(voice_application_sid=app).voice_application_sid == app
    )
    moved = numbers(fact.sid).update(trunk_sid=trunk)
    assert moved.trunk_sid == trunk and moved.voice_application_sid is None
    back = numbers(fact.sid).update(voice_application_sid=app)
    assert back.trunk_sid is None and back.voice_application_sid == app

    with pytest.raises(TwilioRestException) as bad:
        numbers(fact.sid).update(voice_url="not a url")
    assert bad.value.status == 400

    assert numbers(fact.sid).delete() is True
    with pytest.raises(TwilioRestException) as gone:
        numbers(fact.sid).fetch()
    assert gone.value.status == 404 and gone.value.code == 20404
    assert fact.sid not in sb.snapshot()["incoming_phone_numbers"][SPAIN]


def test_filters_on_incoming_numbers(sb: Sandbox) -> None:
    fact = seed_number(state="partial", account_sid=LATAM)
    client = twilio(sb)
    numbers = client.api.v2010.accounts(LATAM).incoming_phone_numbers
    assert [n.sid for n in numbers.list(phone_number=fact.phone_number)] == [fact.sid]
    assert numbers.list(phone_number="+14155550101") == []
    partial = numbers.list(phone_number=fact.phone_number[-4:])
    assert fact.sid in [n.sid for n in partial]
    named = numbers.list(friendly_name="meetzy:support-mx")
    assert {n.sid for n in named} == {
        n.sid for n in SEED.numbers if n.friendly_name == "meetzy:support-mx"
    }


def test_move_number_between_accounts(sb: Sandbox) -> None:
    fact = seed_number(state="unassigned", account_sid=MAIN)
    client = twilio(sb)
    moved = (
        client.api.v2010.accounts(MAIN)
        .incoming_phone_numbers(fact.sid)
        .update(account_sid=SPAIN)
    )
    assert moved.account_sid == SPAIN and moved.sid == fact.sid
    snap = sb.snapshot()["incoming_phone_numbers"]
    assert fact.sid in snap[SPAIN] and fact.sid not in snap[MAIN]
    path = f"/Accounts/{SPAIN}/IncomingPhoneNumbers/{fact.sid}.json"
    status, body = call(
        sb, "POST", path, data={"AccountSid": MAIN}, headers=creds(SPAIN)
    )
    assert (status, body["code"]) == (400, 21474)


def test_accounts(sb: Sandbox) -> None:
    client = twilio(sb)
    accounts = client.api.v2010.accounts.list(page_size=50)
    assert [a.friendly_name for a in accounts] == [a[1] for a in SEED.accounts]
    assert all(a.owner_account_sid == MAIN for a in accounts)
    active = client.api.v2010.accounts.list(status="active", friendly_name="Meetzy UK")
    assert [a.sid for a in active] == [UK]
    assert client.api.v2010.accounts.list(status="closed") == []
    assert client.api.v2010.accounts(SPAIN).fetch().friendly_name == "Meetzy Spain"
    status, body = call(sb, "GET", "/Accounts.json", headers=creds(SPAIN))
    assert status == 200 and [a["sid"] for a in body["accounts"]] == [SPAIN]


# -- buying --------------------------------------------------------------------


def test_search_available_numbers(sb: Sandbox) -> None:
    client = twilio(sb)
    local = client.api.v2010.accounts(MAIN).available_phone_numbers("US").local
    found = local.list(area_code=415, page_size=50)
    assert len(found) == 30
    assert all(n.phone_number.startswith("+1415") for n in found)
    assert found[0].capabilities == {
        "voice": True,
        "SMS": True,
        "MMS": True,
        "fax": False,
    }
    assert local.list(area_code=999, page_size=50) == []
    assert [n.phone_number for n in local.list(contains="415523001*", page_size=5)] == [
        f"+141552300{i}" for i in range(10, 15)
    ]
    gb = client.api.v2010.accounts(MAIN).available_phone_numbers("GB").mobile.list()
    assert gb and all(n.iso_country == "GB" for n in gb)
    status, _ = call(sb, "GET", f"/Accounts/{MAIN}/AvailablePhoneNumbers/ZZ/Local.json")
    assert status == 404


def test_buy_and_regulatory_refusals(sb: Sandbox) -> None:
    client = twilio(sb)
    numbers = client.api.v2010.accounts(MAIN).incoming_phone_numbers
    bought = numbers.create(
        phone_number="+14155230007", voice_url="https://a.example/v"
    )
    assert bought.sid.startswith("PN") and bought.voice_url == "https://a.example/v"
    assert bought.account_sid == MAIN and bought.friendly_name == "(415) 523-0007"
    with pytest.raises(TwilioRestException) as again:
        numbers.create(phone_number="+14155230007")
    assert (again.value.status, again.value.code) == (400, 21422)
    by_area = numbers.create(area_code="212")
    assert by_area.phone_number.startswith("+1212")
    with pytest.raises(TwilioRestException) as none:
        numbers.create(area_code="999")
    assert none.value.code == 21452

    gb = "+442035230000"
    for bundle in (None, SEED.pending_bundle_sid):
        with pytest.raises(TwilioRestException) as refused:
            numbers.create(phone_number=gb, bundle_sid=bundle)
        assert refused.value.code == 21649
    ok = numbers.create(phone_number=gb, bundle_sid=SEED.approved_bundle_sid)
    assert ok.bundle_sid == SEED.approved_bundle_sid
    assert numbers.create(phone_number="+448005230000").bundle_sid is None

    ar = "+541152300000"
    with pytest.raises(TwilioRestException) as refused:
        numbers.create(phone_number=ar)
    assert refused.value.code == 21631
    latam = client.api.v2010.accounts(LATAM).incoming_phone_numbers
    ar_number = latam.create(phone_number=ar, address_sid=SEED.address_sid)
    assert ar_number.address_sid == SEED.address_sid
    assert ar_number.address_requirements == "local"

    pool = sb.snapshot()["available_phone_numbers"]
    left = {e["phone_number"] for entries in pool.values() for e in entries}
    assert not left & {"+14155230007", gb, ar, by_area.phone_number}


# -- caller IDs and calls ------------------------------------------------------


def test_caller_id_validation(sb: Sandbox) -> None:
    client = twilio(sb)
    account = client.api.v2010.accounts(SPAIN)
    ok = account.validation_requests.create(
        phone_number="+34915550177", friendly_name="Ana"
    )
    assert len(ok.validation_code) == 6 and ok.validation_code.isdigit()
    assert ok.call_sid.startswith("CA") and ok.friendly_name == "Ana"
    assert account.calls(ok.call_sid).fetch().status == "completed"
    verified = account.outgoing_caller_ids.list(phone_number="+34915550177")
    assert [v.friendly_name for v in verified] == ["Ana"]

    failed = account.validation_requests.create(phone_number="+34915550113")
    failed_call = account.calls(failed.call_sid).fetch()
    assert failed_call.status == "no-answer" and failed_call.duration == "0"
    assert failed_call.direction == "outbound-api" and failed_call.to == "+34915550113"
    assert account.outgoing_caller_ids.list(phone_number="+34915550113") == []

    with pytest.raises(TwilioRestException) as again:
        account.validation_requests.create(phone_number="+34915550177")
    assert again.value.code == 21450

    cid = verified[0].sid
    assert (
        account.outgoing_caller_ids(cid).update(friendly_name="B").friendly_name == "B"
    )
    assert account.outgoing_caller_ids(cid).delete() is True
    assert account.outgoing_caller_ids.list(phone_number="+34915550177") == []
    status, body = call(
        sb,
        "POST",
        f"/Accounts/{SPAIN}/OutgoingCallerIds.json",
        data={"PhoneNumber": "+1", "CallDelay": "5"},
    )
    assert (status, body["code"]) == (400, 21217)


def test_calls_filtered_by_from_and_start_time(sb: Sandbox) -> None:
    client = twilio(sb)
    fact = seed_number(state="assigned", health="warning", account_sid=MAIN)
    after = datetime.now(UTC) - timedelta(days=7)
    calls = client.api.v2010.accounts(MAIN).calls.list(
        from_=fact.phone_number, start_time_after=after, page_size=100
    )
    assert len(calls) == 20
    assert all(c.start_time >= after and c._from == fact.phone_number for c in calls)
    assert sum(c.status == "completed" for c in calls) == 8
    before = datetime.now(UTC) - timedelta(days=7)
    older = client.api.v2010.accounts(MAIN).calls.list(
        from_=fact.phone_number, start_time_before=before, page_size=100
    )
    assert len(older) == 20 and all(c.start_time <= before for c in older)
    day = (datetime.now(UTC) - timedelta(days=3)).strftime("%Y-%m-%d")
    _, raw = call(
        sb, "GET", f"/Accounts/{MAIN}/Calls.json?StartTime>={day}&Status=no-answer"
    )
    assert raw["calls"] and {c["status"] for c in raw["calls"]} == {"no-answer"}
    assert "StartTime%3E=" in raw["uri"]
    record = raw["calls"][0]
    assert parsedate_to_datetime(record["start_time"]).strftime("%Y-%m-%d") >= day
    assert record["start_time"].endswith(" +0000") and record["price"] is None


# -- authentication ------------------------------------------------------------


def test_auth_failures(sb: Sandbox) -> None:
    path = f"/Accounts/{SPAIN}/IncomingPhoneNumbers.json"
    for headers in ({}, basic(MAIN, "wrong"), {"Authorization": "Bearer x"}):
        status, body = call(sb, "GET", path, headers=headers)
        assert (status, body["code"], body["message"]) == (401, 20003, "Authenticate")
    assert call(sb, "GET", path)[0] == 200
    key = basic(MAIN_KEY, MAIN_KEY_SECRET)
    assert call(sb, "GET", path, headers=key)[0:1] == (401,)
    assert (
        call(sb, "GET", f"/Accounts/{MAIN}/IncomingPhoneNumbers.json", headers=key)[0]
        == 200
    )
    status, body = call(
        sb, "GET", f"/Accounts/{MAIN}/IncomingPhoneNumbers.json", headers=creds(SPAIN)
    )
    assert status == 403 and body["code"] == 20003
    assert (
        call(sb, "GET", f"/Accounts/{LATAM}/Calls.json", headers=creds(SPAIN))[0] == 403
    )
    status, _ = call(sb, "GET", f"/Accounts/AC{'0' * 32}/Calls.json")
    assert status == 404

    client = twilio(sb, MAIN, "bad")
    with pytest.raises(TwilioRestException) as denied:
        client.api.v2010.accounts(MAIN).fetch()
    assert (denied.value.status, denied.value.code) == (401, 20003)
    keyed = Client(MAIN_KEY, MAIN_KEY_SECRET, MAIN, http_client=SandboxHttpClient(sb))
    with pytest.raises(TwilioException):
        keyed.api.v2010.accounts(SPAIN).incoming_phone_numbers.list()
    assert keyed.api.v2010.accounts(MAIN).incoming_phone_numbers.list(page_size=50)


def test_unknown_paths_and_methods(sb: Sandbox) -> None:
    status, body = call(sb, "GET", f"/Accounts/{MAIN}/Messages.json")
    assert (status, body["code"]) == (404, 20404)
    assert body["more_info"] == "https://www.twilio.com/docs/errors/20404"
    status, body = call(sb, "DELETE", f"/Accounts/{MAIN}/Calls.json")
    assert status == 405


# -- persistence ---------------------------------------------------------------


def test_persistence_across_objects_and_reset(tmp_path: Path) -> None:
    state = tmp_path / "twilio.json"
    first = Sandbox(state)
    second = Sandbox(state)
    fact = seed_number(state="unassigned", account_sid=MAIN)
    path = f"/Accounts/{MAIN}/IncomingPhoneNumbers/{fact.sid}.json"
    assert call(first, "POST", path, data={"FriendlyName": "moved"})[0] == 200
    assert call(second, "GET", path)[1]["friendly_name"] == "moved"
    assert call(second, "DELETE", path)[0] == 204
    assert call(first, "GET", path)[0] == 404
    assert Sandbox(state).snapshot() == second.snapshot()
    second.reset()
    assert call(first, "GET", path)[1]["friendly_name"] == fact.friendly_name
    assert sorted(p.name for p in tmp_path.iterdir()) == [
        "twilio.json",
        "twilio.json.lock",
    ]


def test_snapshot_is_a_copy(sb: Sandbox) -> None:
    snap = sb.snapshot()
    snap["incoming_phone_numbers"][MAIN].clear()
    assert sb.snapshot()["incoming_phone_numbers"][MAIN]


def test_large_inventory_is_deterministic() -> None:
    one = Sandbox.large(subaccounts=2, numbers_per_account=40, calls=300)
    two = Sandbox.large(subaccounts=2, numbers_per_account=40, calls=300)
    a, b = one.snapshot(), two.snapshot()
    assert a["incoming_phone_numbers"] == b["incoming_phone_numbers"]
    assert sorted(a["accounts"]) == sorted(b["accounts"])
    subs = [s for s in a["accounts"] if s != MAIN]
    assert len(subs) == 2
    assert sum(len(v) for v in a["incoming_phone_numbers"].values()) == 80
    assert sum(len(v) for v in a["calls"].values()) == 300
    listed = (
        twilio(one)
        .api.v2010.accounts(subs[0])
        .incoming_phone_numbers.list(page_size=20)
    )
    assert len(listed) == 40


# -- faults --------------------------------------------------------------------


def test_rate_limit_every_nth(sb: Sandbox) -> None:
    limited = Sandbox(None, faults=Faults(rate_limit_every=3))
    answers = [
        limited.handle("GET", f"{API}/Accounts.json", headers=creds()) for _ in range(6)
    ]
    assert [a.status for a in answers] == [200, 200, 429, 200, 200, 429]
    body = json.loads(answers[2].body)
    assert body == {
        "code": 20429,
        "message": "Too Many Requests",
        "more_info": "https://www.twilio.com/docs/errors/20429",
        "status": 429,
    }
    assert answers[2].headers["Retry-After"] == "1"
    assert answers[2].headers["Content-Type"] == "application/json"
    assert limited.request_count == 6


def test_rate_limit_all_and_error_rate() -> None:
    always = Sandbox(None, faults=Faults(rate_limit_all=True, retry_after=0))
    answer = always.handle("GET", f"{API}/Accounts.json", headers=creds())
    assert answer.status == 429 and answer.headers["Retry-After"] == "0"

    def statuses() -> list[int]:
        flaky = Sandbox(None, faults=Faults(error_rate=0.5, seed=7))
        return [
            flaky.handle("GET", f"{API}/Accounts.json", headers=creds()).status
            for _ in range(40)
        ]

    first = statuses()
    assert first == statuses()
    assert set(first) == {200, 503} and 8 < first.count(503) < 32


@pytest.mark.parametrize("apply", [True, False])
def test_timeout_applied_or_not(apply: bool) -> None:
    faults = Faults.from_dict(
        {
            "timeouts": [
                {
                    "method": "POST",
                    "path_contains": "IncomingPhoneNumbers",
                    "times": 1,
                    "apply": apply,
                }
            ]
        }
    )
    sb = Sandbox(None, faults=faults)
    path = f"{API}/Accounts/{MAIN}/IncomingPhoneNumbers.json"
    with pytest.raises(TimeoutError):
        sb.handle("POST", path, data={"PhoneNumber": "+14155230001"}, headers=creds())
    owned = {
        n["phone_number"]
        for n in sb.snapshot()["incoming_phone_numbers"][MAIN].values()
    }
    assert ("+14155230001" in owned) is apply
    again = sb.handle(
        "POST", path, data={"PhoneNumber": "+14155230001"}, headers=creds()
    )
    assert again.status == (400 if apply else 201)


def test_faulted_requests_change_nothing(tmp_path: Path) -> None:
    sb = Sandbox(tmp_path / "twilio.json", faults=Faults(rate_limit_all=True))
    before = (tmp_path / "twilio.json").read_bytes()
    fact = seed_number(state="unassigned", account_sid=MAIN)
    answer = sb.handle(
        "DELETE",
        f"{API}/Accounts/{MAIN}/IncomingPhoneNumbers/{fact.sid}.json",
        headers=creds(),
    )
    assert answer.status == 429
    assert (tmp_path / "twilio.json").read_bytes() == before


def test_faults_file_and_unknown_keys(tmp_path: Path) -> None:
    (tmp_path / "faults.json").write_text(json.dumps({"rate_limit_all": True}))
    sb = Sandbox(tmp_path / "twilio.json")
    assert sb.handle("GET", f"{API}/Accounts.json", headers=creds()).status == 429
    with pytest.raises(ValueError, match="unknown fault keys"):
        Faults.from_dict({"rate_limit_everything": True})
    with pytest.raises(ValueError, match="unknown timeout fault keys"):
        Faults.from_dict({"timeouts": [{"path": "x"}]})


def test_concurrency_limit_in_process() -> None:
    sb = Sandbox(None, faults=Faults(latency_ms=150, concurrency_limit=2))
    answers: list[SandboxResponse] = []

    def one() -> None:
        answers.append(sb.handle("GET", f"{API}/Accounts.json", headers=creds()))

    threads = [threading.Thread(target=one) for _ in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    statuses = Counter(a.status for a in answers)
    assert statuses[429] >= 1 and statuses[200] >= 2
    assert all(a.headers.get("Retry-After") for a in answers if a.status == 429)


# -- concurrency and processes -------------------------------------------------


def test_threads_updating_different_numbers(tmp_path: Path) -> None:
    sb = Sandbox(tmp_path / "twilio.json")
    targets = list(SEED.numbers[:20])
    errors: list[int] = []

    def update(i: int) -> None:
        fact = targets[i]
        path = f"/Accounts/{fact.account_sid}/IncomingPhoneNumbers/{fact.sid}.json"
        status, _ = call(sb, "POST", path, data={"SmsUrl": f"https://t.example/{i}"})
        if status != 200:
            errors.append(status)

    threads = [threading.Thread(target=update, args=(i,)) for i in range(20)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    snap = Sandbox(tmp_path / "twilio.json").snapshot()["incoming_phone_numbers"]
    for i, fact in enumerate(targets):
        assert snap[fact.account_sid][fact.sid]["sms_url"] == f"https://t.example/{i}"


def _validate_many(state: str, prefix: str) -> None:
    sb = Sandbox(Path(state))
    for i in range(50):
        status, _ = call(
            sb,
            "POST",
            f"/Accounts/{MAIN}/OutgoingCallerIds.json",
            data={"PhoneNumber": f"{prefix}{i:02d}1"},
        )
        assert status == 200


def test_two_processes_lose_no_update(tmp_path: Path) -> None:
    state = tmp_path / "twilio.json"
    Sandbox(state)
    methods = multiprocessing.get_all_start_methods()
    ctx = multiprocessing.get_context("fork" if "fork" in methods else "spawn")
    procs = [
        ctx.Process(target=_validate_many, args=(str(state), prefix))
        for prefix in ("+1650555", "+1408555")
    ]
    for p in procs:
        p.start()
    for p in procs:
        p.join(60)
    assert [p.exitcode for p in procs] == [0, 0]
    snap = Sandbox(state).snapshot()
    phones = {c["phone_number"] for c in snap["outgoing_caller_ids"][MAIN].values()}
    for prefix in ("+1650555", "+1408555"):
        assert {f"{prefix}{i:02d}1" for i in range(50)} <= phones
    validation_calls = [
        c
        for c in snap["calls"][MAIN].values()
        if c["direction"] == "outbound-api" and c["from"] == "+14157669865"
    ]
    assert len(validation_calls) == 100


# -- HTTP ----------------------------------------------------------------------


def _http(
    base: str, method: str, path: str, data: dict[str, str] | None = None
) -> tuple[int, dict[str, str], Any]:
    body = urllib.parse.urlencode(data).encode() if data is not None else None
    request = urllib.request.Request(
        base + path, data=body, method=method, headers=creds()
    )
    try:
        with urllib.request.urlopen(request, timeout=10) as answer:
            text = answer.read().decode()
            return (
                answer.status,
                dict(answer.headers),
                json.loads(text) if text else None,
            )
    except urllib.error.HTTPError as exc:
        return exc.code, dict(exc.headers), json.loads(exc.read().decode())


def test_serve_over_http_with_latency_and_concurrency_limit() -> None:
    server, thread = serve(Sandbox(None), latency_ms=120, concurrency_limit=2)
    try:
        host, port = server.server_address[:2]
        base = f"http://{host!s}:{port}/2010-04-01"
        started = time.perf_counter()
        status, headers, body = _http(base, "GET", f"/Accounts/{MAIN}.json")
        assert time.perf_counter() - started >= 0.12
        assert status == 200 and body["friendly_name"] == "Meetzy"
        assert headers["Content-Type"] == "application/json"

        fact = seed_number(state="unassigned", account_sid=MAIN)
        path = f"/Accounts/{MAIN}/IncomingPhoneNumbers/{fact.sid}.json"
        status, _, body = _http(base, "POST", path, {"VoiceUrl": "https://x.example/v"})
        assert status == 200 and body["voice_url"] == "https://x.example/v"
        assert _http(base, "GET", f"/Accounts/{MAIN}/Nope.json")[0] == 404

        answers: list[tuple[int, dict[str, str], Any]] = []
        threads = [
            threading.Thread(
                target=lambda: answers.append(_http(base, "GET", "/Accounts.json"))
            )
            for _ in range(6)
        ]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        limited = [a for a in answers if a[0] == 429]
        assert limited and any(a[0] == 200 for a in answers)
        assert limited[0][1]["Retry-After"] == "1" and limited[0][2]["code"] == 20429
    finally:
        server.shutdown()
        server.server_close()
        thread.join(5)
