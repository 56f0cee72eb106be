"""Searching the pool of numbers for sale (AvailablePhoneNumbers).

Like Twilio, a search answers at most 30 numbers and no next page, and the same
search answers the same numbers; an unknown area code finds nothing rather than
failing.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Final

from . import render
from .api import ApiError, Ctx, flag, invalid, not_found, page_params
from .state import Json

Result = tuple[int, Json | None]

SEARCH_LIMIT: Final = 30
SEARCH_TYPES: Final = frozenset(
    {
        "Local",
        "Mobile",
        "TollFree",
        "National",
        "Voip",
        "SharedCost",
        "MachineToMachine",
    }
)
_KEYPAD: Final = {
    **dict.fromkeys("ABC", "2"),
    **dict.fromkeys("DEF", "3"),
    **dict.fromkeys("GHI", "4"),
    **dict.fromkeys("JKL", "5"),
    **dict.fromkeys("MNO", "6"),
    **dict.fromkeys("PQRS", "7"),
    **dict.fromkeys("TUV", "8"),
    **dict.fromkeys("WXYZ", "9"),
}


def search_available(ctx: Ctx, p: dict[str, str]) -> Result:
    """At most 30 results and no next page; an unknown area code finds nothing."""
    country, kind = p["country"], p["kind"]
    pool = ctx.state.doc["available"].get(country)
    if pool is None or kind not in SEARCH_TYPES:
        raise not_found(ctx.req.path)
    checks = _search_checks(ctx)
    size, _, _ = page_params(ctx)
    found = [e for e in pool if e["type"] == kind and all(check(e) for check in checks)]
    chosen = found[: min(size, SEARCH_LIMIT)]
    uri = ctx.req.path
    return 200, {
        "available_phone_numbers": [render.available(e) for e in chosen],
        "end": max(len(chosen) - 1, 0),
        "first_page_uri": uri,
        "next_page_uri": None,
        "page": 0,
        "page_size": len(chosen),
        "previous_page_uri": None,
        "start": 0,
        "uri": uri,
    }


def _search_checks(ctx: Ctx) -> list[Callable[[Json], bool]]:
    checks: list[Callable[[Json], bool]] = []
    area = ctx.arg("AreaCode")
    if area:
        if not area.isdigit():
            raise ApiError(400, 21451, f"AreaCode {area} is invalid.")
        checks.append(lambda e: e.get("area_code") == area)
    contains = ctx.arg("Contains")
    if contains:
        pattern = _contains_pattern(contains)
        checks.append(lambda e: bool(pattern.search(e["phone_number"])))
    for name, cap in (
        ("VoiceEnabled", "v"),
        ("SmsEnabled", "s"),
        ("MmsEnabled", "m"),
        ("FaxEnabled", "f"),
    ):
        if flag(ctx, name):
            checks.append(_has_capability(cap))
    for name, field in (
        ("InRegion", "region"),
        ("InLocality", "locality"),
        ("InPostalCode", "postal_code"),
        ("InRateCenter", "rate_center"),
        ("InLata", "lata"),
    ):
        wanted = ctx.arg(name)
        if wanted:
            checks.append(_field_is(field, wanted))
    if flag(ctx, "ExcludeAllAddressRequired"):
        checks.append(lambda e: e["address_requirements"] == "none")
    if flag(ctx, "ExcludeLocalAddressRequired"):
        checks.append(lambda e: e["address_requirements"] != "local")
    if flag(ctx, "ExcludeForeignAddressRequired"):
        checks.append(lambda e: e["address_requirements"] != "foreign")
    return checks


def _has_capability(flag_: str) -> Callable[[Json], bool]:
    return lambda entry: flag_ in entry["capabilities"]


def _field_is(field: str, wanted: str) -> Callable[[Json], bool]:
    lowered = wanted.lower()
    return lambda entry: (entry.get(field) or "").lower() == lowered


def _contains_pattern(raw: str) -> re.Pattern[str]:
    """Digits, letters (keypad) and `*`; a leading '+' anchors at the start."""
    text = raw.strip()
    anchored = text.startswith("+") or raw.startswith(" ")
    body = text.lstrip("+").upper()
    if not body or not re.fullmatch(r"[0-9A-Z*]+", body):
        raise invalid("Contains", "must be digits, letters or *")
    digits = "".join(_KEYPAD.get(c, c) for c in body)
    regex = digits.replace("*", r"\d")
    return re.compile((r"^\+" if anchored else "") + regex)
