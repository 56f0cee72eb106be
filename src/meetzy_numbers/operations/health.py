"""Phone health from Twilio's call records, and the number an agent should use.

Calls are fetched once per account and window, then grouped by the number
they came from: one list request (a page per thousand calls) whatever the
number of numbers, where a query per number would cost a request each.
Results are cached with the account's numbers, so ``list``, ``show``, ``pick``
and ``swap --health`` read them without asking Twilio again. A run over whole
accounts replaces their cached health; a run that names numbers, perhaps over
another window, updates only those numbers and leaves the rest as they were.
"""

from __future__ import annotations

import logging
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, TextIO

from meetzy_numbers.errors import MeetzyError, NotFound, UsageError
from meetzy_numbers.model import phone
from meetzy_numbers.model.accounts import Account
from meetzy_numbers.model.health import CallCounts, Health, classify, count_calls
from meetzy_numbers.model.numbers import Kind, NumberRecord, State
from meetzy_numbers.model.pick import Choice, rank_numbers
from meetzy_numbers.operations import inventory
from meetzy_numbers.operations.context import Context
from meetzy_numbers.operations.select import Selector, read_references, select

log = logging.getLogger(__name__)

MAX_DAYS = 365


@dataclass
class HealthReport:
    """Health per number, and what could not be checked."""

    records: list[NumberRecord]
    window_days: int
    skipped: list[NumberRecord] = field(default_factory=list)  # caller IDs
    missing: list[str] = field(default_factory=list)
    failures: dict[str, MeetzyError] = field(default_factory=dict)


@dataclass
class PickResult:
    agent: str
    destination: phone.PhoneNumber | None
    ranking: list[Choice]
    computed: bool = False  # health was computed now rather than read from cache
    failures: dict[str, MeetzyError] = field(default_factory=dict)


def window_of(ctx: Context, days: int | None) -> int:
    window = ctx.config.health.window_days if days is None else days
    if not 1 <= window <= MAX_DAYS:
        raise UsageError(f"--days must be between 1 and {MAX_DAYS}, not {window}")
    return window


def check_health(
    ctx: Context,
    refs: list[str],
    *,
    account_ref: str | None,
    all_accounts: bool,
    days: int | None,
    stdin: TextIO,
) -> HealthReport:
    """Compute health for the named numbers, or every number of the accounts."""
    window = window_of(ctx, days)
    texts = read_references(refs, stdin)
    bad = [text for text in texts if not _readable(text)]
    if bad:
        listed = ", ".join(repr(text) for text in bad[:5])
        raise UsageError(f"cannot read {listed} as phone numbers or PN SIDs")
    if texts:
        selection = select(
            ctx,
            texts,
            Selector(),
            account_ref=account_ref,
            all_accounts=all_accounts,
            stdin=stdin,
        )
        chosen = [r for r in selection.records if r.kind is Kind.TWILIO]
        skipped = [r for r in selection.records if r.kind is not Kind.TWILIO]
        holding = {r.account_sid for r in chosen}
        accounts = [a for a in selection.accounts if a.sid in holding]
        report = HealthReport([], window, skipped, selection.missing)
        if not chosen and not skipped:
            listed = ", ".join(selection.missing)
            raise NotFound(f"{listed}: not a number in any account")
    else:
        accounts = inventory.selected_accounts(ctx, account_ref, all_accounts)
        chosen, report = [], HealthReport([], window)

    found = inventory.load_inventory(ctx, accounts)
    report.failures.update(found.failures)
    wanted = {r.sid for r in chosen} if texts else None
    records = [r for r in found.records if wanted is None or r.sid in wanted]
    results, failures = compute_health(
        ctx, accounts, records, window, merge=wanted is not None
    )
    report.failures.update(failures)

    for record in records:
        if record.kind is Kind.TWILIO and record.sid in results:
            record.health = results[record.sid].to_dict()
            report.records.append(record)
    if not report.records and report.failures:
        raise next(iter(report.failures.values()))
    return report


def _readable(text: str) -> bool:
    try:
        inventory.parse_reference(text)
    except UsageError:
        return False
    return True


def compute_health(
    ctx: Context,
    accounts: list[Account],
    records: list[NumberRecord],
    window_days: int,
    *,
    merge: bool = False,
) -> tuple[dict[str, Health], dict[str, MeetzyError]]:
    """Health of the Twilio numbers among ``records``, cached per account.

    The cache gets these results in place of the account's earlier ones, or
    with ``merge`` only for these numbers, the others' kept as they were.
    Returns results by number SID, and failures by account SID.
    """
    now = datetime.now(UTC).replace(microsecond=0)
    since = now - timedelta(days=window_days)
    by_account: dict[str, list[NumberRecord]] = {a.sid: [] for a in accounts}
    for record in records:
        if record.kind is Kind.TWILIO and record.account_sid in by_account:
            by_account[record.account_sid].append(record)

    def one(account: Account) -> dict[str, Health] | MeetzyError:
        try:
            calls = ctx.gateway.list_calls(account, start_after=since)
        except MeetzyError as error:
            return error
        counts = count_calls(
            calls, short_call_seconds=ctx.config.health.short_call_seconds, since=since
        )
        found = {
            record.sid: classify(
                counts.get(record.phone_number, CallCounts()),
                ctx.config.health,
                window_days=window_days,
                computed_at=now,
            )
            for record in by_account[account.sid]
        }
        computed = {sid: h.to_dict() for sid, h in found.items()}
        store_health(ctx, account.sid, computed, merge=merge)
        log.info(
            "health of %d numbers in %s from %d calls",
            len(found),
            account.label(),
            len(calls),
        )
        return found

    workers = max(1, min(ctx.config.concurrency, len(accounts)))
    with ThreadPoolExecutor(max_workers=workers) as pool:
        outcomes = list(pool.map(one, accounts))

    results: dict[str, Health] = {}
    failures: dict[str, MeetzyError] = {}
    for account, outcome in zip(accounts, outcomes, strict=True):
        if isinstance(outcome, MeetzyError):
            failures[account.sid] = outcome
        else:
            results.update(outcome)
    return results, failures


def store_health(
    ctx: Context, account_sid: str, health: dict[str, Any], *, merge: bool
) -> None:
    """Cache an account's health map, or merge ``health`` into the cached one.

    The merge reads then writes; a concurrent run may win the race, which
    costs one number's health until the next ``health`` run, nothing more.
    """
    if merge:
        entry = ctx.cache.load(account_sid, allow_stale=True)
        cached = entry.extra.get("health") if entry else None
        if isinstance(cached, dict):
            health = {**cached, **health}
    ctx.cache.update_extra(account_sid, "health", health)


def pick(ctx: Context, agent: str, to: str | None) -> PickResult:
    """The agent's assigned numbers ranked for a call to ``to``."""
    destination = phone.describe(phone.parse_e164(to)) if to else None
    accounts = inventory.list_accounts(ctx)
    found = inventory.load_inventory(ctx, accounts)
    routed = [r for r in found.records if r.kind is Kind.TWILIO and r.agent == agent]
    if not routed and found.failures:
        raise next(iter(found.failures.values()))
    if agent not in ctx.config.agents and not routed:
        raise NotFound(
            f"no agent {agent!r} in the config, and no number routes to it",
            hint="see the agents with: meetzy-numbers agents list",
        )
    candidates = [r for r in routed if r.state is State.ASSIGNED]
    if not candidates:
        raise NotFound(_no_number_message(agent, routed), hint=_no_number_hint(agent))

    result = PickResult(agent, destination, [], failures=dict(found.failures))
    unknown = [r for r in candidates if Health.from_dict(r.health) is None]
    if unknown:
        holding = {r.account_sid for r in unknown}
        stale = [a for a in accounts if a.sid in holding]
        window = window_of(ctx, None)
        results, failures = compute_health(ctx, stale, found.records, window)
        result.failures.update(failures)
        result.computed = True
        for record in candidates:
            if record.sid in results:
                record.health = results[record.sid].to_dict()
    result.ranking = rank_numbers(candidates, destination)
    return result


def _no_number_message(agent: str, routed: list[NumberRecord]) -> str:
    message = f"agent {agent} has no assigned number"
    if routed:
        listed = ", ".join(r.phone_number for r in routed[:3])
        message += f" (partly routed to it: {listed})"
    return message


def _no_number_hint(agent: str) -> str:
    return f"assign one with: meetzy-numbers assign NUMBER {agent}"
