"""IncomingPhoneNumbers: list, buy, fetch, update (and move), release.

Buying follows the pool's regulatory rules: a number whose pool entry needs a
bundle is refused with 21649 unless `BundleSid` names a twilio-approved bundle
for its country; one that needs an address is refused with 21631 unless
`AddressSid` names an address that satisfies it. Bundles and addresses may
belong to the buying account or to its parent.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any, Final

from . import render
from .api import (
    ApiError,
    Ctx,
    e164,
    flag,
    http_method,
    http_url,
    invalid,
    not_found,
    page_params,
    sid_value,
)
from .state import Json, rfc2822, set_number_field

Result = tuple[int, Json | None]

_URLS: Final = {
    "VoiceUrl": "voice_url",
    "VoiceFallbackUrl": "voice_fallback_url",
    "StatusCallback": "status_callback",
    "SmsUrl": "sms_url",
    "SmsFallbackUrl": "sms_fallback_url",
}
_METHODS: Final = {
    "VoiceMethod": "voice_method",
    "VoiceFallbackMethod": "voice_fallback_method",
    "StatusCallbackMethod": "status_callback_method",
    "SmsMethod": "sms_method",
    "SmsFallbackMethod": "sms_fallback_method",
}
_SIDS: Final = {
    "VoiceApplicationSid": ("voice_application_sid", "AP"),
    "SmsApplicationSid": ("sms_application_sid", "AP"),
    "TrunkSid": ("trunk_sid", "TK"),
    "IdentitySid": ("identity_sid", "RI"),
    "AddressSid": ("address_sid", "AD"),
    "BundleSid": ("bundle_sid", "BU"),
    "EmergencyAddressSid": ("emergency_address_sid", "AD"),
}


# -- list and fetch ------------------------------------------------------------


def list_numbers(ctx: Ctx, p: dict[str, str]) -> Result:
    account = p["account"]
    bucket = ctx.state.numbers(account)
    filters: dict[str, str] = {}
    checks: list[Callable[[Json], bool]] = []
    phone = ctx.arg("PhoneNumber")
    items: list[tuple[str, Json]]
    if phone:
        filters["PhoneNumber"] = phone
        items = _numbers_matching(ctx, account, phone)
    else:
        items = list(bucket.items())
    friendly = ctx.arg("FriendlyName")
    if friendly:
        filters["FriendlyName"] = friendly
        checks.append(lambda rec: rec["friendly_name"] == friendly)
    origin = ctx.arg("Origin")
    if origin:
        filters["Origin"] = origin
        checks.append(lambda rec: rec.get("origin", "twilio") == origin)
    if checks:
        items = [(sid, rec) for sid, rec in items if all(c(rec) for c in checks)]
    size, number, token = page_params(ctx)
    body = render.page(
        items,
        list_key="incoming_phone_numbers",
        path=ctx.req.path,
        filters=filters,
        page_size=size,
        page_number=number,
        page_token=token,
        to_json=lambda sid, rec: render.incoming_number(account, sid, rec),
    )
    return 200, body


def _numbers_matching(ctx: Ctx, account: str, raw: str) -> list[tuple[str, Json]]:
    """Twilio's PhoneNumber filter: partial numbers, `*` for any one digit."""
    text = re.sub(r"[()\-.]", "", raw).strip()
    anchored = raw.startswith(("+", " "))
    digits = text.replace(" ", "").lstrip("+")
    if not re.fullmatch(r"[\d*]+", digits):
        raise invalid("PhoneNumber", "must be digits, optionally with *")
    if anchored and "*" not in digits:
        found = ctx.state.find_number("+" + digits)
        if found and found[0] == account:
            return [(found[1], ctx.state.numbers(account)[found[1]])]
    pattern = re.compile(
        ("^" if anchored else "") + digits.replace("*", r"\d"),
    )
    return [
        (sid, rec)
        for sid, rec in ctx.state.numbers(account).items()
        if pattern.search(rec["phone_number"][1:])
    ]


def _record(ctx: Ctx, p: dict[str, str]) -> Json:
    rec = ctx.state.numbers(p["account"]).get(p["sid"])
    if rec is None:
        raise not_found(ctx.req.path)
    return rec


def fetch_number(ctx: Ctx, p: dict[str, str]) -> Result:
    rec = _record(ctx, p)
    return 200, render.incoming_number(p["account"], p["sid"], rec)


# -- update, release -----------------------------------------------------------


def parse_updates(ctx: Ctx, args: dict[str, str]) -> list[tuple[str, Any]]:
    """Validated (field, value) pairs in the order given; nothing is applied."""
    out: list[tuple[str, Any]] = []
    for name, raw in args.items():
        if name in _URLS:
            out.append((_URLS[name], http_url(name, raw)))
        elif name in _METHODS:
            out.append((_METHODS[name], http_method(name, raw)))
        elif name in _SIDS:
            field, prefix = _SIDS[name]
            out.append((field, sid_value(name, raw, prefix)))
        elif name == "FriendlyName":
            if len(raw) > 64:
                raise invalid(name, "must be at most 64 characters")
            out.append(("friendly_name", raw))
        elif name == "VoiceReceiveMode":
            if raw not in ("voice", "fax", ""):
                raise invalid(name, "must be voice or fax")
            out.append(("voice_receive_mode", raw or "voice"))
        elif name == "VoiceCallerIdLookup":
            out.append(("voice_caller_id_lookup", bool(flag(ctx, name))))
        elif name == "EmergencyStatus":
            if raw not in ("Active", "Inactive"):
                raise invalid(name, "must be Active or Inactive")
            out.append(("emergency_status", raw))
    return out


def apply_updates(rec: Json, updates: list[tuple[str, Any]]) -> None:
    """Twilio routes a number by trunk or by application, never both."""
    for field, given in updates:
        value = given
        if field == "friendly_name" and not given:
            value = render.formatted(rec["phone_number"])
        set_number_field(rec, field, value)
        if field == "trunk_sid" and value:
            set_number_field(rec, "voice_application_sid", None)
        elif field == "voice_application_sid" and value:
            set_number_field(rec, "trunk_sid", None)


def update_number(ctx: Ctx, p: dict[str, str]) -> Result:
    account, sid = p["account"], p["sid"]
    rec = _record(ctx, p)
    updates = parse_updates(ctx, ctx.req.args)
    target = ctx.arg("AccountSid")
    if target and target != account:
        _check_move(ctx, account, target)
    if updates:
        apply_updates(rec, updates)
        rec["date_updated"] = rfc2822(ctx.req.now)
        ctx.state.dirty = True
    if target and target != account:
        ctx.state.remove_number(account, sid)
        rec["date_updated"] = rfc2822(ctx.req.now)
        ctx.state.add_number(target, sid, rec)
        account = target
    return 200, render.incoming_number(account, sid, rec)


def _check_move(ctx: Ctx, source: str, target: str) -> None:
    """Moving needs the parent's own token and both accounts in its family."""
    family = {ctx.principal, *ctx.state.subaccounts_of(ctx.principal)}
    if target not in ctx.state.accounts:
        raise ApiError(400, 21473, f"AccountSid {target} is not a valid account")
    if ctx.via_api_key or source not in family or target not in family:
        raise ApiError(
            400,
            21474,
            "Numbers can only move between a parent account and its subaccounts, "
            "with the parent's credentials",
        )


def release_number(ctx: Ctx, p: dict[str, str]) -> Result:
    _record(ctx, p)
    ctx.state.remove_number(p["account"], p["sid"])
    return 204, None


# -- buy -----------------------------------------------------------------------


def buy_number(ctx: Ctx, p: dict[str, str]) -> Result:
    account = p["account"]
    state = ctx.state
    country, position = _choose(ctx)
    entry: Json = state.doc["available"][country][position]
    bundle = _regulatory_bundle(ctx, account, entry)
    address = _regulatory_address(ctx, account, entry)
    routing = {k: v for k, v in ctx.req.args.items() if k not in ("AccountSid",)}
    updates = parse_updates(ctx, routing)
    now = rfc2822(ctx.req.now)
    rec: Json = {
        "phone_number": entry["phone_number"],
        "friendly_name": render.formatted(entry["phone_number"]),
        "capabilities": entry["capabilities"],
        "date_created": now,
        "date_updated": now,
    }
    set_number_field(rec, "address_requirements", entry["address_requirements"])
    apply_updates(rec, updates)
    if bundle:
        set_number_field(rec, "bundle_sid", bundle)
    if address:
        set_number_field(rec, "address_sid", address)
    state.take_from_pool(country, position)
    sid = state.next_sid("PN")
    state.add_number(account, sid, rec)
    return 201, render.incoming_number(account, sid, rec)


def _choose(ctx: Ctx) -> tuple[str, int]:
    """The pool entry a purchase names, by PhoneNumber or by AreaCode."""
    phone_raw = ctx.arg("PhoneNumber")
    area = ctx.arg("AreaCode")
    if phone_raw:
        phone = e164(phone_raw, code=21421)
        found = ctx.state.pool_entry(phone)
        if found is None:
            raise ApiError(400, 21422, f"PhoneNumber {phone} is not available.")
        return found
    if area:
        if not re.fullmatch(r"[2-9]\d{2}", area):
            raise ApiError(400, 21451, f"AreaCode {area} is invalid.")
        for country in ("US", "CA"):
            for i, entry in enumerate(ctx.state.doc["available"].get(country, [])):
                if entry["type"] == "Local" and entry.get("area_code") == area:
                    return country, i
        raise ApiError(400, 21452, f"No phone numbers found in area code {area}.")
    raise ApiError(400, 21421, "A 'PhoneNumber' or 'AreaCode' is required.")


def _usable_by(ctx: Ctx, owner: str, account: str) -> bool:
    acct = ctx.state.accounts.get(account)
    return owner == account or (acct is not None and acct["owner_account_sid"] == owner)


def _regulatory_bundle(ctx: Ctx, account: str, entry: Json) -> str | None:
    given = ctx.arg("BundleSid") or None
    bundle = ctx.state.doc["bundles"].get(given) if given else None
    if given and bundle is None:
        raise ApiError(400, 21649, f"Bundle {given} was not found.")
    if not entry.get("bundle_required"):
        return given
    if bundle is None:
        raise ApiError(
            400,
            21649,
            f"Phone Number Requires a Bundle: {entry['iso_country']} "
            f"{entry['type']} numbers need a twilio-approved BundleSid.",
        )
    if bundle["status"] != "twilio-approved":
        raise ApiError(400, 21649, f"Bundle {given} status is not twilio-approved")
    if bundle["iso_country"] != entry["iso_country"] or not _usable_by(
        ctx, bundle["account_sid"], account
    ):
        raise ApiError(
            400, 21649, f"Bundle {given} cannot be used for {entry['phone_number']}."
        )
    return given


def _regulatory_address(ctx: Ctx, account: str, entry: Json) -> str | None:
    given = ctx.arg("AddressSid") or None
    address = ctx.state.doc["addresses"].get(given) if given else None
    requirement = entry["address_requirements"]
    if given and (
        address is None or not _usable_by(ctx, address["account_sid"], account)
    ):
        raise ApiError(400, 21631, f"Address {given} was not found.")
    if requirement == "none":
        return given
    country = entry["iso_country"]
    fits = address is not None and (
        requirement == "any"
        or (requirement == "local" and address["iso_country"] == country)
        or (requirement == "foreign" and address["iso_country"] != country)
    )
    if not fits:
        raise ApiError(
            400,
            21631,
            f"Phone Number Requires an Address: {country} numbers need an "
            f"AddressSid ({requirement} address).",
        )
    return given
