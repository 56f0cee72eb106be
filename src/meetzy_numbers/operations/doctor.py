"""``doctor``'s checks: config, credential store, credentials, Twilio, in order.

Each check gives a row instead of raising: doctor is what people run when
something is broken, so a broken file or an unexpected error becomes a
``fail`` row with its message, and the rows before it still show.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypeVar

from meetzy_numbers.errors import ExitCode, MeetzyError
from meetzy_numbers.operations.context import Context
from meetzy_numbers.store.credentials import ENV_ACCOUNT, ENV_TOKEN, KeyringBackend

T = TypeVar("T")

NO_KEYRING = f"no OS keyring: use {ENV_ACCOUNT}/{ENV_TOKEN}, or install one"


@dataclass
class Check:
    check: str
    status: str  # ok, warn or fail
    detail: str
    code: ExitCode = ExitCode.OK

    def to_dict(self) -> dict[str, Any]:
        return {
            "check": self.check,
            "status": self.status,
            "detail": self.detail,
            "code": int(self.code),
        }


def run_checks(ctx: Context) -> list[Check]:
    """Every check that can run; a failure skips only what depends on it."""
    checks: list[Check] = []

    def attempt(name: str, step: Callable[[], T]) -> T | None:
        try:
            return step()
        except MeetzyError as error:
            detail = f"{error.message}; {error.hint}" if error.hint else error.message
            checks.append(Check(name, "fail", detail, error.exit_code))
        except Exception as error:  # doctor reports what others would crash on
            checks.append(Check(name, "fail", _unexpected(ctx, error), ExitCode.FAILED))
        return None

    config_checks = attempt("config", lambda: _config_checks(ctx))
    checks.extend(config_checks or [])
    store = attempt("credential store", lambda: credential_store_check(ctx))
    if store is not None:
        checks.append(store)
    if config_checks is None:
        return checks

    found = attempt(
        "credentials", lambda: (ctx.main_sid, ctx.credentials.get(ctx.main_sid))
    )
    if found is None:
        return checks
    main_sid, credential = found
    if credential is None:
        missing = f"none for the main account {main_sid}: creds set {main_sid}"
        checks.append(Check("credentials", "fail", missing, ExitCode.CREDENTIALS))
        return checks
    source = f"{credential.kind} for {main_sid} from {credential.source}"
    checks.append(Check("credentials", "ok", source))

    account = attempt("twilio", lambda: ctx.make_gateway(main_sid).check(credential))
    if account is not None:
        checks.append(Check("twilio", "ok", f"reached {account.label()}"))
    return checks


def _config_checks(ctx: Context) -> list[Check]:
    config = ctx.config
    path = ctx.paths.config_file
    where = str(path) if path.exists() else f"{path} (no file yet: defaults)"
    checks = [Check("config", "ok", where)]
    if config.webhook_base:
        checks.append(Check("webhook base", "ok", config.webhook_base))
    else:
        checks.append(
            Check("webhook base", "warn", "not set: config set webhook_base https://…")
        )
    agents = f"{len(config.agents)} in the config"
    checks.append(Check("agents", "ok" if config.agents else "warn", agents))
    return checks


def credential_store_check(ctx: Context) -> Check:
    """Where stored credentials go; a warning when no real OS keyring exists.

    The warning stands even when the environment holds the credentials: they
    work, but ``creds set`` would fail on this machine.
    """
    backend = ctx.credentials.backend
    if isinstance(backend, KeyringBackend) and not keyring_usable():
        return Check("credential store", "warn", NO_KEYRING)
    return Check("credential store", "ok", backend.describe())


def keyring_usable() -> bool:
    """Whether the keyring library found a backend that really stores secrets.

    Its ``fail`` backend (priority 0), the null one, and a chainer with
    nothing to chain all have a priority below 1; real OS keyrings have more.
    """
    try:
        import keyring
        from keyring.backends.chainer import ChainerBackend

        backend = keyring.get_keyring()
        if isinstance(backend, ChainerBackend):
            return bool(backend.backends)
        priority = backend.priority
    except Exception:  # a keyring that cannot even say what it is stores nothing
        return False
    return isinstance(priority, int | float) and priority >= 1


def _unexpected(ctx: Context, error: Exception) -> str:
    lines = str(error).strip().splitlines()
    text = f"unexpected {type(error).__name__}: {lines[0] if lines else 'no details'}"
    if ctx.sandbox:
        text += " (meetzy-numbers sandbox reset restores the sandbox)"
    return text
