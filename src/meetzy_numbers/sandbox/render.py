"""Twilio's wire format: full records from compact state, errors and list pages.

Field sets follow the response schemas of Twilio's OpenAPI description for the
2010-04-01 API (`twilio_api_v2010.json`), with the values real Twilio sends where
the description and the service differ (see the fidelity tests).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Final, TypeVar
from urllib.parse import urlencode

from .state import NUMBER_DEFAULTS, Json, call_end, caps_dict, rfc2822

API: Final = "/2010-04-01"
MAX_PAGE_SIZE: Final = 1000
DEFAULT_PAGE_SIZE: Final = 50

_ACCOUNT_SUBRESOURCES: Final = (
    ("addresses", "Addresses"),
    ("conferences", "Conferences"),
    ("signing_keys", "SigningKeys"),
    ("transcriptions", "Transcriptions"),
    ("connect_apps", "ConnectApps"),
    ("sip", "SIP"),
    ("authorized_connect_apps", "AuthorizedConnectApps"),
    ("usage", "Usage"),
    ("keys", "Keys"),
    ("applications", "Applications"),
    ("recordings", "Recordings"),
    ("short_codes", "SMS/ShortCodes"),
    ("calls", "Calls"),
    ("notifications", "Notifications"),
    ("incoming_phone_numbers", "IncomingPhoneNumbers"),
    ("queues", "Queues"),
    ("messages", "Messages"),
    ("outgoing_caller_ids", "OutgoingCallerIds"),
    ("available_phone_numbers", "AvailablePhoneNumbers"),
    ("balance", "Balance"),
)
_CALL_SUBRESOURCES: Final = (
    ("feedback", "Feedback"),
    ("notifications", "Notifications"),
    ("recordings", "Recordings"),
    ("streams", "Streams"),
    ("payments", "Payments"),
    ("user_defined_message_subscriptions", "UserDefinedMessageSubscriptions"),
    ("user_defined_messages", "UserDefinedMessages"),
    ("events", "Events"),
    ("siprec", "Siprec"),
    ("transcriptions", "Transcriptions"),
)
_NUMBER_FIELD_ORDER: Final = (
    "account_sid",
    "address_requirements",
    "address_sid",
    "api_version",
    "beta",
    "bundle_sid",
    "capabilities",
    "date_created",
    "date_updated",
    "emergency_address_sid",
    "emergency_address_status",
    "emergency_status",
    "friendly_name",
    "identity_sid",
    "origin",
    "phone_number",
    "sid",
    "sms_application_sid",
    "sms_fallback_method",
    "sms_fallback_url",
    "sms_method",
    "sms_url",
    "status",
    "status_callback",
    "status_callback_method",
    "trunk_sid",
    "uri",
    "voice_application_sid",
    "voice_caller_id_lookup",
    "voice_fallback_method",
    "voice_fallback_url",
    "voice_method",
    "voice_receive_mode",
    "voice_url",
)

T = TypeVar("T")


def error_body(status: int, code: int, message: str) -> Json:
    return {
        "code": code,
        "message": message,
        "more_info": f"https://www.twilio.com/docs/errors/{code}",
        "status": status,
    }


def formatted(phone_number: str) -> str:
    """Twilio's `*_formatted` style: national for +1, E.164 elsewhere."""
    if phone_number.startswith("+1") and len(phone_number) == 12:
        d = phone_number[2:]
        return f"({d[:3]}) {d[3:6]}-{d[6:]}"
    return phone_number


def account(sid: str, acct: Json) -> Json:
    base = f"{API}/Accounts/{sid}"
    return {
        "auth_token": acct["auth_token"],
        "date_created": acct["date_created"],
        "date_updated": acct["date_updated"],
        "friendly_name": acct["friendly_name"],
        "owner_account_sid": acct["owner_account_sid"],
        "sid": sid,
        "status": acct["status"],
        "subresource_uris": {
            key: f"{base}/{path}.json" for key, path in _ACCOUNT_SUBRESOURCES
        },
        "type": acct.get("type", "Full"),
        "uri": f"{base}.json",
    }


def incoming_number(account_sid: str, sid: str, rec: Json) -> Json:
    uri = f"{API}/Accounts/{account_sid}/IncomingPhoneNumbers/{sid}.json"
    values: Json = {**NUMBER_DEFAULTS, **rec}
    values["account_sid"] = account_sid
    values["sid"] = sid
    values["uri"] = uri
    values["capabilities"] = caps_dict(rec["capabilities"])
    out = {key: values[key] for key in _NUMBER_FIELD_ORDER}
    out["subresource_uris"] = {
        "assigned_add_ons": uri.removesuffix(".json") + "/AssignedAddOns.json"
    }
    return out


def caller_id(account_sid: str, sid: str, rec: Json) -> Json:
    return {
        "account_sid": account_sid,
        "date_created": rec["date_created"],
        "date_updated": rec["date_updated"],
        "friendly_name": rec["friendly_name"],
        "phone_number": rec["phone_number"],
        "sid": sid,
        "uri": f"{API}/Accounts/{account_sid}/OutgoingCallerIds/{sid}.json",
    }


def call(account_sid: str, sid: str, rec: Json) -> Json:
    """A Call; `duration` is a string, "0" for calls nobody answered."""
    start: int = rec["start"]
    duration: int = rec["duration"]
    answered = rec["status"] == "completed"
    end = call_end(rec)
    base = f"{API}/Accounts/{account_sid}/Calls/{sid}"
    minutes = -(-duration // 60)
    return {
        "account_sid": account_sid,
        "answered_by": None,
        "api_version": "2010-04-01",
        "caller_name": None,
        "date_created": rfc2822(start - 1),
        "date_updated": rfc2822(end),
        "direction": rec["direction"],
        "duration": str(duration if answered else 0),
        "end_time": rfc2822(end),
        "forwarded_from": None,
        "from": rec["from"],
        "from_formatted": formatted(rec["from"]),
        "group_sid": None,
        "parent_call_sid": None,
        "phone_number_sid": rec.get("pn"),
        "price": f"-{0.014 * minutes:.5f}" if answered else None,
        "price_unit": "USD",
        "queue_time": "0",
        "sid": sid,
        "start_time": rfc2822(start),
        "status": rec["status"],
        "subresource_uris": {
            key: f"{base}/{path}.json" for key, path in _CALL_SUBRESOURCES
        },
        "to": rec["to"],
        "to_formatted": formatted(rec["to"]),
        "trunk_sid": None,
        "uri": f"{base}.json",
    }


def available(entry: Json) -> Json:
    """A search result; latitude and longitude are strings, as Twilio sends them."""
    return {
        "address_requirements": entry["address_requirements"],
        "beta": False,
        "capabilities": caps_dict(entry["capabilities"], search_spelling=True),
        "friendly_name": entry["friendly_name"],
        "iso_country": entry["iso_country"],
        "lata": entry.get("lata"),
        "latitude": entry.get("latitude"),
        "locality": entry.get("locality"),
        "longitude": entry.get("longitude"),
        "phone_number": entry["phone_number"],
        "postal_code": entry.get("postal_code"),
        "rate_center": entry.get("rate_center"),
        "region": entry.get("region"),
    }


def page(
    items: Sequence[tuple[str, T]],
    *,
    list_key: str,
    path: str,
    filters: dict[str, str],
    page_size: int,
    page_number: int,
    page_token: str | None,
    to_json: Callable[[str, T], Json],
) -> Json:
    """One page of a 2010 list, with Twilio's paging fields.

    `items` are (sid, record) in list order. A `PageToken` (`PA` + the last SID of
    the previous page) wins over `Page`, so following `next_page_uri` stays right
    when records are added or removed between pages.
    """
    start = page_number * page_size
    if page_token and page_token[:2] in ("PA", "PB"):
        anchor = page_token[2:]
        for i, (sid, _) in enumerate(items):
            if sid == anchor:
                start = i + 1 if page_token[:2] == "PA" else max(i - page_size, 0)
                break
    chunk = items[start : start + page_size]

    def uri(number: int, token: str | None = None) -> str:
        query: list[tuple[str, str]] = [*filters.items()]
        query += [("PageSize", str(page_size)), ("Page", str(number))]
        if token:
            query.append(("PageToken", token))
        return f"{path}?{urlencode(query)}"

    has_next = start + page_size < len(items)
    return {
        list_key: [to_json(sid, rec) for sid, rec in chunk],
        "end": start + max(len(chunk) - 1, 0),
        "first_page_uri": uri(0),
        "next_page_uri": (
            uri(page_number + 1, "PA" + chunk[-1][0]) if has_next and chunk else None
        ),
        "page": page_number,
        "page_size": page_size,
        "previous_page_uri": (
            uri(page_number - 1, "PB" + chunk[0][0])
            if page_number > 0 and chunk
            else None
        ),
        "start": start,
        "uri": uri(page_number, page_token),
    }
