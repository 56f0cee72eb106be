"""Twilio's records as the tool keeps them: which fields, and in what form.

Listings arrive as raw JSON pages, single records as twilio-python objects;
both become the same plain dicts here, with dates in ISO 8601.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from decimal import Decimal
from email.utils import parsedate_to_datetime
from typing import Any

from meetzy_numbers.model.numbers import ROUTING_FIELDS

SEARCH_SIZE = 30
# Search types the tool buys, and the twilio-python list behind each.
SEARCH_KINDS: dict[str, str] = {
    "Local": "local",
    "Mobile": "mobile",
    "TollFree": "toll_free",
}

NUMBER_FIELDS: tuple[str, ...] = (
    "sid",
    "account_sid",
    "phone_number",
    "friendly_name",
    "capabilities",
    *ROUTING_FIELDS,
    "voice_caller_id_lookup",
    "voice_receive_mode",
    "address_requirements",
    "address_sid",
    "bundle_sid",
    "identity_sid",
    "emergency_status",
    "emergency_address_sid",
    "origin",
    "status",
    "date_created",
    "date_updated",
)
AVAILABLE_FIELDS: tuple[str, ...] = (
    "phone_number",
    "friendly_name",
    "iso_country",
    "locality",
    "region",
    "postal_code",
    "rate_center",
    "lata",
    "latitude",
    "longitude",
    "address_requirements",
    "beta",
)
CALLER_ID_FIELDS: tuple[str, ...] = (
    "sid",
    "account_sid",
    "phone_number",
    "friendly_name",
    "date_created",
    "date_updated",
)
CALL_FIELDS: tuple[str, ...] = (
    "sid",
    "from",
    "to",
    "status",
    "duration",
    "start_time",
    "direction",
)


_MONTHS = {
    name: f"{number:02d}"
    for number, name in enumerate(
        [
            "Jan",
            "Feb",
            "Mar",
            "Apr",
            "May",
            "Jun",
            "Jul",
            "Aug",
            "Sep",
            "Oct",
            "Nov",
            "Dec",
        ],
        start=1,
    )
}
_DATE_FIELDS = frozenset({"date_created", "date_updated", "start_time", "end_time"})


def from_wire(raw: dict[str, Any], fields: Iterable[str]) -> dict[str, Any]:
    """The fields of a record as Twilio sent it, dates in ISO 8601."""
    record: dict[str, Any] = {}
    for name in fields:
        value = raw.get(name)
        if name in _DATE_FIELDS and isinstance(value, str) and value:
            value = _iso_date(value)
        record[name] = value
    return record


def _iso_date(text: str) -> str:
    """Twilio's RFC 2822 date as ISO 8601; read by hand for the usual UTC form,
    since a listing can hold 50,000 of them."""
    parts = text.split()
    if len(parts) == 6 and parts[5] == "+0000" and parts[2] in _MONTHS:
        return f"{parts[3]}-{_MONTHS[parts[2]]}-{int(parts[1]):02d}T{parts[4]}+00:00"
    try:
        return parsedate_to_datetime(text).isoformat()
    except (TypeError, ValueError):
        return text


def as_dict(instance: object, fields: Iterable[str]) -> dict[str, Any]:
    """The fields of a twilio-python instance as JSON-ready values."""
    record: dict[str, Any] = {}
    for name in fields:
        value = getattr(instance, name, None)
        if isinstance(value, datetime):
            value = value.isoformat()
        elif isinstance(value, Decimal):
            value = str(value)
        elif value is not None and hasattr(value, "value"):  # twilio-python enums
            value = value.value
        record[name] = value
    return record


# Twilio's answer to a validation request for a number already verified.
VALIDATION_FIELDS: tuple[str, ...] = (
    "account_sid",
    "call_sid",
    "friendly_name",
    "phone_number",
    "validation_code",
)
VALIDATION_CALL_FIELDS: tuple[str, ...] = (
    "sid",
    "from",
    "to",
    "status",
    "start_time",
    "end_time",
    "date_updated",
)
