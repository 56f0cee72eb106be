"""Request dispatch: authentication, account access, and the route table.

Access rules, as Twilio applies them to the 2010 API:

- `Authorization: Basic` with `AccountSid:AuthToken`, or `SK…:secret` of an API
  key; anything else is 401 / 20003.
- An account's auth token reaches its own paths and those of its subaccounts.
- An API key reaches only its own account's paths: a parent's key on a
  subaccount path is 401 / 20003, and `GET /Accounts.json` with a key lists
  only the key's account.
- Credentials of one account on a path of an account outside its family (a
  subaccount on its parent or a sibling) are 403 / 20003.
- An unknown account SID in the path is 404 / 20404.
"""

from __future__ import annotations

import base64
import binascii
import hmac
import re
from collections.abc import Callable
from typing import Final

from . import callers, numbers, render, search
from .api import ApiError, Ctx, Request, not_found, page_params
from .state import Json, State

Result = tuple[int, Json | None]
Handler = Callable[[Ctx, dict[str, str]], Result]

_ACCOUNT: Final = r"^/2010-04-01/Accounts/(?P<account>[^/]+)"


def _authenticate(state: State, headers: dict[str, str]) -> tuple[str, bool]:
    """(account SID, via API key) for the request's Basic credentials."""
    scheme, _, token = headers.get("authorization", "").partition(" ")
    denied = ApiError(401, 20003, "Authenticate")
    if scheme.lower() != "basic":
        raise denied
    try:
        user, _, secret = base64.b64decode(token, validate=True).decode().partition(":")
    except (binascii.Error, UnicodeDecodeError):
        raise denied from None
    account = state.accounts.get(user)
    if (
        account is not None
        and account["status"] != "closed"
        and hmac.compare_digest(account["auth_token"].encode(), secret.encode())
    ):
        return user, False
    key = state.doc["api_keys"].get(user)
    if key is not None and hmac.compare_digest(key["secret"].encode(), secret.encode()):
        return key["account_sid"], True
    raise denied


def _authorize(ctx: Ctx, account_sid: str) -> None:
    acct = ctx.state.accounts.get(account_sid)
    if acct is None:
        raise not_found(ctx.req.path)
    if account_sid == ctx.principal:
        return
    if acct["owner_account_sid"] == ctx.principal:
        if ctx.via_api_key:
            raise ApiError(401, 20003, "Authenticate")
        return
    raise ApiError(403, 20003, "Permission Denied")


# -- accounts ------------------------------------------------------------------


def list_accounts(ctx: Ctx, p: dict[str, str]) -> Result:
    state = ctx.state
    sids = [ctx.principal]
    if not ctx.via_api_key:
        sids += state.subaccounts_of(ctx.principal)
    items = [(sid, state.accounts[sid]) for sid in sids]
    filters: dict[str, str] = {}
    friendly = ctx.arg("FriendlyName")
    if friendly:
        filters["FriendlyName"] = friendly
        items = [(s, a) for s, a in items if a["friendly_name"] == friendly]
    status = ctx.arg("Status")
    if status:
        if status not in ("active", "suspended", "closed"):
            raise ApiError(400, 20001, "Invalid parameter Status")
        filters["Status"] = status
        items = [(s, a) for s, a in items if a["status"] == status]
    size, number, token = page_params(ctx)
    return 200, render.page(
        items,
        list_key="accounts",
        path=ctx.req.path,
        filters=filters,
        page_size=size,
        page_number=number,
        page_token=token,
        to_json=render.account,
    )


def fetch_account(ctx: Ctx, p: dict[str, str]) -> Result:
    sid = p["account"]
    return 200, render.account(sid, ctx.state.accounts[sid])


ROUTES: Final[tuple[tuple[re.Pattern[str], dict[str, Handler]], ...]] = (
    (re.compile(r"^/2010-04-01/Accounts\.json$"), {"GET": list_accounts}),
    (re.compile(_ACCOUNT + r"\.json$"), {"GET": fetch_account}),
    (
        re.compile(_ACCOUNT + r"/IncomingPhoneNumbers\.json$"),
        {"GET": numbers.list_numbers, "POST": numbers.buy_number},
    ),
    (
        re.compile(_ACCOUNT + r"/IncomingPhoneNumbers/(?P<sid>[^/]+)\.json$"),
        {
            "GET": numbers.fetch_number,
            "POST": numbers.update_number,
            "DELETE": numbers.release_number,
        },
    ),
    (
        re.compile(
            _ACCOUNT
            + r"/AvailablePhoneNumbers/(?P<country>[^/]+)/(?P<kind>[^/]+)\.json$"
        ),
        {"GET": search.search_available},
    ),
    (
        re.compile(_ACCOUNT + r"/OutgoingCallerIds\.json$"),
        {"GET": callers.list_caller_ids, "POST": callers.request_validation},
    ),
    (
        re.compile(_ACCOUNT + r"/OutgoingCallerIds/(?P<sid>[^/]+)\.json$"),
        {
            "GET": callers.fetch_caller_id,
            "POST": callers.update_caller_id,
            "DELETE": callers.delete_caller_id,
        },
    ),
    (re.compile(_ACCOUNT + r"/Calls\.json$"), {"GET": callers.list_calls}),
    (
        re.compile(_ACCOUNT + r"/Calls/(?P<sid>[^/]+)\.json$"),
        {"GET": callers.fetch_call},
    ),
)


def dispatch(state: State, req: Request) -> Result:
    """Answer one request; raises ApiError for every non-2xx answer."""
    principal, via_key = _authenticate(state, req.headers)
    ctx = Ctx(state=state, req=req, principal=principal, via_api_key=via_key)
    for pattern, methods in ROUTES:
        match = pattern.match(req.path)
        if match is None:
            continue
        handler = methods.get(req.method)
        if handler is None:
            raise ApiError(405, 20004, f"Method {req.method} not allowed on {req.path}")
        params = match.groupdict()
        if "account" in params:
            _authorize(ctx, params["account"])
        return handler(ctx, params)
    raise not_found(req.path)
