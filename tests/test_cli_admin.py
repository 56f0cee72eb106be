"""creds, config, agents, cache, doctor and the global options."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import keyring
import keyring.backend
import pytest
from keyring.backends import chainer, fail

from conftest import Invoke
from meetzy_numbers import __version__
from meetzy_numbers.operations.context import Context
from meetzy_numbers.sandbox import SEED, Sandbox, serve

UK_SID, UK_TOKEN = next(
    (sid, token) for sid, name, token, _ in SEED.accounts if name == "Meetzy UK"
)
MAIN_TOKEN = next(
    token for sid, _, token, _ in SEED.accounts if sid == SEED.main_account_sid
)


class MemoryKeyring(keyring.backend.KeyringBackend):
    priority = 1  # type: ignore[assignment]

    def __init__(self) -> None:
        super().__init__()
        self.items: dict[tuple[str, str], str] = {}

    def get_password(self, service: str, username: str) -> str | None:
        return self.items.get((service, username))

    def set_password(self, service: str, username: str, password: str) -> None:
        self.items[(service, username)] = password

    def delete_password(self, service: str, username: str) -> None:
        self.items.pop((service, username))


@pytest.fixture
def memory_keyring() -> Iterator[MemoryKeyring]:
    previous = keyring.get_keyring()
    backend = MemoryKeyring()
    keyring.set_keyring(backend)
    yield backend
    keyring.set_keyring(previous)


@pytest.fixture
def twilio_url() -> Iterator[str]:
    """The sandbox served over real HTTP, standing in for api.twilio.com."""
    server, thread = serve(Sandbox(None))
    host, port = server.server_address[:2]
    yield f"http://{host!s}:{port}"
    server.shutdown()
    thread.join(timeout=5)


# creds on the sandbox (a file stands in for the keyring there)


def test_creds_set_then_managing_the_subaccount_works(sandbox: Invoke) -> None:
    refused = sandbox("assign", "+442079460138", "onboarding-uk")
    assert refused.exit_code == 4

    stored = sandbox("creds", "set", UK_SID, "--stdin", input=UK_TOKEN + "\n")
    assert stored.exit_code == 0, stored.stderr
    assert stored.stderr.startswith(f"stored the auth token for Meetzy UK ({UK_SID})")
    assert UK_TOKEN not in stored.output

    assert sandbox("assign", "+442079460138", "onboarding-uk").exit_code == 0


def test_creds_set_checks_against_twilio_first(sandbox: Invoke) -> None:
    result = sandbox("creds", "set", UK_SID, "--stdin", input="0" * 31 + "1\n")

    assert result.exit_code == 4
    assert "Twilio refused the credentials" in result.stderr
    assert "0" * 31 not in result.output
    listed = json.loads(sandbox("creds", "list", "-o", "json").stdout)
    assert {r["account_sid"]: r["status"] for r in listed}[UK_SID] == "missing"


def test_creds_set_rejects_an_api_key_sid_as_account(sandbox: Invoke) -> None:
    result = sandbox("creds", "set", "SK" + "a" * 32, "--stdin", input="secret\n")

    assert result.exit_code == 2
    assert "is an API key SID" in result.stderr


def test_creds_set_rejects_quoted_secrets(sandbox: Invoke) -> None:
    result = sandbox("creds", "set", UK_SID, "--stdin", input=f'"{UK_TOKEN}"\n')

    assert result.exit_code == 2
    assert "quote" in result.stderr
    assert UK_TOKEN not in result.output


def test_creds_list_and_remove(sandbox: Invoke) -> None:
    result = sandbox("creds", "list", "-o", "json")

    assert result.exit_code == 0, result.stderr
    rows = {r["account_name"]: r for r in json.loads(result.stdout)}
    assert rows["Meetzy"]["status"] == "configured"
    assert rows["Meetzy UK"]["status"] == "missing"
    assert "secret" not in result.stdout
    assert MAIN_TOKEN not in result.stdout

    spain = rows["Meetzy Spain"]["account_sid"]
    assert sandbox("creds", "remove", spain).exit_code == 0
    again = sandbox("creds", "remove", spain)
    assert again.exit_code == 5
    assert again.stderr == f"error: no stored credentials for {spain}\n"


# config and agents


def test_config_set_get_show(sandbox: Invoke) -> None:
    assert sandbox("config", "set", "cache_ttl", "60").exit_code == 0
    got = sandbox("config", "get", "cache_ttl")
    assert (got.exit_code, got.stdout) == (0, "60\n")
    shown = json.loads(sandbox("config", "show", "-o", "json").stdout)
    assert shown["cache_ttl"] == 60
    assert shown["webhook_base"] == SEED.webhook_base


def test_config_set_rejects_bad_values(sandbox: Invoke) -> None:
    result = sandbox("config", "set", "concurrency", "lots")

    assert result.exit_code == 2
    assert "concurrency" in result.stderr
    assert sandbox("config", "set", "nonsense", "1").exit_code == 2


def test_a_config_file_that_is_not_toml_exits_2(
    cli: Invoke, isolated_home: Path
) -> None:
    isolated_home.mkdir(parents=True)
    (isolated_home / "config.toml").write_text("main_account = [unclosed\n")

    result = cli("list")

    assert result.exit_code == 2
    assert "is not valid TOML" in result.stderr
    assert "Traceback" not in result.output


def test_agents_add_list_remove(sandbox: Invoke) -> None:
    assert sandbox("agents", "add", "qa-bot", "QA Bot").exit_code == 0
    listed = json.loads(sandbox("agents", "list", "-o", "json").stdout)
    assert {"id": "qa-bot", "name": "QA Bot"} in listed
    duplicate = sandbox("agents", "add", "qa-bot", "Again")
    assert duplicate.exit_code == 2
    assert sandbox("agents", "remove", "qa-bot").exit_code == 0
    assert sandbox("agents", "remove", "qa-bot").exit_code == 5


# cache, sandbox, doctor


def test_cache_show_and_clear(sandbox: Invoke) -> None:
    assert sandbox("list", "-A").exit_code == 0
    shown = json.loads(sandbox("cache", "show", "-o", "json").stdout)
    assert {r["account_sid"] for r in shown} >= {SEED.main_account_sid, UK_SID}
    cleared = sandbox("cache", "clear")
    assert cleared.exit_code == 0
    assert cleared.stderr.startswith("removed ")
    assert json.loads(sandbox("cache", "show", "-o", "json").stdout or "[]") == []


def test_sandbox_reset_restores_the_seed(sandbox: Invoke) -> None:
    assert sandbox("return", "+14155550127", "--yes").exit_code == 0
    assert sandbox("sandbox", "reset").exit_code == 0
    assert sandbox("show", "+14155550127").exit_code == 0


def test_doctor_on_the_sandbox(sandbox: Invoke) -> None:
    result = sandbox("doctor", "-o", "json")

    assert result.exit_code == 0, result.stderr
    checks = {r["check"]: r["status"] for r in json.loads(result.stdout)}
    assert checks["twilio"] == "ok"
    assert checks["credentials"] == "ok"


def doctor_rows(result: Any) -> dict[str, dict[str, Any]]:
    return {row["check"]: row for row in json.loads(result.stdout)}


def test_doctor_turns_an_unexpected_error_into_a_fail_row(
    sandbox: Invoke, monkeypatch: pytest.MonkeyPatch
) -> None:
    def broken(self: Context, main_sid: str) -> Any:
        raise RuntimeError("boom\nsecond line")

    monkeypatch.setattr(Context, "make_gateway", broken)

    result = sandbox("doctor", "-o", "json")

    assert result.exit_code == 1
    checks = doctor_rows(result)
    assert checks["twilio"]["status"] == "fail"
    assert checks["twilio"]["detail"].startswith("unexpected RuntimeError: boom")
    assert checks["credentials"]["status"] == "ok"
    assert "Traceback" not in result.output


def test_doctor_reports_a_broken_sandbox_state_file(
    sandbox: Invoke, isolated_home: Path
) -> None:
    assert sandbox("subaccounts").exit_code == 0
    (isolated_home / "sandbox" / "twilio.json").write_text("{broken")

    result = sandbox("doctor", "-o", "json")

    checks = doctor_rows(result)
    assert checks["twilio"]["status"] == "fail"
    assert "not valid JSON" in checks["twilio"]["detail"]
    assert result.exit_code == checks["twilio"]["code"] != 0
    assert "Traceback" not in result.output


# Real mode: environment credentials, keyring, a Twilio-compatible server


def env_for(url: str) -> dict[str, str]:
    return {
        "TWILIO_ACCOUNT_SID": SEED.main_account_sid,
        "TWILIO_AUTH_TOKEN": MAIN_TOKEN,
        "MEETZY_NUMBERS_API_URL": url,
    }


def test_no_credentials_anywhere_exits_4(cli: Invoke) -> None:
    result = cli("list")

    assert result.exit_code == 4
    assert result.stderr.startswith("error: no main account is configured")
    assert "TWILIO_ACCOUNT_SID" in result.stderr


def test_environment_credentials_need_no_keyring(cli: Invoke, twilio_url: str) -> None:
    keyring.set_keyring(fail.Keyring())
    try:
        result = cli("list", "-A", "-o", "json", env=env_for(twilio_url))
    finally:
        keyring.set_keyring(MemoryKeyring())
    assert result.exit_code == 0, result.stderr
    rows = json.loads(result.stdout)
    assert len({r["account_sid"] for r in rows}) == 4


def test_verbose_logs_each_call_without_secrets(cli: Invoke, twilio_url: str) -> None:
    result = cli("-v", "list", "--refresh", "-o", "json", env=env_for(twilio_url))

    assert result.exit_code == 0, result.stderr
    assert "GET /2010-04-01/Accounts.json?PageSize=1000 -> 200 in" in result.stderr
    assert "/IncomingPhoneNumbers.json?PageSize=1000 -> 200 in" in result.stderr
    assert MAIN_TOKEN not in result.stderr
    assert "Authorization" not in result.stderr


class EmptyChainer(chainer.ChainerBackend):
    """A chainer that found no keyring to chain: it stores nothing."""

    backends: tuple[keyring.backend.KeyringBackend, ...] = ()


class ToyKeyring(MemoryKeyring):
    priority = 0.5  # type: ignore[assignment]


NO_KEYRING = "no OS keyring: use TWILIO_ACCOUNT_SID/TWILIO_AUTH_TOKEN, or install one"


@pytest.mark.parametrize(
    "backend",
    [fail.Keyring(), EmptyChainer(), ToyKeyring()],
    ids=["fail", "empty chainer", "low priority"],
)
def test_doctor_warns_without_an_os_keyring_even_with_env_credentials(
    cli: Invoke, twilio_url: str, backend: keyring.backend.KeyringBackend
) -> None:
    previous = keyring.get_keyring()
    keyring.set_keyring(backend)
    try:
        result = cli("doctor", "-o", "json", env=env_for(twilio_url))
    finally:
        keyring.set_keyring(previous)

    assert result.exit_code == 0, result.stderr
    checks = doctor_rows(result)
    assert checks["credential store"]["status"] == "warn"
    assert checks["credential store"]["detail"] == NO_KEYRING
    assert checks["credentials"]["status"] == "ok"
    assert checks["credentials"]["detail"].endswith("from env")
    assert checks["twilio"]["status"] == "ok"


def test_doctor_without_a_main_account_still_shows_the_credential_store(
    cli: Invoke, memory_keyring: MemoryKeyring, isolated_home: Path
) -> None:
    result = cli("doctor", "-o", "json")

    assert result.exit_code == 4
    checks = doctor_rows(result)
    config_file = isolated_home / "config.toml"
    assert not config_file.exists()
    assert checks["config"] == {
        "check": "config",
        "status": "ok",
        "detail": f"{config_file} (no file yet: defaults)",
        "code": 0,
    }
    assert checks["credential store"]["status"] == "ok"
    assert checks["credential store"]["detail"].startswith("keyring (")
    assert checks["credentials"]["status"] == "fail"
    assert "no main account is configured" in checks["credentials"]["detail"]
    assert "twilio" not in checks


def test_keyring_unavailable_exits_4_with_the_alternative(
    cli: Invoke, twilio_url: str
) -> None:
    previous = keyring.get_keyring()
    keyring.set_keyring(fail.Keyring())
    try:
        result = cli(
            "--api-url",
            twilio_url,
            "creds",
            "set",
            SEED.main_account_sid,
            "--stdin",
            input=MAIN_TOKEN + "\n",
        )
    finally:
        keyring.set_keyring(previous)
    assert result.exit_code == 4
    assert "TWILIO_ACCOUNT_SID" in result.stderr
    assert MAIN_TOKEN not in result.output
    assert "Traceback" not in result.output


def test_creds_set_in_the_keyring_makes_the_main_account(
    cli: Invoke, twilio_url: str, memory_keyring: MemoryKeyring
) -> None:
    result = cli(
        "--api-url",
        twilio_url,
        "creds",
        "set",
        SEED.main_account_sid,
        "--stdin",
        input=MAIN_TOKEN + "\n",
    )

    assert result.exit_code == 0, result.stderr
    assert f"{SEED.main_account_sid} is now the main account" in result.stderr
    stored: Any = json.loads(
        memory_keyring.items[("meetzy-numbers", SEED.main_account_sid)]
    )
    assert stored["username"] == SEED.main_account_sid
    listed = cli("--api-url", twilio_url, "list", "-o", "json")
    assert listed.exit_code == 0, listed.stderr


def test_unreachable_twilio_exits_7(cli: Invoke) -> None:
    result = cli("list", env=env_for("http://127.0.0.1:9"))

    assert result.exit_code == 7
    assert result.stderr.startswith("error: Twilio could not be reached")


def test_version_and_help(cli: Invoke) -> None:
    version = cli("--version")
    assert (version.exit_code, version.stdout) == (0, f"meetzy-numbers {__version__}\n")
    helped = cli("--help")
    assert helped.exit_code == 0
    for command in ("list", "show", "assign", "reset", "return", "creds", "doctor"):
        assert command in helped.stdout


def test_unknown_option_is_a_usage_error(cli: Invoke) -> None:
    result = cli("list", "--bogus")

    assert result.exit_code == 2
