"""request on the sandbox: searching, buying, regulatory refusals, time-outs."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from conftest import Invoke
from meetzy_numbers.sandbox import SEED

MAIN = SEED.main_account_sid
UK = next(sid for sid, name, _, _ in SEED.accounts if name == "Meetzy UK")
State = Callable[[], dict[str, Any]]


def owned(state: dict[str, Any], account: str = MAIN) -> dict[str, dict[str, Any]]:
    """The account's IncomingPhoneNumbers by phone number."""
    numbers: dict[str, dict[str, Any]] = state["numbers"][account]
    return {rec["phone_number"]: rec for rec in numbers.values()}


def for_sale(state: dict[str, Any], country: str) -> set[str]:
    return {e["phone_number"] for e in state["available"][country]}


def journal(home: Path) -> list[dict[str, Any]]:
    path = home / "sandbox" / "journal.jsonl"
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_text().splitlines() if line]


def seeded(sandbox: Invoke, sandbox_state: State) -> dict[str, Any]:
    result = sandbox("subaccounts")
    assert result.exit_code == 0, result.stderr
    return sandbox_state()


def write_faults(home: Path, **faults: Any) -> None:
    (home / "sandbox" / "faults.json").write_text(json.dumps(faults))


def test_a_dry_run_lists_candidates_and_buys_nothing(
    sandbox: Invoke, sandbox_state: State, isolated_home: Path
) -> None:
    before = seeded(sandbox, sandbox_state)

    result = sandbox(
        "request", "--country", "US", "--area-code", "415", "--count", "2",
        "--dry-run", "-o", "json",
    )  # fmt: skip

    assert result.exit_code == 0, result.stderr
    rows = json.loads(result.stdout)
    assert 2 < len(rows) <= 30
    assert all(r["phone_number"].startswith("+1415") for r in rows)
    assert rows[0]["capabilities"] == "voice,sms,mms"
    assert "would buy the first 2; nothing bought" in result.stderr
    assert sandbox_state()["numbers"] == before["numbers"]
    assert journal(isolated_home) == []


def test_buys_one_number_in_an_area_code(
    sandbox: Invoke, sandbox_state: State, isolated_home: Path
) -> None:
    before = seeded(sandbox, sandbox_state)

    result = sandbox(
        "request", "--country", "us", "--area-code", "415", "--yes", "-o", "json"
    )

    assert result.exit_code == 0, result.stderr
    [row] = json.loads(result.stdout)
    bought = row["phone_number"]
    assert bought.startswith("+1415")
    assert row["agent"] is None and row["sid"].startswith("PN")
    after = sandbox_state()
    assert set(owned(after)) - set(owned(before)) == {bought}
    assert bought not in for_sale(after, "US")
    assert f"bought {bought} in Meetzy" in result.stderr
    lines = journal(isolated_home)
    assert [(e["action"], e["status"]) for e in lines] == [
        ("buy", "started"),
        ("buy", "done"),
    ]
    assert lines[-1]["number_sid"] == row["sid"] and lines[-1]["before"] is None


def test_buys_what_there_is_when_fewer_are_for_sale(
    sandbox: Invoke, sandbox_state: State
) -> None:
    before = seeded(sandbox, sandbox_state)
    available = {n for n in for_sale(before, "CO") if n.startswith("+571800")}

    result = sandbox(
        "request", "--country", "+57", "--type", "toll-free", "--count", "5", "--yes"
    )

    assert result.exit_code == 3, result.stderr
    assert "bought 3 of 5: Twilio had only 3 CO TollFree numbers" in result.stderr
    assert len(available) == 3
    assert available <= set(owned(sandbox_state()))


def test_gb_without_a_bundle_names_the_option_and_buys_nothing(
    sandbox: Invoke, sandbox_state: State
) -> None:
    before = seeded(sandbox, sandbox_state)

    result = sandbox("request", "--country", "GB", "--count", "2", "--yes")

    assert result.exit_code == 1
    assert "without a regulatory bundle" in result.stderr
    assert "hint: pass --bundle BU…" in result.stderr
    assert sandbox_state()["numbers"] == before["numbers"]


def test_gb_with_a_pending_bundle_is_refused(
    sandbox: Invoke, sandbox_state: State
) -> None:
    before = seeded(sandbox, sandbox_state)

    result = sandbox(
        "request", "--country", "GB", "--bundle", SEED.pending_bundle_sid, "--yes"
    )

    assert result.exit_code == 1
    assert f"Twilio refused bundle {SEED.pending_bundle_sid}" in result.stderr
    assert "not twilio-approved" in result.stderr
    assert "--bundle" in result.stderr
    assert sandbox_state()["numbers"] == before["numbers"]


def test_gb_with_the_approved_bundle_is_bought(
    sandbox: Invoke, sandbox_state: State
) -> None:
    seeded(sandbox, sandbox_state)
    bundle = SEED.approved_bundle_sid

    result = sandbox(
        "request", "--country", "GB", "--bundle", bundle, "--yes", "-o", "json"
    )

    assert result.exit_code == 0, result.stderr
    [row] = json.loads(result.stdout)
    assert row["phone_number"].startswith("+44")
    assert owned(sandbox_state())[row["phone_number"]]["bundle_sid"] == bundle


def test_ar_needs_an_address(sandbox: Invoke, sandbox_state: State) -> None:
    before = seeded(sandbox, sandbox_state)

    refused = sandbox("request", "--country", "AR", "--yes")
    bought = sandbox(
        "request", "--country", "AR", "--address", SEED.address_sid, "--yes"
    )

    assert refused.exit_code == 1
    assert "without an address on file" in refused.stderr
    assert "hint: pass --address AD…" in refused.stderr
    assert bought.exit_code == 0, bought.stderr
    new = set(owned(sandbox_state())) - set(owned(before))
    assert len(new) == 1 and next(iter(new)).startswith("+54")


def test_an_unsupported_country_exits_2_naming_the_supported_ones(
    sandbox: Invoke,
) -> None:
    result = sandbox("request", "--country", "FR", "--yes")

    assert result.exit_code == 2
    assert "country 'FR' is not supported" in result.stderr
    for supported in ("US (+1)", "ES (+34)", "MX (+52)", "AR (+54)", "CO (+57)"):
        assert supported in result.stderr
    assert "GB (+44)" in result.stderr


def test_assign_routes_the_numbers_in_the_purchase(
    sandbox: Invoke, sandbox_state: State, isolated_home: Path
) -> None:
    seeded(sandbox, sandbox_state)

    result = sandbox(
        "request", "--country", "US", "--area-code", "212", "--count", "2",
        "--assign", "billing-us", "--yes", "-o", "json",
    )  # fmt: skip

    assert result.exit_code == 0, result.stderr
    rows = json.loads(result.stdout)
    assert [r["agent"] for r in rows] == ["billing-us", "billing-us"]
    records = owned(sandbox_state())
    for row in rows:
        rec = records[row["phone_number"]]
        assert rec["voice_url"] == f"{SEED.webhook_base}/agents/billing-us/voice"
        assert rec["status_callback"] == (
            f"{SEED.webhook_base}/agents/billing-us/status"
        )
        assert rec["friendly_name"] == "meetzy:billing-us"
    # Routed by the purchase itself: no update was needed afterwards.
    assert {e["action"] for e in journal(isolated_home)} == {"buy"}


def test_assign_to_an_unknown_agent_exits_5_before_buying(
    sandbox: Invoke, sandbox_state: State
) -> None:
    before = seeded(sandbox, sandbox_state)

    result = sandbox("request", "--country", "US", "--assign", "nobody", "--yes")

    assert result.exit_code == 5
    assert "no agent 'nobody'" in result.stderr
    assert sandbox_state()["numbers"] == before["numbers"]


def test_without_a_terminal_or_yes_nothing_is_bought(
    sandbox: Invoke, sandbox_state: State
) -> None:
    before = seeded(sandbox, sandbox_state)

    result = sandbox("request", "--country", "US")

    assert result.exit_code == 2
    assert "needs confirmation, and there is no terminal" in result.stderr
    assert "--yes" in result.stderr
    assert sandbox_state()["numbers"] == before["numbers"]


def test_a_subaccount_without_credentials_is_refused_before_asking(
    sandbox: Invoke,
) -> None:
    result = sandbox("request", "--country", "US", "-s", "Meetzy UK")

    assert result.exit_code == 4
    assert "has no credentials of its own" in result.stderr
    assert f"creds set {UK}" in result.stderr


def test_a_purchase_that_timed_out_but_happened_is_counted_once(
    sandbox: Invoke, sandbox_state: State, isolated_home: Path
) -> None:
    before = seeded(sandbox, sandbox_state)
    timeout = {"method": "POST", "path_contains": "IncomingPhoneNumbers"}
    write_faults(isolated_home, timeouts=[{**timeout, "times": 1, "apply": True}])

    result = sandbox(
        "-v", "request", "--country", "US", "--area-code", "415", "--yes",
        "-o", "json",
    )  # fmt: skip

    assert result.exit_code == 0, result.stderr
    [row] = json.loads(result.stdout)
    assert "may have taken effect" in result.stderr
    new = set(owned(sandbox_state())) - set(owned(before))
    assert new == {row["phone_number"]}
    done = [e for e in journal(isolated_home) if e["status"] == "done"]
    assert len(done) == 1


def test_a_purchase_that_timed_out_and_did_not_happen_is_sent_once_more(
    sandbox: Invoke, sandbox_state: State, isolated_home: Path
) -> None:
    before = seeded(sandbox, sandbox_state)
    timeout = {"method": "POST", "path_contains": "IncomingPhoneNumbers"}
    write_faults(isolated_home, timeouts=[{**timeout, "times": 1, "apply": False}])

    result = sandbox("request", "--country", "MX", "--yes", "-o", "json")

    assert result.exit_code == 0, result.stderr
    [row] = json.loads(result.stdout)
    new = set(owned(sandbox_state())) - set(owned(before))
    assert new == {row["phone_number"]}


def test_a_purchase_unclear_twice_stops_with_exit_7(
    sandbox: Invoke, sandbox_state: State, isolated_home: Path
) -> None:
    before = seeded(sandbox, sandbox_state)
    timeout = {"method": "POST", "path_contains": "IncomingPhoneNumbers"}
    write_faults(isolated_home, timeouts=[{**timeout, "times": 2, "apply": False}])

    result = sandbox("request", "--country", "MX", "--yes")

    assert result.exit_code == 7
    assert "got no clear answer twice" in result.stderr
    assert sandbox_state()["numbers"] == before["numbers"]


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("--area-code", "4x5"), "area code '4x5' is not a number"),
        (("--bundle", "BU123"), "--bundle takes a BU… SID"),
        (("--count", "0"), "--count"),
    ],
)
def test_bad_arguments_exit_2(
    sandbox: Invoke, args: tuple[str, ...], message: str
) -> None:
    result = sandbox("request", "--country", "US", *args, "--yes")

    assert result.exit_code == 2
    assert message in result.stderr


def test_no_numbers_in_an_area_code_exits_5(sandbox: Invoke) -> None:
    result = sandbox("request", "--country", "US", "--area-code", "999", "--dry-run")

    assert result.exit_code == 5
    assert "no US Local numbers in area code 999 for sale" in result.stderr
