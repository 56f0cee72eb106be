"""`pick`: the pure ranking, and the command's output and exit codes."""

from __future__ import annotations

import json
from typing import Any

import pytest

from conftest import Invoke
from meetzy_numbers.model.numbers import Kind, NumberRecord, State
from meetzy_numbers.model.phone import describe
from meetzy_numbers.model.pick import rank_numbers


def _record(phone: str, status: str | None, rate: float | None = 0.7) -> NumberRecord:
    health = None
    if status is not None:
        health = {
            "status": status,
            "answer_rate": rate,
            "short_share": 0.0,
            "calls": 20,
            "answered": 14,
            "window_days": 7,
            "computed_at": "2026-12-01T12:00:00+00:00",
        }
    return NumberRecord(
        sid="PN" + phone.lstrip("+").rjust(32, "0"),
        phone_number=phone,
        kind=Kind.TWILIO,
        account_sid="AC" + "0" * 32,
        account_name="Meetzy",
        state=State.ASSIGNED,
        agent="sales-es",
        health=health,
    )


def _order(records: list[NumberRecord], to: str | None = None) -> list[str]:
    destination = describe(to) if to else None
    return [choice.record.phone_number for choice in rank_numbers(records, destination)]


def test_health_comes_first() -> None:
    records = [
        _record("+34611230105", "spam"),
        _record("+34911230107", "warning"),
        _record("+34911230108", None),  # never computed counts as unknown
        _record("+34931230106", "unknown"),
        _record("+34911230109", "healthy"),
    ]

    assert _order(records) == [
        "+34911230109",
        "+34911230108",
        "+34931230106",
        "+34911230107",
        "+34611230105",
    ]


def test_country_then_area_code_among_equal_health() -> None:
    records = [
        _record("+14155550101", "healthy"),
        _record("+34931230106", "healthy"),
        _record("+34911230104", "healthy"),
        _record("+34611230105", "warning"),
    ]

    assert _order(records, "+34911239999") == [
        "+34911230104",  # same country and area code 911
        "+34931230106",  # same country
        "+14155550101",
        "+34611230105",  # same country, but worse health
    ]
    assert _order(records, "+14155550199")[0] == "+14155550101"
    assert _order(records, "+34931112233")[:2] == ["+34931230106", "+34911230104"]


def test_area_code_counts_only_inside_the_country() -> None:
    # Buenos Aires and São Paulo both use area code 11.
    records = [_record("+541123000112", "healthy")]

    ranking = rank_numbers(records, describe("+5511987654321"))

    assert ranking[0].same_country is False
    assert ranking[0].same_area is False
    assert ranking[0].reason.endswith("not in BR")


def test_ties_break_on_the_number_and_no_destination_means_no_closeness() -> None:
    records = [_record("+34931230106", "healthy"), _record("+34911230104", "healthy")]

    ranking = rank_numbers(records, None)

    assert [c.record.phone_number for c in ranking] == ["+34911230104", "+34931230106"]
    assert [c.rank for c in ranking] == [1, 2]
    assert ranking[0].same_country is None
    assert ranking[0].same_area is None
    assert ranking[0].reason == "healthy (70% of 20 calls answered)"


def test_reasons_say_what_placed_each_number() -> None:
    records = [
        _record("+34911230104", "healthy"),
        _record("+14155550101", "unknown", rate=None),
        _record("+34611230105", None),
    ]

    ranking = rank_numbers(records, describe("+34911239999"))

    assert [c.reason for c in ranking] == [
        "healthy (70% of 20 calls answered), in ES, area code 911",
        "unknown (no health computed), in ES, not area code 911",
        "unknown (no calls in 7 days), not in ES",
    ]
    assert ranking[0].to_dict()["health"] == "healthy"
    assert ranking[2].to_dict()["health"] == "unknown"


# The command on the sandbox


def _calls_requests(stderr: str) -> int:
    return sum("/Calls.json" in line for line in stderr.splitlines())


def test_pick_prints_the_best_number_alone(sandbox: Invoke) -> None:
    result = sandbox("-v", "pick", "--agent", "sales-es")

    assert result.exit_code == 0, result.stderr
    # +34911230104 and +34931230106 are both healthy; the number breaks the tie.
    assert result.stdout == "+34911230104\n"
    assert (
        "+34911230104 for sales-es: healthy (75% of 20 calls answered); "
        "3 more ranked below (-o json)"
    ) in result.stderr
    assert _calls_requests(result.stderr) == 1  # health computed, once


def test_pick_uses_cached_health(sandbox: Invoke) -> None:
    assert sandbox("health", "-A").exit_code == 0

    result = sandbox("-v", "pick", "--agent", "support-mx")

    assert result.stdout == "+525512300108\n"
    assert _calls_requests(result.stderr) == 0


def test_pick_prefers_the_destination_area_code(sandbox: Invoke) -> None:
    # billing-us: +13055550103 and +14155550101 healthy, +12125550102 warning.
    plain = sandbox("pick", "--agent", "billing-us")
    near = sandbox("pick", "--agent", "billing-us", "--to", "+1 (415) 555-0199")
    far = sandbox("pick", "--agent", "billing-us", "--to", "+1 212 555 0199")

    assert plain.stdout == "+13055550103\n"
    assert near.exit_code == 0, near.stderr
    assert near.stdout == "+14155550101\n"
    assert "in US, area code 415" in near.stderr
    assert far.stdout == "+13055550103\n"  # health beats the area code


def test_pick_prefers_the_destination_country(sandbox: Invoke) -> None:
    # With min_calls out of reach every number is unknown, so country decides.
    assert sandbox("config", "set", "health.min_calls", "1000").exit_code == 0
    assigned = sandbox("assign", "+34 91 123 01 33", "billing-us")
    assert assigned.exit_code == 0, assigned.stderr

    home = sandbox("pick", "--agent", "billing-us")
    spain = sandbox("pick", "--agent", "billing-us", "--to", "+34 911 55 12 34")

    assert home.stdout == "+12125550102\n"
    assert spain.exit_code == 0, spain.stderr
    assert spain.stdout == "+34911230133\n"
    assert "in ES, area code 911" in spain.stderr


def test_pick_json_gives_the_whole_ranking(sandbox: Invoke) -> None:
    result = sandbox(
        "pick", "--agent", "support-mx", "--to", "+52 33 1234 5678", "-o", "json"
    )

    assert result.exit_code == 0, result.stderr
    rows: list[dict[str, Any]] = json.loads(result.stdout)
    assert [(r["rank"], r["phone_number"], r["health"]) for r in rows] == [
        (1, "+525512300108", "healthy"),
        (2, "+525512300110", "warning"),
        (3, "+523312300109", "spam"),
    ]
    assert set(rows[0]) == {
        "rank",
        "phone_number",
        "sid",
        "account_sid",
        "account_name",
        "health",
        "answer_rate",
        "short_share",
        "calls",
        "same_country",
        "same_area",
        "reason",
    }
    assert rows[2]["same_area"] is True  # area code 33, yet spam ranks last
    assert rows[2]["reason"] == "spam (70% of 20 calls answered), in MX, area code 33"
    assert rows[0]["reason"].endswith("in MX, not area code 33")
    assert result.stderr == ""


@pytest.mark.parametrize(
    ("args", "code", "message"),
    [
        (
            ["--agent", "nobody"],
            5,
            "error: no agent 'nobody' in the config, and no number routes to it",
        ),
        (
            ["--agent", "sales-es", "--to", "12"],
            2,
            "error: cannot read '12' as a phone number",
        ),
        (["--to", "+34912345678"], 2, "Missing option '--agent'"),
    ],
)
def test_pick_errors(sandbox: Invoke, args: list[str], code: int, message: str) -> None:
    result = sandbox("pick", *args)

    assert result.exit_code == code
    assert message in result.stderr
    assert result.stdout == ""


def test_pick_for_an_agent_without_an_assigned_number(sandbox: Invoke) -> None:
    assert sandbox("agents", "add", "quiet-agent", "Quiet").exit_code == 0

    result = sandbox("pick", "--agent", "quiet-agent")

    assert result.exit_code == 5
    assert "error: agent quiet-agent has no assigned number" in result.stderr
    assert "hint: assign one with: meetzy-numbers assign NUMBER quiet-agent" in (
        result.stderr
    )
    assert result.stdout == ""


def test_pick_names_numbers_only_partly_routed_to_the_agent(sandbox: Invoke) -> None:
    # +14155550120 routes its voice URL to billing-us and its status to support-mx.
    for number in ("+14155550101", "+12125550102", "+13055550103"):
        done = sandbox("reset", number, "--yes")
        assert done.exit_code == 0, done.stderr

    result = sandbox("pick", "--agent", "billing-us")

    assert result.exit_code == 5
    assert (
        "error: agent billing-us has no assigned number "
        "(partly routed to it: +14155550120)"
    ) in result.stderr


def test_pick_accepts_an_agent_missing_from_the_config(sandbox: Invoke) -> None:
    result = sandbox("pick", "--agent", "legacy-ivr")

    assert result.exit_code == 0, result.stderr
    assert result.stdout == "+14155550117\n"
