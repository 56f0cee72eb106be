"""The assignment state as a pure function of one record and the webhook base."""

from __future__ import annotations

from datetime import date
from typing import Any

import pytest

from meetzy_numbers.model.numbers import (
    Assignment,
    State,
    cleared_routing,
    derive_assignment,
    read_mark,
    with_mark,
    without_mark,
)

BASE = "https://voice.meetzy.example"
VOICE = f"{BASE}/agents/sales-es/voice"
STATUS = f"{BASE}/agents/sales-es/status"

CASES: list[tuple[str, dict[str, Any], Assignment]] = [
    ("nothing set", {}, Assignment(State.UNASSIGNED)),
    (
        "empty strings are unset",
        {"voice_url": "", "status_callback": "", "trunk_sid": "", "sms_url": ""},
        Assignment(State.UNASSIGNED),
    ),
    (
        "null and empty mixed",
        {"voice_url": None, "sms_application_sid": "", "voice_application_sid": None},
        Assignment(State.UNASSIGNED),
    ),
    (
        "methods alone route nothing",
        {"voice_method": "POST", "sms_method": "GET"},
        Assignment(State.UNASSIGNED),
    ),
    (
        "both agent URLs",
        {"voice_url": VOICE, "status_callback": STATUS, "sms_url": ""},
        Assignment(State.ASSIGNED, "sales-es"),
    ),
    (
        "unknown agent still counts",
        {
            "voice_url": f"{BASE}/agents/ghost/voice",
            "status_callback": f"{BASE}/agents/ghost/status",
        },
        Assignment(State.ASSIGNED, "ghost"),
    ),
    (
        "base with a trailing slash",
        {"voice_url": VOICE, "status_callback": STATUS},
        Assignment(State.ASSIGNED, "sales-es"),
    ),
    (
        "status callback missing",
        {"voice_url": VOICE, "status_callback": ""},
        Assignment(State.PARTIAL, "sales-es", "status callback missing"),
    ),
    (
        "voice URL missing",
        {"voice_url": None, "status_callback": STATUS},
        Assignment(State.PARTIAL, "sales-es", "voice URL missing"),
    ),
    (
        "two agents",
        {
            "voice_url": VOICE,
            "status_callback": f"{BASE}/agents/support-mx/status",
        },
        Assignment(
            State.PARTIAL,
            "sales-es",
            "voice URL and status callback name different agents "
            "(sales-es, support-mx)",
        ),
    ),
    (
        "non-Meetzy voice URL",
        {"voice_url": "https://demo.twilio.com/welcome/voice/"},
        Assignment(
            State.PARTIAL,
            None,
            "voice URL points outside Meetzy (https://demo.twilio.com/welcome/voice/)",
        ),
    ),
    (
        "non-Meetzy status callback",
        {"status_callback": "https://example.com/cb"},
        Assignment(
            State.PARTIAL,
            None,
            "status callback points outside Meetzy (https://example.com/cb)",
        ),
    ),
    (
        "voice application",
        {"voice_application_sid": "AP" + "1" * 32},
        Assignment(State.PARTIAL, None, f"routed by voice application AP{'1' * 32}"),
    ),
    (
        "trunk",
        {"trunk_sid": "TK" + "2" * 32},
        Assignment(State.PARTIAL, None, f"routed by trunk TK{'2' * 32}"),
    ),
    (
        "SMS application",
        {"sms_application_sid": "AP" + "3" * 32},
        Assignment(State.PARTIAL, None, f"routed by SMS application AP{'3' * 32}"),
    ),
    (
        "SMS URL",
        {"sms_url": "https://sms.example.com/in"},
        Assignment(State.PARTIAL, None, "SMS URL set (https://sms.example.com/in)"),
    ),
    (
        "assigned plus a trunk is partial",
        {"voice_url": VOICE, "status_callback": STATUS, "trunk_sid": "TK" + "2" * 32},
        Assignment(State.PARTIAL, "sales-es", f"routed by trunk TK{'2' * 32}"),
    ),
    (
        "voice fallback URL",
        {"voice_fallback_url": "https://fallback.example.com/"},
        Assignment(
            State.PARTIAL,
            None,
            "voice fallback URL set (https://fallback.example.com/)",
        ),
    ),
    (
        "agent path with extra segments is not an agent",
        {"voice_url": f"{BASE}/agents/a/b/voice", "status_callback": STATUS},
        Assignment(
            State.PARTIAL,
            "sales-es",
            f"voice URL points outside Meetzy ({BASE}/agents/a/b/voice)",
        ),
    ),
]


@pytest.mark.parametrize(
    ("routing", "expected"),
    [case[1:] for case in CASES],
    ids=[case[0] for case in CASES],
)
def test_derive_assignment(routing: dict[str, Any], expected: Assignment) -> None:
    assert derive_assignment(routing, BASE) == expected
    assert derive_assignment(routing, BASE + "/") == expected


def test_no_webhook_base_makes_every_url_foreign() -> None:
    routing = {"voice_url": VOICE, "status_callback": STATUS}
    assert derive_assignment(routing, "").state is State.PARTIAL


def test_cleared_routing_clears_only_what_is_set() -> None:
    routing = {
        "voice_url": VOICE,
        "trunk_sid": "",
        "sms_url": None,
        "sms_method": "POST",
    }
    assert cleared_routing(routing) == {"voice_url": ""}


def test_return_mark_round_trip() -> None:
    day = date(2026, 11, 20)
    marked = with_mark("meetzy:sales-es", day)
    assert marked == "RETURN 2026-11-20 | meetzy:sales-es"
    assert read_mark(marked) == (day, "meetzy:sales-es")
    assert without_mark(marked) == "meetzy:sales-es"
    assert read_mark("RETURN 2026-02-30") == (None, "RETURN 2026-02-30")
    assert len(with_mark("x" * 80, day)) == 64
    assert read_mark(None) == (None, "")
