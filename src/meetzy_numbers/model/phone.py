"""Parsing and formatting phone numbers, with phonenumbers doing the work."""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import phonenumbers

from meetzy_numbers.errors import UsageError

# ISO country code -> calling code, for the countries numbers can be bought in.
SUPPORTED_COUNTRIES: dict[str, int] = {
    "US": 1,
    "CA": 1,
    "ES": 34,
    "MX": 52,
    "AR": 54,
    "CO": 57,
    "GB": 44,
}
SUPPORTED_CALLING_CODES = frozenset(SUPPORTED_COUNTRIES.values())

_SID_RE = re.compile(r"^(PN|SK|AC|CA|TK|AP|BU|AD)[0-9a-fA-F]{32}$")


def is_sid(text: str, prefix: str) -> bool:
    match = _SID_RE.match(text.strip())
    return bool(match) and match is not None and match.group(1) == prefix


@dataclass(frozen=True)
class PhoneNumber:
    e164: str
    region: str | None
    calling_code: int
    national: str
    area_code: str | None

    @property
    def country(self) -> str:
        return self.region or f"+{self.calling_code}"


def parse_e164(text: str, *, default_region: str | None = None) -> str:
    """Return ``text`` in E.164 or raise a UsageError that quotes it."""
    raw = text.strip()
    if not raw:
        raise UsageError("empty phone number")
    if raw.startswith("00"):
        raw = "+" + raw[2:]
    import phonenumbers  # its metadata costs start-up; --help never needs it

    try:
        parsed = phonenumbers.parse(raw, default_region)
    except phonenumbers.NumberParseException:
        raise UsageError(
            f"cannot read {text!r} as a phone number; "
            "write it with its country code, like +1 555 123 4567"
        ) from None
    if not phonenumbers.is_possible_number(parsed):
        raise UsageError(f"{text!r} is not a possible phone number")
    return phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.E164)


@lru_cache(maxsize=65_536)
def describe(e164: str) -> PhoneNumber:
    """Country, national format and area code of a number already in E.164."""
    if len(e164) == 12 and e164.startswith("+1") and e164[1:].isdigit():
        return _describe_nanp(e164)
    return _describe(e164)


def _describe_nanp(e164: str) -> PhoneNumber:
    """+1 numbers all share one format; only the region needs phonenumbers,
    once per area code, instead of a parse that tries every NANP region."""
    area = e164[2:5]
    return PhoneNumber(
        e164=e164,
        region=_nanp_region(area),
        calling_code=1,
        national=f"({area}) {e164[5:8]}-{e164[8:]}",
        area_code=area,
    )


@lru_cache(maxsize=1024)
def _nanp_region(area: str) -> str | None:
    import phonenumbers

    # Any valid-looking number of the area code tells its region.
    for line in ("2345678", "5550100", "2000000"):
        try:
            parsed = phonenumbers.parse(f"+1{area}{line}", None)
        except phonenumbers.NumberParseException:
            continue
        region = phonenumbers.region_code_for_number(parsed)
        if region and region != "ZZ":
            return str(region)
    return None


def _describe(e164: str) -> PhoneNumber:
    import phonenumbers

    try:
        parsed = phonenumbers.parse(e164, None)
    except phonenumbers.NumberParseException:
        return PhoneNumber(e164, None, 0, e164, None)
    region = phonenumbers.region_code_for_number(parsed)
    national = phonenumbers.format_number(
        parsed, phonenumbers.PhoneNumberFormat.NATIONAL
    )
    return PhoneNumber(
        e164=e164,
        region=region if region and region != "ZZ" else None,
        calling_code=parsed.country_code or 0,
        national=national,
        area_code=_area_code(parsed),
    )


def _area_code(parsed: phonenumbers.PhoneNumber) -> str | None:
    import phonenumbers

    national = phonenumbers.national_significant_number(parsed)
    if parsed.country_code == 1:
        return national[:3]
    length = phonenumbers.length_of_geographical_area_code(parsed)
    if length <= 0:
        length = phonenumbers.length_of_national_destination_code(parsed)
    return national[:length] if length > 0 else None


def country_of(e164: str) -> str | None:
    return describe(e164).region


def normalise_country(text: str) -> str:
    """An ISO country code from ``us``, ``GB``, ``+44`` or ``44``; else UsageError."""
    value = text.strip().upper().lstrip("+")
    if value == "UK":
        value = "GB"
    if value.isdigit():
        regions = [cc for cc, code in SUPPORTED_COUNTRIES.items() if str(code) == value]
        if regions:
            return regions[0]
    if value in SUPPORTED_COUNTRIES:
        return value
    supported = ", ".join(f"{cc} (+{code})" for cc, code in SUPPORTED_COUNTRIES.items())
    raise UsageError(f"country {text!r} is not supported; use one of {supported}")


def kind_of(e164: str) -> str:
    """The search type a number would be sold under: Mobile, TollFree or Local."""
    import phonenumbers

    try:
        kind = phonenumbers.number_type(phonenumbers.parse(e164, None))
    except phonenumbers.NumberParseException:
        return "Local"
    if kind == phonenumbers.PhoneNumberType.MOBILE:
        return "Mobile"
    if kind == phonenumbers.PhoneNumberType.TOLL_FREE:
        return "TollFree"
    return "Local"
