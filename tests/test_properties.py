"""Property tests: number parsing and formatting in the six countries, the
assignment state, and the config and cache round trips."""

from __future__ import annotations

import tempfile
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import phonenumbers
from hypothesis import given, settings
from hypothesis import strategies as st

from meetzy_numbers.errors import UsageError
from meetzy_numbers.model.numbers import (
    ROUTING_FIELDS,
    State,
    agent_urls,
    derive_assignment,
    read_mark,
    with_mark,
)
from meetzy_numbers.model.phone import SUPPORTED_COUNTRIES, describe, parse_e164
from meetzy_numbers.store.cache import Cache, CacheEntry
from meetzy_numbers.store.config import Agent, Config, ConfigStore, HealthThresholds

BASE = "https://voice.meetzy.example"
REGIONS = sorted(SUPPORTED_COUNTRIES)


@st.composite
def valid_numbers(draw: st.DrawFn) -> phonenumbers.PhoneNumber:
    """Real, valid numbers of the six countries, from phonenumbers' own examples."""
    region = draw(st.sampled_from(REGIONS))
    kind = draw(
        st.sampled_from(
            [
                phonenumbers.PhoneNumberType.FIXED_LINE,
                phonenumbers.PhoneNumberType.MOBILE,
                phonenumbers.PhoneNumberType.TOLL_FREE,
            ]
        )
    )
    example = phonenumbers.example_number_for_type(region, kind)
    if example is None:
        example = phonenumbers.example_number(region)
    assert example is not None
    digits = phonenumbers.national_significant_number(example)
    # Vary the last digits: most stay valid, and the test keeps those.
    tail = draw(st.integers(min_value=0, max_value=999))
    varied = digits[:-3] + f"{tail:03d}"
    candidate = phonenumbers.parse(f"+{example.country_code}{varied}", None)
    return candidate if phonenumbers.is_valid_number(candidate) else example


WRITINGS = [
    phonenumbers.PhoneNumberFormat.E164,
    phonenumbers.PhoneNumberFormat.INTERNATIONAL,
    phonenumbers.PhoneNumberFormat.RFC3966,
]


@given(valid_numbers(), st.sampled_from(WRITINGS))
def test_any_writing_parses_back_to_the_same_e164(
    number: phonenumbers.PhoneNumber, writing: int
) -> None:
    e164 = phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)
    written = phonenumbers.format_number(number, writing).removeprefix("tel:")
    assert parse_e164(written) == e164
    assert parse_e164("00" + e164[1:]) == e164
    assert parse_e164(f"  {written}  ") == e164


@given(valid_numbers())
def test_national_format_reads_back_in_its_country(
    number: phonenumbers.PhoneNumber,
) -> None:
    e164 = phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)
    info = describe(e164)
    assert info.e164 == e164
    assert info.calling_code in SUPPORTED_COUNTRIES.values()
    assert info.region is not None
    assert parse_e164(info.national, default_region=info.region) == e164
    if info.area_code:
        assert phonenumbers.national_significant_number(number).startswith(
            info.area_code
        )


@given(st.text(alphabet=st.characters(blacklist_categories=["Nd"]), max_size=30))
def test_text_without_digits_is_a_usage_error(text: str) -> None:
    try:
        parse_e164(text)
    except UsageError as error:
        assert error.exit_code == 2
    else:  # pragma: no cover - hypothesis would show the counterexample
        raise AssertionError(f"{text!r} parsed")


agent_ids = st.from_regex(r"[a-z][a-z0-9_-]{0,15}", fullmatch=True)
urls = st.sampled_from(
    ["", None, "https://demo.twilio.com/welcome/voice/", "https://example.com/x"]
)
sids = st.sampled_from(["", None, "AP" + "a" * 32, "TK" + "b" * 32])


@st.composite
def routings(draw: st.DrawFn) -> dict[str, Any]:
    routing: dict[str, Any] = {}
    for name in ROUTING_FIELDS:
        if name.endswith("_sid"):
            routing[name] = draw(sids)
        elif name.endswith("_method"):
            routing[name] = draw(st.sampled_from(["POST", "GET", None]))
        else:
            routing[name] = draw(urls)
    voice, status = draw(st.tuples(agent_ids, agent_ids))
    if draw(st.booleans()):
        routing["voice_url"] = agent_urls(BASE, voice)[0]
    if draw(st.booleans()):
        routing["status_callback"] = agent_urls(BASE, status)[1]
    return routing


@given(routings())
def test_state_rules(routing: dict[str, Any]) -> None:
    result = derive_assignment(routing, BASE)
    anything = any(
        routing.get(name) not in (None, "")
        for name in ROUTING_FIELDS
        if not name.endswith("_method")
    )
    assert (result.state is State.UNASSIGNED) == (not anything)
    assert (result.state is State.PARTIAL) == (result.reason is not None)
    if result.state is State.ASSIGNED:
        voice, status = agent_urls(BASE, result.agent or "")
        assert routing["voice_url"] == voice
        assert routing["status_callback"] == status
    # Null and the empty string mean the same.
    swapped = {
        k: ("" if v is None else None if v == "" else v) for k, v in routing.items()
    }
    assert derive_assignment(swapped, BASE) == result


@given(st.dates(), st.text(max_size=80))
def test_return_mark_round_trip(day: Any, name: str) -> None:
    marked = with_mark(name, day)
    assert len(marked) <= 64
    assert read_mark(marked)[0] == day


thresholds = st.builds(
    HealthThresholds,
    window_days=st.integers(1, 90),
    min_calls=st.integers(1, 1000),
    short_call_seconds=st.integers(1, 120),
    warning_answer_rate=st.floats(0.3, 1.0),
    spam_answer_rate=st.floats(0.0, 0.3),
    warning_short_share=st.floats(0.0, 0.5),
    spam_short_share=st.floats(0.5, 1.0),
)
configs = st.builds(
    Config,
    main_account=st.one_of(st.none(), st.from_regex(r"AC[0-9a-f]{32}", fullmatch=True)),
    webhook_base=st.sampled_from(["", BASE, "https://hooks.example.com/meetzy"]),
    agents=st.dictionaries(
        agent_ids,
        st.text(min_size=1, max_size=20).filter(lambda s: s == s.strip() and s),
        max_size=5,
    ).map(lambda d: {k: Agent(k, v) for k, v in d.items()}),
    aliases=st.dictionaries(
        st.from_regex(r"[a-z][a-z0-9-]{0,10}", fullmatch=True),
        st.from_regex(r"AC[0-9a-f]{32}", fullmatch=True),
        max_size=3,
    ),
    cache_ttl=st.integers(0, 86_400),
    concurrency=st.integers(1, 64),
    timeout=st.floats(0.5, 120),
    health=thresholds,
)


@settings(max_examples=60, deadline=None)
@given(configs)
def test_config_round_trip(config: Config) -> None:
    with tempfile.TemporaryDirectory() as folder:
        store = ConfigStore(Path(folder) / "config.toml")
        store.save(config)
        assert store.load() == config


records = st.lists(
    st.fixed_dictionaries(
        {
            "sid": st.from_regex(r"PN[0-9a-f]{32}", fullmatch=True),
            "phone_number": st.from_regex(r"\+1[2-9][0-9]{9}", fullmatch=True),
            "friendly_name": st.text(max_size=64),
            "voice_url": st.one_of(st.none(), st.just(""), urls),
        }
    ),
    max_size=20,
    unique_by=lambda r: r["sid"],
)


@settings(max_examples=60, deadline=None)
@given(records, records)
def test_cache_round_trip_and_batched_changes(
    numbers: list[dict[str, Any]], changed: list[dict[str, Any]]
) -> None:
    with tempfile.TemporaryDirectory() as folder:
        cache = Cache(Path(folder), ttl=600)
        sid = "AC" + "0" * 32
        entry = CacheEntry(sid, "Main", datetime.now(UTC), numbers, [], {"k": 1})
        cache.save(entry)
        assert cache.load(sid) == entry

        removed = {r["sid"] for r in numbers[:2]}
        cache.mark_dirty(sid)
        assert cache.load(sid) is None  # changes on their way: stale
        cache.apply(sid, changed, removed)
        after = cache.load(sid)
        assert after is not None
        by_sid = {r["sid"]: r for r in after.numbers}
        expected = {r["sid"]: r for r in numbers if r["sid"] not in removed}
        expected.update({r["sid"]: r for r in changed})
        assert by_sid == expected


@given(
    st.sampled_from(["415", "212", "305", "416", "604", "888", "800", "787", "876"]),
    st.integers(min_value=2_000_000, max_value=9_999_999),
)
def test_the_nanp_shortcut_agrees_with_phonenumbers(area: str, line: int) -> None:
    from meetzy_numbers.model import phone

    e164 = f"+1{area}{line}"
    assert phone._describe_nanp(e164) == phone._describe(e164)
