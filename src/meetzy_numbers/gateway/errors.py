"""Turning Twilio's errors into the tool's, with the account and number named."""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager

from meetzy_numbers.errors import (
    CredentialsError,
    MeetzyError,
    NotFound,
    TwilioFailure,
    Unreachable,
)
from meetzy_numbers.gateway.http import GatewayHttpClient
from meetzy_numbers.model.accounts import Account

# Twilio error codes that mean something specific to an operator.
AUTHENTICATE = 20003
NOT_FOUND = 20404
SUSPENDED = 20403
TOO_MANY_REQUESTS = 20429


def twilio_error(
    status: int | None,
    code: int | None,
    message: str,
    *,
    action: str,
    account: Account,
    what: str | None = None,
    api_key_on_subaccount: bool = False,
) -> MeetzyError:
    where = f"in {account.label()}"
    subject = f"{what} {where}" if what else where
    detail = f"{message} (Twilio error {code})" if code else message
    if status == 401 or code == AUTHENTICATE:
        if api_key_on_subaccount:
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


@contextmanager
def mapped_errors(
    http: GatewayHttpClient,
    *,
    action: str,
    account: Account,
    what: str | None = None,
    api_key_on_subaccount: bool = False,
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
            api_key_on_subaccount=api_key_on_subaccount,
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
