"""Caller IDs: their records, starting a validation, removing one.

Twilio lists verified caller IDs only. A validation in progress or one that
failed lives in the local pending file (store/pending.py); validations.py
judges it on every ``callerid list``. The agent a caller ID belongs to is
written into its Twilio friendly name (``meetzy:<agent>``), so every machine
sees the link.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from meetzy_numbers.errors import MeetzyError, NotFound, Refused, UsageError
from meetzy_numbers.model.accounts import Account
from meetzy_numbers.model.numbers import NumberRecord, agent_label, caller_id
from meetzy_numbers.model.phone import parse_e164
from meetzy_numbers.operations.changes import new_run_id
from meetzy_numbers.operations.context import Context
from meetzy_numbers.operations.inventory import parse_reference
from meetzy_numbers.store.pending import (
    PENDING,
    PendingStore,
    PendingValidation,
)

LABEL_PREFIX = "meetzy:"
_EXTENSION_RE = re.compile(r"^[0-9wW#*]{1,32}$")


def clock() -> datetime:
    """Now, in UTC; tests replace this to move time."""
    return datetime.now(UTC)


def label_agent(friendly_name: str | None) -> str | None:
    """The agent a ``meetzy:<agent>`` friendly name links to."""
    if not friendly_name or not friendly_name.startswith(LABEL_PREFIX):
        return None
    return friendly_name[len(LABEL_PREFIX) :].strip() or None


def pending_store(ctx: Context) -> PendingStore:
    return PendingStore(ctx.paths.callerid_state_file)


# Records


def verified_record(raw: dict[str, Any], account: Account) -> NumberRecord:
    agent = label_agent(raw.get("friendly_name"))
    return caller_id(raw, account.sid, account.name, agent=agent)


def pending_record(entry: PendingValidation, account: Account) -> NumberRecord:
    raw = {
        "sid": "",
        "phone_number": entry.phone_number,
        "friendly_name": agent_label(entry.agent) if entry.agent else "",
        "call_sid": entry.call_sid,
        "started_at": entry.started_at.isoformat(),
    }
    record = caller_id(
        raw, account.sid, account.name, verification=entry.status, agent=entry.agent
    )
    record.reason = entry.reason
    return record


def caller_id_records(
    ctx: Context, caller_ids: list[dict[str, Any]], account: Account
) -> list[NumberRecord]:
    """Verified caller IDs as listed, plus the account's unfinished validations.

    No Twilio call: a pending entry whose number is already among the listed
    caller IDs is shown as the verified one it has become.
    """
    records = [verified_record(raw, account) for raw in caller_ids]
    verified = {record.phone_number for record in records}
    records.extend(
        pending_record(entry, account)
        for entry in pending_store(ctx).load()
        if entry.account_sid == account.sid and entry.phone_number not in verified
    )
    return records


# Verify


@dataclass
class ValidationStarted:
    phone_number: str
    account: Account
    status: str
    call_sid: str | None = None
    validation_code: str | None = None
    agent: str | None = None
    already_verified: bool = False
    linked: bool = False


def start_validation(
    ctx: Context,
    account: Account,
    text: str,
    *,
    agent: str | None = None,
    call_delay: int | None = None,
    extension: str | None = None,
    now: datetime | None = None,
) -> ValidationStarted:
    """Have Twilio call the number with a code; remember the validation."""
    number = parse_e164(text)
    _check_options(ctx, agent, call_delay, extension)
    # Fail on missing credentials before anything is journaled.
    ctx.gateway.credential(account, manage=True)
    if ctx.gateway.find_number(account, number) is not None:
        raise Refused(
            f"{number} is a Twilio number of {account.label()}; it already "
            "works as caller ID there and needs no verification"
        )

    # Imported here: the gateway pulls in twilio-python, slow to load.
    from meetzy_numbers.gateway import AlreadyVerified

    label = agent_label(agent) if agent else None
    entry = _Journaled(ctx, "callerid-verify", account, number)
    entry.start(after={"friendly_name": label} if label else None)
    try:
        answer = ctx.gateway.request_validation(
            account,
            number,
            friendly_name=label,
            call_delay=call_delay,
            extension=extension,
        )
    except AlreadyVerified:
        result = _already_verified(ctx, account, number, agent)
        linked = f"; linked to agent {agent}" if result.linked else ""
        entry.finish("done", f"already verified{linked}")
        return result
    except MeetzyError as error:
        entry.finish("failed", error.message)
        error.hint = error.hint or (
            "run: meetzy-numbers callerid list, to see whether a validation "
            "started before trying again"
        )
        raise

    call_sid = str(answer.get("call_sid") or "")
    started_at = now or clock()
    validation = PendingValidation(number, account.sid, call_sid, started_at, agent)
    pending_store(ctx).put(validation)
    entry.finish("done", f"validation call {call_sid} started")
    code = str(answer.get("validation_code") or "")
    return ValidationStarted(number, account, PENDING, call_sid, code, agent)


def _check_options(
    ctx: Context, agent: str | None, call_delay: int | None, extension: str | None
) -> None:
    if agent is not None and agent not in ctx.config.agents:
        known = ", ".join(sorted(ctx.config.agents)) or "none yet"
        raise NotFound(
            f"no agent {agent!r} in the config (known: {known})",
            hint=f"add it with: meetzy-numbers agents add {agent} 'Display Name'",
        )
    if call_delay is not None and not 0 <= call_delay <= 60:
        raise UsageError(f"--call-delay must be 0 to 60 seconds, not {call_delay}")
    if extension is not None and not _EXTENSION_RE.match(extension):
        raise UsageError(
            f"--extension {extension!r} may hold only digits, w (a pause), # and *"
        )


def _already_verified(
    ctx: Context, account: Account, number: str, agent: str | None
) -> ValidationStarted:
    """A re-run: nothing to verify; link the agent if one was asked for."""
    existing = next(
        (
            raw
            for raw in ctx.gateway.list_caller_ids(account)
            if raw.get("phone_number") == number
        ),
        None,
    )
    pending_store(ctx).drop(account.sid, number)
    result = ValidationStarted(number, account, "verified", already_verified=True)
    if existing is None:
        return result
    result.agent = label_agent(existing.get("friendly_name"))
    if agent and result.agent != agent:
        ctx.gateway.update_caller_id(
            account, str(existing["sid"]), friendly_name=agent_label(agent)
        )
        result.agent, result.linked = agent, True
    return result


# Remove


@dataclass
class RemovalTarget:
    account: Account
    phone_number: str
    caller_id: dict[str, Any] | None = None
    pending: PendingValidation | None = None

    @property
    def what(self) -> str:
        return "caller ID" if self.caller_id else "pending validation"


def find_for_removal(ctx: Context, text: str, accounts: list[Account]) -> RemovalTarget:
    """The caller ID or pending validation the user named, in one account."""
    kind, value = parse_reference(text)
    entries = pending_store(ctx).load()
    found: list[RemovalTarget] = []
    failures: list[MeetzyError] = []
    for account in accounts:
        try:
            live = ctx.gateway.list_caller_ids(account)
        except MeetzyError as error:
            failures.append(error)
            live = []
        key = "sid" if kind == "sid" else "phone_number"
        raw = next((r for r in live if r.get(key) == value), None)
        number = str(raw["phone_number"]) if raw else value
        pending = next((e for e in entries if e.key == (account.sid, number)), None)
        if raw is not None or (pending is not None and kind == "number"):
            found.append(RemovalTarget(account, number, raw, pending))

    if not found and failures:
        raise failures[0]
    if not found:
        raise NotFound(f"{text.strip()} is not a caller ID in any account")
    if len(found) > 1:
        where = ", ".join(target.account.name or target.account.sid for target in found)
        raise UsageError(f"{value} is in several accounts ({where}); pick one with -s")
    return found[0]


def remove(ctx: Context, target: RemovalTarget) -> str:
    """Delete the caller ID (or forget the pending validation); journal it.

    Returns the id of the journal change, as ``history`` shows it.
    """
    account, number = target.account, target.phone_number
    if target.caller_id is None:
        pending_store(ctx).drop(account.sid, number)
        entry = _Journaled(ctx, "callerid-remove", account, number)
        return entry.finish("done", "pending validation dropped")

    sid = str(target.caller_id["sid"])
    before = {"friendly_name": target.caller_id.get("friendly_name")}
    entry = _Journaled(ctx, "callerid-remove", account, number, sid)
    change_id = entry.start(before=before)
    try:
        ctx.gateway.delete_caller_id(account, sid)
    except NotFound:
        pass  # gone between the listing and the delete: the goal is reached
    except MeetzyError as error:
        entry.finish("failed", error.message)
        raise
    ctx.cache.remove_number(account.sid, sid)
    pending_store(ctx).drop(account.sid, number)
    entry.finish("done", None, before=before)
    return change_id


@dataclass
class _Journaled:
    """The journal lines of one caller-ID change: started, then done or failed."""

    ctx: Context
    action: str
    account: Account
    number: str
    sid: str | None = None
    run: str = field(default_factory=new_run_id)
    started: str | None = None

    def start(self, **values: Any) -> str:
        self.started = self._append("started", None, values)
        return self.started

    def finish(self, status: str, detail: str | None, **values: Any) -> str:
        """Close the started line; without one, a single line records it all."""
        return self._append(status, detail, values)

    def _append(self, status: str, detail: str | None, values: dict[str, Any]) -> str:
        line = self.ctx.journal.append(
            action=self.action,
            status=status,
            account_sid=self.account.sid,
            number_sid=self.sid,
            phone_number=self.number,
            detail=detail,
            run=self.run,
            ref=self.started if status != "started" else None,
            **values,
        )
        return line.id
