"""Turning Twilio's errors into the tool's, with the account and number named."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from contextlib import contextmanager

from meetzy_numbers.errors import (
    CredentialsError,
    MeetzyError,
    NotFound,
    TwilioFailure,
    Unreachable,
    UsageError,
)
from meetzy_numbers.gateway.http import GatewayHttpClient
from meetzy_numbers.model.accounts import Account
from meetzy_numbers.store.credentials import Credential

# Twilio error codes that mean something specific to an operator.
AUTHENTICATE = 20003
NOT_FOUND = 20404
SUSPENDED = 20403
TOO_MANY_REQUESTS = 20429

# Twilio's answers to a search or a purchase that an operator can act on.
NEEDS_BUNDLE = 21649
NEEDS_ADDRESS = frozenset({21631, 21613})
NUMBER_NOT_AVAILABLE = 21422
NONE_IN_AREA_CODE = 21452
BAD_AREA_CODE = 21451


def twilio_error(
    status: int | None,
    code: int | None,
    message: str,
    *,
    action: str,
    account: Account,
    what: str | None = None,
    credential: Credential | None = None,
) -> MeetzyError:
    where = f"in {account.label()}"
    subject = f"{what} {where}" if what else where
    detail = f"{message} (Twilio error {code})" if code else message
    if status == 401 or code == AUTHENTICATE:
        return _credentials_refused(account, detail, credential)
    if status == 404 or code == NOT_FOUND:
        return NotFound(f"{what or 'resource'} not found {where}")
    if status == 429 or code == TOO_MANY_REQUESTS:
        return Unreachable(f"Twilio kept rate-limiting {action} {subject}")
    if code == SUSPENDED:
        return TwilioFailure(
            f"{account.label()} is suspended; Twilio refused to {action}",
            status=status,
            code=code,
        )
    return TwilioFailure(
        f"Twilio refused to {action} {subject}: {detail}", status=status, code=code
    )


def _credentials_refused(
    account: Account, detail: str, credential: Credential | None
) -> CredentialsError:
    if credential is not None and credential.source == "env":
        return CredentialsError(
            f"Twilio refused the credentials from the environment for "
            f"{account.label()} ({detail})",
            hint="check TWILIO_ACCOUNT_SID with TWILIO_AUTH_TOKEN, or "
            "TWILIO_API_KEY and TWILIO_API_SECRET: they take precedence "
            "over stored credentials",
        )
    if (
        credential is not None
        and credential.username.startswith("SK")
        and credential.account_sid != account.sid
    ):
        return CredentialsError(
            f"Twilio refused the main account's API key for {account.label()}: "
            "main-account API keys cannot reach subaccounts",
            hint=f"store the subaccount's own credentials: "
            f"meetzy-numbers creds set {account.sid}",
        )
    return CredentialsError(
        f"Twilio refused the credentials for {account.label()} ({detail})",
        hint=f"check them with: meetzy-numbers creds set {account.sid}",
    )


@contextmanager
def mapped_errors(
    http: GatewayHttpClient,
    *,
    action: str,
    account: Account,
    what: str | None = None,
    credential: Credential | None = None,
) -> Iterator[None]:
    """Run a twilio-python call and re-raise whatever fails as a MeetzyError."""
    from twilio.base.exceptions import TwilioException, TwilioRestException

    def mapped(status: int | None, code: int | None, message: str) -> MeetzyError:
        return twilio_error(
            status,
            code,
            message,
            action=action,
            account=account,
            what=what,
            credential=credential,
        )

    try:
        yield
    except MeetzyError:
        raise
    except TwilioRestException as error:
        raise mapped(error.status, error.code, str(error.msg)) from None
    except TwilioException:
        # List calls hide the answer behind "Unable to fetch page".
        answer = http.last_answer
        if answer is None:
            raise TwilioFailure(
                f"Twilio failed to {action} {account.label()}"
            ) from None
        status, code, message = parse_error(answer.status, answer.text)
        raise mapped(status, code, message) from None
    except ValueError:
        answer = http.last_answer
        status = answer.status if answer else None
        raise TwilioFailure(
            f"Twilio's answer to {action} {account.label()} was not JSON "
            f"(HTTP {status})",
            status=status,
        ) from None


def parse_error(status: int, text: str) -> tuple[int | None, int | None, str]:
    try:
        body = json.loads(text)
    except ValueError:
        return status, None, f"HTTP {status}, and the answer was not JSON"
    if not isinstance(body, dict):
        return status, None, f"HTTP {status}"
    code = body.get("code")
    message = str(body.get("message") or f"HTTP {status}")
    return status, int(code) if isinstance(code, int) else None, message


def purchase_refusal(
    error: TwilioFailure,
    phone_number: str,
    *,
    bundle_sid: str | None = None,
    address_sid: str | None = None,
) -> MeetzyError:
    """Twilio's refusal to sell a number, told as what the operator must do."""
    code = error.code
    said = _twilio_said(error)
    if code == NEEDS_BUNDLE and not bundle_sid:
        return TwilioFailure(
            f"Twilio will not sell {phone_number} without a regulatory bundle {said}",
            status=error.status,
            code=code,
            hint="pass --bundle BU… naming a twilio-approved bundle for the "
            "number's country (Twilio console: Regulatory Compliance > Bundles)",
        )
    if code == NEEDS_BUNDLE:
        return TwilioFailure(
            f"Twilio refused bundle {bundle_sid} for {phone_number}: it is not "
            f"approved yet, or not for this country or account {said}",
            status=error.status,
            code=code,
            hint="wait until Twilio approves it, or pass --bundle BU… naming a "
            "twilio-approved bundle",
        )
    if code in NEEDS_ADDRESS and not address_sid:
        return TwilioFailure(
            f"Twilio will not sell {phone_number} without an address on file {said}",
            status=error.status,
            code=code,
            hint="pass --address AD… naming an address in the number's country "
            "(Twilio console: Phone Numbers > Addresses)",
        )
    if code in NEEDS_ADDRESS:
        return TwilioFailure(
            f"address {address_sid} does not meet the requirements of "
            f"{phone_number} {said}",
            status=error.status,
            code=code,
            hint="pass --address AD… naming an address that Twilio accepts for "
            "the number's country",
        )
    if code == NUMBER_NOT_AVAILABLE:
        return TwilioFailure(
            f"{phone_number} is no longer for sale {said}",
            status=error.status,
            code=code,
        )
    return search_refusal(error)


def search_refusal(error: TwilioFailure) -> MeetzyError:
    """Twilio's refusal to search, when it is about the area code asked for."""
    said = _twilio_said(error)
    if error.code == NONE_IN_AREA_CODE:
        return TwilioFailure(
            f"Twilio has no numbers for sale in that area code {said}",
            status=error.status,
            code=error.code,
            hint="try a nearby area code, or leave --area-code out",
        )
    if error.code == BAD_AREA_CODE:
        return UsageError(
            f"Twilio does not know that area code {said}",
            hint="give the area code as digits, like 415 or 91",
        )
    return error


def _twilio_said(error: TwilioFailure) -> str:
    """Twilio's own words from a mapped error, without the tool's framing."""
    text = error.message
    _, found, rest = text.partition(": ")
    if found:
        text = rest
    text = text.removeprefix("Unable to create record: ")
    text = text.removeprefix("Unable to fetch page: ")
    text = re.sub(r"\s*\(Twilio error \d+\)$", "", text)
    return f"(Twilio error {error.code}: {text})"
