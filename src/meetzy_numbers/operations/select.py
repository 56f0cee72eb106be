"""Turning what the user named (numbers, stdin, selectors) into records."""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import TextIO

from meetzy_numbers.errors import NotFound, UsageError
from meetzy_numbers.model.accounts import Account
from meetzy_numbers.model.numbers import Kind, NumberRecord, State
from meetzy_numbers.operations import inventory
from meetzy_numbers.operations.context import Context

_AGE_RE = re.compile(r"^\s*(\d+)\s*([dwh]?)\s*$", re.IGNORECASE)
_AGE_UNITS = {"": 1.0, "d": 1.0, "w": 7.0, "h": 1 / 24}


def parse_age(text: str) -> timedelta:
    """``7d``, ``2w``, ``36h`` or a bare number of days."""
    match = _AGE_RE.match(text)
    if not match:
        raise UsageError(f"cannot read {text!r} as an age; write it like 7d, 2w or 36h")
    amount, unit = int(match.group(1)), match.group(2).lower()
    return timedelta(days=amount * _AGE_UNITS[unit])


@dataclass
class Selection:
    records: list[NumberRecord]
    missing: list[str] = field(default_factory=list)
    accounts: list[Account] = field(default_factory=list)


@dataclass
class Selector:
    marked: bool = False
    older_than: timedelta | None = None
    states: list[State] | None = None
    agent: str | None = None
    health: str | None = None

    @property
    def active(self) -> bool:
        return bool(self.marked or self.states or self.agent or self.health)

    def matches(self, record: NumberRecord, today: date) -> bool:
        if record.kind is not Kind.TWILIO:
            return False
        if self.marked:
            if record.marked_for_return is None:
                return False
            if (
                self.older_than is not None
                and today - record.marked_for_return < self.older_than
            ):
                return False
        if self.states and record.state not in self.states:
            return False
        if self.agent and record.agent != self.agent:
            return False
        status = (record.health or {}).get("status")
        return not (self.health and status != self.health)


def read_references(refs: Iterable[str], stdin: TextIO) -> list[str]:
    """The numbers named on the command line, with ``-`` read from stdin."""
    found: list[str] = []
    for ref in refs:
        if ref == "-":
            for line in stdin:
                text = line.split("#", 1)[0]
                found.extend(part for part in re.split(r"[,;\t]", text) if part.strip())
        else:
            found.append(ref)
    return [item.strip() for item in found if item.strip()]


def _parse_all(texts: list[str]) -> list[tuple[str, str, str]]:
    """(text, kind, value) for every reference; any typo stops them all."""
    parsed: list[tuple[str, str, str]] = []
    bad: list[str] = []
    for text in texts:
        try:
            kind, value = inventory.parse_reference(text)
        except UsageError:
            bad.append(text)
            continue
        parsed.append((text, kind, value))
    if bad:
        listed = ", ".join(repr(text) for text in bad[:5])
        more = f" and {len(bad) - 5} more" if len(bad) > 5 else ""
        raise UsageError(
            f"cannot read {listed}{more} as phone numbers; nothing was changed"
        )
    return parsed


def _check(ctx: Context, selector: Selector, texts: list[str]) -> None:
    if not texts and not selector.active:
        raise UsageError("name at least one number, or use a selector such as --marked")
    if selector.older_than is not None and not selector.marked:
        raise UsageError("--older-than goes with --marked")
    if selector.states and not ctx.config.webhook_base:
        raise UsageError(
            "no webhook_base is configured, so every agent URL looks foreign and "
            "--state cannot tell assigned numbers from partial ones",
            hint="set it first: meetzy-numbers config set webhook_base https://…",
        )
    if selector.agent and selector.agent not in ctx.config.agents:
        raise NotFound(f"no agent {selector.agent!r} in the config")


def select(
    ctx: Context,
    refs: list[str],
    selector: Selector,
    *,
    account_ref: str | None,
    all_accounts: bool,
    stdin: TextIO,
) -> Selection:
    """Every record named or selected; numbers not found are listed apart.

    Every reference is parsed before anything is looked up, so one typo
    stops the command before it changes a thing.
    """
    texts = read_references(refs, stdin)
    _check(ctx, selector, texts)
    parsed = _parse_all(texts)
    if account_ref:
        accounts = [inventory.resolve_account(ctx, account_ref)]
    else:
        accounts = inventory.list_accounts(ctx)
    found = inventory.load_inventory(ctx, accounts)
    if found.failures:
        raise next(iter(found.failures.values()))
    if selector.health and not any(r.health for r in found.records):
        raise UsageError(
            "no phone health is cached for these accounts, so --health selects nothing",
            hint="compute it first: meetzy-numbers health -A",
        )

    by_sid = {r.sid: r for r in found.records}
    # A Twilio number wins over a caller ID with the same digits.
    by_number = {r.phone_number: r for r in found.records if r.kind is Kind.CALLER_ID}
    by_number.update(
        (r.phone_number, r) for r in found.records if r.kind is Kind.TWILIO
    )
    chosen: dict[str, NumberRecord] = {}
    missing: list[str] = []
    for text, kind, value in parsed:
        record = by_sid.get(value) if kind == "sid" else by_number.get(value)
        if record is None:
            missing.append(text)
        else:
            chosen.setdefault(record.sid or record.phone_number, record)
    if selector.active:
        today = date.today()
        for record in found.records:
            if selector.matches(record, today):
                chosen.setdefault(record.sid, record)
    return Selection(list(chosen.values()), missing, accounts)
