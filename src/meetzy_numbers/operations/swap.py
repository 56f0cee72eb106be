"""Swapping an agent's number for another, without ever leaving it unreachable.

The order is the safety rule: first the new number gets the agent's routing,
then the old one is unlinked and marked for return, in one update. If the
first step fails nothing else happens. If the second fails the agent answers
on both numbers, which is safe but unfinished; the journal remembers the swap
(a "started" line naming both numbers), so running ``swap`` on the same old
number again finishes it, or with ``undo`` takes the agent off the new one.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from meetzy_numbers.errors import MeetzyError, NotFound, Refused
from meetzy_numbers.model.accounts import Account
from meetzy_numbers.model.numbers import (
    Kind,
    NumberRecord,
    State,
    agent_label,
    cleared_routing,
    twilio_number,
    with_mark,
)
from meetzy_numbers.model.phone import describe
from meetzy_numbers.operations import provision, replacements
from meetzy_numbers.operations.changes import new_run_id, plain_name, snapshot
from meetzy_numbers.operations.context import Context
from meetzy_numbers.operations.inventory import account_of, refreshed
from meetzy_numbers.store.journal import JournalEntry

ACTION = "swap"
_DETAIL_RE = re.compile(r"(\w+)=(\S+)")
# Journal details that close a swap: nothing is left to finish after them.
_CLOSING = ("step 2", "undone")


@dataclass
class SwapPlan:
    """What a swap will do, shown to the user before anything changes."""

    old: NumberRecord
    account: Account
    agent: str
    new: NumberRecord | None = None  # a free number of the account
    buy: dict[str, Any] | None = None  # or a number for sale
    papers: provision.Paperwork = field(default_factory=provision.Paperwork)
    resume: JournalEntry | None = None  # the "started" line of an unfinished swap
    note: str | None = None
    any_area: bool = False  # the user accepts buying outside the old area code

    @property
    def new_number(self) -> str | None:
        if self.new is not None:
            return self.new.phone_number
        return str(self.buy["phone_number"]) if self.buy else None

    @property
    def outside_area(self) -> str | None:
        """The old area code, when the number to buy is outside it."""
        if self.buy is None:
            return None
        return replacements.outside_area(self.old, str(self.buy["phone_number"]))

    @property
    def needs_area_consent(self) -> bool:
        """Buying outside the area code breaks the promise of a familiar
        number, so it takes the user's explicit yes (or ``--any-area``)."""
        return self.outside_area is not None and not self.any_area


@dataclass
class SwapResult:
    old: NumberRecord
    outcome: str  # swapped, finished, undone, failed or planned
    new: NumberRecord | None = None
    agent: str | None = None
    account: Account | None = None
    detail: str | None = None
    journal_id: str | None = None
    error: MeetzyError | None = None


# Planning


def plan_swap(
    ctx: Context,
    record: NumberRecord,
    *,
    force: bool = False,
    buy: bool = False,
    undo: bool = False,
    papers: provision.Paperwork | None = None,
    taken: set[str] | None = None,
    any_area: bool = False,
) -> SwapPlan:
    """Check the old number and choose its replacement; nothing changes.

    ``any_area`` accepts buying the nearest number outside the old area code
    when none is for sale in it; without it such a plan needs consent.
    """
    if record.kind is not Kind.TWILIO:
        raise Refused(
            f"{record.phone_number} is a caller ID, not a Twilio number; "
            "caller IDs belong to the customer and cannot be swapped"
        )
    account = account_of(ctx, record)
    old = refreshed(ctx, record, account)

    unfinished = find_unfinished(ctx, old, account)
    if unfinished is not None:
        started, new, agent = unfinished
        return SwapPlan(old, account, agent, new=new, resume=started)
    if undo:
        raise Refused(f"{old.phone_number} has no unfinished swap to undo")

    agent = _agent_of(old, force=force)
    provision.agent_routing(ctx, agent, known_only=False)
    plan = SwapPlan(old, account, agent, any_area=any_area)
    plan.papers = papers or provision.Paperwork(
        bundle_sid=old.raw.get("bundle_sid") or None,
        address_sid=old.raw.get("address_sid") or None,
    )
    if not buy:
        free = replacements.free_numbers(ctx, account, old, taken or set())
        if free:
            plan.new = free[0]
            plan.note = replacements.area_note(old, plan.new.phone_number)
            return plan
        plan.note = "no free number in the account"
        return plan
    plan.buy, plan.note = replacements.candidate_to_buy(ctx, account, old)
    if plan.needs_area_consent:
        plan.note = f"{plan.note}; buying it needs --any-area"
    return plan


def area_refusal(plan: SwapPlan) -> Refused:
    """Why a plan that buys outside the old area code does not go ahead."""
    return Refused(
        f"no number for sale in area code {plan.outside_area} to replace "
        f"{plan.old.phone_number}; pass --any-area to buy the nearest, "
        f"{plan.new_number}"
    )


def _agent_of(old: NumberRecord, *, force: bool) -> str:
    if old.state is State.ASSIGNED and old.agent:
        return old.agent
    if old.state is State.PARTIAL and old.agent:
        if not force:
            raise Refused(
                f"{old.phone_number} is partial ({old.reason}); pass --force to "
                f"swap it for agent {old.agent} anyway"
            )
        return old.agent
    raise Refused(f"{old.phone_number} is not linked to an agent: nothing to swap")


def find_unfinished(
    ctx: Context, old: NumberRecord, account: Account
) -> tuple[JournalEntry, NumberRecord, str] | None:
    """The swap of ``old`` whose second step never happened, if any.

    The journal names the new number; Twilio says whether the swap is still
    half done: the new number routed to the agent while the old one still is.
    """
    entries = ctx.journal.entries()
    started = next(
        (
            e
            for e in entries
            if e.action == ACTION
            and e.status == "started"
            and _detail(e).get("old") == old.sid
        ),
        None,
    )
    if started is None or started.run is None:
        return None
    closed = any(
        e.run == started.run
        and e.status == "done"
        and (e.detail or "").startswith(_CLOSING)
        for e in entries
    )
    names = _detail(started)
    new_sid, agent = names.get("new"), names.get("agent")
    if closed or not new_sid or not agent or old.agent != agent:
        return None
    try:
        raw = ctx.gateway.fetch_number(account, new_sid, manage=True)
    except NotFound:
        return None
    new = twilio_number(raw, account.sid, account.name, ctx.config.webhook_base)
    if new.state is not State.ASSIGNED or new.agent != agent:
        return None
    return started, new, agent


def _detail(entry: JournalEntry) -> dict[str, str]:
    return dict(_DETAIL_RE.findall(entry.detail or ""))


# Doing


@dataclass
class _Log:
    """The journal lines of one swap: one action, account and run."""

    ctx: Context
    plan: SwapPlan
    run: str | None
    ref: str | None = None

    def write(
        self,
        status: str,
        record: NumberRecord,
        detail: str,
        before: dict[str, Any] | None = None,
        after: dict[str, Any] | None = None,
    ) -> JournalEntry:
        return self.ctx.journal.append(
            action=ACTION,
            status=status,
            account_sid=self.plan.account.sid,
            number_sid=record.sid,
            phone_number=record.phone_number,
            before=before,
            after=after,
            detail=detail,
            run=self.run,
            ref=self.ref,
        )


class _StepFailed(Exception):
    def __init__(self, detail: str, error: MeetzyError) -> None:
        super().__init__(detail)
        self.detail = detail
        self.error = error


def _step(
    log: _Log,
    record: NumberRecord,
    changes: dict[str, str],
    done: str,
    failed: Callable[[str], str],
) -> tuple[NumberRecord, JournalEntry]:
    """One update, journaled as done or failed."""
    ctx, account = log.ctx, log.plan.account
    try:
        raw = ctx.gateway.update_number(account, record.sid, changes)
    except MeetzyError as error:
        detail = failed(error.message)
        log.write("failed", record, detail)
        raise _StepFailed(detail, error) from None
    ctx.cache_later(account.sid, updated=raw)
    after = twilio_number(raw, account.sid, account.name, ctx.config.webhook_base)
    entry = log.write("done", record, done, snapshot(record), snapshot(after))
    return after, entry


def execute(ctx: Context, plan: SwapPlan, *, undo: bool = False) -> SwapResult:
    """Carry out a plan: swap, or finish or undo an unfinished swap."""
    if plan.resume is not None:
        log = _Log(ctx, plan, plan.resume.run, plan.resume.id)
        return _undo(log) if undo else _unlink_old(log, plan.new, "finished")
    run = new_run_id()
    try:
        new = _obtain(ctx, plan, run)
    except MeetzyError as error:
        return _failed(plan, error.message, error)

    log = _Log(ctx, plan, run)
    detail = f"old={plan.old.sid} new={new.sid} agent={plan.agent}"
    log.ref = log.write("started", plan.old, detail, snapshot(plan.old)).id
    # Step 1: the new number answers for the agent; the old one is untouched.
    changes = {
        **cleared_routing(new.routing),
        **provision.agent_routing(ctx, plan.agent, known_only=False),
        "friendly_name": agent_label(plan.agent),
    }
    try:
        routed, _ = _step(
            log,
            new,
            changes,
            f"step 1: {new.sid} routed to {plan.agent}",
            lambda why: (
                f"step 1 failed: {why}; nothing else changed, "
                f"{plan.old.phone_number} keeps agent {plan.agent}"
            ),
        )
    except _StepFailed as failure:
        return _failed(plan, failure.detail, failure.error, new)
    return _unlink_old(log, routed, "swapped")


def _obtain(ctx: Context, plan: SwapPlan, run: str) -> NumberRecord:
    """The replacement: bought now, or the free number, checked still free."""
    if plan.buy is not None:
        if plan.needs_area_consent:
            raise area_refusal(plan)
        for bought in provision.recover_purchases(ctx, plan.account):
            if _fits(plan, bought):
                return bought  # paid for by a run that was killed: use it
        record, _ = provision.buy_one(
            ctx, plan.account, str(plan.buy["phone_number"]), plan.papers, run=run
        )
        return record
    if plan.new is None:
        raise NotFound(f"no free number to swap {plan.old.phone_number} for")
    new = refreshed(ctx, plan.new, plan.account)
    if new.state is not State.UNASSIGNED or new.marked_for_return is not None:
        raise Refused(
            f"{new.phone_number} is no longer free; run swap again to pick another"
        )
    return new


def _fits(plan: SwapPlan, record: NumberRecord) -> bool:
    """Whether a number bought earlier can stand in for the planned purchase."""
    old, new = describe(plan.old.phone_number), describe(record.phone_number)
    same_area = plan.any_area or old.area_code == new.area_code
    return (
        record.state is State.UNASSIGNED
        and old.calling_code == new.calling_code
        and same_area
    )


def _unlink_old(log: _Log, new: NumberRecord | None, outcome: str) -> SwapResult:
    """Step 2: one update takes the agent off the old number and marks it."""
    plan, old = log.plan, log.plan.old
    assert new is not None
    changes = {
        name: "" for name in ("voice_url", "status_callback") if old.routing.get(name)
    }
    changes["friendly_name"] = with_mark(old.friendly_name, date.today())
    label = "step 2" if outcome == "swapped" else "step 2 (finished by a later run)"
    try:
        unlinked, done = _step(
            log,
            old,
            changes,
            f"{label}: {old.sid} unlinked and marked for return",
            lambda why: (
                f"{label} failed: {why}; agent {plan.agent} answers on "
                f"both {old.phone_number} and {new.phone_number} until the swap is "
                "finished"
            ),
        )
    except _StepFailed as failure:
        return _failed(plan, failure.detail, failure.error, new)
    return SwapResult(
        unlinked, outcome, new, plan.agent, plan.account, journal_id=done.id
    )


def _undo(log: _Log) -> SwapResult:
    """Take the agent off the new number; the old one kept it all along."""
    plan, new = log.plan, log.plan.new
    assert new is not None
    changes = cleared_routing(new.routing)
    name = plain_name(new)
    if name != new.friendly_name:
        changes["friendly_name"] = name
    try:
        unrouted, done = _step(
            log,
            new,
            changes,
            f"undone: {new.sid} unrouted; {plan.old.sid} keeps {plan.agent}",
            lambda why: f"undo failed: {why}",
        )
    except _StepFailed as failure:
        return _failed(plan, failure.detail, failure.error, new)
    return SwapResult(
        plan.old, "undone", unrouted, plan.agent, plan.account, journal_id=done.id
    )


def _failed(
    plan: SwapPlan, detail: str, error: MeetzyError, new: NumberRecord | None = None
) -> SwapResult:
    return SwapResult(
        plan.old, "failed", new, plan.agent, plan.account, detail=detail, error=error
    )
