"""history and undo on the sandbox, and how journal lines fold into changes."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from conftest import Invoke
from meetzy_numbers.operations.history import fold
from meetzy_numbers.store.journal import Journal, JournalEntry

BASE = "https://voice.meetzy.example"
ASSIGNED = "+34911230104"  # sales-es, voice URL and status callback
MARKED = "+34911230126"  # unassigned, marked for return
FREE = "+14155550127"  # unassigned
BILLING = "+14155550101"  # billing-us, which has other numbers
SPARE = "+14155550128"  # unassigned


def ok(result: Any) -> Any:
    assert result.exit_code == 0, result.stderr
    return result


def live(sandbox: Invoke, number: str) -> dict[str, Any]:
    row: dict[str, Any] = json.loads(
        ok(sandbox("show", number, "--refresh", "-o", "json")).stdout
    )[0]
    return row


def changes(sandbox: Invoke, *args: str) -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = json.loads(
        ok(sandbox("history", *args, "-o", "json")).stdout
    )
    return found


def journal(home: Path) -> Journal:
    return Journal(home / "sandbox" / "journal.jsonl")


# history


def test_history_shows_changes_newest_first(sandbox: Invoke) -> None:
    ok(sandbox("assign", FREE, "billing-us"))
    ok(sandbox("reset", MARKED, "--yes"))
    ok(sandbox("return", SPARE, "--yes"))

    found = changes(sandbox)

    assert [(c["action"], c["phone_number"]) for c in found] == [
        ("return", SPARE),
        ("reset", MARKED),
        ("assign", FREE),
    ]
    assert {c["outcome"] for c in found} == {"done"}
    assign = found[2]
    assert assign["before"]["voice_url"] is None
    assert assign["after"]["voice_url"] == f"{BASE}/agents/billing-us/voice"
    assert assign["after"]["friendly_name"] == "meetzy:billing-us"
    assert len(assign["lines"]) == 2 and assign["id"] == assign["lines"][0]
    assert found[0]["after"] is None

    table = ok(sandbox("history")).stdout.splitlines()
    assert table[0].split() == [
        "id", "time", "action", "number", "account", "outcome", "what", "changed"
    ]  # fmt: skip
    assert "released to Twilio" in table[2]
    assert "friendly_name: RETURN 2026-11-20 | meetzy:sales-es → " in table[3]
    voice = "https://voice.meetzy.example/agents/billing-us/voice"
    assert f"voice_url: - → {voice}" in table[4]


def test_history_filters_by_number_action_and_limit(sandbox: Invoke) -> None:
    ok(sandbox("assign", FREE, "billing-us"))
    ok(sandbox("reset", MARKED, "--yes"))
    ok(sandbox("reset", FREE, "--yes"))

    assert [c["action"] for c in changes(sandbox, "+1 (415) 555-0127")] == [
        "reset",
        "assign",
    ]
    by_action = changes(sandbox, "--action", "reset")
    assert [c["phone_number"] for c in by_action] == [FREE, MARKED]
    assert len(changes(sandbox, "--limit", "1")) == 1
    assert changes(sandbox, "+14155550199") == []


def test_history_as_csv(sandbox: Invoke) -> None:
    ok(sandbox("assign", FREE, "billing-us"))

    lines = ok(sandbox("history", "-o", "csv")).stdout.splitlines()

    assert lines[0].startswith("id,when,time,action,phone_number")
    assert ",assign,+14155550127," in lines[1]


def test_history_of_a_bad_number_exits_2(sandbox: Invoke) -> None:
    result = sandbox("history", "nonsense")

    assert result.exit_code == 2
    assert "cannot read 'nonsense' as a phone number" in result.stderr


# folding journal lines


def _line(
    id: str, status: str, *, ref: str | None = None, sid: str = "PN1", **more: Any
) -> JournalEntry:
    return JournalEntry(
        id=id,
        time=datetime(2026, 12, 3, tzinfo=UTC),
        action=more.pop("action", "assign"),
        status=status,
        account_sid="AC1",
        number_sid=sid,
        phone_number="+1",
        before=more.pop("before", None),
        after=more.pop("after", None),
        detail=more.pop("detail", None),
        run=more.pop("run", "r1"),
        ref=ref,
    )


def test_fold_joins_lines_by_ref() -> None:
    lines = [
        _line("4", "failed", ref="3", detail="Twilio said no"),
        _line("3", "started"),
        _line("2", "started", sid="PN2"),
        _line("1b", "done", ref="1", after={"voice_url": "x"}),
        _line("1", "started"),
    ]

    folded = {change.id: change for change in fold(lines)}

    assert list(folded) == ["3", "2", "1"]
    assert (folded["1"].outcome, folded["1"].after) == ("done", {"voice_url": "x"})
    assert folded["1"].lines == ["1", "1b"]
    assert folded["2"].outcome == "unfinished"
    assert (folded["3"].outcome, folded["3"].detail) == ("failed", "Twilio said no")


def test_fold_keeps_each_number_of_a_swap_apart() -> None:
    lines = [
        _line("3", "done", ref="1", action="swap", after={"a": "old"}),
        _line("2", "done", ref="1", sid="PN2", action="swap", after={"a": "new"}),
        _line("1", "started", action="swap"),
    ]

    folded = {change.id: change for change in fold(lines)}

    assert (folded["1"].number_sid, folded["1"].after) == ("PN1", {"a": "old"})
    assert (folded["2"].number_sid, folded["2"].after) == ("PN2", {"a": "new"})


# undo


def _only(sandbox: Invoke, action: str) -> str:
    [change] = changes(sandbox, "--action", action)
    return str(change["id"])


def test_undo_of_a_reset_gives_the_routing_back(sandbox: Invoke) -> None:
    was = live(sandbox, ASSIGNED)
    ok(sandbox("reset", ASSIGNED, "--yes"))
    assert live(sandbox, ASSIGNED)["state"] == "unassigned"
    reset_id = _only(sandbox, "reset")

    result = sandbox("undo", reset_id, "--yes")

    assert result.exit_code == 0, result.stderr
    assert f"restored {ASSIGNED} as before {reset_id}" in result.stderr
    now = live(sandbox, ASSIGNED)
    assert (now["state"], now["agent"]) == ("assigned", "sales-es")
    assert now["routing"] == was["routing"]
    assert now["friendly_name"] == was["friendly_name"]
    [undo] = changes(sandbox, "--action", "undo")
    assert undo["detail"] == f"undo of {reset_id}"
    assert undo["phone_number"] == ASSIGNED
    # The cache saw it too: a cached list shows the agent again.
    listed = json.loads(ok(sandbox("list", "-s", "Meetzy Spain", "-o", "json")).stdout)
    assert {r["phone_number"]: r["state"] for r in listed}[ASSIGNED] == "assigned"


def test_undo_of_a_reset_restores_the_return_mark(sandbox: Invoke) -> None:
    ok(sandbox("reset", MARKED, "--yes"))

    ok(sandbox("undo", _only(sandbox, "reset"), "--yes"))

    assert live(sandbox, MARKED)["marked_for_return"] == "2026-11-20"


def test_undo_of_an_assign(sandbox: Invoke) -> None:
    was = live(sandbox, FREE)
    ok(sandbox("assign", FREE, "billing-us"))

    ok(sandbox("undo", _only(sandbox, "assign"), "--yes"))

    now = live(sandbox, FREE)
    assert now["state"] == "unassigned"
    assert now["routing"] == was["routing"]
    assert now["friendly_name"] == was["friendly_name"]


def test_undo_of_a_disconnect(sandbox: Invoke) -> None:
    was = live(sandbox, BILLING)
    ok(sandbox("disconnect", BILLING, "--yes"))
    assert live(sandbox, BILLING)["agent"] is None

    ok(sandbox("undo", _only(sandbox, "disconnect"), "--yes"))

    now = live(sandbox, BILLING)
    assert (now["state"], now["agent"]) == ("assigned", "billing-us")
    assert now["routing"] == was["routing"]
    assert now["friendly_name"] == "meetzy:billing-us"


def test_undo_refuses_when_the_number_changed_since(sandbox: Invoke) -> None:
    ok(sandbox("reset", ASSIGNED, "--yes"))
    reset_id = _only(sandbox, "reset")
    ok(sandbox("assign", ASSIGNED, "billing-us"))
    before = live(sandbox, ASSIGNED)

    result = sandbox("undo", reset_id, "--yes")

    assert result.exit_code == 6
    assert f"{ASSIGNED} has changed since {reset_id}" in result.stderr
    assert "voice_url, status_callback, friendly_name differ" in result.stderr
    assert "--force" in result.stderr
    assert live(sandbox, ASSIGNED) == before
    assert changes(sandbox, "--action", "undo") == []

    forced = sandbox("undo", reset_id, "--yes", "--force")
    assert forced.exit_code == 0, forced.stderr
    assert live(sandbox, ASSIGNED)["agent"] == "sales-es"


def test_undo_twice_is_nothing_to_do(sandbox: Invoke) -> None:
    ok(sandbox("assign", FREE, "billing-us"))
    assign_id = _only(sandbox, "assign")
    ok(sandbox("undo", assign_id, "--yes"))

    result = sandbox("undo", assign_id)  # nothing to change: no question

    assert result.exit_code == 0, result.stderr
    assert f"nothing to do for {FREE}: already as before" in result.stderr
    assert len(changes(sandbox, "--action", "undo")) == 1


def test_undo_without_a_terminal_needs_yes(sandbox: Invoke) -> None:
    ok(sandbox("assign", FREE, "billing-us"))

    result = sandbox("undo", _only(sandbox, "assign"))

    assert result.exit_code == 2
    assert "needs confirmation" in result.stderr
    assert live(sandbox, FREE)["agent"] == "billing-us"


def test_undo_of_a_return_is_refused(sandbox: Invoke) -> None:
    ok(sandbox("return", SPARE, "--yes"))

    result = sandbox("undo", _only(sandbox, "return"), "--yes")

    assert result.exit_code == 6
    assert (
        "a returned number is released to Twilio and cannot be brought back "
        "by the tool" in result.stderr
    )


def test_undo_of_an_unknown_id_exits_5(sandbox: Invoke) -> None:
    result = sandbox("undo", "20991231-235959-ffff", "--yes")

    assert result.exit_code == 5
    assert "no journal entry '20991231-235959-ffff'" in result.stderr


@pytest.mark.parametrize(
    ("closing", "message"),
    [("failed", "failed, so it changed nothing"), (None, "never finished")],
)
def test_undo_of_a_failed_or_unfinished_change_is_refused(
    sandbox: Invoke, isolated_home: Path, closing: str | None, message: str
) -> None:
    number = live(sandbox, FREE)
    started = journal(isolated_home).append(
        action="assign",
        status="started",
        account_sid=number["account_sid"],
        number_sid=number["sid"],
        phone_number=FREE,
        before={"voice_url": None},
        after={"voice_url": f"{BASE}/agents/billing-us/voice"},
        run="r1",
    )
    if closing:
        journal(isolated_home).append(
            action="assign",
            status=closing,
            account_sid=number["account_sid"],
            number_sid=number["sid"],
            phone_number=FREE,
            detail="Twilio refused",
            run="r1",
            ref=started.id,
        )

    result = sandbox("undo", started.id, "--yes")

    assert result.exit_code == 6
    assert message in result.stderr
    assert changes(sandbox)[0]["outcome"] == (closing or "unfinished")


def test_undo_of_a_swap_restores_both_numbers(
    sandbox: Invoke, isolated_home: Path
) -> None:
    """A swap journals one run: the new number routed, the old one unlinked."""
    old_was, new_was = live(sandbox, BILLING), live(sandbox, FREE)
    ok(sandbox("assign", FREE, "billing-us"))
    ok(sandbox("disconnect", BILLING, "--yes"))
    step1, step2 = changes(sandbox, "--action", "assign")[0], _change(sandbox, BILLING)
    log = journal(isolated_home)
    started = log.append(
        action="swap",
        status="started",
        account_sid=old_was["account_sid"],
        number_sid=old_was["sid"],
        phone_number=BILLING,
        before=step2["before"],
        run="swap1",
    )
    for step, number in ((step1, new_was), (step2, old_was)):
        log.append(
            action="swap",
            status="done",
            account_sid=number["account_sid"],
            number_sid=number["sid"],
            phone_number=number["phone_number"],
            before=step["before"],
            after=step["after"],
            run="swap1",
            ref=started.id,
        )

    result = sandbox("undo", started.id, "--yes")

    assert result.exit_code == 0, result.stderr
    # The old number gets its agent back before the new one lets it go.
    assert result.stderr.index(f"restored {BILLING}") < result.stderr.index(
        f"restored {FREE}"
    )
    old_now, new_now = live(sandbox, BILLING), live(sandbox, FREE)
    assert (old_now["routing"], old_now["agent"]) == (old_was["routing"], "billing-us")
    assert (new_now["routing"], new_now["state"]) == (new_was["routing"], "unassigned")
    assert len(changes(sandbox, "--action", "undo")) == 2


def _change(sandbox: Invoke, number: str) -> dict[str, Any]:
    change: dict[str, Any] = changes(sandbox, number)[0]
    return change
