"""Accounts and numbers: read from the cache when fresh, from Twilio otherwise."""

from __future__ import annotations

import logging
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from meetzy_numbers.errors import MeetzyError, NotFound, UsageError
from meetzy_numbers.model import phone
from meetzy_numbers.model.accounts import Account
from meetzy_numbers.model.numbers import (
    ROUTING_FIELDS,
    Kind,
    NumberRecord,
    twilio_number,
)
from meetzy_numbers.operations.context import Context
from meetzy_numbers.store.cache import CacheEntry

log = logging.getLogger(__name__)


@dataclass
class Inventory:
    accounts: list[Account]
    records: list[NumberRecord]
    failures: dict[str, MeetzyError] = field(default_factory=dict)
    fetched_at: dict[str, datetime] = field(default_factory=dict)


def _accounts_key(main_sid: str) -> str:
    return f"{main_sid}-accounts"


def list_accounts(ctx: Context) -> list[Account]:
    """The main account and its subaccounts, main first."""
    key = _accounts_key(ctx.main_sid)
    entry = None if ctx.refresh else ctx.cache.load(key)
    if entry is not None:
        return [Account.from_dict(item) for item in entry.extra.get("accounts", [])]
    accounts = ctx.gateway.accounts()
    ctx.cache.save(
        CacheEntry(
            account_sid=key,
            account_name="accounts",
            fetched_at=datetime.now(UTC),
            numbers=[],
            caller_ids=[],
            extra={"accounts": [account.to_dict() for account in accounts]},
        )
    )
    return accounts


def forget_accounts(ctx: Context, main_sid: str) -> None:
    """Drop the cached list of subaccounts: new credentials may see others."""
    ctx.cache.clear(_accounts_key(main_sid))


def resolve_account(ctx: Context, ref: str) -> Account:
    """An account named by SID, alias or friendly name (any case)."""
    accounts = list_accounts(ctx)
    wanted = ctx.config.aliases.get(ref, ref).strip()
    if wanted.lower() in ("main", "parent"):
        wanted = ctx.main_sid
    for account in accounts:
        if account.sid == wanted or account.name.lower() == wanted.lower():
            return account
    names = ", ".join(account.name or account.sid for account in accounts)
    raise NotFound(f"no account named {ref!r}; known accounts: {names}")


def selected_accounts(
    ctx: Context, account_ref: str | None, all_accounts: bool
) -> list[Account]:
    accounts = list_accounts(ctx)
    if all_accounts:
        return accounts
    if account_ref:
        return [resolve_account(ctx, account_ref)]
    return [account for account in accounts if account.is_main] or accounts[:1]


def _load_entry(ctx: Context, account: Account) -> CacheEntry:
    if not ctx.refresh:
        entry = ctx.cache.load(account.sid)
        if entry is not None and _sane(entry):
            return entry
        if entry is not None:
            log.warning("cache for %s was unreadable and will be rebuilt", account.sid)
    numbers = ctx.gateway.list_numbers(account)
    caller_ids = ctx.gateway.list_caller_ids(account)
    old = ctx.cache.load(account.sid, allow_stale=True)
    entry = CacheEntry(
        account_sid=account.sid,
        account_name=account.name,
        fetched_at=datetime.now(UTC),
        numbers=numbers,
        caller_ids=caller_ids,
        extra=old.extra if old else {},
    )
    ctx.cache.save(entry)
    return entry


def _sane(entry: CacheEntry) -> bool:
    """Whether every cached record has the types the tool reads.

    The cache checks only the file's shape, to keep loading 10,000 records one
    ``json.loads``; a record edited by hand or by another version must not
    crash every command until the cache expires.
    """
    for raw in entry.numbers:
        if not isinstance(raw.get("sid"), str) or not isinstance(
            raw.get("phone_number"), str
        ):
            return False
        if not isinstance(raw.get("capabilities") or {}, dict):
            return False
        if any(
            not isinstance(raw.get(name) or "", str)
            for name in (*ROUTING_FIELDS, "friendly_name")
        ):
            return False
    return all(
        isinstance(raw.get("sid"), str) and isinstance(raw.get("phone_number"), str)
        for raw in entry.caller_ids
    )


def records_of(ctx: Context, entry: CacheEntry, account: Account) -> list[NumberRecord]:
    base = ctx.config.webhook_base
    records = [
        twilio_number(raw, account.sid, account.name, base) for raw in entry.numbers
    ]
    # Imported here: the caller-ID operations build on this module.
    from meetzy_numbers.operations.callerid import caller_id_records

    records.extend(caller_id_records(ctx, entry.caller_ids, account))
    health: dict[str, Any] = entry.extra.get("health", {})
    for record in records:
        record.health = health.get(record.sid)
    return records


def load_inventory(ctx: Context, accounts: list[Account]) -> Inventory:
    """Every number and caller ID of the accounts, fetched in parallel."""
    inventory = Inventory(accounts=accounts, records=[])
    workers = max(1, min(ctx.config.concurrency, len(accounts)))

    def load(account: Account) -> CacheEntry | MeetzyError:
        try:
            return _load_entry(ctx, account)
        except MeetzyError as error:
            return error

    if workers == 1:
        results = [load(account) for account in accounts]
    else:
        with ThreadPoolExecutor(max_workers=workers) as pool:
            results = list(pool.map(load, accounts))

    for account, result in zip(accounts, results, strict=True):
        if isinstance(result, MeetzyError):
            inventory.failures[account.sid] = result
            continue
        inventory.fetched_at[account.sid] = result.fetched_at
        inventory.records.extend(records_of(ctx, result, account))
    if not ctx.config.webhook_base and inventory.records:
        log.warning(
            "no webhook_base is configured, so no number can count as assigned; "
            "set it with: meetzy-numbers config set webhook_base https://…"
        )
    return inventory


def parse_reference(text: str) -> tuple[str, str]:
    """("sid", PN…) or ("number", E.164) from what a user typed."""
    stripped = text.strip()
    if phone.is_sid(stripped, "PN"):
        return "sid", stripped
    return "number", phone.parse_e164(stripped)


def locate(
    ctx: Context, text: str, accounts: list[Account] | None = None
) -> NumberRecord:
    """The one number or caller ID the user named, across the accounts."""
    kind, value = parse_reference(text)
    accounts = accounts or list_accounts(ctx)
    if all_cached(ctx, accounts):
        inventory = load_inventory(ctx, accounts)
    else:
        inventory = _look_up(ctx, kind, value, accounts)
    field_name = "sid" if kind == "sid" else "phone_number"
    matches = [r for r in inventory.records if getattr(r, field_name) == value]
    if not matches and inventory.failures:
        raise next(iter(inventory.failures.values()))
    if not matches:
        raise NotFound(f"{text.strip()} is not a number in any account")
    twilio = [r for r in matches if r.kind is Kind.TWILIO]
    if len(twilio) > 1:
        where = ", ".join(r.account_name for r in twilio)
        raise UsageError(f"{value} is in several accounts ({where}); pick one with -s")
    return twilio[0] if twilio else matches[0]


def all_cached(ctx: Context, accounts: list[Account]) -> bool:
    return not ctx.refresh and all(
        ctx.cache.load(account.sid) is not None for account in accounts
    )


def _look_up(ctx: Context, kind: str, value: str, accounts: list[Account]) -> Inventory:
    """One number asked of each account, instead of listing them all.

    With no fresh cache, ``show`` of one number in an account of 10,000 costs
    one filtered request per account rather than every page of every account.
    """
    base = ctx.config.webhook_base

    def one(account: Account) -> list[NumberRecord] | MeetzyError:
        try:
            if kind == "sid":
                try:
                    raws = [ctx.gateway.fetch_number(account, value)]
                except NotFound:
                    raws = []
            else:
                raws = [r for r in [ctx.gateway.find_number(account, value)] if r]
            found = [twilio_number(r, account.sid, account.name, base) for r in raws]
            if not found and kind == "number":
                from meetzy_numbers.operations.callerid import caller_id_records

                callers = ctx.gateway.list_caller_ids(account, phone_number=value)
                found = caller_id_records(ctx, callers, account)
        except MeetzyError as error:
            return error
        cached = ctx.cache.load(account.sid, allow_stale=True)
        health = cached.extra.get("health", {}) if cached else {}
        for record in found:
            record.health = health.get(record.sid)
        return found

    inventory = Inventory(accounts=accounts, records=[])
    workers = max(1, min(ctx.config.concurrency, len(accounts)))
    with ThreadPoolExecutor(max_workers=workers) as pool:
        results = list(pool.map(one, accounts))
    for account, result in zip(accounts, results, strict=True):
        if isinstance(result, MeetzyError):
            inventory.failures[account.sid] = result
        else:
            inventory.records.extend(result)
    return inventory


def refreshed(ctx: Context, record: NumberRecord, account: Account) -> NumberRecord:
    """The number as Twilio has it now, fetched with managing credentials."""
    raw = ctx.gateway.fetch_number(account, record.sid, manage=True)
    return twilio_number(raw, account.sid, account.name, ctx.config.webhook_base)


def account_of(ctx: Context, record: NumberRecord) -> Account:
    for account in list_accounts(ctx):
        if account.sid == record.account_sid:
            return account
    return Account(record.account_sid, record.account_name)
