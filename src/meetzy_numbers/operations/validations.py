"""Pending caller-ID validations judged against Twilio: ``callerid list``.

Twilio shows no pending or failed validation, only the caller IDs that made
it. So on every listing each validation the pending file remembers is
judged: its number among Twilio's caller IDs means verified (and it leaves
the file); its validation call failed, or completed with no caller ID to
show for it ten minutes on, or a day gone by, means disabled.
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from meetzy_numbers.errors import MeetzyError, NotFound
from meetzy_numbers.model.accounts import Account
from meetzy_numbers.model.numbers import NumberRecord
from meetzy_numbers.operations import callerid
from meetzy_numbers.operations.context import Context
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
    call = call or {}
    status = str(call.get("status") or "")
    if status in FAILED_CALL_STATUSES:
        return entry.disabled(f"validation call {status}")
    if status == "completed":
        ended = _moment(call.get("end_time")) or _moment(call.get("date_updated"))
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
    moment = now or callerid.clock()
    store = callerid.pending_store(ctx)
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
        result.records = [callerid.pending_record(e, account) for e in entries]
        return result
    ctx.cache.update_caller_ids(account.sid, live)
    result.records = [callerid.verified_record(raw, account) for raw in live]
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
        result.records.append(callerid.pending_record(judged, account))
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
