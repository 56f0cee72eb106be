"""Caller IDs: start a validation, list them with their status, remove one.

Twilio lists verified caller IDs only. A validation in progress or one that
failed lives in the local pending file (store/pending.py) and is judged again
on every listing: the caller ID showing up in Twilio makes it verified, and
the outcome of Twilio's validation call, or the time gone by, makes it
disabled. The agent a caller ID belongs to is written into its Twilio
friendly name (``meetzy:<agent>``), so every machine sees the link.
"""

from __future__ import annotations

import re
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from meetzy_numbers.errors import MeetzyError, NotFound, Refused, UsageError
from meetzy_numbers.model.accounts import Account
from meetzy_numbers.model.numbers import NumberRecord, agent_label, caller_id
from meetzy_numbers.model.phone import parse_e164
from meetzy_numbers.operations.changes import new_run_id
from meetzy_numbers.operations.context import Context
from meetzy_numbers.operations.inventory import parse_reference
from meetzy_numbers.store.pending import (
    DISABLED,
    PENDING,
    PendingStore,
    PendingValidation,
)

# A validation nobody finished within a day will not finish.
EXPIRY = timedelta(hours=24)
# Twilio creates the caller ID as the code is entered; a completed call with
# no caller ID some minutes later means the code never came.
AFTER_CALL_GRACE = timedelta(minutes=10)
FAILED_CALL_STATUSES = frozenset({"failed", "no-answer", "busy", "canceled"})
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
    run = new_run_id()
    started = ctx.journal.append(
        action="callerid-verify",
        status="started",
        account_sid=account.sid,
        phone_number=number,
        after={"friendly_name": label} if label else None,
        run=run,
    )

    def close(status: str, detail: str, sid: str | None = None) -> None:
        ctx.journal.append(
            action="callerid-verify",
            status=status,
            account_sid=account.sid,
            number_sid=sid,
            phone_number=number,
            detail=detail,
            run=run,
            ref=started.id,
        )

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
        close("done", f"already verified{linked}")
        return result
    except MeetzyError as error:
        close("failed", error.message)
        if error.hint is None:
            error.hint = (
                "run: meetzy-numbers callerid list, to see whether a "
                "validation started before trying again"
            )
        raise

    call_sid = str(answer.get("call_sid") or "")
    pending_store(ctx).put(
        PendingValidation(
            phone_number=number,
            account_sid=account.sid,
            call_sid=call_sid,
            started_at=now or clock(),
            agent=agent,
        )
    )
    close("done", f"validation call {call_sid} started")
    return ValidationStarted(
        phone_number=number,
        account=account,
        status=PENDING,
        call_sid=call_sid,
        validation_code=str(answer.get("validation_code") or ""),
        agent=agent,
    )


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


# List


@dataclass
class CallerIdListing:
    records: list[NumberRecord] = field(default_factory=list)
    failures: dict[str, MeetzyError] = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)


def judge(
    entry: PendingValidation, call: dict[str, Any] | None, now: datetime
) -> PendingValidation:
    """What a validation not yet verified has become, given its call's record."""
    if entry.status == DISABLED:
        return entry
    if now - entry.started_at > EXPIRY:
        return entry.disabled("expired: not verified within 24 hours")
    status = str((call or {}).get("status") or "")
    if status in FAILED_CALL_STATUSES:
        return entry.disabled(f"validation call {status}")
    if status == "completed":
        ended = _moment((call or {}).get("end_time")) or _moment(
            (call or {}).get("date_updated")
        )
        if now - (ended or entry.started_at) > AFTER_CALL_GRACE:
            return entry.disabled("validation call ended without the code")
    return entry


def _moment(value: object) -> datetime | None:
    if not isinstance(value, str) or not value:
        return None
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        return None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def list_caller_ids(
    ctx: Context, accounts: list[Account], *, now: datetime | None = None
) -> CallerIdListing:
    """Verified, pending and disabled caller IDs, reconciled with Twilio."""
    moment = now or clock()
    store = pending_store(ctx)
    entries = store.load()
    listing = CallerIdListing()
    workers = max(1, min(ctx.config.concurrency, len(accounts)))

    def one(account: Account) -> _AccountResult:
        mine = [e for e in entries if e.account_sid == account.sid]
        return _reconcile(ctx, account, mine, moment)

    with ThreadPoolExecutor(max_workers=workers) as pool:
        results = list(pool.map(one, accounts))

    judged: dict[tuple[str, str], PendingValidation | None] = {}
    for account, result in zip(accounts, results, strict=True):
        if result.failure is not None:
            listing.failures[account.sid] = result.failure
        listing.records.extend(result.records)
        listing.warnings.extend(result.warnings)
        judged.update(result.judged)
    _save_judgements(store, entries, judged)
    return listing


@dataclass
class _AccountResult:
    records: list[NumberRecord] = field(default_factory=list)
    judged: dict[tuple[str, str], PendingValidation | None] = field(
        default_factory=dict
    )
    warnings: list[str] = field(default_factory=list)
    failure: MeetzyError | None = None


def _reconcile(
    ctx: Context,
    account: Account,
    entries: list[PendingValidation],
    now: datetime,
) -> _AccountResult:
    result = _AccountResult()
    try:
        live = ctx.gateway.list_caller_ids(account)
    except MeetzyError as error:
        # Without Twilio's list nothing can be judged; show what is known.
        result.failure = error
        result.records = [pending_record(entry, account) for entry in entries]
        return result
    ctx.cache.update_caller_ids(account.sid, live)
    result.records = [verified_record(raw, account) for raw in live]
    verified = {str(raw.get("phone_number")) for raw in live}

    for entry in entries:
        if entry.phone_number in verified:
            result.judged[entry.key] = None
            continue
        call = None
        if entry.status == PENDING and now - entry.started_at <= EXPIRY:
            try:
                call = ctx.gateway.fetch_call(account, entry.call_sid)
            except NotFound:
                call = None
            except MeetzyError as error:
                result.warnings.append(
                    f"could not check the validation call of "
                    f"{entry.phone_number}: {error.message}"
                )
        judged = judge(entry, call, now)
        result.judged[entry.key] = judged
        result.records.append(pending_record(judged, account))
    return result


def _save_judgements(
    store: PendingStore,
    read: list[PendingValidation],
    judged: dict[tuple[str, str], PendingValidation | None],
) -> None:
    changed = {
        key: value
        for key, value in judged.items()
        if value is None or value not in read
    }
    if not changed:
        return

    def apply(current: list[PendingValidation]) -> list[PendingValidation]:
        kept: list[PendingValidation] = []
        for entry in current:
            if entry.key not in changed:
                kept.append(entry)
                continue
            new = changed[entry.key]
            if new is None:
                continue  # verified: Twilio holds it now
            # A verify run since the listing started a new call: keep that.
            kept.append(new if entry.call_sid == new.call_sid else entry)
        return kept

    store.modify(apply)


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
    """Delete the caller ID (or forget the pending validation); journal it."""
    account, number = target.account, target.phone_number
    run = new_run_id()
    if target.caller_id is None:
        pending_store(ctx).drop(account.sid, number)
        entry = ctx.journal.append(
            action="callerid-remove",
            status="done",
            account_sid=account.sid,
            phone_number=number,
            detail="pending validation dropped",
            run=run,
        )
        return entry.id

    sid = str(target.caller_id["sid"])
    before = {"friendly_name": target.caller_id.get("friendly_name")}
    started = ctx.journal.append(
        action="callerid-remove",
        status="started",
        account_sid=account.sid,
        number_sid=sid,
        phone_number=number,
        before=before,
        run=run,
    )
    try:
        ctx.gateway.delete_caller_id(account, sid)
    except NotFound:
        pass  # gone between the listing and the delete: the goal is reached
    except MeetzyError as error:
        ctx.journal.append(
            action="callerid-remove",
            status="failed",
            account_sid=account.sid,
            number_sid=sid,
            phone_number=number,
            detail=error.message,
            run=run,
            ref=started.id,
        )
        raise
    ctx.cache.remove_number(account.sid, sid)
    pending_store(ctx).drop(account.sid, number)
    done = ctx.journal.append(
        action="callerid-remove",
        status="done",
        account_sid=account.sid,
        number_sid=sid,
        phone_number=number,
        before=before,
        run=run,
        ref=started.id,
    )
    return done.id
