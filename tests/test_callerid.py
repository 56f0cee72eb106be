"""callerid verify, list and remove on the sandbox, and how validations are judged."""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from conftest import Invoke
from meetzy_numbers.operations import callerid, validations
from meetzy_numbers.store.pending import PendingStore, PendingValidation

SEEDED = "+16505550141"  # a verified caller ID of the main account
FRESH = "+16505550199"  # the sandbox verifies it at once
FAILING = "+16505550113"  # ends in 13: nobody answers the validation call
TWILIO_NUMBER = "+14155550127"  # an unassigned Twilio number of the main account


def rows(result: Any) -> list[dict[str, Any]]:
    assert result.exit_code == 0, result.stderr
    found: list[dict[str, Any]] = json.loads(result.stdout)
    return found


def caller_ids(sandbox: Invoke, *args: str) -> dict[str, dict[str, Any]]:
    """`callerid list -A -o json` by phone number."""
    return {
        r["phone_number"]: r for r in rows(sandbox("callerid", "list", "-A", *args))
    }


def listed(sandbox: Invoke) -> dict[str, dict[str, Any]]:
    """`list -A --type caller-id -o json` by phone number."""
    result = sandbox("list", "-A", "--type", "caller-id", "-o", "json")
    return {r["phone_number"]: r for r in rows(result)}


def pending_file(home: Path) -> list[PendingValidation]:
    return PendingStore(home / "sandbox" / "callerid-pending.json").load()


def edit_twilio(home: Path, change: Callable[[dict[str, Any]], None]) -> None:
    """Change what the sandbox's Twilio holds, between two commands."""
    path = home / "sandbox" / "twilio.json"
    document = json.loads(path.read_text())
    change(document)
    path.write_text(json.dumps(document))


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> Callable[[timedelta], None]:
    """Move the caller-ID operations' clock forward from the real now."""
    start = datetime.now(UTC)

    def move(by: timedelta) -> None:
        monkeypatch.setattr(callerid, "clock", lambda: start + by)

    return move


# verify


def test_verify_prints_the_code_then_the_number_shows_verified(
    sandbox: Invoke, isolated_home: Path
) -> None:
    result = sandbox("callerid", "verify", "+1 (650) 555-0199", "--agent", "billing-us")

    assert result.exit_code == 0, result.stderr
    assert re.fullmatch(r"Validation code: \d{6}\n", result.stdout)
    assert f"Twilio is calling {FRESH} now" in result.stderr

    found = caller_ids(sandbox, "-o", "json")[FRESH]
    assert found["verification"] == "verified"
    assert found["badge"] == "🔒 verified"
    assert found["agent"] == "billing-us"
    assert found["friendly_name"] == "meetzy:billing-us"
    assert pending_file(isolated_home) == []

    in_list = listed(sandbox)[FRESH]
    assert in_list["verification"] == "verified"
    assert in_list["agent"] == "billing-us"


def test_verify_with_a_delay_says_when_and_quotes_the_account(
    sandbox: Invoke,
) -> None:
    result = sandbox(
        "callerid", "verify", FRESH, "--call-delay", "60", "-s", "Meetzy Spain"
    )

    assert result.exit_code == 0, result.stderr
    assert f"Twilio will call {FRESH} in 60 s:" in result.stderr
    assert "calling" not in result.stderr and " now" not in result.stderr
    assert (
        "Then check with: meetzy-numbers callerid list -s 'Meetzy Spain'\n"
        in result.stderr
    )


def test_verify_json_gives_the_code_and_call(sandbox: Invoke) -> None:
    result = sandbox("callerid", "verify", FRESH, "-o", "json")

    assert result.exit_code == 0, result.stderr
    data = json.loads(result.stdout)
    assert data["phone_number"] == FRESH
    assert data["status"] == "pending"
    assert data["account_sid"].startswith("AC")
    assert data["call_sid"].startswith("CA")
    assert re.fullmatch(r"\d{6}", data["validation_code"])


def test_a_failing_validation_shows_pending_then_disabled(
    sandbox: Invoke, isolated_home: Path
) -> None:
    assert sandbox("callerid", "verify", FAILING).exit_code == 0
    [entry] = pending_file(isolated_home)
    assert (entry.phone_number, entry.status) == (FAILING, "pending")
    assert listed(sandbox)[FAILING]["verification"] == "pending"

    found = caller_ids(sandbox, "-o", "json")[FAILING]

    assert found["verification"] == "disabled"
    assert found["reason"] == "validation call no-answer"
    assert found["validation_call_sid"] == entry.call_sid
    assert listed(sandbox)[FAILING]["verification"] == "disabled"
    table = sandbox("callerid", "list", "-A")
    assert "🔒 disabled  +16505550113" in table.stdout


def test_a_completed_call_without_a_caller_id_waits_ten_minutes(
    sandbox: Invoke, isolated_home: Path, clock: Callable[[timedelta], None]
) -> None:
    clock(timedelta(0))
    assert sandbox("callerid", "verify", FRESH).exit_code == 0
    # The call completed but the code never came: no caller ID in Twilio.
    edit_twilio(isolated_home, lambda doc: _drop_caller_id(doc, FRESH))

    assert caller_ids(sandbox, "-o", "json")[FRESH]["verification"] == "pending"
    clock(timedelta(minutes=11))
    found = caller_ids(sandbox, "-o", "json")[FRESH]

    assert found["verification"] == "disabled"
    assert found["reason"] == "validation call ended without the code"


def test_a_validation_older_than_a_day_expires(
    sandbox: Invoke, isolated_home: Path, clock: Callable[[timedelta], None]
) -> None:
    clock(timedelta(0))
    assert sandbox("callerid", "verify", FAILING).exit_code == 0
    [entry] = pending_file(isolated_home)
    edit_twilio(isolated_home, lambda doc: _set_call(doc, entry.call_sid, "ringing"))

    assert caller_ids(sandbox, "-o", "json")[FAILING]["verification"] == "pending"
    clock(timedelta(hours=25))
    found = caller_ids(sandbox, "-o", "json")[FAILING]

    assert found["verification"] == "disabled"
    assert found["reason"] == "expired: not verified within 24 hours"


def _drop_caller_id(document: dict[str, Any], number: str) -> None:
    for bucket in document["caller_ids"].values():
        for sid, record in list(bucket.items()):
            if record["phone_number"] == number:
                del bucket[sid]


def _set_call(document: dict[str, Any], call_sid: str, status: str) -> None:
    for bucket in document["calls"].values():
        if call_sid in bucket:
            bucket[call_sid]["status"] = status


def test_verifying_a_verified_number_again_is_success(
    sandbox: Invoke, sandbox_state: Any
) -> None:
    result = sandbox("callerid", "verify", SEEDED, "--agent", "billing-us")

    assert result.exit_code == 0, result.stderr
    assert result.stdout == ""
    assert f"{SEEDED} is already verified in Meetzy" in result.stderr
    assert "linked it to billing-us" in result.stderr
    names = [
        record["friendly_name"]
        for bucket in sandbox_state()["caller_ids"].values()
        for record in bucket.values()
        if record["phone_number"] == SEEDED
    ]
    assert names == ["meetzy:billing-us"]
    again = sandbox("callerid", "verify", SEEDED)
    assert again.exit_code == 0
    assert "already verified" in again.stderr
    assert "nothing to do" in again.stderr


def test_verifying_a_twilio_number_is_refused(sandbox: Invoke) -> None:
    result = sandbox("callerid", "verify", TWILIO_NUMBER)

    assert result.exit_code == 6
    assert "is a Twilio number of Meetzy" in result.stderr
    assert "needs no verification" in result.stderr


@pytest.mark.parametrize(
    ("args", "code", "message"),
    [
        (["12"], 2, "cannot read '12' as a phone number"),
        ([FRESH, "--call-delay", "61"], 2, "--call-delay"),
        ([FRESH, "--extension", "12a"], 2, "may hold only digits"),
        ([FRESH, "--agent", "nobody"], 5, "no agent 'nobody' in the config"),
        (["+447400123999", "-s", "Meetzy UK"], 4, "has no credentials of its own"),
    ],
)
def test_verify_rejects_bad_input(
    sandbox: Invoke, isolated_home: Path, args: list[str], code: int, message: str
) -> None:
    result = sandbox("callerid", "verify", *args)

    assert result.exit_code == code
    assert message in result.stderr
    assert pending_file(isolated_home) == []


# remove


def test_remove_without_a_terminal_needs_yes(
    sandbox: Invoke, sandbox_state: Any
) -> None:
    result = sandbox("callerid", "remove", SEEDED)

    assert result.exit_code == 2
    assert "needs confirmation" in result.stderr
    assert SEEDED in _twilio_caller_ids(sandbox_state())


def test_remove_deletes_the_caller_id_and_journals_it(
    sandbox: Invoke, sandbox_state: Any
) -> None:
    assert SEEDED in caller_ids(sandbox, "-o", "json")  # fills the cache

    result = sandbox("callerid", "remove", "+1 650 555 0141", "--yes")

    assert result.exit_code == 0, result.stderr
    assert f"removed the caller ID {SEEDED} from Meetzy" in result.stderr
    assert SEEDED not in _twilio_caller_ids(sandbox_state())
    assert SEEDED not in listed(sandbox)
    history = rows(sandbox("history", "--action", "callerid-remove", "-o", "json"))
    assert [(h["phone_number"], h["outcome"]) for h in history] == [(SEEDED, "done")]


def test_remove_of_a_pending_validation_forgets_it(
    sandbox: Invoke, isolated_home: Path
) -> None:
    assert sandbox("callerid", "verify", FAILING).exit_code == 0

    result = sandbox("callerid", "remove", FAILING, "--yes")

    assert result.exit_code == 0, result.stderr
    assert "removed the pending validation +16505550113" in result.stderr
    assert pending_file(isolated_home) == []
    assert FAILING not in caller_ids(sandbox, "-o", "json")


def test_remove_of_an_unknown_number_exits_5(sandbox: Invoke) -> None:
    result = sandbox("callerid", "remove", "+16505550100", "--yes")

    assert result.exit_code == 5
    assert "+16505550100 is not a caller ID in any account" in result.stderr


def test_remove_of_a_bad_number_exits_2(sandbox: Invoke) -> None:
    result = sandbox("callerid", "remove", "not a number", "--yes")

    assert result.exit_code == 2
    assert "cannot read 'not a number' as a phone number" in result.stderr


def _twilio_caller_ids(document: dict[str, Any]) -> set[str]:
    return {
        record["phone_number"]
        for bucket in document["caller_ids"].values()
        for record in bucket.values()
    }


# judging a validation


NOW = datetime(2026, 12, 3, 12, 0, tzinfo=UTC)


def _entry(started: datetime = NOW) -> PendingValidation:
    return PendingValidation(FRESH, "AC1", "CA1", started_at=started)


@pytest.mark.parametrize(
    ("call", "now", "status", "reason"),
    [
        (None, NOW, "pending", None),
        ({"status": "ringing"}, NOW, "pending", None),
        ({"status": "busy"}, NOW, "disabled", "validation call busy"),
        ({"status": "canceled"}, NOW, "disabled", "validation call canceled"),
        (
            {"status": "completed", "end_time": NOW.isoformat()},
            NOW + timedelta(minutes=9),
            "pending",
            None,
        ),
        (
            {"status": "completed", "end_time": NOW.isoformat()},
            NOW + timedelta(minutes=11),
            "disabled",
            "validation call ended without the code",
        ),
        (
            {"status": "in-progress"},
            NOW + timedelta(hours=24, seconds=1),
            "disabled",
            "expired: not verified within 24 hours",
        ),
    ],
)
def test_judge(
    call: dict[str, Any] | None, now: datetime, status: str, reason: str | None
) -> None:
    judged = validations.judge(_entry(), call, now)

    assert (judged.status, judged.reason) == (status, reason)


def test_a_disabled_validation_stays_disabled() -> None:
    disabled = _entry().disabled("validation call failed")

    assert validations.judge(disabled, {"status": "completed"}, NOW) == disabled


def test_the_pending_file_survives_garbage(tmp_path: Path) -> None:
    path = tmp_path / "pending.json"
    path.write_text("{not json")
    store = PendingStore(path)

    assert store.load() == []
    store.put(_entry())
    store.put(_entry(NOW + timedelta(minutes=1)))  # replaces, same number
    assert store.load() == [_entry(NOW + timedelta(minutes=1))]
    assert store.drop("AC1", FRESH) == _entry(NOW + timedelta(minutes=1))
    assert store.load() == []
