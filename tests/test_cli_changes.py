"""assign, disconnect, reset and return on the sandbox, with their safety rules."""

from __future__ import annotations

import json
from datetime import date
from typing import Any

from conftest import Invoke

BASE = "https://voice.meetzy.example"


def live(sandbox: Invoke, number: str) -> dict[str, Any]:
    """The number as the sandbox's Twilio has it now."""
    result = sandbox("show", number, "--refresh", "-o", "json")
    assert result.exit_code == 0, result.stderr
    row: dict[str, Any] = json.loads(result.stdout)[0]
    return row


def journal(sandbox: Invoke) -> list[dict[str, Any]]:
    from meetzy_numbers.paths import default_paths
    from meetzy_numbers.store.journal import Journal

    path = default_paths().sandboxed().journal_file
    return [vars(entry) for entry in Journal(path).entries()]


def test_assign_an_unassigned_number(sandbox: Invoke) -> None:
    result = sandbox("assign", "+1 415 555 0127", "billing-us")

    assert result.exit_code == 0, result.stderr
    assert result.stderr == "assigned +14155550127 to billing-us\n"
    row = live(sandbox, "+14155550127")
    assert row["state"] == "assigned"
    assert row["agent"] == "billing-us"
    assert row["friendly_name"] == "meetzy:billing-us"
    assert row["routing"]["voice_url"] == f"{BASE}/agents/billing-us/voice"
    assert row["routing"]["status_callback"] == f"{BASE}/agents/billing-us/status"

    entries = journal(sandbox)
    assert [e["status"] for e in entries[:2]] == ["done", "started"]
    assert entries[0]["before"]["voice_url"] is None
    assert entries[0]["after"]["voice_url"] == f"{BASE}/agents/billing-us/voice"


def test_assign_to_the_same_agent_is_nothing_to_do(sandbox: Invoke) -> None:
    result = sandbox("assign", "+14155550101", "billing-us")

    assert result.exit_code == 0
    assert (
        "nothing to do for +14155550101: already assigned to billing-us"
        in result.stderr
    )


def test_assign_a_partial_number_needs_force(sandbox: Invoke) -> None:
    result = sandbox("assign", "+13055550122", "billing-us")
    assert result.exit_code == 6
    assert "is partial (routed by voice application AP" in result.stderr
    assert "pass --force" in result.stderr
    assert live(sandbox, "+13055550122")["state"] == "partial"

    forced = sandbox("assign", "+13055550122", "billing-us", "--force")
    assert forced.exit_code == 0, forced.stderr
    row = live(sandbox, "+13055550122")
    assert row["state"] == "assigned"
    assert row["routing"]["voice_application_sid"] is None


def test_assign_a_number_of_another_agent_needs_force(sandbox: Invoke) -> None:
    result = sandbox("assign", "+14155550101", "sales-es")

    assert result.exit_code == 6
    assert "is assigned to billing-us; pass --force to move it" in result.stderr


def test_assign_to_an_unknown_agent_exits_5(sandbox: Invoke) -> None:
    result = sandbox("assign", "+14155550127", "nobody")

    assert result.exit_code == 5
    assert result.stderr.startswith("error: no agent 'nobody' in the config (known: ")
    assert "agents add nobody" in result.stderr


def test_assign_needs_a_number_and_an_agent(sandbox: Invoke) -> None:
    result = sandbox("assign", "sales-es")

    assert result.exit_code == 2
    assert "give a number and an agent" in result.stderr


def test_managing_a_subaccount_without_credentials_exits_4(sandbox: Invoke) -> None:
    result = sandbox("assign", "+442079460138", "onboarding-uk")

    assert result.exit_code == 4
    assert "subaccount Meetzy UK (AC" in result.stderr
    assert "has no credentials of its own" in result.stderr
    assert "meetzy-numbers creds set AC" in result.stderr
    assert live(sandbox, "+442079460138")["state"] == "unassigned"


def test_disconnect_refuses_an_agents_last_number(sandbox: Invoke) -> None:
    result = sandbox("disconnect", "+576011230111", "--yes")

    assert result.exit_code == 6
    assert "is the last number of agent collections-co" in result.stderr
    assert live(sandbox, "+576011230111")["state"] == "assigned"

    forced = sandbox("disconnect", "+576011230111", "--yes", "--force")
    assert forced.exit_code == 0, forced.stderr
    assert live(sandbox, "+576011230111")["state"] == "unassigned"


def test_disconnect_without_a_terminal_needs_yes(sandbox: Invoke) -> None:
    result = sandbox("disconnect", "+34911230104")

    assert result.exit_code == 2
    assert "needs confirmation, and there is no terminal to ask on" in result.stderr
    assert "pass --yes" in result.stderr
    assert live(sandbox, "+34911230104")["state"] == "assigned"


def test_disconnect_unlinks_the_agent(sandbox: Invoke) -> None:
    result = sandbox("disconnect", "+34911230104", "--yes")

    assert result.exit_code == 0, result.stderr
    row = live(sandbox, "+34911230104")
    assert row["state"] == "unassigned"
    assert row["friendly_name"] == "911 23 01 04"


def test_reset_without_a_terminal_changes_nothing(sandbox: Invoke) -> None:
    before = live(sandbox, "+14155550120")

    result = sandbox("reset", "+14155550120")

    assert result.exit_code == 2
    assert result.stderr.startswith(
        "error: Reset +14155550120 in Meetzy: needs confirmation"
    )
    assert live(sandbox, "+14155550120") == before


def test_reset_clears_routing_and_the_mark(sandbox: Invoke) -> None:
    result = sandbox("reset", "+14155550120", "+34911230126", "--yes")

    assert result.exit_code == 0, result.stderr
    assert "reset: 2 done, 0 skipped, 0 failed" in result.stderr
    for number in ("+14155550120", "+34911230126"):
        row = live(sandbox, number)
        assert row["state"] == "unassigned"
        assert row["marked_for_return"] is None
        assert all(value in (None, "POST", "GET") for value in row["routing"].values())


def test_reset_reads_numbers_from_stdin(sandbox: Invoke) -> None:
    result = sandbox(
        "reset",
        "-",
        "--yes",
        "-o",
        "json",
        input="+14155550120\n# comment\n+1 212 555 0121\n",
    )

    assert result.exit_code == 0, result.stderr
    outcomes = {r["phone_number"]: r["outcome"] for r in json.loads(result.stdout)}
    assert outcomes == {"+14155550120": "done", "+12125550121": "done"}


def test_reset_dry_run_changes_nothing(sandbox: Invoke) -> None:
    result = sandbox("reset", "+14155550101", "--dry-run")

    assert result.exit_code == 0, result.stderr
    assert (
        "voice_url: https://voice.meetzy.example/agents/billing-us/voice -> -"
        in result.stdout
    )
    assert "dry run: 1 number, nothing changed" in result.stderr
    assert live(sandbox, "+14155550101")["state"] == "assigned"


def test_reset_marked_selector(sandbox: Invoke) -> None:
    result = sandbox("reset", "--marked", "--yes", "-o", "json")

    assert result.exit_code == 0, result.stderr
    assert [r["phone_number"] for r in json.loads(result.stdout)] == ["+34911230126"]


def test_reset_with_a_typo_changes_nothing(sandbox: Invoke) -> None:
    result = sandbox("reset", "+14155550120", "+1 415 55", "--yes")

    assert result.exit_code == 2
    assert (
        "cannot read '+1 415 55' as phone numbers; nothing was changed" in result.stderr
    )
    assert live(sandbox, "+14155550120")["state"] == "partial"


def test_reset_of_a_missing_number_among_others_exits_3(sandbox: Invoke) -> None:
    result = sandbox("reset", "+14155550120", "+14155559999", "--yes")

    assert result.exit_code == 3
    assert "error: +14155559999: not in any account" in result.stderr
    assert live(sandbox, "+14155550120")["state"] == "unassigned"


def test_reset_needs_a_number_or_selector(sandbox: Invoke) -> None:
    result = sandbox("reset", "--yes")

    assert result.exit_code == 2
    assert "name at least one number, or use a selector" in result.stderr


def test_bad_older_than_exits_2(sandbox: Invoke) -> None:
    result = sandbox("return", "--marked", "--older-than", "soon", "--yes")

    assert result.exit_code == 2
    assert "cannot read 'soon' as an age; write it like 7d, 2w or 36h" in result.stderr


def test_return_of_an_assigned_number_is_refused(sandbox: Invoke) -> None:
    result = sandbox("return", "+14155550101", "--yes")

    assert result.exit_code == 6
    assert (
        "is assigned to billing-us; returning it would cut the agent off"
        in result.stderr
    )
    assert live(sandbox, "+14155550101")["state"] == "assigned"


def test_return_without_a_terminal_changes_nothing(sandbox: Invoke) -> None:
    result = sandbox("return", "+14155550127")

    assert result.exit_code == 2
    assert live(sandbox, "+14155550127")["state"] == "unassigned"


def test_return_releases_the_number(sandbox: Invoke, sandbox_state: Any) -> None:
    result = sandbox("return", "+14155550127", "--yes")

    assert result.exit_code == 0, result.stderr
    assert result.stderr == "returned +14155550127\n"
    gone = sandbox("show", "+14155550127", "--refresh")
    assert gone.exit_code == 5
    assert "+14155550127" not in json.dumps(sandbox_state())
    assert journal(sandbox)[0]["action"] == "return"


def test_return_marked_older_than(sandbox: Invoke) -> None:
    age = (date.today() - date(2026, 11, 20)).days
    younger = sandbox("return", "--marked", "--older-than", f"{age + 1}d", "--yes")
    assert younger.exit_code == 0
    assert live(sandbox, "+34911230126")["marked_for_return"] == "2026-11-20"

    result = sandbox("return", "--marked", "--older-than", "1d", "--yes")
    assert result.exit_code == 0, result.stderr
    assert result.stderr == "returned +34911230126\n"
    again = sandbox("return", "+34911230126", "--yes")
    assert again.exit_code == 0
    assert "not in any account" in again.stderr or "already gone" in again.stderr


def test_changing_a_caller_id_is_refused(sandbox: Invoke) -> None:
    for command in (
        ["reset", "+16505550141", "--yes"],
        ["assign", "+16505550141", "sales-es"],
    ):
        result = sandbox(*command)
        assert result.exit_code == 6, result.stderr
        assert "is a caller ID, not a Twilio number" in result.stderr
