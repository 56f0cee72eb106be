"""The tool against Prism serving Twilio's published API description.

Prism answers with Twilio's own examples and refuses (422) any request the
description rejects. Every CLI command here runs end to end against it and
must exit 0 with no request violation in Prism's log; every update the tool
can send goes through the gateway, where the only 422 allowed is Prism's
documented false alarm: an empty string, which Twilio accepts to clear a field,
sent for a URL or SID field.

Locally Prism is started once for the module (`npm ci` first, or the tests
skip); under CI=true a missing Prism fails them.
"""

from __future__ import annotations

import contextlib
import json
import re
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import date
from typing import Any

import pytest

from conftest import Invoke
from meetzy_numbers.errors import TwilioFailure
from meetzy_numbers.gateway import Gateway
from meetzy_numbers.model.accounts import Account
from meetzy_numbers.model.numbers import NumberRecord, twilio_number, with_mark
from meetzy_numbers.operations import changes
from meetzy_numbers.operations.context import Context
from meetzy_numbers.paths import default_paths
from prism import Prism, prism_server

pytestmark = pytest.mark.contract

ACCOUNT_SID = "AC" + "0123456789abcdef" * 2
AUTH_TOKEN = "prism-checks-no-token-0123456789"  # a dummy: Prism checks none
WEBHOOK_BASE = "https://voice.meetzy.example"
AGENT = "sales-es"
# The IncomingPhoneNumber in Twilio's published example, so Prism's answer.
NUMBER = "+18089255327"
NUMBER_SID = "PN" + "a" * 32


@dataclass(frozen=True)
class Command:
    args: tuple[str, ...]
    sends: tuple[str, ...]

    def __str__(self) -> str:
        return " ".join(self.args)


def command(*args: str, sends: str = "get") -> Command:
    """A CLI run and the HTTP methods it must send to Prism."""
    return Command(args, tuple(sends.split()))


# One line per command. Prism always answers with the same unassigned number,
# so disconnect and reset find nothing to change here; the gateway tests below
# send their updates.
COMMANDS = (
    command("list", "--refresh", "-o", "json"),
    command("show", NUMBER),
    command("assign", NUMBER, AGENT, sends="get post"),
    command("disconnect", NUMBER, "--yes", "--force"),
    command("reset", NUMBER, "--yes"),
    command("return", NUMBER, "--yes", "--force", sends="get delete"),
    command("health", "-A", "-o", "json"),
    command("health", NUMBER),
    command("request", "--country", "US", "--dry-run"),
    command("request", "--country", "US", "--count", "1", "--yes", sends="get post"),
    command("callerid", "verify", "+14155550100", sends="get post"),
    command("callerid", "list"),
)


# -- Prism and its log ------------------------------------------------------------


@pytest.fixture(scope="module")
def prism(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Prism]:
    yield from prism_server(tmp_path_factory.mktemp("prism"))


def settled_log(prism: Prism) -> str:
    """Prism's log since `mark()`, once it has logged every request sent so far.

    Prism writes its log as it goes; a request of our own, sent last, shows
    when everything before it has been written.
    """
    numbers = f"/2010-04-01/Accounts/{ACCOUNT_SID}/IncomingPhoneNumbers"
    sentinel = f"{numbers}/PN{uuid.uuid4().hex}.json"
    request = urllib.request.Request(prism.url + sentinel)
    request.add_unredirected_header("Authorization", "Basic eDp5")
    with contextlib.suppress(urllib.error.HTTPError):  # any answer will do
        urllib.request.urlopen(request, timeout=10)
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        text = prism.new_log()
        if sentinel in text:
            return text[: text.rfind("\n", 0, text.index(sentinel)) + 1]
        time.sleep(0.05)
    raise AssertionError(f"Prism never logged {sentinel}")


RECEIVED = re.compile(r"\[HTTP SERVER\] (\w+) (\S+) .*Request received")


def request_violations(log: str) -> list[str]:
    """Prism's complaints about the requests it got, each with its request.

    Prism also reports its own examples breaking the description
    ("Violation: response…"); those say nothing about the tool.
    """
    found: list[str] = []
    current = "?"
    for line in log.splitlines():
        received = RECEIVED.search(line)
        if received:
            current = f"{received.group(1).upper()} {received.group(2)}"
            continue
        refused = "Request terminated with error" in line
        invalid = "[VALIDATOR]" in line and (
            "Request did not pass" in line
            or ("✖" in line and "Violation: response" not in line)
        )
        if refused or invalid:
            found.append(f"{current}: {line.split('›', 1)[-1].strip()}")
    return found


def methods_sent(log: str) -> set[str]:
    return {match.group(1).lower() for match in RECEIVED.finditer(log)}


def test_the_violation_reader_knows_prisms_log_format() -> None:
    log = (
        "[4:21:07 PM] › [HTTP SERVER] post /2010-04-01/Accounts/AC1/"
        "IncomingPhoneNumbers/PN1.json ℹ  info      Request received\n"
        "[4:21:07 PM] ›     [VALIDATOR] ⚠  warning   Request did not pass the "
        "validation rules\n"
        "[4:21:07 PM] ›     [VALIDATOR] ✖  error     Request body property "
        'StatusCallback must match format "uri"\n'
        "[4:21:07 PM] › [HTTP SERVER] get /2010-04-01/Accounts.json ℹ  info      "
        "Request received\n"
        "[4:21:07 PM] ›     [VALIDATOR] ✖  error     Violation: response.body.uri "
        'Response body property uri must match format "uri"\n'
    )
    where = "POST /2010-04-01/Accounts/AC1/IncomingPhoneNumbers/PN1.json"
    assert request_violations(log) == [
        f"{where}: [VALIDATOR] ⚠  warning   Request did not pass the validation rules",
        f"{where}: [VALIDATOR] ✖  error     Request body property StatusCallback "
        'must match format "uri"',
    ]
    assert methods_sent(log) == {"post", "get"}


# -- the CLI against Prism ----------------------------------------------------------


@pytest.fixture
def prism_cli(
    prism: Prism, cli: Invoke, monkeypatch: pytest.MonkeyPatch
) -> Callable[..., Any]:
    """The CLI on Prism, with env credentials, a webhook base and one agent."""
    monkeypatch.setenv("TWILIO_ACCOUNT_SID", ACCOUNT_SID)
    monkeypatch.setenv("TWILIO_AUTH_TOKEN", AUTH_TOKEN)
    for setup in (
        ("config", "set", "webhook_base", WEBHOOK_BASE),
        ("agents", "add", AGENT, "Sales Spain"),
    ):
        result = cli(*setup)
        assert result.exit_code == 0, result.stderr

    def invoke(*args: str) -> Any:
        return cli("--api-url", prism.url, *args)

    return invoke


@pytest.mark.parametrize("run", COMMANDS, ids=str)
def test_command_runs_against_prism_without_a_violation(
    prism: Prism, prism_cli: Callable[..., Any], run: Command
) -> None:
    prism.mark()
    result = prism_cli(*run.args)
    log = settled_log(prism)

    assert result.exit_code == 0, result.stderr
    assert request_violations(log) == []
    assert set(run.sends) <= methods_sent(log)


def test_list_shows_prisms_example_number(prism_cli: Callable[..., Any]) -> None:
    result = prism_cli("list", "--refresh", "-o", "json")

    assert result.exit_code == 0, result.stderr
    rows = json.loads(result.stdout)
    assert [row["sid"] for row in rows if row["phone_number"] == NUMBER] == [NUMBER_SID]


# -- every update the tool can send ----------------------------------------------


def record(**routing: str) -> NumberRecord:
    raw: dict[str, Any] = {
        "sid": NUMBER_SID,
        "phone_number": NUMBER,
        "friendly_name": "(808) 925-5327",
        **routing,
    }
    return twilio_number(raw, ACCOUNT_SID, "main account", WEBHOOK_BASE)


UNASSIGNED = record()
ASSIGNED = record(
    voice_url=f"{WEBHOOK_BASE}/agents/{AGENT}/voice",
    status_callback=f"{WEBHOOK_BASE}/agents/{AGENT}/status",
    friendly_name=f"meetzy:{AGENT}",
)
# Every routing field set, and a return mark: what a reset must clear.
EVERYTHING = record(
    voice_url="https://legacy.example/voice",
    voice_method="GET",
    voice_fallback_url="https://legacy.example/fallback",
    voice_fallback_method="POST",
    voice_application_sid="AP" + "1" * 32,
    trunk_sid="TK" + "2" * 32,
    status_callback="https://legacy.example/status",
    status_callback_method="POST",
    sms_url="https://legacy.example/sms",
    sms_method="POST",
    sms_fallback_url="https://legacy.example/sms-fallback",
    sms_fallback_method="POST",
    sms_application_sid="AP" + "3" * 32,
    friendly_name="RETURN 2026-01-05 | Legacy line",
)


@pytest.fixture
def context(prism_cli: Callable[..., Any], prism: Prism) -> Context:
    """The tool's context on Prism, configured by the CLI as a user would."""
    env = {"TWILIO_ACCOUNT_SID": ACCOUNT_SID, "TWILIO_AUTH_TOKEN": AUTH_TOKEN}
    return Context(paths=default_paths(), api_url=prism.url, env=env)


def planned(
    planner: Callable[[NumberRecord], tuple[dict[str, str] | None, str | None]],
    number: NumberRecord,
) -> dict[str, str]:
    update, reason = planner(number)
    assert update is not None, reason
    return update


# One entry per kind of update the tool sends, built by the tool's own planners.
UPDATES: dict[str, Callable[[Context], dict[str, str]]] = {
    "assign": lambda ctx: planned(
        changes.plan_assign(ctx, AGENT, force=False), UNASSIGNED
    ),
    "assign --force over every routing field": lambda ctx: planned(
        changes.plan_assign(ctx, AGENT, force=True), EVERYTHING
    ),
    "disconnect": lambda ctx: planned(
        changes.plan_disconnect(ctx, force=True), ASSIGNED
    ),
    "reset of every routing field and the mark": lambda ctx: planned(
        changes.plan_reset(), EVERYTHING
    ),
    "return mark": lambda ctx: {
        "friendly_name": with_mark(UNASSIGNED.friendly_name, date.today())
    },
}


def twilio_parameter(name: str) -> str:
    """twilio-python's voice_url as the VoiceUrl it sends."""
    return "".join(part.capitalize() for part in name.split("_"))


@pytest.mark.parametrize("name", UPDATES)
def test_update_is_refused_only_for_the_empty_string_false_alarm(
    context: Context, name: str
) -> None:
    update = UPDATES[name](context)
    gateway: Gateway = context.gateway
    main = Account(ACCOUNT_SID, "main account", is_main=True)
    emptied = {twilio_parameter(field) for field, value in update.items() if not value}

    try:
        gateway.update_number(main, NUMBER_SID, update)
    except TwilioFailure as error:
        answer = gateway.http.last_answer
        assert error.status == 422 and answer is not None, error.message
        violations = json.loads(answer.text)["validation"]
        refused = {tuple(v["location"]) for v in violations}
        assert refused <= {("body", parameter) for parameter in emptied}, violations

    # Without the empty strings Prism finds nothing wrong with the rest.
    rest = {field: value for field, value in update.items() if value}
    if rest:
        answered = gateway.update_number(main, NUMBER_SID, rest)
        assert answered["sid"] == NUMBER_SID


def test_reset_clears_every_routing_field_that_is_set() -> None:
    update = planned(changes.plan_reset(), EVERYTHING)

    assert update == {
        "voice_url": "",
        "voice_fallback_url": "",
        "voice_application_sid": "",
        "trunk_sid": "",
        "status_callback": "",
        "sms_url": "",
        "sms_fallback_url": "",
        "sms_application_sid": "",
        "friendly_name": "Legacy line",
    }


# -- commands that need the number routed: Prism behind the overlay ---------------

ROUTED = {
    "voice_url": f"{WEBHOOK_BASE}/agents/{AGENT}/voice",
    "status_callback": f"{WEBHOOK_BASE}/agents/{AGENT}/status",
    "friendly_name": f"meetzy:{AGENT}",
}
ROUTED_COMMANDS = (
    command("swap", NUMBER, "--buy", "--yes", "--force", sends="get post"),
    command("disconnect", NUMBER, "--yes", "--force", sends="get post"),
    command("reset", NUMBER, "--yes", sends="get post"),
)


@pytest.mark.parametrize("run", ROUTED_COMMANDS, ids=str)
def test_command_on_a_routed_number_runs_against_prism(
    prism: Prism, cli: Invoke, prism_cli: Callable[..., Any], run: Command
) -> None:
    from prism_overlay import overlay

    with overlay(prism.url, NUMBER_SID, ROUTED) as state:
        prism.mark()
        result = cli("--api-url", state.url, *run.args)
        log = settled_log(prism)

    assert result.exit_code == 0, result.stderr
    assert set(run.sends) <= methods_sent(log)
    # Only the documented false alarm: each refused request was refused for
    # fields the tool emptied to clear them, and nothing else.
    violations = request_violations(log)
    refused = [v for v in violations if "Request terminated with error" in v]
    assert state.forgiven, "each of these commands clears a field of the number"
    assert len(refused) == len(state.forgiven)
    forgiven = {name for _, names in state.forgiven for name in names}
    for violation in violations:
        if violation in refused or "did not pass the validation rules" in violation:
            continue
        assert any(f"property {name} " in violation for name in forgiven), violation
