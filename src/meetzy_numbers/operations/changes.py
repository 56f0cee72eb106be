"""Changing numbers: assign, disconnect, reset and return, one number at a time.

Each change follows the same steps. Fetch the number as Twilio has it now
(with the credentials that may manage it), decide what to send, journal the
intent with the routing before and after, send it, journal the outcome and
update the cache. A run that dies between the two journal lines leaves a
"started" line; the next run finds the number already changed and closes it.
"""

from __future__ import annotations

import uuid
import zlib
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from enum import Enum
from typing import Any

from meetzy_numbers.errors import MeetzyError, NotFound, Refused, UsageError
from meetzy_numbers.model.accounts import Account
from meetzy_numbers.model.numbers import (
    Kind,
    NumberRecord,
    State,
    agent_label,
    assigned_routing,
    cleared_routing,
    is_set,
    read_mark,
    twilio_number,
    without_mark,
)
from meetzy_numbers.model.phone import describe
from meetzy_numbers.operations.context import Context
from meetzy_numbers.operations.inventory import account_of, load_inventory, refreshed
from meetzy_numbers.store.atomic import file_lock
from meetzy_numbers.store.journal import JournalEntry

# A bulk run writes its cache changes this often, and at the end.
FLUSH_EVERY = 200


class Outcome(str, Enum):
    DONE = "done"
    SKIPPED = "skipped"
    FAILED = "failed"
    PLANNED = "planned"


@dataclass
class ChangeResult:
    action: str
    record: NumberRecord
    outcome: Outcome
    detail: str | None = None
    changes: dict[str, str] | None = None
    journal_id: str | None = None
    error: MeetzyError | None = None


# A plan step: given the number as it is now, the update to send, or None when
# there is nothing to do (with the reason), or a Refused error.
Planner = Callable[[NumberRecord], tuple[dict[str, str] | None, str | None]]


def new_run_id() -> str:
    return uuid.uuid4().hex[:8]


def snapshot(record: NumberRecord) -> dict[str, Any]:
    return {**record.routing, "friendly_name": record.friendly_name}


def expected_after(record: NumberRecord, changes: dict[str, str]) -> dict[str, Any]:
    after = snapshot(record)
    for name, value in changes.items():
        after[name] = value if is_set(value) else None
    return after


def plain_name(record: NumberRecord) -> str:
    """The friendly name without the tool's return mark or agent label."""
    rest = without_mark(record.friendly_name)
    if not rest or rest.startswith("meetzy:"):
        return describe(record.phone_number).national
    return rest


def _only_twilio(record: NumberRecord, action: str) -> None:
    if record.kind is not Kind.TWILIO:
        raise Refused(
            f"{record.phone_number} is a caller ID, not a Twilio number; "
            f"caller IDs cannot be {action}"
        )


# Planners


def plan_assign(ctx: Context, agent: str, *, force: bool) -> Planner:
    if agent not in ctx.config.agents:
        known = ", ".join(sorted(ctx.config.agents)) or "none yet"
        raise NotFound(
            f"no agent {agent!r} in the config (known: {known})",
            hint=f"add it with: meetzy-numbers agents add {agent} 'Display Name'",
        )
    base = ctx.config.webhook_base
    if not base:
        raise UsageError(
            "no webhook base is configured, so there is no agent URL to route to",
            hint="set it with: meetzy-numbers config set webhook_base https://…",
        )

    def plan(record: NumberRecord) -> tuple[dict[str, str] | None, str | None]:
        _only_twilio(record, "assigned")
        if record.state is State.ASSIGNED and record.agent == agent:
            return None, f"already assigned to {agent}"
        if record.state is State.ASSIGNED and not force:
            raise Refused(
                f"{record.phone_number} is assigned to {record.agent}; "
                "pass --force to move it"
            )
        if record.state is State.PARTIAL and not force:
            raise Refused(
                f"{record.phone_number} is partial ({record.reason}); "
                "pass --force to replace its routing"
            )
        changes = {
            **cleared_routing(record.routing),
            **assigned_routing(base, agent),
        }
        changes["friendly_name"] = agent_label(agent)
        return changes, None

    return plan


def plan_disconnect(ctx: Context, *, force: bool) -> Planner:
    counts: dict[str, int] = {}
    inventory = load_inventory(ctx, _all_accounts(ctx))
    for other in inventory.records:
        if other.kind is Kind.TWILIO and other.state is State.ASSIGNED and other.agent:
            counts[other.agent] = counts.get(other.agent, 0) + 1

    def plan(record: NumberRecord) -> tuple[dict[str, str] | None, str | None]:
        _only_twilio(record, "disconnected")
        if not record.agent:
            return None, "not linked to an agent"
        if (
            record.state is State.ASSIGNED
            and counts.get(record.agent, 0) <= 1
            and not force
        ):
            raise Refused(
                f"{record.phone_number} is the last number of agent {record.agent}; "
                "disconnecting it leaves the agent unreachable (pass --force)"
            )
        changes = {
            name: ""
            for name in ("voice_url", "status_callback")
            if record.routing.get(name)
        }
        name = plain_name(record)
        if name != record.friendly_name:
            changes["friendly_name"] = name
        if record.state is State.ASSIGNED:
            counts[record.agent] = counts.get(record.agent, 1) - 1
        return changes, None

    return plan


def plan_reset() -> Planner:
    def plan(record: NumberRecord) -> tuple[dict[str, str] | None, str | None]:
        _only_twilio(record, "reset")
        marked, _ = read_mark(record.friendly_name)
        if record.state is State.UNASSIGNED and marked is None:
            return None, "already unassigned"
        changes = cleared_routing(record.routing)
        name = plain_name(record)
        if name != record.friendly_name:
            changes["friendly_name"] = name
        return changes, None

    return plan


def _all_accounts(ctx: Context) -> list[Account]:
    from meetzy_numbers.operations.inventory import list_accounts

    return list_accounts(ctx)


# Applying


def number_lock(ctx: Context, sid: str) -> Any:
    """An inter-process lock for one number, so two runs never change it at once.

    Numbers share 256 lock files by hash: enough that unrelated numbers rarely
    wait on each other, few enough to leave no litter.
    """
    stripe = zlib.crc32(sid.encode()) % 256
    return file_lock(ctx.paths.data_dir / "locks" / f"numbers-{stripe:03d}")


def apply_update(
    ctx: Context,
    action: str,
    record: NumberRecord,
    plan: Planner,
    run: str,
    *,
    detail: str | None = None,
) -> ChangeResult:
    """Fetch, plan, journal, update, journal, cache: one number.

    ``detail`` goes on the journal lines (``undo`` names the entry it undoes).
    """
    with number_lock(ctx, record.sid):
        return _apply_update(ctx, action, record, plan, run, detail)


def _apply_update(
    ctx: Context,
    action: str,
    record: NumberRecord,
    plan: Planner,
    run: str,
    detail: str | None,
) -> ChangeResult:
    account = account_of(ctx, record)
    try:
        if record.kind is not Kind.TWILIO:
            plan(record)  # every planner refuses caller IDs, saying why
        live = refreshed(ctx, record, account)
        changes, skip_reason = plan(live)
    except MeetzyError as error:
        return ChangeResult(action, record, Outcome.FAILED, error.message, error=error)
    unfinished = _unfinished(ctx, action, live)
    if changes is None:
        if unfinished is not None and unfinished.after == snapshot(live):
            _close(
                ctx, unfinished, "done", "finished by a later run", after=snapshot(live)
            )
        return ChangeResult(action, live, Outcome.SKIPPED, skip_reason)

    expected = expected_after(live, changes)
    if unfinished is not None and unfinished.after == expected:
        # A killed run intended exactly this change: finish its entry.
        started = unfinished
    else:
        if unfinished is not None:
            _close(ctx, unfinished, "failed", "interrupted before Twilio applied it")
        started = ctx.journal.append(
            action=action,
            status="started",
            account_sid=account.sid,
            number_sid=live.sid,
            phone_number=live.phone_number,
            before=snapshot(live),
            after=expected,
            detail=detail,
            run=run,
        )
    try:
        raw = ctx.gateway.update_number(account, live.sid, changes)
    except MeetzyError as error:
        _close(ctx, started, "failed", error.message)
        return ChangeResult(action, live, Outcome.FAILED, error.message, error=error)

    ctx.cache_later(account.sid, updated=raw)
    after = twilio_number(raw, account.sid, account.name, ctx.config.webhook_base)
    _close(ctx, started, "done", detail, after=snapshot(after))
    return ChangeResult(
        action, after, Outcome.DONE, changes=changes, journal_id=started.id
    )


def _unfinished(ctx: Context, action: str, live: NumberRecord) -> JournalEntry | None:
    """The "started" line a killed run left for this number, if any."""
    entry = ctx.unfinished_changes().get(live.sid)
    if entry is None or entry.action != action:
        return None
    return entry


def _close(
    ctx: Context,
    started: JournalEntry,
    status: str,
    detail: str | None,
    *,
    after: dict[str, Any] | None = None,
) -> JournalEntry:
    return ctx.journal.append(
        action=started.action,
        status=status,
        account_sid=started.account_sid,
        number_sid=started.number_sid,
        phone_number=started.phone_number,
        before=started.before,
        after=after if status == "done" else None,
        detail=detail,
        run=started.run,
        ref=started.id,
    )


def release(
    ctx: Context, record: NumberRecord, *, force: bool, run: str
) -> ChangeResult:
    """Give a number back to Twilio. Irreversible."""
    with number_lock(ctx, record.sid):
        return _release(ctx, record, force=force, run=run)


def _release(
    ctx: Context, record: NumberRecord, *, force: bool, run: str
) -> ChangeResult:
    account = account_of(ctx, record)
    try:
        _only_twilio(record, "returned")
        live = refreshed(ctx, record, account)
        if live.state is State.ASSIGNED and not force:
            raise Refused(
                f"{live.phone_number} is assigned to {live.agent}; returning it "
                "would cut the agent off (disconnect it first, or pass --force)"
            )
    except NotFound:
        ctx.cache_later(account.sid, removed=record.sid)
        unfinished = _unfinished(ctx, "return", record)
        if unfinished is not None:
            _close(ctx, unfinished, "done", "finished by a later run")
        return ChangeResult("return", record, Outcome.SKIPPED, "already gone")
    except MeetzyError as error:
        return ChangeResult(
            "return", record, Outcome.FAILED, error.message, error=error
        )

    started = _unfinished(ctx, "return", live) or ctx.journal.append(
        action="return",
        status="started",
        account_sid=account.sid,
        number_sid=live.sid,
        phone_number=live.phone_number,
        before=snapshot(live),
        after=None,
        run=run,
    )
    try:
        ctx.gateway.release_number(account, live.sid)
    except NotFound:
        pass  # gone between the fetch and the delete: the goal is reached
    except MeetzyError as error:
        _close(ctx, started, "failed", error.message)
        return ChangeResult("return", live, Outcome.FAILED, error.message, error=error)
    ctx.cache_later(account.sid, removed=live.sid)
    _close(ctx, started, "done", None)
    return ChangeResult("return", live, Outcome.DONE, journal_id=started.id)


def run_many(
    ctx: Context,
    records: Iterable[NumberRecord],
    one: Callable[[NumberRecord], ChangeResult],
    on_result: Callable[[ChangeResult], None] | None = None,
) -> list[ChangeResult]:
    """Apply ``one`` to every record with bounded concurrency, in input order."""
    items = list(records)
    workers = max(1, min(ctx.config.concurrency, len(items)))
    results: list[ChangeResult] = []
    if workers == 1:
        try:
            for item in items:
                result = one(item)
                results.append(result)
                if on_result:
                    on_result(result)
        finally:
            ctx.flush_cache()
        return results
    pool = ThreadPoolExecutor(max_workers=workers)
    try:
        futures = [pool.submit(one, item) for item in items]
        for done, future in enumerate(futures, start=1):
            result = future.result()
            results.append(result)
            if on_result:
                on_result(result)
            if done % FLUSH_EVERY == 0:
                ctx.flush_cache()
    finally:
        # On Ctrl-C, drop what has not started; what is in flight finishes
        # and is journaled, so every number ends changed or not.
        pool.shutdown(wait=True, cancel_futures=True)
        ctx.flush_cache()
    return results
