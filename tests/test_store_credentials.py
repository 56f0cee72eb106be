"""Credentials: the environment, a real keyring backend, every keyring failure."""

from __future__ import annotations

import json
import stat
from collections.abc import Iterator
from pathlib import Path

import keyring
import keyring.backend
import keyring.backends.fail
import keyring.backends.null
import keyring.core
import keyring.errors
import pytest

from meetzy_numbers.errors import CredentialsError, ExitCode, UsageError
from meetzy_numbers.store.credentials import (
    Credential,
    CredentialStore,
    FileBackend,
    KeyringBackend,
    make_credential,
)

ACCOUNT = "AC" + "1" * 32
OTHER = "AC" + "2" * 32
KEY = "SK" + "3" * 32
TOKEN = "0123456789abcdef0123456789abcdef"
KEY_SECRET = "Zq8sVt1xYw2uRp3oNm4lKj5iHg6fEd7c"

ALTERNATIVE = (
    "Instead, set TWILIO_ACCOUNT_SID with TWILIO_AUTH_TOKEN, or "
    "TWILIO_ACCOUNT_SID with TWILIO_API_KEY and TWILIO_API_SECRET, in the "
    "environment; a subaccount's own token goes in TWILIO_AUTH_TOKEN_<its AC… SID>."
)


class MemoryKeyring(keyring.backend.KeyringBackend):
    """A working keyring that keeps its passwords in a dict."""

    def __init__(self) -> None:
        super().__init__()  # type: ignore[no-untyped-call]
        self.passwords: dict[tuple[str, str], str] = {}

    def get_password(self, service: str, username: str) -> str | None:
        return self.passwords.get((service, username))

    def set_password(self, service: str, username: str, password: str) -> None:
        self.passwords[(service, username)] = password

    def delete_password(self, service: str, username: str) -> None:
        if self.passwords.pop((service, username), None) is None:
            raise keyring.errors.PasswordDeleteError("No such password!")


class RaisingKeyring(keyring.backend.KeyringBackend):
    """A keyring whose every call fails the way a real one can."""

    def __init__(self, error: Exception) -> None:
        super().__init__()  # type: ignore[no-untyped-call]
        self.error = error

    def get_password(self, service: str, username: str) -> str | None:
        raise self.error

    def set_password(self, service: str, username: str, password: str) -> None:
        raise self.error

    def delete_password(self, service: str, username: str) -> None:
        raise self.error


class MangleKeyring(MemoryKeyring):
    """Keeps only the first half of what it is given."""

    def set_password(self, service: str, username: str, password: str) -> None:
        super().set_password(service, username, password[: len(password) // 2])


class SpyBackend:
    """A CredentialBackend that records every call made to it."""

    def __init__(self) -> None:
        self.calls: list[str] = []

    def read(self, account_sid: str) -> str | None:
        self.calls.append(f"read {account_sid}")
        return None

    def write(self, account_sid: str, payload: str) -> None:
        self.calls.append(f"write {account_sid}")

    def delete(self, account_sid: str) -> bool:
        self.calls.append(f"delete {account_sid}")
        return False

    def describe(self) -> str:
        return "spy"


def use_keyring(
    monkeypatch: pytest.MonkeyPatch, backend: keyring.backend.KeyringBackend
) -> None:
    # Let monkeypatch put back whatever keyring the process had before.
    monkeypatch.setattr(keyring.core, "_keyring_backend", None)
    keyring.set_keyring(backend)


@pytest.fixture
def memory(monkeypatch: pytest.MonkeyPatch) -> Iterator[MemoryKeyring]:
    backend = MemoryKeyring()
    use_keyring(monkeypatch, backend)
    yield backend


@pytest.fixture
def store(memory: MemoryKeyring) -> CredentialStore:
    return CredentialStore(KeyringBackend(), env={})


def token_credential() -> Credential:
    return make_credential(ACCOUNT, TOKEN, source="keyring")


# -- the keyring, working -----------------------------------------------------


def test_keyring_round_trip_auth_token(
    store: CredentialStore, memory: MemoryKeyring
) -> None:
    store.set(token_credential())

    assert store.get(ACCOUNT) == token_credential()
    assert json.loads(memory.passwords[("meetzy-numbers", ACCOUNT)]) == {
        "username": ACCOUNT,
        "secret": TOKEN,
    }
    assert store.get(OTHER) is None


def test_keyring_round_trip_api_key(store: CredentialStore) -> None:
    credential = make_credential(ACCOUNT, KEY_SECRET, api_key=KEY, source="keyring")
    store.set(credential)

    got = store.get(ACCOUNT)
    assert got == credential
    assert got is not None
    assert (got.username, got.kind, got.source) == (KEY, "API key", "keyring")


def test_keyring_remove(store: CredentialStore) -> None:
    store.set(token_credential())

    assert store.remove(ACCOUNT) is True
    assert store.remove(ACCOUNT) is False
    assert store.get(ACCOUNT) is None


def test_describe_names_the_keyring(memory: MemoryKeyring) -> None:
    assert KeyringBackend().describe() == f"keyring ({MemoryKeyring.name})"


def test_payload_not_ours_says_run_set_again(
    store: CredentialStore, memory: MemoryKeyring
) -> None:
    memory.passwords[("meetzy-numbers", ACCOUNT)] = "hunter2"

    with pytest.raises(CredentialsError) as caught:
        store.get(ACCOUNT)

    assert caught.value.message == (
        f"the stored credentials for {ACCOUNT} are not in the format "
        f"meetzy-numbers writes; run `meetzy-numbers creds set {ACCOUNT}` again"
    )
    assert "hunter2" not in caught.value.message


# -- the keyring, failing -----------------------------------------------------

NO_KEYRING = (
    f"no OS keyring is available on this machine, so the credentials for "
    f"{ACCOUNT} cannot be stored there. {ALTERNATIVE}"
)
DBUS_TEXT = (
    "org.freedesktop.DBus.Error.ServiceUnknown: The name "
    "org.freedesktop.secrets was not provided by any .service files"
)


@pytest.mark.parametrize(
    ("backend", "message"),
    [
        (keyring.backends.fail.Keyring(), NO_KEYRING),  # type: ignore[no-untyped-call]
        (RaisingKeyring(keyring.errors.NoKeyringError("none")), NO_KEYRING),
        (
            RaisingKeyring(RuntimeError(DBUS_TEXT)),
            f"the OS keyring could not be reached ({DBUS_TEXT}), so the "
            f"credentials for {ACCOUNT} cannot be stored. This is usual under "
            "cron, over SSH and in containers, where there is no desktop "
            f"session. {ALTERNATIVE}",
        ),
        (
            RaisingKeyring(keyring.errors.KeyringLocked("Failed to unlock!")),
            f"the OS keyring is locked, so the credentials for {ACCOUNT} cannot "
            "be stored; unlock it (log in to the desktop session) and try "
            f"again. {ALTERNATIVE}",
        ),
        (
            RaisingKeyring(keyring.errors.InitError("Failed to create")),
            f"the OS keyring could not be opened, so the credentials for "
            f"{ACCOUNT} cannot be stored. {ALTERNATIVE}",
        ),
        (
            RaisingKeyring(keyring.errors.PasswordSetError("denied by policy")),
            "the OS keyring refused the request (denied by policy), so the "
            f"credentials for {ACCOUNT} cannot be stored. {ALTERNATIVE}",
        ),
        (
            keyring.backends.null.Keyring(),  # type: ignore[no-untyped-call]
            "the keyring backend keyring (null Keyring) stored nothing for "
            f"{ACCOUNT}: the write seemed to work but reading it back did not "
            f"return the credentials. {ALTERNATIVE}",
        ),
        (
            MangleKeyring(),
            f"the keyring backend keyring ({MangleKeyring.name}) stored "
            f"something else for {ACCOUNT}: the write seemed to work but "
            f"reading it back did not return the credentials. {ALTERNATIVE}",
        ),
    ],
    ids=[
        "fail-keyring",
        "no-keyring-error",
        "dbus-runtime-error",
        "locked",
        "init-error",
        "other-keyring-error",
        "stores-nothing",
        "stores-something-else",
    ],
)
def test_every_keyring_failure_is_one_clear_error(
    monkeypatch: pytest.MonkeyPatch,
    backend: keyring.backend.KeyringBackend,
    message: str,
) -> None:
    use_keyring(monkeypatch, backend)
    store = CredentialStore(KeyringBackend(), env={})

    with pytest.raises(CredentialsError) as caught:
        store.set(token_credential())

    error = caught.value
    assert error.message == message
    assert error.exit_code == ExitCode.CREDENTIALS
    assert int(error.exit_code) == 4
    assert TOKEN not in str(error)
    # No chained traceback either: the keyring's own error is not attached.
    assert error.__cause__ is None
    assert error.__context__ is None or error.__suppress_context__


def test_reading_from_a_dead_keyring(monkeypatch: pytest.MonkeyPatch) -> None:
    use_keyring(monkeypatch, RaisingKeyring(RuntimeError("Unable to connect")))

    with pytest.raises(CredentialsError) as caught:
        CredentialStore(KeyringBackend(), env={}).get(ACCOUNT)

    assert caught.value.message.startswith(
        "the OS keyring could not be reached (Unable to connect), so the "
        f"credentials for {ACCOUNT} cannot be read."
    )


def test_a_backend_echoing_a_secret_is_masked(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    use_keyring(monkeypatch, RaisingKeyring(RuntimeError(f"bad value {TOKEN}")))

    with pytest.raises(CredentialsError) as caught:
        CredentialStore(KeyringBackend(), env={}).set(token_credential())

    assert TOKEN not in caught.value.message
    assert "(bad value ***)" in caught.value.message


# -- the environment ----------------------------------------------------------


def test_env_account_needs_a_secret() -> None:
    def account(**env: str) -> str | None:
        return CredentialStore(SpyBackend(), env=env).env_account()

    assert account() is None
    assert account(TWILIO_ACCOUNT_SID=ACCOUNT) is None
    assert account(TWILIO_ACCOUNT_SID=ACCOUNT, TWILIO_API_KEY=KEY) is None
    assert account(TWILIO_ACCOUNT_SID=ACCOUNT, TWILIO_AUTH_TOKEN=TOKEN) == ACCOUNT
    assert (
        account(
            TWILIO_ACCOUNT_SID=ACCOUNT,
            TWILIO_API_KEY=KEY,
            TWILIO_API_SECRET=KEY_SECRET,
        )
        == ACCOUNT
    )


def test_env_auth_token_wins_and_backend_is_not_touched() -> None:
    spy = SpyBackend()
    store = CredentialStore(
        spy, env={"TWILIO_ACCOUNT_SID": ACCOUNT, "TWILIO_AUTH_TOKEN": TOKEN}
    )

    credential = store.get(ACCOUNT)

    assert credential == make_credential(ACCOUNT, TOKEN, source="env")
    assert spy.calls == []
    # Another account still comes from the backend.
    assert store.get(OTHER) is None
    assert spy.calls == [f"read {OTHER}"]


def test_env_api_key(memory: MemoryKeyring) -> None:
    env = {
        "TWILIO_ACCOUNT_SID": ACCOUNT,
        "TWILIO_API_KEY": KEY,
        "TWILIO_API_SECRET": KEY_SECRET,
    }
    store = CredentialStore(KeyringBackend(), env=env)
    store.set(token_credential())  # the keyring holds something else

    credential = store.get(ACCOUNT)

    assert credential is not None
    assert (credential.username, credential.secret) == (KEY, KEY_SECRET)
    assert (credential.kind, credential.source) == ("API key", "env")


@pytest.mark.parametrize(
    ("env", "message"),
    [
        (
            {"TWILIO_ACCOUNT_SID": KEY, "TWILIO_AUTH_TOKEN": TOKEN},
            "TWILIO_ACCOUNT_SID holds an API key SID; put it in TWILIO_API_KEY "
            "and the account SID (AC…) in TWILIO_ACCOUNT_SID",
        ),
        (
            {"TWILIO_ACCOUNT_SID": ACCOUNT, "TWILIO_AUTH_TOKEN": f'"{TOKEN}"'},
            "the Twilio credentials in the environment are not usable: the "
            "auth token contains quotes; drop the quotes and pass the value alone",
        ),
    ],
)
def test_bad_env_credentials(env: dict[str, str], message: str) -> None:
    account = env["TWILIO_ACCOUNT_SID"]
    with pytest.raises(CredentialsError) as caught:
        CredentialStore(SpyBackend(), env=env).get(account)

    assert caught.value.message == message
    assert TOKEN not in caught.value.message


# -- checking what the user typed ---------------------------------------------


def test_make_credential_strips_whitespace() -> None:
    credential = make_credential(f" {ACCOUNT}\n", f"  {TOKEN}\n", source="keyring")

    assert (credential.account_sid, credential.username) == (ACCOUNT, ACCOUNT)
    assert (credential.secret, credential.kind) == (TOKEN, "auth token")


@pytest.mark.parametrize(
    ("account", "secret", "api_key", "message"),
    [
        (
            KEY,
            TOKEN,
            None,
            f"{KEY} is an API key SID; pass it with --api-key and the account "
            "SID as the account",
        ),
        (
            TOKEN,
            TOKEN,
            None,
            "the account must be an account SID: AC followed by 32 hex digits",
        ),
        (
            ACCOUNT,
            TOKEN,
            ACCOUNT,
            f"{ACCOUNT} is an account SID, not an API key SID; an API key SID "
            "starts with SK",
        ),
        (
            ACCOUNT,
            TOKEN,
            "SK123",
            "the API key must be an API key SID: SK followed by 32 hex digits",
        ),
        (ACCOUNT, "   ", None, "the auth token is empty"),
        (
            ACCOUNT,
            f'"{TOKEN}"',
            None,
            "the auth token contains quotes; drop the quotes and pass the value alone",
        ),
        (
            ACCOUNT,
            f"'{KEY_SECRET}'",
            KEY,
            "the API key secret contains quotes; drop the quotes and pass the "
            "value alone",
        ),
        (
            ACCOUNT,
            f"{TOKEN[:10]} {TOKEN[10:]}",
            None,
            "the auth token contains whitespace; pass the value alone, without "
            "quotes or spaces",
        ),
    ],
)
def test_make_credential_errors(
    account: str, secret: str, api_key: str | None, message: str
) -> None:
    with pytest.raises(UsageError) as caught:
        make_credential(account, secret, api_key=api_key, source="keyring")

    assert caught.value.message == message
    assert caught.value.exit_code == ExitCode.USAGE
    if secret.strip():
        assert secret.strip().strip("\"'") not in str(caught.value)


def test_secret_never_shown() -> None:
    for credential in (
        token_credential(),
        make_credential(ACCOUNT, KEY_SECRET, api_key=KEY, source="env"),
    ):
        for text in (repr(credential), str(credential), f"{credential}"):
            assert credential.secret not in text
    assert str(token_credential()) == f"auth token for {ACCOUNT} (keyring)"


# -- the file backend ---------------------------------------------------------


def test_file_backend_round_trip(tmp_path: Path) -> None:
    path = tmp_path / "sandbox" / "credentials.json"
    store = CredentialStore(FileBackend(path), env={})

    store.set(make_credential(ACCOUNT, TOKEN, source="file"))
    store.set(make_credential(OTHER, KEY_SECRET, api_key=KEY, source="file"))

    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert store.get(ACCOUNT) == make_credential(ACCOUNT, TOKEN, source="file")
    other = store.get(OTHER)
    assert other is not None
    assert (other.username, other.source) == (KEY, "file")
    assert sorted(json.loads(path.read_text())) == [ACCOUNT, OTHER]
    assert store.backend.describe() == f"file {path}"

    assert store.remove(ACCOUNT) is True
    assert store.remove(ACCOUNT) is False
    assert store.get(ACCOUNT) is None
    assert stat.S_IMODE(path.stat().st_mode) == 0o600


def test_file_backend_unreadable(tmp_path: Path) -> None:
    path = tmp_path / "credentials.json"
    path.write_text("[1, 2]")

    with pytest.raises(CredentialsError, match="is unreadable; delete it"):
        CredentialStore(FileBackend(path), env={}).get(ACCOUNT)


def test_a_subaccount_token_in_its_own_variable() -> None:
    sub = "AC" + "b" * 32
    env = {
        "TWILIO_ACCOUNT_SID": ACCOUNT,
        "TWILIO_AUTH_TOKEN": "m" * 32,
        f"TWILIO_AUTH_TOKEN_{sub}": "s" * 32,
    }
    spy = SpyBackend()
    store = CredentialStore(spy, env=env)

    main, own = store.get(ACCOUNT), store.get(sub)

    assert main is not None and main.secret == "m" * 32
    assert own is not None and own.secret == "s" * 32 and own.source == "env"
    assert own.account_sid == sub
    assert spy.calls == []  # the keyring is never asked
