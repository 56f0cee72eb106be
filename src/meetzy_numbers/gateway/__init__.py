"""Twilio access per account: clients, credentials, paging and error mapping.

Every command reaches Twilio through one Gateway. It picks the credentials an
account needs (viewing may use the main account's; managing a subaccount
needs its own, per the contract), builds one twilio-python client per
credential over the shared HTTP layer, and hands back plain dicts so the
layers above never see a twilio-python object.
"""

from __future__ import annotations

import json
import logging
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from meetzy_numbers.errors import CredentialsError, NotFound, TwilioFailure
from meetzy_numbers.gateway.errors import (
    mapped_errors,
    parse_error,
    purchase_refusal,
    search_refusal,
)
from meetzy_numbers.gateway.http import GatewayHttpClient
from meetzy_numbers.gateway.wire import (
    AVAILABLE_FIELDS,
    CALL_FIELDS,
    CALLER_ID_FIELDS,
    NUMBER_FIELDS,
    SEARCH_KINDS,
    SEARCH_SIZE,
    VALIDATION_CALL_FIELDS,
    VALIDATION_FIELDS,
    as_dict,
    from_wire,
)
from meetzy_numbers.model.accounts import Account
from meetzy_numbers.store.credentials import Credential, CredentialStore

if TYPE_CHECKING:
    from twilio.rest import Client

log = logging.getLogger(__name__)

PAGE_SIZE = 1000
API_ROOT = "https://api.twilio.com"


class _Lazy:
    """An object made on first attribute access."""

    def __init__(self, make: Callable[[], Any]) -> None:
        self._make = make
        self._made: Any = None

    def __getattr__(self, name: str) -> Any:
        if self._made is None:
            self._made = self._make()
        return getattr(self._made, name)


# Twilio answers a search with about 30 numbers and no next page.
ALREADY_VERIFIED = 21450


class AlreadyVerified(TwilioFailure):
    """A validation request for a number that is already a caller ID.

    A re-run rather than a failure: callers treat it as success.
    """


def _before(moment: datetime, start: datetime) -> bool:
    if (moment.tzinfo is None) != (start.tzinfo is None):
        moment, start = moment.replace(tzinfo=None), start.replace(tzinfo=None)
    return moment < start


__all__ = [
    "ALREADY_VERIFIED",
    "AVAILABLE_FIELDS",
    "CALLER_ID_FIELDS",
    "CALL_FIELDS",
    "NUMBER_FIELDS",
    "SEARCH_SIZE",
    "VALIDATION_CALL_FIELDS",
    "VALIDATION_FIELDS",
    "AlreadyVerified",
    "Gateway",
    "as_dict",
    "from_wire",
]


class Gateway:
    def __init__(
        self,
        *,
        main_sid: str,
        credentials: CredentialStore,
        http: GatewayHttpClient,
    ) -> None:
        self.main_sid = main_sid
        self.credentials = credentials
        self.http = http
        self._clients: dict[tuple[str, str], Client] = {}
        self._lock = threading.Lock()

    # Credentials and clients

    def credential(self, account: Account, *, manage: bool) -> Credential:
        try:
            own = self.credentials.get(account.sid)
        except CredentialsError:
            # Viewing a subaccount can fall back on the main account's
            # credentials (often from the environment) when the keyring fails.
            if manage or account.sid == self.main_sid:
                raise
            own = None
        if own is not None:
            return own
        if account.sid == self.main_sid or account.is_main:
            raise CredentialsError(
                f"no credentials for the main account {account.sid}",
                hint=(
                    f"store them with: meetzy-numbers creds set {account.sid}, "
                    "or set TWILIO_ACCOUNT_SID and TWILIO_AUTH_TOKEN"
                ),
            )
        if manage:
            raise CredentialsError(
                f"subaccount {account.label()} has no credentials of its own, "
                "and changing its numbers needs them",
                hint=f"store them with: meetzy-numbers creds set {account.sid} "
                f"(or, with no keyring, set TWILIO_AUTH_TOKEN_{account.sid})",
            )
        main = self.credentials.get(self.main_sid)
        if main is None:
            raise CredentialsError(
                f"no credentials for {account.label()} or the main account",
                hint=f"store them with: meetzy-numbers creds set {self.main_sid}",
            )
        return main

    def client(self, credential: Credential) -> Client:
        key = (credential.username, credential.account_sid)
        with self._lock:
            client = self._clients.get(key)
            if client is None:
                from twilio.rest import Client

                client = Client(
                    credential.username,
                    credential.secret,
                    account_sid=credential.account_sid,
                    http_client=self.http,
                )
                self._clients[key] = client
            return client

    @contextmanager
    def _calling(
        self, account: Account, *, manage: bool, action: str, what: str | None = None
    ) -> Iterator[tuple[Any, Credential]]:
        """The account's API with the right credentials; errors come out mapped."""
        credential = self.credential(account, manage=manage)
        client = self.client(credential)
        # Built on first use: listings walk raw pages and never need it, and
        # twilio-python's resource modules cost start-up time.
        api = _Lazy(lambda: client.api.v2010.accounts(account.sid))
        with mapped_errors(
            self.http, action=action, account=account, what=what, credential=credential
        ):
            yield api, credential

    def _account_api(self, account: Account, *, manage: bool) -> tuple[Any, Credential]:
        credential = self.credential(account, manage=manage)
        return self.client(credential).api.v2010.accounts(account.sid), credential

    # Accounts

    def check(self, credential: Credential) -> Account:
        """Fetch the credential's own account: proof the secret works."""
        probe = Account(credential.account_sid, "", is_main=False)
        with mapped_errors(
            self.http,
            action="check the credentials of",
            account=probe,
            credential=credential,
        ):
            fetched = (
                self.client(credential)
                .api.v2010.accounts(credential.account_sid)
                .fetch()
            )
        return Account(
            sid=str(fetched.sid),
            name=str(fetched.friendly_name or ""),
            status=str(getattr(fetched.status, "value", fetched.status) or "active"),
            is_main=fetched.owner_account_sid in (None, fetched.sid),
        )

    def accounts(self) -> list[Account]:
        """The main account first, then its open subaccounts by name."""
        main = Account(self.main_sid, "main account", is_main=True)
        credential = self.credential(main, manage=False)
        if credential.username.startswith("SK"):
            log.warning(
                "the main account's credential is an API key, and Twilio shows "
                "no subaccounts to API keys; to list them, store the auth token: "
                "meetzy-numbers creds set %s",
                self.main_sid,
            )
        found: list[Account] = []
        with mapped_errors(
            self.http,
            action="list the accounts of",
            account=main,
            credential=credential,
        ):
            for record in self._walk(credential, "Accounts.json", "accounts"):
                status = str(record.get("status") or "active")
                if status == "closed":
                    continue
                found.append(
                    Account(
                        sid=str(record["sid"]),
                        name=str(record.get("friendly_name") or ""),
                        status=status,
                        is_main=record["sid"] == self.main_sid,
                    )
                )
        if not any(account.is_main for account in found):
            found.append(main)
        found.sort(key=lambda account: (not account.is_main, account.name.lower()))
        return found

    # IncomingPhoneNumbers

    def list_numbers(self, account: Account) -> list[dict[str, Any]]:
        with self._calling(account, manage=False, action="list the numbers of") as (
            _,
            credential,
        ):
            return [
                from_wire(raw, NUMBER_FIELDS)
                for raw in self._walk(
                    credential,
                    f"Accounts/{account.sid}/IncomingPhoneNumbers.json",
                    "incoming_phone_numbers",
                )
            ]

    def _walk(
        self,
        credential: Credential,
        path: str,
        key: str,
        params: dict[str, str] | None = None,
    ) -> Iterator[dict[str, Any]]:
        """Every record of a list, page by page, as the JSON Twilio sent.

        The same requests twilio-python's ``stream()`` makes, minus building
        an object per record only to take it apart again: on 10,000 numbers
        or 50,000 calls that was most of the CPU a listing cost. The client
        still applies region and edge to the host.
        """
        from twilio.base.exceptions import TwilioRestException

        client = self.client(credential)
        url: str | None = f"{API_ROOT}/2010-04-01/{path}"
        query: dict[str, object] | None = {**(params or {}), "PageSize": PAGE_SIZE}
        while url:
            response = client.request("GET", url, params=query)
            if response.status_code >= 400:
                status, code, message = parse_error(response.status_code, response.text)
                raise TwilioRestException(status or 0, url, message, code)
            payload = json.loads(response.text)
            yield from payload.get(key) or []
            next_uri = payload.get("next_page_uri")
            url = f"{API_ROOT}{next_uri}" if next_uri else None
            query = None  # the next page's URI carries the query

    def fetch_number(
        self, account: Account, sid: str, *, manage: bool = False
    ) -> dict[str, Any]:
        with self._calling(
            account, manage=manage, action="fetch", what=f"number {sid}"
        ) as (api, _credential):
            return as_dict(api.incoming_phone_numbers(sid).fetch(), NUMBER_FIELDS)

    def find_number(self, account: Account, e164: str) -> dict[str, Any] | None:
        """The account's number with these digits, asked with Twilio's filter."""
        with self._calling(
            account, manage=False, action="look up", what=f"number {e164}"
        ) as (_, credential):
            found = self._walk(
                credential,
                f"Accounts/{account.sid}/IncomingPhoneNumbers.json",
                "incoming_phone_numbers",
                {"PhoneNumber": e164},
            )
            matches = [from_wire(raw, NUMBER_FIELDS) for raw in found]
        return next((m for m in matches if m["phone_number"] == e164), None)

    def update_number(
        self, account: Account, sid: str, changes: dict[str, str]
    ) -> dict[str, Any]:
        with self._calling(
            account, manage=True, action="update", what=f"number {sid}"
        ) as (api, _credential):
            updated = api.incoming_phone_numbers(sid).update(**changes)
        return as_dict(updated, NUMBER_FIELDS)

    def release_number(self, account: Account, sid: str) -> None:
        with self._calling(
            account, manage=True, action="release", what=f"number {sid}"
        ) as (api, _credential):
            api.incoming_phone_numbers(sid).delete()

    # Buying

    def search_available(
        self, account: Account, country: str, kind: str, **filters: Any
    ) -> list[dict[str, Any]]:
        """Numbers for sale: one search, at most about 30, nothing bought.

        ``filters`` are twilio-python's (``area_code``, ``contains``,
        ``voice_enabled``…). A country that sells no numbers of ``kind``
        answers 404, which is an empty result here.
        """
        api, credential = self._account_api(account, manage=False)
        listing = getattr(api.available_phone_numbers(country), SEARCH_KINDS[kind])
        try:
            with mapped_errors(
                self.http,
                action=f"search {country} {kind} numbers for",
                account=account,
                credential=credential,
            ):
                records = listing.list(page_size=SEARCH_SIZE, **filters)
        except NotFound:
            return []
        except TwilioFailure as error:
            raise search_refusal(error) from None
        found = []
        for record in records:
            item = as_dict(record, AVAILABLE_FIELDS)
            # Search results spell Voice/SMS/MMS; numbers in an account do not.
            capabilities = getattr(record, "capabilities", None) or {}
            item["capabilities"] = {
                str(key).lower(): bool(value) for key, value in capabilities.items()
            }
            found.append(item)
        return found

    def buy_number(
        self,
        account: Account,
        phone_number: str,
        *,
        bundle_sid: str | None = None,
        address_sid: str | None = None,
        routing: dict[str, str] | None = None,
        friendly_name: str | None = None,
    ) -> dict[str, Any]:
        """Buy one number. Not idempotent: a time-out raises UncertainOutcome."""
        api, credential = self._account_api(account, manage=True)
        params: dict[str, str] = {**(routing or {}), "phone_number": phone_number}
        for name, value in (
            ("bundle_sid", bundle_sid),
            ("address_sid", address_sid),
            ("friendly_name", friendly_name),
        ):
            if value:
                params[name] = value
        try:
            with mapped_errors(
                self.http,
                action="buy",
                account=account,
                what=f"number {phone_number}",
                credential=credential,
            ):
                created = api.incoming_phone_numbers.create(**params)
        except TwilioFailure as error:
            raise purchase_refusal(
                error, phone_number, bundle_sid=bundle_sid, address_sid=address_sid
            ) from None
        return as_dict(created, NUMBER_FIELDS)

    # OutgoingCallerIds

    def list_caller_ids(
        self, account: Account, *, phone_number: str | None = None
    ) -> list[dict[str, Any]]:
        params = {"PhoneNumber": phone_number} if phone_number else None
        with self._calling(account, manage=False, action="list the caller IDs of") as (
            _,
            credential,
        ):
            return [
                from_wire(raw, CALLER_ID_FIELDS)
                for raw in self._walk(
                    credential,
                    f"Accounts/{account.sid}/OutgoingCallerIds.json",
                    "outgoing_caller_ids",
                    params,
                )
                if phone_number is None or raw.get("phone_number") == phone_number
            ]

    def request_validation(
        self,
        account: Account,
        phone_number: str,
        *,
        friendly_name: str | None = None,
        call_delay: int | None = None,
        extension: str | None = None,
    ) -> dict[str, Any]:
        """Start Twilio's validation call; the answer holds the code to enter.

        Raises AlreadyVerified when the number is a caller ID of the account.
        """
        api, credential = self._account_api(account, manage=True)
        options: dict[str, Any] = {}
        if friendly_name:
            options["friendly_name"] = friendly_name
        if call_delay is not None:
            options["call_delay"] = call_delay
        if extension:
            options["extension"] = extension
        try:
            with mapped_errors(
                self.http,
                action="verify",
                account=account,
                what=f"caller ID {phone_number}",
                credential=credential,
            ):
                created = api.validation_requests.create(
                    phone_number=phone_number, **options
                )
        except TwilioFailure as error:
            if error.code == ALREADY_VERIFIED:
                raise AlreadyVerified(
                    f"{phone_number} is already a caller ID of {account.label()}",
                    status=error.status,
                    code=error.code,
                ) from None
            raise
        return as_dict(created, VALIDATION_FIELDS)

    def update_caller_id(
        self, account: Account, sid: str, *, friendly_name: str
    ) -> dict[str, Any]:
        """Rename a caller ID: its friendly name is its only editable field."""
        with self._calling(
            account, manage=True, action="update", what=f"caller ID {sid}"
        ) as (api, _credential):
            updated = api.outgoing_caller_ids(sid).update(friendly_name=friendly_name)
        return as_dict(updated, CALLER_ID_FIELDS)

    def delete_caller_id(self, account: Account, sid: str) -> None:
        with self._calling(
            account, manage=True, action="remove", what=f"caller ID {sid}"
        ) as (api, _credential):
            api.outgoing_caller_ids(sid).delete()

    def fetch_call(self, account: Account, call_sid: str) -> dict[str, Any]:
        """One call, for the outcome of a validation call."""
        with self._calling(
            account, manage=False, action="fetch", what=f"call {call_sid}"
        ) as (api, _credential):
            call = api.calls(call_sid).fetch()
        # twilio-python keeps the caller in `_from`, `from` being a keyword.
        return {**as_dict(call, VALIDATION_CALL_FIELDS), "from": call._from}

    # Calls

    def list_calls(
        self,
        account: Account,
        *,
        start_after: datetime,
        from_number: str | None = None,
    ) -> list[dict[str, Any]]:
        """Every call of the account that started at or after ``start_after``.

        One list, all pages: the Calls resource has no direction filter, so
        callers group and filter what comes back rather than asking per number.
        Twilio lists calls newest first, so the first call older than the
        window ends the walk: a server that ignores ``StartTime>`` (a mock,
        a proxy) costs one page, not the account's whole history.
        """
        credential = self.credential(account, manage=False)
        moment = start_after.astimezone(UTC) if start_after.tzinfo else start_after
        params = {"StartTime>": moment.strftime("%Y-%m-%dT%H:%M:%SZ")}
        if from_number is not None:
            params["From"] = from_number
        with mapped_errors(
            self.http,
            action="list the calls of",
            account=account,
            credential=credential,
        ):
            calls: list[dict[str, Any]] = []
            for raw in self._walk(
                credential, f"Accounts/{account.sid}/Calls.json", "calls", params
            ):
                call = from_wire(raw, CALL_FIELDS)
                started = call.get("start_time")
                if started and _before(datetime.fromisoformat(started), start_after):
                    break
                calls.append(call)
            return calls
