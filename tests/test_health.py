"""Phone health: the pure classification, the call counting, and `health` itself."""

from __future__ import annotations

import csv
import io
import json
import re
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from conftest import Invoke
from meetzy_numbers.gateway import Gateway
from meetzy_numbers.gateway.http import Answer, GatewayHttpClient, SandboxTransport
from meetzy_numbers.model.health import (
    CallCounts,
    Health,
    HealthStatus,
    classify,
    count_calls,
)
from meetzy_numbers.operations import health as operations
from meetzy_numbers.operations.context import Context
from meetzy_numbers.paths import default_paths
from meetzy_numbers.sandbox import SEED, Sandbox
from meetzy_numbers.store.config import HealthThresholds

NOW = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)
DEFAULTS = HealthThresholds()
JSON_KEYS = {
    "phone_number",
    "sid",
    "account_sid",
    "account_name",
    "agent",
    "health",
    "answer_rate",
    "short_share",
    "calls",
    "answered",
    "window_days",
    "computed_at",
}
EXPECTED = {n.phone_number: n.health for n in SEED.numbers}
HEALTHY, WARNING, SPAM, UNKNOWN = (
    HealthStatus.HEALTHY,
    HealthStatus.WARNING,
    HealthStatus.SPAM,
    HealthStatus.UNKNOWN,
)


# The classification, boundary by boundary (defaults: min_calls 10, answer
# rate warning < 0.5 and spam < 0.25, short share warning >= 0.3, spam >= 0.5).


@pytest.mark.parametrize(
    ("calls", "answered", "short", "expected"),
    [
        (0, 0, 0, UNKNOWN),
        (9, 9, 0, UNKNOWN),  # one call short of min_calls
        (9, 0, 0, UNKNOWN),  # too few calls to call it spam
        (10, 10, 0, HEALTHY),  # exactly min_calls
        (100, 50, 0, HEALTHY),  # answer rate exactly at the warning line
        (100, 49, 0, WARNING),
        (100, 25, 0, WARNING),  # exactly at the spam line
        (100, 24, 0, SPAM),
        (10, 0, 0, SPAM),  # nothing answered
        (100, 100, 29, HEALTHY),
        (100, 100, 30, WARNING),  # short share exactly at the warning line
        (100, 100, 49, WARNING),
        (100, 100, 50, SPAM),  # exactly at the spam line
        (100, 60, 18, WARNING),  # 30 % of the answered calls were short
        (100, 40, 20, SPAM),  # 50 % short wins over a warning answer rate
    ],
)
def test_classify_boundaries(
    calls: int, answered: int, short: int, expected: HealthStatus
) -> None:
    health = classify(
        CallCounts(calls, answered, short), DEFAULTS, window_days=7, computed_at=NOW
    )

    assert health.status is expected
    assert health.calls == calls
    assert health.answered == answered
    assert health.window_days == 7
    assert health.computed_at == NOW


def test_classify_rates() -> None:
    health = classify(CallCounts(20, 15, 3), DEFAULTS, window_days=7, computed_at=NOW)
    assert health.answer_rate == 0.75
    assert health.short_share == 0.2

    none = classify(CallCounts(), DEFAULTS, window_days=7, computed_at=NOW)
    assert none.answer_rate is None
    assert none.short_share is None

    unanswered = classify(
        CallCounts(12, 0, 0), DEFAULTS, window_days=7, computed_at=NOW
    )
    assert unanswered.answer_rate == 0.0
    assert unanswered.short_share is None


@pytest.mark.parametrize(
    ("thresholds", "counts", "expected"),
    [
        (HealthThresholds(min_calls=1), CallCounts(1, 1, 0), HEALTHY),
        (HealthThresholds(min_calls=1), CallCounts(0, 0, 0), UNKNOWN),
        (HealthThresholds(min_calls=50), CallCounts(49, 49, 0), UNKNOWN),
        (HealthThresholds(warning_answer_rate=0.8), CallCounts(10, 7, 0), WARNING),
        (HealthThresholds(spam_answer_rate=0.5), CallCounts(10, 4, 0), SPAM),
        (
            HealthThresholds(warning_short_share=0.1, spam_short_share=0.2),
            CallCounts(10, 10, 2),
            SPAM,
        ),
    ],
)
def test_classify_reads_the_thresholds(
    thresholds: HealthThresholds, counts: CallCounts, expected: HealthStatus
) -> None:
    health = classify(counts, thresholds, window_days=7, computed_at=NOW)
    assert health.status is expected


def _call(**fields: Any) -> dict[str, Any]:
    call = {
        "sid": "CA" + "0" * 32,
        "from": "+34911230104",
        "to": "+34915550000",
        "status": "completed",
        "duration": "60",
        "start_time": (NOW - timedelta(hours=1)).isoformat(),
        "direction": "outbound-api",
    }
    call.update(fields)
    return call


def test_count_calls_keeps_outbound_calls_with_an_outcome() -> None:
    calls = [
        _call(),
        _call(direction="outbound-dial", duration="9"),  # short
        _call(duration="10"),  # exactly the limit: not short
        _call(status="busy", duration="0"),
        _call(status="no-answer", duration=""),
        _call(status="failed", duration=None),
        _call(status="canceled", duration="0"),
        _call(status="queued"),
        _call(status="ringing"),
        _call(status="in-progress"),
        _call(direction="inbound", **{"from": "+34600000000", "to": "+34911230104"}),
        _call(**{"from": "+14155550101"}, duration="3"),
    ]

    counts = count_calls(calls, short_call_seconds=10)

    assert counts == {
        "+34911230104": CallCounts(calls=7, answered=3, short=1),
        "+14155550101": CallCounts(calls=1, answered=1, short=1),
    }


def test_count_calls_drops_calls_before_the_window() -> None:
    since = NOW - timedelta(days=7)
    calls = [
        _call(start_time=(since - timedelta(seconds=1)).isoformat()),
        _call(start_time=since.isoformat()),
        _call(start_time=None),  # Twilio filtered it already
    ]

    counts = count_calls(calls, short_call_seconds=10, since=since)

    assert counts == {"+34911230104": CallCounts(2, 2, 0)}


def test_health_round_trips_through_json() -> None:
    health = classify(CallCounts(15, 10, 1), DEFAULTS, window_days=7, computed_at=NOW)

    data = json.loads(json.dumps(health.to_dict()))

    assert data == {
        "status": "healthy",
        "answer_rate": 0.6667,
        "short_share": 0.1,
        "calls": 15,
        "answered": 10,
        "window_days": 7,
        "computed_at": "2026-12-01T12:00:00+00:00",
    }
    back = Health.from_dict(data)
    assert back is not None
    assert back.status is HEALTHY
    assert back.computed_at == NOW


@pytest.mark.parametrize(
    "data",
    [None, {}, {"status": "great"}, {"status": "spam", "calls": "x"}],
)
def test_health_from_bad_json_is_none(data: Mapping[str, Any] | None) -> None:
    assert Health.from_dict(data) is None


# The command on the sandbox


def _rows(result: Any) -> list[dict[str, Any]]:
    assert result.exit_code == 0, result.stderr
    rows: list[dict[str, Any]] = json.loads(result.stdout)
    return rows


def _calls_requests(stderr: str) -> list[str]:
    return [line for line in stderr.splitlines() if "/Calls.json" in line]


def test_health_of_all_accounts_shows_every_class(sandbox: Invoke) -> None:
    result = sandbox("health", "-A")

    assert result.exit_code == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines[0].split() == [
        "number", "account", "agent", "health", "answered", "short", "calls"
    ]  # fmt: skip
    for word in ("healthy", "warning", "spam", "unknown"):
        assert f" {word} " in result.stdout
    spam = next(line for line in lines if line.startswith("+34611230105 "))
    assert spam.split() == [
        "+34611230105", "Meetzy", "Spain", "sales-es", "spam", "16%", "0%", "25"
    ]  # fmt: skip
    assert lines[-1] == (
        f"{len(SEED.numbers)} numbers, outbound calls of the last 7 days: "
        "9 healthy · 3 warning · 2 spam · 24 unknown"
    )
    assert result.stderr == ""


def test_health_json_matches_the_seed(sandbox: Invoke) -> None:
    rows = _rows(sandbox("health", "-A", "-o", "json"))

    assert all(set(row) == JSON_KEYS for row in rows)
    assert {row["phone_number"]: row["health"] for row in rows} == EXPECTED
    by_number = {row["phone_number"]: row for row in rows}
    short = by_number["+523312300109"]
    assert (short["health"], short["answer_rate"], short["short_share"]) == (
        "spam",
        0.7,
        0.6429,
    )
    assert (short["calls"], short["answered"], short["window_days"]) == (20, 14, 7)
    assert short["agent"] == "support-mx"
    assert short["account_name"] == "Meetzy LatAm"
    assert datetime.fromisoformat(short["computed_at"]).tzinfo is not None
    quiet = by_number["+14155550127"]
    assert (quiet["health"], quiet["calls"], quiet["answer_rate"]) == (
        "unknown",
        0,
        None,
    )


def test_health_csv(sandbox: Invoke) -> None:
    result = sandbox("health", "+12125550102", "-o", "csv")

    assert result.exit_code == 0, result.stderr
    rows = list(csv.DictReader(io.StringIO(result.stdout)))
    assert len(rows) == 1
    assert set(rows[0]) == JSON_KEYS
    assert rows[0]["health"] == "warning"
    assert rows[0]["answer_rate"] == "0.4"


def test_health_defaults_to_the_main_account(sandbox: Invoke) -> None:
    rows = _rows(sandbox("health", "-o", "json"))
    assert {row["account_sid"] for row in rows} == {SEED.main_account_sid}


def test_health_of_named_numbers(sandbox: Invoke) -> None:
    result = sandbox(
        "-v", "health", "+34 611 23 01 05", "+16505550141", "PN" + "f" * 32
    )

    assert result.exit_code == 3
    lines = result.stdout.splitlines()
    assert [line.split()[0] for line in lines[2:-2]] == ["+34611230105"]
    assert "spam" in lines[2]
    assert "skipped +16505550141: a caller ID, not a Twilio number" in result.stderr
    assert f"warning: PN{'f' * 32} is not a number in any account" in result.stderr
    assert len(_calls_requests(result.stderr)) == 1


def test_health_reads_numbers_from_stdin(sandbox: Invoke) -> None:
    result = sandbox(
        "health", "-", "-o", "json", input="+34611230105\n+525512300110 # mx\n"
    )

    rows = _rows(result)
    assert [(r["phone_number"], r["health"]) for r in rows] == [
        ("+525512300110", "warning"),  # Meetzy LatAm sorts before Meetzy Spain
        ("+34611230105", "spam"),
    ]


def test_health_errors(sandbox: Invoke) -> None:
    bad = sandbox("health", "+999", "nonsense")
    assert bad.exit_code == 2
    assert "error: cannot read '+999', 'nonsense' as phone numbers" in bad.stderr

    missing = sandbox("health", "+34611230199")
    assert missing.exit_code == 5
    assert "error: +34611230199: not a number in any account" in missing.stderr

    days = sandbox("health", "-A", "--days", "0")
    assert days.exit_code == 2
    assert "error: --days must be between 1 and 365, not 0" in days.stderr

    account = sandbox("health", "-s", "Atlantis")
    assert account.exit_code == 5
    assert "no account named 'Atlantis'" in account.stderr


def test_health_window_in_days(sandbox: Invoke) -> None:
    result = sandbox("-v", "health", "-A", "--days", "1", "-o", "json")

    rows = _rows(result)
    # A day holds a seventh of each number's calls, below min_calls everywhere.
    assert {row["health"] for row in rows} == {"unknown"}
    assert {row["window_days"] for row in rows} == {1}
    assert max(row["calls"] for row in rows) > 0
    since = datetime.now(UTC) - timedelta(days=1)
    assert f"StartTime%3E={since:%Y-%m-%d}" in "".join(_calls_requests(result.stderr))


def test_health_follows_the_thresholds_in_the_config(sandbox: Invoke) -> None:
    before = {
        r["phone_number"]: r for r in _rows(sandbox("health", "-A", "-o", "json"))
    }
    assert before["+34911230107"]["health"] == "unknown"
    assert before["+34911230107"]["calls"] == 5

    assert sandbox("config", "set", "health.min_calls", "1").exit_code == 0
    after = {r["phone_number"]: r for r in _rows(sandbox("health", "-A", "-o", "json"))}

    assert after["+34911230107"]["health"] == "healthy"
    assert after["+541123000112"]["health"] == "healthy"
    assert after["+14155550127"]["health"] == "unknown"  # no calls at all
    assert sandbox("config", "set", "health.warning_answer_rate", "0.8").exit_code == 0
    stricter = _rows(sandbox("health", "+14155550101", "-o", "json"))
    assert stricter[0]["health"] == "warning"


def test_one_calls_request_per_account_whatever_the_numbers(sandbox: Invoke) -> None:
    every = sandbox("-v", "health", "-A")
    one_account = sandbox("-v", "health", "-s", "Meetzy")
    one_number = sandbox("-v", "health", "+14155550101")

    assert every.exit_code == one_account.exit_code == one_number.exit_code == 0
    assert len(_calls_requests(every.stderr)) == len(SEED.accounts)
    main_numbers = [n for n in SEED.numbers if n.account_sid == SEED.main_account_sid]
    assert len(main_numbers) > 10
    assert len(_calls_requests(one_account.stderr)) == 1
    assert len(_calls_requests(one_number.stderr)) == 1
    assert all("PageSize=1000" in line for line in _calls_requests(every.stderr))


class CountingTransport(SandboxTransport):
    def __init__(self, sandbox: Sandbox) -> None:
        super().__init__(sandbox)
        self.urls: list[str] = []

    def send(self, method: str, url: str, **options: Any) -> Answer:
        self.urls.append(url)
        return super().send(method, url, **options)


def _large_context(numbers_per_account: int) -> tuple[Context, CountingTransport]:
    context = Context(paths=default_paths().sandboxed(), sandbox=True)
    large = Sandbox.large(
        subaccounts=2, numbers_per_account=numbers_per_account, calls=6000
    )
    transport = CountingTransport(large)
    context.__dict__["gateway"] = Gateway(
        main_sid=context.main_sid,
        credentials=context.credentials,
        http=GatewayHttpClient(transport),
    )
    return context, transport


@pytest.mark.parametrize("numbers_per_account", [10, 120])
def test_calls_requests_grow_with_calls_not_numbers(numbers_per_account: int) -> None:
    context, transport = _large_context(numbers_per_account)

    report = operations.check_health(
        context,
        [],
        account_ref=None,
        all_accounts=True,
        days=7,
        stdin=io.StringIO(),
    )

    assert len(report.records) == 2 * numbers_per_account
    # About 1,500 calls a week in each subaccount: two pages each, and one
    # empty page for the main account, however many numbers share them.
    calls = [url for url in transport.urls if "/Calls.json" in url]
    assert len(calls) == 1 + 2 * 2
    counted = sum(r.health["calls"] for r in report.records if r.health)
    assert 2900 <= counted <= 3100


def test_list_and_show_gain_a_health_column_after_health(sandbox: Invoke) -> None:
    before = sandbox("list", "-A")
    assert before.exit_code == 0, before.stderr
    assert "health" not in before.stdout.splitlines()[0]
    show_before = sandbox("show", "+34611230105")
    assert "answer rate" not in show_before.stdout
    assert "\nhealth " not in show_before.stdout

    assert sandbox("health", "-A").exit_code == 0

    after = sandbox("list", "-A")
    header = after.stdout.splitlines()[0].split()
    assert header[:5] == ["state", "number", "national", "agent", "health"]
    spam = next(line for line in after.stdout.splitlines() if "+34611230105" in line)
    assert " spam " in spam
    rows = json.loads(sandbox("list", "-A", "-o", "json").stdout)
    assert {r["phone_number"]: r["health"] for r in rows if r["type"] == "twilio"} == (
        EXPECTED
    )
    show = sandbox("show", "+34611230105")
    for field, value in [
        ("health", "spam"),
        ("answer rate", "16%"),
        ("short calls", "0%"),
        ("calls", "25 in 7 days"),
        ("health computed at", r"\d{4}-\d\d-\d\dT.*"),
    ]:
        assert re.search(rf"^{field} +{value}$", show.stdout, re.MULTILINE), field


def _sid_of(phone: str) -> str:
    return next(n.sid for n in SEED.numbers if n.phone_number == phone)


def _health_extra(cache_file: Path) -> dict[str, Any]:
    extra: dict[str, Any] = json.loads(cache_file.read_text())["extra"]
    return extra.get("health", {})


def _cached_health(sandbox: Invoke) -> dict[str, Any]:
    rows = json.loads(sandbox("list", "-A", "-o", "json").stdout)
    return {r["phone_number"]: r["health"] for r in rows if r["type"] == "twilio"}


def test_a_named_number_caches_only_itself(sandbox: Invoke) -> None:
    assert sandbox("health", "+34611230105").exit_code == 0

    cached = _cached_health(sandbox)
    assert cached["+34611230105"] == "spam"
    assert cached["+34911230104"] is None  # same account, not named: not cached
    assert cached["+14155550101"] is None  # another account: not computed


def test_a_named_run_leaves_the_other_numbers_cached_health_alone(
    sandbox: Invoke, isolated_home: Path
) -> None:
    assert sandbox("health", "-A").exit_code == 0
    before = _cached_health(sandbox)
    assert before["+34611230105"] == "spam"

    # A day of calls is below min_calls: the named number becomes unknown.
    assert sandbox("health", "+34611230105", "--days", "1").exit_code == 0

    after = _cached_health(sandbox)
    assert after["+34611230105"] == "unknown"
    assert {n: h for n, h in after.items() if n != "+34611230105"} == {
        n: h for n, h in before.items() if n != "+34611230105"
    }
    windows = {
        sid: entry["window_days"]
        for path in (isolated_home / "sandbox" / "cache").glob("AC*.json")
        for sid, entry in _health_extra(path).items()
    }
    assert windows.pop(_sid_of("+34611230105")) == 1
    assert set(windows.values()) == {7}


def test_gateway_lists_calls_as_plain_dicts() -> None:
    context = Context(paths=default_paths().sandboxed(), sandbox=True)
    spain = next(a for a in context.gateway.accounts() if a.name == "Meetzy Spain")
    since = datetime.now(UTC) - timedelta(days=7)

    calls = context.gateway.list_calls(
        spain, start_after=since, from_number="+34611230105"
    )

    assert len(calls) == 25
    assert set(calls[0]) == {
        "sid", "from", "to", "status", "duration", "start_time", "direction"
    }  # fmt: skip
    assert {c["from"] for c in calls} == {"+34611230105"}
    assert {c["direction"] for c in calls} == {"outbound-api"}
    assert all(isinstance(c["duration"], str) for c in calls)
    assert all(datetime.fromisoformat(c["start_time"]) >= since for c in calls)
    assert sum(c["status"] == "completed" for c in calls) == 4
