"""list, show and subaccounts on the sandbox: exit codes, streams, messages."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

from conftest import Invoke
from meetzy_numbers.sandbox import SEED

RECORD_KEYS = {
    "sid",
    "phone_number",
    "type",
    "state",
    "reason",
    "agent",
    "account_sid",
    "account_name",
    "marked_for_return",
}
UK_SID = next(sid for sid, name, _, _ in SEED.accounts if name == "Meetzy UK")


def test_list_all_accounts_as_json(sandbox: Invoke) -> None:
    result = sandbox("list", "-A", "-o", "json")

    assert result.exit_code == 0, result.stderr
    rows = json.loads(result.stdout)
    assert set(rows[0]) >= RECORD_KEYS
    twilio = [r for r in rows if r["type"] == "twilio"]
    assert {r["state"] for r in twilio} == {"assigned", "partial", "unassigned"}
    assert len({r["account_sid"] for r in rows}) >= 3
    assert len(twilio) == len(SEED.numbers)
    assert all(r["phone_number"].startswith("+") for r in rows)
    partial = [r for r in twilio if r["state"] == "partial"]
    assert all(r["reason"] for r in partial)
    assert all(r["reason"] is None for r in twilio if r["state"] != "partial")
    marked = [r for r in twilio if r["marked_for_return"]]
    assert [r["phone_number"] for r in marked] == ["+34911230126"]
    assert marked[0]["marked_for_return"] == "2026-11-20"
    caller_ids = [r for r in rows if r["type"] == "caller-id"]
    assert caller_ids and all(r["verification"] == "verified" for r in caller_ids)


def test_list_table_in_a_pipe_keeps_everything_whole(sandbox: Invoke) -> None:
    result = sandbox("list", "-A")

    assert result.exit_code == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines[0].split() == [
        "state", "number", "national", "agent", "account", "why", "/", "notes", "sid"
    ]  # fmt: skip
    assert "🟢 assigned" in result.stdout
    assert "🟡 partial" in result.stdout
    assert "⚪ unassigned" in result.stdout
    assert "🔒 verified" in result.stdout
    for number in SEED.numbers:
        assert number.sid in result.stdout
    assert "https://ivr.acme-legacy.example/voice" in result.stdout
    assert "\x1b[" not in result.stdout
    footer = lines[-1]
    assert footer.startswith(
        f"{len(SEED.numbers)} numbers in 4 accounts: 🟢 16 assigned"
    )
    assert result.stderr == ""


def test_list_defaults_to_the_main_account(sandbox: Invoke) -> None:
    rows = json.loads(sandbox("list", "-o", "json").stdout)
    assert {r["account_name"] for r in rows} == {"Meetzy"}


def test_list_filters(sandbox: Invoke) -> None:
    def numbers(*args: str) -> list[dict[str, str]]:
        result = sandbox("list", "-A", "-o", "json", *args)
        assert result.exit_code == 0, result.stderr
        rows: list[dict[str, str]] = json.loads(result.stdout)
        return rows

    assert {r["state"] for r in numbers("--state", "partial")} == {"partial"}
    assert {r["type"] for r in numbers("--type", "caller-id")} == {"caller-id"}
    assert {r["agent"] for r in numbers("--agent", "sales-es")} == {"sales-es"}
    assert {r["phone_number"][:3] for r in numbers("--country", "ES")} == {"+34"}
    assert {r["phone_number"][:3] for r in numbers("--country", "+44")} == {"+44"}


def test_list_csv(sandbox: Invoke) -> None:
    result = sandbox("list", "-A", "-o", "csv")

    assert result.exit_code == 0
    rows = list(csv.DictReader(io.StringIO(result.stdout)))
    assert set(rows[0]) >= RECORD_KEYS
    assert "routing" not in rows[0]


def test_list_one_account_by_name_alias_or_sid(sandbox: Invoke) -> None:
    by_name = sandbox("list", "-s", "meetzy spain", "-o", "json")
    assert by_name.exit_code == 0, by_name.stderr
    assert {r["account_name"] for r in json.loads(by_name.stdout)} == {"Meetzy Spain"}

    assert sandbox("config", "set", "aliases.uk", UK_SID).exit_code == 0
    by_alias = sandbox("list", "-s", "uk", "-o", "json")
    assert {r["account_sid"] for r in json.loads(by_alias.stdout)} == {UK_SID}

    by_sid = sandbox("list", "-s", UK_SID, "-o", "json")
    assert {r["account_name"] for r in json.loads(by_sid.stdout)} == {"Meetzy UK"}


def test_list_unknown_account_exits_5(sandbox: Invoke) -> None:
    result = sandbox("list", "-s", "Atlantis")

    assert result.exit_code == 5
    assert result.stdout == ""
    assert result.stderr.startswith(
        "error: no account named 'Atlantis'; known accounts:"
    )


def test_list_unsupported_country_exits_2(sandbox: Invoke) -> None:
    result = sandbox("list", "--country", "FR")

    assert result.exit_code == 2
    assert "country 'FR' is not supported" in result.stderr


def test_show_in_any_writing(sandbox: Invoke) -> None:
    for writing in ("+34 911 23 01 04", "+34911230104", "0034 911-230-104"):
        result = sandbox("show", writing, "-o", "json")
        assert result.exit_code == 0, result.stderr
        (row,) = json.loads(result.stdout)
        assert row["phone_number"] == "+34911230104"
        assert row["national_format"] == "911 23 01 04"
        assert row["agent"] == "sales-es"

    sid = json.loads(sandbox("show", "+34911230104", "-o", "json").stdout)[0]["sid"]
    by_sid = sandbox("show", sid)
    assert by_sid.exit_code == 0
    assert "status_callback" in by_sid.stdout
    assert "https://voice.meetzy.example/agents/sales-es/status" in by_sid.stdout


def test_show_partial_says_why(sandbox: Invoke) -> None:
    result = sandbox("show", "+442079460123")

    assert result.exit_code == 0
    assert "🟡 partial" in result.stdout
    assert "routed by trunk TK" in result.stdout


def test_show_unknown_number_exits_5(sandbox: Invoke) -> None:
    result = sandbox("show", "+1 415 555 9999")

    assert result.exit_code == 5
    assert result.stderr == "error: +1 415 555 9999 is not a number in any account\n"


def test_show_unparseable_number_exits_2(sandbox: Invoke) -> None:
    result = sandbox("show", "call me maybe")

    assert result.exit_code == 2
    assert result.stderr.startswith(
        "error: cannot read 'call me maybe' as a phone number"
    )
    assert "Traceback" not in result.output


def test_subaccounts_show_credential_badges(sandbox: Invoke) -> None:
    result = sandbox("subaccounts", "-o", "json")

    assert result.exit_code == 0, result.stderr
    rows = {r["name"]: r for r in json.loads(result.stdout)}
    assert rows["Meetzy"]["role"] == "main"
    assert rows["Meetzy Spain"]["credentials"] == "configured"
    assert rows["Meetzy UK"]["credentials"] == "missing"
    total = sum(r["assigned"] + r["partial"] + r["unassigned"] for r in rows.values())
    assert total == len(SEED.numbers)


def test_a_corrupt_cache_is_rebuilt_with_a_warning(
    sandbox: Invoke, isolated_home: Path
) -> None:
    assert sandbox("list", "-A").exit_code == 0
    cache_file = isolated_home / "sandbox" / "cache" / f"{SEED.main_account_sid}.json"
    cache_file.write_text("{not json")

    result = sandbox("list", "-o", "json")

    assert result.exit_code == 0
    assert "was unreadable and will be rebuilt" in result.stderr
    assert json.loads(result.stdout)
    assert json.loads(cache_file.read_text())["version"] == 1


def test_refresh_sees_changes_made_elsewhere(sandbox: Invoke) -> None:
    assert sandbox("list").exit_code == 0
    # Another machine resets the number: this cache does not know yet.
    assert sandbox("reset", "+14155550101", "--yes").exit_code == 0
    rows = json.loads(sandbox("list", "--refresh", "-o", "json").stdout)
    row = next(r for r in rows if r["phone_number"] == "+14155550101")
    assert row["state"] == "unassigned"
