"""swap on the sandbox: the safe order, resuming a half-done swap, bulk by health."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import date
from pathlib import Path
from typing import Any

import pytest

from conftest import Invoke
from meetzy_numbers.cli import swap as cli_swap
from meetzy_numbers.gateway.http import RetryPolicy
from meetzy_numbers.sandbox import SEED
from meetzy_numbers.store.cache import Cache

State = Callable[[], dict[str, Any]]
Numbers = Callable[..., list[dict[str, Any]]]
SPAIN = next(sid for sid, name, _, _ in SEED.accounts if name == "Meetzy Spain")
SPAM_ES = "+34611230105"  # sales-es, spam in the seed's calls
FREE_ES = "+34611230134"  # unassigned, same account, country and area code
CALLER_ID = "+16505550141"
MARK = f"RETURN {date.today().isoformat()}"


def sid_of(phone: str) -> str:
    return next(n.sid for n in SEED.numbers if n.phone_number == phone)


def record(state: dict[str, Any], phone: str) -> dict[str, Any] | None:
    for bucket in state["numbers"].values():
        for rec in bucket.values():
            if rec["phone_number"] == phone:
                found: dict[str, Any] = rec
                return found
    return None


def journal(home: Path) -> list[dict[str, Any]]:
    path = home / "sandbox" / "journal.jsonl"
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_text().splitlines() if line]


def only(numbers: Numbers, phone: str) -> dict[str, Any]:
    [row] = numbers(phone_number=phone)
    return row


def cache_health(home: Path, account: str, phone: str, status: str) -> None:
    """What `health` leaves in the cache, without computing it."""
    health = {
        "status": status,
        "answer_rate": 0.16,
        "short_share": 0.0,
        "calls": 25,
        "answered": 4,
        "window_days": 7,
        "computed_at": "2026-12-01T00:00:00+00:00",
    }
    cache = Cache(home / "sandbox" / "cache", ttl=3600)
    cache.update_extra(account, "health", {sid_of(phone): health})


@pytest.fixture
def no_backoff(monkeypatch: pytest.MonkeyPatch) -> None:
    """Retries without waiting, so a fault that outlasts them fails fast."""
    monkeypatch.setattr(RetryPolicy, "delay", lambda self, attempt, after: 0.0)


def fail_updates_of(home: Path, phone: str) -> None:
    """Every POST to this number's record times out unanswered, retries too."""
    fault = {
        "method": "POST",
        "path_contains": f"IncomingPhoneNumbers/{sid_of(phone)}",
        "times": 10,
        "apply": False,
    }
    (home / "sandbox" / "faults.json").write_text(json.dumps({"timeouts": [fault]}))


def clear_faults(home: Path) -> None:
    (home / "sandbox" / "faults.json").unlink()


def test_swaps_a_spam_number_and_return_releases_the_old_one(
    sandbox: Invoke, numbers: Numbers, sandbox_state: State, isolated_home: Path
) -> None:
    numbers()  # fills the cache the health goes into
    cache_health(isolated_home, SPAIN, SPAM_ES, "spam")

    result = sandbox(
        "swap", "--health", "spam", "--agent", "sales-es", "--yes", "-o", "json"
    )

    assert result.exit_code == 0, result.stderr
    [row] = json.loads(result.stdout)
    assert row["old"] == SPAM_ES and row["new"] == FREE_ES
    assert row["agent"] == "sales-es" and row["account"] == "Meetzy Spain"
    assert row["outcome"] == "swapped" and row["journal_id"]
    assert "swap: 1 done, 0 failed" in result.stderr
    new = only(numbers, FREE_ES)
    assert (new["state"], new["agent"]) == ("assigned", "sales-es")
    old = only(numbers, SPAM_ES)
    assert old["state"] == "unassigned"
    assert old["marked_for_return"] == date.today().isoformat()
    raw = record(sandbox_state(), SPAM_ES)
    assert raw is not None and raw["friendly_name"].startswith(MARK)

    returned = sandbox("return", "--marked", "--yes")

    assert returned.exit_code == 0, returned.stderr
    assert record(sandbox_state(), SPAM_ES) is None
    assert record(sandbox_state(), FREE_ES) is not None


def test_one_swap_in_json_and_its_journal(
    sandbox: Invoke, numbers: Numbers, isolated_home: Path
) -> None:
    result = sandbox("swap", SPAM_ES, "--yes", "-o", "json")

    assert result.exit_code == 0, result.stderr
    row = json.loads(result.stdout)
    assert {k: row[k] for k in ("old", "new", "agent", "account", "outcome")} == {
        "old": SPAM_ES,
        "new": FREE_ES,
        "agent": "sales-es",
        "account": "Meetzy Spain",
        "outcome": "swapped",
    }
    lines = [e for e in journal(isolated_home) if e["action"] == "swap"]
    assert [e["status"] for e in lines] == ["started", "done", "done"]
    assert len({e["run"] for e in lines}) == 1
    assert f"old={sid_of(SPAM_ES)} new={sid_of(FREE_ES)}" in lines[0]["detail"]
    # The new number is configured before the old one is touched.
    assert [e["number_sid"] for e in lines[1:]] == [sid_of(FREE_ES), sid_of(SPAM_ES)]
    assert row["journal_id"] == lines[-1]["id"]
    assert "agent sales-es now answers on +34611230134" in result.stderr


def test_a_caller_id_is_refused(sandbox: Invoke) -> None:
    result = sandbox("swap", CALLER_ID, "--yes")

    assert result.exit_code == 6
    assert "is a caller ID, not a Twilio number" in result.stderr


def test_an_unassigned_number_has_nothing_to_swap(sandbox: Invoke) -> None:
    result = sandbox("swap", FREE_ES, "--yes")

    assert result.exit_code == 6
    assert "not linked to an agent: nothing to swap" in result.stderr


def test_a_partial_number_needs_force(sandbox: Invoke, numbers: Numbers) -> None:
    partial = "+34911230118"  # voice URL of sales-es, no status callback

    refused = sandbox("swap", partial, "--yes")
    forced = sandbox("swap", partial, "--force", "--yes")

    assert refused.exit_code == 6
    assert "pass --force" in refused.stderr
    assert forced.exit_code == 0, forced.stderr
    assert only(numbers, partial)["state"] == "unassigned"


def test_buy_gets_a_new_number_of_the_same_country_and_type(
    sandbox: Invoke, numbers: Numbers, sandbox_state: State, isolated_home: Path
) -> None:
    old = "+34911230104"  # none for sale in 911: the nearest is in 915

    result = sandbox("swap", old, "--buy", "--any-area", "--yes", "-o", "json")

    assert result.exit_code == 0, result.stderr
    row = json.loads(result.stdout)
    assert row["new"].startswith("+3491") and row["outcome"] == "swapped"
    assert record(sandbox_state(), row["new"]) is not None
    assert row["new"] not in {
        e["phone_number"] for e in sandbox_state()["available"]["ES"]
    }
    new = only(numbers, row["new"])
    assert (new["state"], new["agent"]) == ("assigned", "sales-es")
    assert only(numbers, old)["marked_for_return"] == date.today().isoformat()
    actions = [(e["action"], e["status"]) for e in journal(isolated_home)]
    assert actions[:2] == [("buy", "started"), ("buy", "done")]


def test_buy_in_the_same_area_code_needs_no_more_than_yes(
    sandbox: Invoke, numbers: Numbers
) -> None:
    result = sandbox("swap", "+14155550101", "--buy", "--yes", "-o", "json")

    assert result.exit_code == 0, result.stderr
    row = json.loads(result.stdout)
    assert row["new"].startswith("+1415") and row["outcome"] == "swapped"
    assert only(numbers, row["new"])["agent"] == "billing-us"


@pytest.fixture
def terminal(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The swap command believes it can ask at a terminal; the final "Swap …?"
    is answered yes, and the questions it asked are returned."""
    asked: list[str] = []
    monkeypatch.setattr(cli_swap, "_at_terminal", lambda: True)
    monkeypatch.setattr(
        cli_swap, "confirm", lambda run, question, *, yes: asked.append(question)
    )
    return asked


def test_buying_outside_the_area_code_with_yes_alone_is_refused(
    sandbox: Invoke, sandbox_state: State, isolated_home: Path
) -> None:
    sandbox("subaccounts")
    before = sandbox_state()

    for extra in ((), ("--yes",)):
        result = sandbox("swap", SPAM_ES, "--buy", *extra)

        assert result.exit_code == 6
        assert "no number for sale in area code 611" in result.stderr
        assert "pass --any-area to buy the nearest, +34612" in result.stderr
    assert sandbox_state()["numbers"] == before["numbers"]
    assert sandbox_state()["available"] == before["available"]
    assert journal(isolated_home) == []


def test_any_area_buys_the_nearest_outside_the_area_code(
    sandbox: Invoke, numbers: Numbers
) -> None:
    result = sandbox("swap", SPAM_ES, "--buy", "--any-area", "--yes", "-o", "json")

    assert result.exit_code == 0, result.stderr
    row = json.loads(result.stdout)
    assert row["new"].startswith("+34612") and row["outcome"] == "swapped"
    assert only(numbers, row["new"])["agent"] == "sales-es"


def test_at_a_terminal_buying_outside_the_area_code_is_asked_default_no(
    sandbox: Invoke, sandbox_state: State, terminal: list[str]
) -> None:
    sandbox("subaccounts")
    before = sandbox_state()["numbers"]

    declined = sandbox("swap", SPAM_ES, "--buy", input="\n")

    assert declined.exit_code == 1
    assert "No number for sale in area code 611: buy +34612" in declined.stderr
    assert "[y/N]" in declined.stderr
    assert "nothing changed" in declined.stderr
    assert sandbox_state()["numbers"] == before
    assert terminal == []

    accepted = sandbox("swap", SPAM_ES, "--buy", input="y\n")

    assert accepted.exit_code == 0, accepted.stderr
    assert "agent sales-es now answers on +34612523000" in accepted.stderr
    assert terminal == [
        f"Swap {SPAM_ES} -> +34612523000 (bought now) for agent sales-es?"
    ]

    # --yes agrees to the swap, not to a number from another area code.
    refused = sandbox("swap", "+34911230104", "--buy", "--yes")
    assert refused.exit_code == 6
    assert "area code 911" in refused.stderr


def test_health_swap_refuses_a_purchase_outside_the_area_code_as_one_item(
    sandbox: Invoke, numbers: Numbers, sandbox_state: State, isolated_home: Path
) -> None:
    numbers()
    cache_health(isolated_home, SPAIN, SPAM_ES, "spam")
    cache_health(isolated_home, SEED.main_account_sid, "+14155550101", "spam")
    before = len(sandbox_state()["available"]["ES"])

    result = sandbox("swap", "--health", "spam", "--buy", "--yes", "-o", "json")

    assert result.exit_code == 3
    rows = {r["old"]: r for r in json.loads(result.stdout)}
    assert rows["+14155550101"]["outcome"] == "swapped"
    assert rows[SPAM_ES]["outcome"] == "failed"
    assert "area code 611" in rows[SPAM_ES]["detail"]
    assert "--any-area" in rows[SPAM_ES]["detail"]
    assert "swap: 1 done, 1 failed" in result.stderr
    assert len(sandbox_state()["available"]["ES"]) == before
    assert only(numbers, SPAM_ES)["agent"] == "sales-es"


def test_health_swap_at_a_terminal_asks_per_number_outside_the_area_code(
    sandbox: Invoke, numbers: Numbers, isolated_home: Path, terminal: list[str]
) -> None:
    numbers()
    cache_health(isolated_home, SPAIN, SPAM_ES, "spam")

    result = sandbox("swap", "--health", "spam", "--buy", input="n\n")

    # Every item refused for the same reason: that reason's code, as in bulk.
    assert result.exit_code == 6
    assert "No number for sale in area code 611: buy +34612" in result.stderr
    assert f"{SPAM_ES}: no number for sale in area code 611" in result.stderr
    assert "swap: 0 done, 1 failed" in result.stderr
    assert only(numbers, SPAM_ES)["agent"] == "sales-es"


def test_no_free_number_and_no_terminal_needs_buy(
    sandbox: Invoke, numbers: Numbers, sandbox_state: State
) -> None:
    first = sandbox("swap", "+576011230111", "--yes", "-o", "json")
    assert first.exit_code == 0, first.stderr
    replacement = json.loads(first.stdout)["new"]
    before = sandbox_state()["numbers"]

    result = sandbox("swap", replacement, "--yes")

    assert result.exit_code == 2
    assert "has no free number to replace" in result.stderr
    assert "hint: pass --buy" in result.stderr
    assert sandbox_state()["numbers"] == before


def test_a_failed_second_step_leaves_the_agent_reachable_and_a_rerun_finishes(
    sandbox: Invoke,
    numbers: Numbers,
    isolated_home: Path,
    no_backoff: None,
) -> None:
    numbers()
    fail_updates_of(isolated_home, SPAM_ES)

    failed = sandbox("swap", SPAM_ES, "--yes")

    assert failed.exit_code == 7, failed.stderr
    assert "answers on both +34611230105 and +34611230134" in failed.stderr
    assert only(numbers, SPAM_ES)["agent"] == "sales-es"
    assert only(numbers, SPAM_ES)["state"] == "assigned"
    assert only(numbers, FREE_ES)["agent"] == "sales-es"
    statuses = [e["status"] for e in journal(isolated_home) if e["action"] == "swap"]
    assert statuses == ["started", "done", "failed"]

    clear_faults(isolated_home)
    finished = sandbox("swap", SPAM_ES, "--yes", "-o", "json")

    assert finished.exit_code == 0, finished.stderr
    row = json.loads(finished.stdout)
    assert (row["new"], row["outcome"]) == (FREE_ES, "finished")
    assert "finished the earlier swap" in finished.stderr
    assert only(numbers, SPAM_ES)["marked_for_return"] == date.today().isoformat()
    assert only(numbers, FREE_ES)["agent"] == "sales-es"
    lines = [e for e in journal(isolated_home) if e["action"] == "swap"]
    assert len({e["run"] for e in lines}) == 1
    assert lines[-1]["status"] == "done"


def test_undo_takes_the_agent_off_the_new_number_instead(
    sandbox: Invoke, numbers: Numbers, isolated_home: Path, no_backoff: None
) -> None:
    numbers()
    fail_updates_of(isolated_home, SPAM_ES)
    assert sandbox("swap", SPAM_ES, "--yes").exit_code == 7
    clear_faults(isolated_home)

    result = sandbox("swap", SPAM_ES, "--undo", "--yes")

    assert result.exit_code == 0, result.stderr
    assert "undid the unfinished swap" in result.stderr
    assert only(numbers, FREE_ES)["state"] == "unassigned"
    old = only(numbers, SPAM_ES)
    assert (old["state"], old["agent"], old["marked_for_return"]) == (
        "assigned",
        "sales-es",
        None,
    )
    again = sandbox("swap", SPAM_ES, "--undo", "--yes")
    assert again.exit_code == 6
    assert "no unfinished swap to undo" in again.stderr


def test_a_failed_first_step_changes_nothing_else(
    sandbox: Invoke, numbers: Numbers, isolated_home: Path, no_backoff: None
) -> None:
    numbers()
    fail_updates_of(isolated_home, FREE_ES)

    result = sandbox("swap", SPAM_ES, "--yes")

    assert result.exit_code == 7
    assert "step 1 failed" in result.stderr
    assert "+34611230105 keeps agent sales-es" in result.stderr
    assert only(numbers, SPAM_ES)["state"] == "assigned"
    assert only(numbers, FREE_ES)["state"] == "unassigned"
    statuses = [e["status"] for e in journal(isolated_home) if e["action"] == "swap"]
    assert statuses == ["started", "failed"]


def test_a_dry_run_changes_nothing(
    sandbox: Invoke, sandbox_state: State, isolated_home: Path
) -> None:
    sandbox("subaccounts")
    before = sandbox_state()["numbers"]

    result = sandbox("swap", SPAM_ES, "--buy", "--dry-run")

    assert result.exit_code == 0, result.stderr
    assert SPAM_ES in result.stdout and "buy new" in result.stdout
    assert "dry run: 1 swap planned, nothing changed" in result.stderr
    assert sandbox_state()["numbers"] == before
    assert journal(isolated_home) == []


def test_without_a_terminal_or_yes_nothing_changes(
    sandbox: Invoke, sandbox_state: State
) -> None:
    sandbox("subaccounts")
    before = sandbox_state()["numbers"]

    result = sandbox("swap", SPAM_ES)

    assert result.exit_code == 2
    assert "needs confirmation, and there is no terminal" in result.stderr
    assert sandbox_state()["numbers"] == before


def test_health_swap_needs_cached_health(sandbox: Invoke) -> None:
    result = sandbox("swap", "--health", "spam", "--yes")

    assert result.exit_code == 2
    assert "no phone health is cached" in result.stderr
    assert "meetzy-numbers health" in result.stderr


def test_health_swap_reports_each_failure_and_exits_3(
    sandbox: Invoke, numbers: Numbers, isolated_home: Path
) -> None:
    numbers()
    latam = next(sid for sid, name, _, _ in SEED.accounts if name == "Meetzy LatAm")
    cache_health(isolated_home, SPAIN, SPAM_ES, "spam")
    cache_health(isolated_home, latam, "+525512300119", "spam")  # partial

    result = sandbox("swap", "--health", "spam", "--yes", "-o", "json")

    assert result.exit_code == 3
    rows = {r["old"]: r for r in json.loads(result.stdout)}
    assert rows[SPAM_ES]["outcome"] == "swapped"
    assert rows["+525512300119"]["outcome"] == "failed"
    assert "pass --force" in rows["+525512300119"]["detail"]
    assert "swap: 1 done, 1 failed" in result.stderr


@pytest.mark.parametrize(
    ("args", "message"),
    [
        ((), "name one number to swap, or use --health spam"),
        ((SPAM_ES, "--health", "spam"), "name one number to swap"),
        ((SPAM_ES, "--agent", "sales-es"), "--agent goes with --health"),
    ],
)
def test_bad_arguments_exit_2(
    sandbox: Invoke, args: tuple[str, ...], message: str
) -> None:
    result = sandbox("swap", *args, "--yes")

    assert result.exit_code == 2
    assert message in result.stderr


def test_a_health_dry_run_is_one_plan_with_the_refusals_in_it(
    sandbox: Invoke, numbers: Numbers, sandbox_state: State, isolated_home: Path
) -> None:
    numbers()
    latam = next(sid for sid, name, _, _ in SEED.accounts if name == "Meetzy LatAm")
    cache_health(isolated_home, SPAIN, SPAM_ES, "spam")
    cache_health(isolated_home, latam, "+525512300119", "spam")  # partial
    before = sandbox_state()["numbers"]

    result = sandbox("swap", "--health", "spam", "--dry-run", "-o", "json")

    assert result.exit_code == 0, result.stderr
    rows = {r["old"]: r for r in json.loads(result.stdout)}
    assert rows[SPAM_ES]["new"] == FREE_ES
    assert rows["+525512300119"]["plan"] == "refused"
    assert "dry run: 1 swap planned, nothing changed" in result.stderr
    assert sandbox_state()["numbers"] == before


def test_a_rerun_uses_the_number_a_killed_swap_bought(
    sandbox: Invoke, isolated_home: Path
) -> None:
    bought = sandbox(
        "request", "--country", "US", "--area-code", "415", "--yes", "-o", "json"
    )
    assert bought.exit_code == 0, bought.stderr
    number = json.loads(bought.stdout)[0]["phone_number"]
    # The run was killed after Twilio sold the number: only "started" is left.
    journal = isolated_home / "sandbox" / "journal.jsonl"
    lines = journal.read_text().splitlines()
    kept = [line for line in lines if '"status":"done"' not in line.replace(" ", "")]
    journal.write_text("\n".join(kept) + "\n")
    before = json.loads(sandbox("list", "--refresh", "-o", "json").stdout)

    result = sandbox("swap", "+14155550101", "--buy", "--yes", "-o", "json")

    assert result.exit_code == 0, result.stderr
    assert json.loads(result.stdout)["new"] == number
    after = json.loads(sandbox("list", "--refresh", "-o", "json").stdout)
    assert len(after) == len(before)  # nothing new was bought
    history = json.loads(sandbox("history", "-o", "json").stdout)
    buys = [e for e in history if e["action"] == "buy"]
    assert [e["outcome"] for e in buys] == ["done"]
