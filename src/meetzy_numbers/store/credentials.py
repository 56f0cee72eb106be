"""Per-account Twilio credentials: environment variables, the OS keyring, a file.

The environment (the twilio-cli convention) wins for the one account it
names, so CI needs no keyring at all. Everything else lives in the OS keyring,
one entry per account SID. Every way a keyring can fail - none installed,
locked, no D-Bus session under cron, a backend that silently drops what it is
given - surfaces as one :class:`CredentialsError` that says what happened and
how to pass the credentials in the environment instead. No message built here
ever contains a secret.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, NoReturn, Protocol

from meetzy_numbers.errors import CredentialsError, UsageError
from meetzy_numbers.store.atomic import file_lock, write_atomic

if TYPE_CHECKING:
    import keyring.backend

log = logging.getLogger(__name__)

SERVICE_NAME = "meetzy-numbers"
ACCOUNT_SID_RE = re.compile(r"^AC[0-9a-fA-F]{32}$")
API_KEY_SID_RE = re.compile(r"^SK[0-9a-fA-F]{32}$")

ENV_ACCOUNT = "TWILIO_ACCOUNT_SID"
ENV_TOKEN = "TWILIO_AUTH_TOKEN"
ENV_API_KEY = "TWILIO_API_KEY"
ENV_API_SECRET = "TWILIO_API_SECRET"

ENV_ALTERNATIVE = (
    f"Instead, set {ENV_ACCOUNT} with {ENV_TOKEN}, or {ENV_ACCOUNT} with "
    f"{ENV_API_KEY} and {ENV_API_SECRET}, in the environment; a subaccount's "
    f"own token goes in {ENV_TOKEN}_<its AC… SID>."
)


def per_account(name: str, account_sid: str) -> str:
    """The variable holding one account's secret, beside the twilio-cli pair.

    TWILIO_ACCOUNT_SID names one account; a cron job that changes numbers in
    several subaccounts without a keyring needs each one's own secret too.
    """
    return f"{name}_{account_sid}"


@dataclass(frozen=True)
class Credential:
    account_sid: str
    username: str
    secret: str = field(repr=False)
    source: str

    @property
    def kind(self) -> str:
        return "API key" if self.username.startswith("SK") else "auth token"

    def __str__(self) -> str:
        if self.kind == "API key":
            return f"API key {self.username} for {self.account_sid} ({self.source})"
        return f"auth token for {self.account_sid} ({self.source})"


def make_credential(
    account_sid: str, secret: str, *, api_key: str | None = None, source: str
) -> Credential:
    """A checked credential; every mistake is a UsageError that omits the secret."""
    account_sid = _check_account_sid(account_sid)
    username = account_sid
    if api_key is not None:
        username = _check_api_key_sid(api_key)
    what = "API key secret" if api_key is not None else "auth token"
    return Credential(
        account_sid=account_sid,
        username=username,
        secret=_check_secret(secret, what),
        source=source,
    )


def _check_account_sid(value: str) -> str:
    value = value.strip()
    if ACCOUNT_SID_RE.match(value):
        return "AC" + value[2:].lower()
    if API_KEY_SID_RE.match(value):
        raise UsageError(
            f"{value} is an API key SID; pass it with --api-key and the account "
            "SID as the account"
        )
    # The value is not echoed: a pasted secret in the wrong place would leak.
    raise UsageError("the account must be an account SID: AC followed by 32 hex digits")


def _check_api_key_sid(value: str) -> str:
    value = value.strip()
    if API_KEY_SID_RE.match(value):
        return "SK" + value[2:].lower()
    if ACCOUNT_SID_RE.match(value):
        raise UsageError(
            f"{value} is an account SID, not an API key SID; an API key SID "
            "starts with SK"
        )
    raise UsageError("the API key must be an API key SID: SK followed by 32 hex digits")


def _check_secret(value: str, what: str) -> str:
    value = value.strip()
    if not value:
        raise UsageError(f"the {what} is empty")
    if any(quote in value for quote in "\"'`"):
        raise UsageError(
            f"the {what} contains quotes; drop the quotes and pass the value alone"
        )
    if any(char.isspace() for char in value):
        raise UsageError(
            f"the {what} contains whitespace; pass the value alone, without "
            "quotes or spaces"
        )
    return value


# -- backends -----------------------------------------------------------------


class CredentialBackend(Protocol):
    """Where stored credentials live; ``payload`` is the JSON the store writes."""

    def read(self, account_sid: str) -> str | None: ...

    def write(self, account_sid: str, payload: str) -> None: ...

    def delete(self, account_sid: str) -> bool: ...

    def describe(self) -> str: ...


class KeyringBackend:
    """The OS keyring: one entry per account SID under service ``meetzy-numbers``.

    ``keyring_backend`` picks a specific keyring; by default the one the
    ``keyring`` library chooses for this machine.
    """

    def __init__(
        self,
        keyring_backend: keyring.backend.KeyringBackend | None = None,
        *,
        service: str = SERVICE_NAME,
    ) -> None:
        self._keyring = keyring_backend
        self.service = service

    def read(self, account_sid: str) -> str | None:
        with self._translate_errors("read", account_sid):
            return self._backend().get_password(self.service, account_sid)

    def write(self, account_sid: str, payload: str) -> None:
        with self._translate_errors("store", account_sid):
            self._backend().set_password(self.service, account_sid, payload)

    def delete(self, account_sid: str) -> bool:
        import keyring.errors

        with self._translate_errors("remove", account_sid):
            backend = self._backend()
            if backend.get_password(self.service, account_sid) is None:
                return False
            try:
                backend.delete_password(self.service, account_sid)
            except keyring.errors.PasswordDeleteError:
                return False  # gone between the read and the delete
        return True

    def describe(self) -> str:
        try:
            name = str(self._backend().name)
        except Exception:  # describing must never be what fails a command
            name = "unavailable"
        return f"keyring ({name})"

    def _backend(self) -> keyring.backend.KeyringBackend:
        if self._keyring is None:
            import keyring

            self._keyring = keyring.get_keyring()
        return self._keyring

    @contextlib.contextmanager
    def _translate_errors(self, action: str, account_sid: str) -> Iterator[None]:
        # keyring's "fail" backend, chosen when nothing better exists, raises
        # NoKeyringError on every call, so it is handled with the rest below.
        try:
            yield
        except CredentialsError:
            raise
        except Exception as exc:  # every keyring failure ends up here, by design
            _raise_keyring_failure(exc, action, account_sid)


class KeyringUnavailable(CredentialsError):
    """The OS keyring could not be used at all (not: it holds bad data)."""


def _raise_no_keyring(action: str, account_sid: str) -> NoReturn:
    raise KeyringUnavailable(
        f"no OS keyring is available on this machine, so the credentials for "
        f"{account_sid} cannot be {_PAST[action]} there. {ENV_ALTERNATIVE}"
    ) from None


_PAST = {"read": "read", "store": "stored", "remove": "removed"}


def _raise_keyring_failure(exc: Exception, action: str, account_sid: str) -> NoReturn:
    import keyring.errors

    # The traceback stays out of the message; at debug level the type and the
    # library's text help whoever chases a strange keyring.
    log.debug("keyring %s for %s failed: %s", action, account_sid, type(exc).__name__)
    where = f"the credentials for {account_sid} cannot be {_PAST[action]}"
    if isinstance(exc, keyring.errors.NoKeyringError):
        _raise_no_keyring(action, account_sid)
    if isinstance(exc, keyring.errors.KeyringLocked):
        message = (
            f"the OS keyring is locked, so {where}; unlock it (log in to the "
            "desktop session) and try again."
        )
    elif isinstance(exc, keyring.errors.InitError):
        message = f"the OS keyring could not be opened, so {where}."
    elif isinstance(exc, keyring.errors.KeyringError):
        message = f"the OS keyring refused the request ({_reason(exc)}), so {where}."
    elif isinstance(exc, RuntimeError):
        message = (
            f"the OS keyring could not be reached ({_reason(exc)}), so {where}. "
            "This is usual under cron, over SSH and in containers, where there "
            "is no desktop session."
        )
    else:
        message = f"the OS keyring failed ({_reason(exc)}), so {where}."
    raise KeyringUnavailable(f"{message} {ENV_ALTERNATIVE}") from None


# Anything long and token-like that is not a SID. Twilio secrets are 32
# letters and digits; D-Bus and keyring texts have no such runs.
_TOKEN_LIKE = re.compile(r"\b(?!(?:AC|SK)[0-9a-fA-F]{32}\b)[A-Za-z0-9]{24,}\b")


def _reason(exc: Exception) -> str:
    """The first line of a keyring error's text, short, with tokens masked.

    Keyring errors carry no secrets in practice; the mask makes sure a
    backend that echoes what it was given still cannot leak one.
    """
    lines = str(exc).strip().splitlines()
    text = _TOKEN_LIKE.sub("***", lines[0]) if lines else ""
    text = text if len(text) <= 120 else text[:117] + "..."
    return text or type(exc).__name__


class FileBackend:
    """A JSON file of account SID -> payload, mode 0600.

    Only the sandbox uses it: its fake secrets are worthless, while a real
    secret deserves the OS keyring.
    """

    def __init__(self, path: Path) -> None:
        self.path = path

    def read(self, account_sid: str) -> str | None:
        return self._load().get(account_sid)

    def write(self, account_sid: str, payload: str) -> None:
        with file_lock(self.path):
            entries = self._load()
            entries[account_sid] = payload
            self._save(entries)

    def delete(self, account_sid: str) -> bool:
        with file_lock(self.path):
            entries = self._load()
            if entries.pop(account_sid, None) is None:
                return False
            self._save(entries)
        return True

    def describe(self) -> str:
        return f"file {self.path}"

    def _load(self) -> dict[str, str]:
        try:
            data = json.loads(self.path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            return {}
        except (OSError, ValueError):
            data = None
        if not isinstance(data, dict) or not all(
            isinstance(value, str) for value in data.values()
        ):
            raise CredentialsError(
                f"the credentials file {self.path} is unreadable; delete it and "
                "run `meetzy-numbers creds set` again"
            )
        return data

    def _save(self, entries: dict[str, str]) -> None:
        text = json.dumps(entries, indent=2, sort_keys=True) + "\n"
        write_atomic(self.path, text, mode=0o600)


# -- the store ----------------------------------------------------------------


class CredentialStore:
    def __init__(
        self, backend: CredentialBackend, env: Mapping[str, str] | None = None
    ) -> None:
        self.backend = backend
        self._env = os.environ if env is None else env

    def env_account(self) -> str | None:
        """The account the environment holds credentials for, if it holds any."""
        account = self._env.get(ENV_ACCOUNT, "").strip()
        has_token = bool(self._env.get(ENV_TOKEN, "").strip())
        has_key = bool(
            self._env.get(ENV_API_KEY, "").strip()
            and self._env.get(ENV_API_SECRET, "").strip()
        )
        if account and (has_token or has_key):
            return account
        return None

    def get(self, account_sid: str) -> Credential | None:
        """The environment's credential for the account, else the backend's."""
        if self.env_account() == account_sid:
            return self._from_env()
        own = self._from_account_env(account_sid)
        if own is not None:
            return own
        payload = self.backend.read(account_sid)
        if payload is None:
            return None
        return self._decode(account_sid, payload)

    def set(self, credential: Credential) -> None:
        """Store, then read back: some backends accept a write and keep nothing."""
        payload = json.dumps(
            {"username": credential.username, "secret": credential.secret}
        )
        self.backend.write(credential.account_sid, payload)

        stored = self.backend.read(credential.account_sid)
        if stored == payload:
            return
        outcome = "stored nothing" if stored is None else "stored something else"
        raise CredentialsError(
            f"the keyring backend {self.backend.describe()} {outcome} for "
            f"{credential.account_sid}: the write seemed to work but reading it "
            f"back did not return the credentials. {ENV_ALTERNATIVE}"
        )

    def remove(self, account_sid: str) -> bool:
        return self.backend.delete(account_sid)

    def _from_env(self) -> Credential:
        env = self._env
        account = env[ENV_ACCOUNT].strip()
        if API_KEY_SID_RE.match(account):
            raise CredentialsError(
                f"{ENV_ACCOUNT} holds an API key SID; put it in {ENV_API_KEY} "
                f"and the account SID (AC…) in {ENV_ACCOUNT}"
            )
        key, key_secret = env.get(ENV_API_KEY, ""), env.get(ENV_API_SECRET, "")
        try:
            # An API key is the narrower grant, so it wins when both are set,
            # as in twilio-cli.
            if key.strip() and key_secret.strip():
                return make_credential(account, key_secret, api_key=key, source="env")
            return make_credential(account, env[ENV_TOKEN], source="env")
        except UsageError as exc:
            raise CredentialsError(
                f"the Twilio credentials in the environment are not usable: "
                f"{exc.message}"
            ) from None

    def _from_account_env(self, account_sid: str) -> Credential | None:
        env = self._env
        token = env.get(per_account(ENV_TOKEN, account_sid), "")
        key = env.get(per_account(ENV_API_KEY, account_sid), "")
        key_secret = env.get(per_account(ENV_API_SECRET, account_sid), "")
        try:
            if key.strip() and key_secret.strip():
                return make_credential(
                    account_sid, key_secret, api_key=key, source="env"
                )
            if token.strip():
                return make_credential(account_sid, token, source="env")
        except UsageError as exc:
            raise CredentialsError(
                f"the Twilio credentials in the environment for {account_sid} are "
                f"not usable: {exc.message}"
            ) from None
        return None

    def _decode(self, account_sid: str, payload: str) -> Credential:
        source = "file" if isinstance(self.backend, FileBackend) else "keyring"
        try:
            data = json.loads(payload)
            username, secret = data["username"], data["secret"]
            if not isinstance(username, str) or not isinstance(secret, str):
                raise TypeError(type(username).__name__)
            api_key = username if username.startswith("SK") else None
            return make_credential(account_sid, secret, api_key=api_key, source=source)
        except (ValueError, KeyError, TypeError, UsageError):
            raise CredentialsError(
                f"the stored credentials for {account_sid} are not in the format "
                f"meetzy-numbers writes; run `meetzy-numbers creds set {account_sid}` "
                "again"
            ) from None
