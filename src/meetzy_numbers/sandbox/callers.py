"""OutgoingCallerIds, validation requests, and Calls.

Validation outcome rule (the sandbox has no phone to answer): a validation
request places an outbound-api call to the number at once. If the number's last
two digits are `13` nobody answers: the call ends `no-answer` and no caller ID
appears. Any other number "enters the code": the call ends `completed` and a
verified OutgoingCallerId (PN…) exists from then on.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from typing import Final

from . import render
from .api import (
    ApiError,
    Ctx,
    e164,
    http_method,
    http_url,
    invalid,
    not_found,
    page_params,
    timestamp,
)
from .state import Json, call_end, rfc2822

Result = tuple[int, Json | None]

FAILING_SUFFIX: Final = "13"
# Twilio places validation calls from its own number; this one stands in for it.
VALIDATION_CALLER: Final = "+14157669865"
CALL_STATUSES: Final = frozenset(
    {
        "queued",
        "ringing",
        "in-progress",
        "completed",
        "busy",
        "failed",
        "no-answer",
        "canceled",
    }
)
DAY: Final = 86_400


# -- caller IDs ----------------------------------------------------------------


def list_caller_ids(ctx: Ctx, p: dict[str, str]) -> Result:
    account = p["account"]
    filters: dict[str, str] = {}
    items = list(ctx.state.caller_ids(account).items())
    phone = ctx.arg("PhoneNumber")
    if phone:
        filters["PhoneNumber"] = phone
        wanted = e164(phone)
        items = [(s, r) for s, r in items if r["phone_number"] == wanted]
    friendly = ctx.arg("FriendlyName")
    if friendly:
        filters["FriendlyName"] = friendly
        items = [(s, r) for s, r in items if r["friendly_name"] == friendly]
    size, number, token = page_params(ctx)
    return 200, render.page(
        items,
        list_key="outgoing_caller_ids",
        path=ctx.req.path,
        filters=filters,
        page_size=size,
        page_number=number,
        page_token=token,
        to_json=lambda sid, rec: render.caller_id(account, sid, rec),
    )


def _caller_id(ctx: Ctx, p: dict[str, str]) -> Json:
    rec = ctx.state.caller_ids(p["account"]).get(p["sid"])
    if rec is None:
        raise not_found(ctx.req.path)
    return rec


def fetch_caller_id(ctx: Ctx, p: dict[str, str]) -> Result:
    return 200, render.caller_id(p["account"], p["sid"], _caller_id(ctx, p))


def update_caller_id(ctx: Ctx, p: dict[str, str]) -> Result:
    rec = _caller_id(ctx, p)
    friendly = ctx.arg("FriendlyName")
    if friendly is not None:
        if len(friendly) > 64:
            raise invalid("FriendlyName", "must be at most 64 characters")
        rec["friendly_name"] = friendly or render.formatted(rec["phone_number"])
        rec["date_updated"] = rfc2822(ctx.req.now)
        ctx.state.dirty = True
    return 200, render.caller_id(p["account"], p["sid"], rec)


def delete_caller_id(ctx: Ctx, p: dict[str, str]) -> Result:
    _caller_id(ctx, p)
    del ctx.state.caller_ids(p["account"])[p["sid"]]
    ctx.state.dirty = True
    return 204, None


def request_validation(ctx: Ctx, p: dict[str, str]) -> Result:
    """Start a validation; answered 200 as in Twilio's API description."""
    account = p["account"]
    raw = ctx.arg("PhoneNumber")
    if not raw:
        raise ApiError(400, 21217, "PhoneNumber is required.")
    phone = e164(raw)
    if ctx.state.find_caller_id(account, phone):
        raise ApiError(400, 21450, "Phone number is already verified.")
    delay = ctx.arg("CallDelay") or "0"
    if not delay.isdigit() or not 0 <= int(delay) <= 60:
        raise invalid("CallDelay", "must be an integer between 0 and 60")
    extension = ctx.arg("Extension") or ""
    if not re.fullmatch(r"[0-9wW#*]*", extension):
        raise invalid("Extension", "must be digits, w, # or *")
    http_url("StatusCallback", ctx.arg("StatusCallback") or "")
    http_method("StatusCallbackMethod", ctx.arg("StatusCallbackMethod") or "")
    friendly = ctx.arg("FriendlyName") or render.formatted(phone)
    if len(friendly) > 64:
        raise invalid("FriendlyName", "must be at most 64 characters")

    state = ctx.state
    answered = not phone.endswith(FAILING_SUFFIX)
    call_sid = state.next_sid("CA")
    code = state.next_code()
    state.add_call(
        account,
        call_sid,
        {
            "from": VALIDATION_CALLER,
            "to": phone,
            "status": "completed" if answered else "no-answer",
            "start": int(ctx.req.now),
            "duration": 21 if answered else 0,
            "direction": "outbound-api",
        },
    )
    if answered:
        now = rfc2822(ctx.req.now)
        state.caller_ids(account)[state.next_sid("PN")] = {
            "phone_number": phone,
            "friendly_name": friendly,
            "date_created": now,
            "date_updated": now,
        }
    return 200, {
        "account_sid": account,
        "call_sid": call_sid,
        "friendly_name": friendly,
        "phone_number": phone,
        "validation_code": code,
    }


# -- calls ---------------------------------------------------------------------


def list_calls(ctx: Ctx, p: dict[str, str]) -> Result:
    """Newest first: calls are stored in start order, so the list reads backwards."""
    account = p["account"]
    filters: dict[str, str] = {}
    checks: list[Callable[[Json], bool]] = []
    bucket = ctx.state.calls(account)
    candidates: Iterable[str] | None = None
    for name, field in (("From", "from"), ("To", "to")):
        raw = ctx.arg(name)
        if raw:
            filters[name] = raw
            wanted = e164(raw, name=name, code=21211 if name == "To" else 21212)
            checks.append(_equals(field, wanted))
            candidates = ctx.state.calls_touching(account, wanted)
    status = ctx.arg("Status")
    if status:
        if status not in CALL_STATUSES:
            raise invalid("Status", "is not a call status")
        filters["Status"] = status
        checks.append(lambda c: c["status"] == status)
    if ctx.arg("ParentCallSid"):
        filters["ParentCallSid"] = ctx.arg("ParentCallSid") or ""
        checks.append(lambda c: False)
    checks += _time_checks(ctx, filters)
    sids = reversed(list(candidates)) if candidates is not None else reversed(bucket)
    items = [
        (sid, bucket[sid])
        for sid in sids
        if all(check(bucket[sid]) for check in checks)
    ]
    size, number, token = page_params(ctx)
    return 200, render.page(
        items,
        list_key="calls",
        path=ctx.req.path,
        filters=filters,
        page_size=size,
        page_number=number,
        page_token=token,
        to_json=lambda sid, rec: render.call(account, sid, rec),
    )


def _time_checks(ctx: Ctx, filters: dict[str, str]) -> list[Callable[[Json], bool]]:
    """StartTime/EndTime filters.

    twilio-python sends `start_time_after` as the key `StartTime>`; a URL written
    `StartTime>=2026-11-26` parses to that same key. Both bounds include their
    edge, and a bare date means midnight UTC (Twilio: "on or before midnight of
    this date"); `StartTime=DATE` means that whole day.
    """
    checks: list[Callable[[Json], bool]] = []
    for name, raw in ctx.req.args.items():
        base = name.rstrip("=")
        field, op = base.rstrip("<>"), base[len(base.rstrip("<>")) :]
        if field not in ("StartTime", "EndTime") or op not in ("", "<", ">") or not raw:
            continue
        filters[name] = raw
        when, whole_day = timestamp(name, raw)
        moment = _start if field == "StartTime" else call_end
        checks.append(_bound(moment, op, when, whole_day))
    return checks


def _start(call: Json) -> float:
    return float(call["start"])


def _equals(field: str, wanted: str) -> Callable[[Json], bool]:
    return lambda call: bool(call[field] == wanted)


def _bound(
    moment: Callable[[Json], float], op: str, when: float, whole_day: bool
) -> Callable[[Json], bool]:
    if op == ">":
        return lambda call: moment(call) >= when
    if op == "<":
        return lambda call: moment(call) <= when
    if whole_day:
        return lambda call: when <= moment(call) < when + DAY
    return lambda call: moment(call) == when


def fetch_call(ctx: Ctx, p: dict[str, str]) -> Result:
    rec = ctx.state.calls(p["account"]).get(p["sid"])
    if rec is None:
        raise not_found(ctx.req.path)
    return 200, render.call(p["account"], p["sid"], rec)
