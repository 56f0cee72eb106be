"""Buying numbers: one search, then careful purchases, each journaled.

A search answers at most about 30 numbers and no next page, so a request
searches once and buys from what came back. A purchase is not idempotent:
when one times out or meets a server error, the number may be ours already,
so the account is checked before the one retry a purchase ever gets. A
regulatory refusal (bundle, address) holds for every candidate of the same
search, so it stops the run; a number sold to someone else in the meantime
only moves on to the next candidate.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import Any

from meetzy_numbers.errors import MeetzyError, NotFound, Refused, UsageError
from meetzy_numbers.model.accounts import Account
from meetzy_numbers.model.numbers import (
    NumberRecord,
    agent_label,
    assigned_routing,
    twilio_number,
)
from meetzy_numbers.model.phone import SUPPORTED_COUNTRIES, describe, is_sid
from meetzy_numbers.operations.context import Context

log = logging.getLogger(__name__)

# Twilio answers a search with about this many numbers, and no next page.
SEARCH_LIMIT = 30
# The --type words and Twilio's search types behind them.
KINDS: dict[str, str] = {"local": "Local", "mobile": "Mobile", "toll-free": "TollFree"}


@dataclass(frozen=True)
class Search:
    """What to look for: Twilio's search type and filters, in the tool's words."""

    country: str  # ISO code, one of SUPPORTED_COUNTRIES
    kind: str = "Local"  # Local, Mobile or TollFree
    area_code: str | None = None
    contains: str | None = None
    voice: bool = False
    sms: bool = False

    def describe(self) -> str:
        parts = [f"{self.country} {self.kind} numbers"]
        if self.area_code:
            parts.append(f"in area code {self.area_code}")
        if self.contains:
            parts.append(f"containing {self.contains}")
        wanted = [name for name, on in (("voice", self.voice), ("SMS", self.sms)) if on]
        if wanted:
            parts.append("with " + " and ".join(wanted))
        return " ".join(parts)


@dataclass(frozen=True)
class Paperwork:
    """Regulatory documents sent with a purchase, and the routing set by it."""

    bundle_sid: str | None = None
    address_sid: str | None = None
    agent: str | None = None
    routing: dict[str, str] = field(default_factory=dict)
    friendly_name: str | None = None


@dataclass
class Purchase:
    """The outcome of buying up to ``wanted`` numbers from one search."""

    account: Account
    wanted: int
    candidates: list[dict[str, Any]]
    bought: list[NumberRecord] = field(default_factory=list)
    journal_ids: list[str] = field(default_factory=list)
    gone: list[str] = field(default_factory=list)  # sold before we could buy them
    error: MeetzyError | None = None  # what stopped the run early, if anything

    @property
    def short(self) -> int:
        return self.wanted - len(self.bought)


# Checking what the user asked for


def check_search(search: Search) -> Search:
    """The search with its area code and pattern checked, before any request."""
    area = (search.area_code or "").strip() or None
    if area is not None and not area.isdigit():
        raise UsageError(
            f"area code {search.area_code!r} is not a number",
            hint="write it as digits, like 415 or 91",
        )
    if search.kind not in KINDS.values():
        raise UsageError(f"unknown number type {search.kind!r}")
    contains = (search.contains or "").strip() or None
    return Search(search.country, search.kind, area, contains, search.voice, search.sms)


def paperwork(
    ctx: Context,
    *,
    bundle_sid: str | None,
    address_sid: str | None,
    agent: str | None,
) -> Paperwork:
    """Bundle, address and agent routing for a purchase, checked locally first."""
    for value, prefix, option in (
        (bundle_sid, "BU", "--bundle"),
        (address_sid, "AD", "--address"),
    ):
        if value and not is_sid(value, prefix):
            raise UsageError(
                f"{option} takes {'an' if prefix[0] in 'AEIOU' else 'a'} {prefix}… SID "
                f"(34 characters), not {value!r}"
            )
    if agent is None:
        return Paperwork(bundle_sid, address_sid)
    return Paperwork(
        bundle_sid,
        address_sid,
        agent,
        agent_routing(ctx, agent, known_only=True),
        agent_label(agent),
    )


def agent_routing(ctx: Context, agent: str, *, known_only: bool) -> dict[str, str]:
    """The routing that gives a number to ``agent``."""
    if known_only and agent not in ctx.config.agents:
        known = ", ".join(sorted(ctx.config.agents)) or "none yet"
        raise NotFound(
            f"no agent {agent!r} in the config (known: {known})",
            hint=f"add it with: meetzy-numbers agents add {agent} 'Display Name'",
        )
    base = ctx.config.webhook_base
    if not base:
        raise Refused(
            "no webhook base is configured, so there is no agent URL to route to",
            hint="set it with: meetzy-numbers config set webhook_base https://…",
        )
    return assigned_routing(base, agent)


def check_can_buy(ctx: Context, account: Account) -> None:
    """Fail before any prompt when the account's own credentials are missing."""
    ctx.gateway.credential(account, manage=True)


# Searching


def search(ctx: Context, account: Account, wanted: Search) -> list[dict[str, Any]]:
    """Numbers for sale that match, in Twilio's order; nothing is bought."""
    filters: dict[str, Any] = {}
    calling_code = SUPPORTED_COUNTRIES[wanted.country]
    prefix = None
    if wanted.area_code and calling_code == 1:
        filters["area_code"] = wanted.area_code
    elif wanted.area_code:
        # Twilio's AreaCode filter only covers the US and Canada; elsewhere a
        # pattern anchored at the start does the narrowing, checked below.
        prefix = f"+{calling_code}{wanted.area_code}"
        if not wanted.contains:
            filters["contains"] = prefix
    if wanted.contains:
        filters["contains"] = wanted.contains
    if wanted.voice:
        filters["voice_enabled"] = True
    if wanted.sms:
        filters["sms_enabled"] = True
    found = ctx.gateway.search_available(
        account, wanted.country, wanted.kind, **filters
    )
    if prefix:
        found = [c for c in found if _in_area(c["phone_number"], prefix)]
    return found


def _in_area(e164: str, prefix: str) -> bool:
    # Argentine mobiles put a 9 between the country code and the area code.
    return e164.startswith(prefix) or e164.startswith(prefix.replace("+54", "+549", 1))


def closest(candidates: list[dict[str, Any]], e164: str) -> list[dict[str, Any]]:
    """Candidates in the area code of ``e164`` first, then by shared digits."""
    area = describe(e164).area_code

    def key(candidate: dict[str, Any]) -> tuple[bool, int]:
        number = str(candidate["phone_number"])
        shared = next(
            (i for i, (a, b) in enumerate(zip(number, e164, strict=False)) if a != b),
            min(len(number), len(e164)),
        )
        return describe(number).area_code != area, -shared

    return sorted(candidates, key=key)


# Buying


def buy_many(
    ctx: Context,
    account: Account,
    candidates: list[dict[str, Any]],
    count: int,
    papers: Paperwork,
    *,
    run: str,
) -> Purchase:
    """Buy ``count`` numbers from the candidates, in order."""
    from meetzy_numbers.gateway.errors import NUMBER_NOT_AVAILABLE

    for bought in recover_purchases(ctx, account):
        log.warning(
            "%s was bought by a run that was interrupted; it is in %s, unassigned",
            bought.phone_number,
            account.label(),
        )
    result = Purchase(account, count, candidates)
    for candidate in candidates:
        if len(result.bought) >= count:
            break
        e164 = str(candidate["phone_number"])
        try:
            record, journal_id = buy_one(ctx, account, e164, papers, run=run)
        except MeetzyError as error:
            if getattr(error, "code", None) == NUMBER_NOT_AVAILABLE:
                result.gone.append(e164)
                continue
            # Nothing bought yet: the error is the whole answer (a refusal
            # holds for every candidate). Otherwise report what was bought.
            if not result.bought:
                raise
            result.error = error
            break
        result.bought.append(record)
        result.journal_ids.append(journal_id)
    return result


def buy_one(
    ctx: Context, account: Account, e164: str, papers: Paperwork, *, run: str
) -> tuple[NumberRecord, str]:
    """Buy one number and journal it; never buys it twice."""
    after = {**papers.routing, "friendly_name": papers.friendly_name}
    started = ctx.journal.append(
        action="buy",
        status="started",
        account_sid=account.sid,
        phone_number=e164,
        before=None,
        after=after,
        run=run,
    )
    try:
        raw = _purchase(ctx, account, e164, papers)
    except MeetzyError as error:
        ctx.journal.append(
            action="buy",
            status="failed",
            account_sid=account.sid,
            phone_number=e164,
            detail=error.message,
            run=run,
            ref=started.id,
        )
        raise
    ctx.cache_later(account.sid, updated=raw)
    record = twilio_number(raw, account.sid, account.name, ctx.config.webhook_base)
    done = ctx.journal.append(
        action="buy",
        status="done",
        account_sid=account.sid,
        number_sid=record.sid,
        phone_number=e164,
        before=None,
        after={**record.routing, "friendly_name": record.friendly_name},
        run=run,
        ref=started.id,
    )
    return record, done.id


def recover_purchases(ctx: Context, account: Account) -> list[NumberRecord]:
    """Close the purchases a killed run left open; return those that happened.

    A run killed between asking Twilio for a number and hearing back leaves
    a "started" buy in the journal. The account says whether it was bought:
    if so the entry is closed as done and the number is offered before any
    new purchase, so a rerun never pays for a second one.
    """
    closed = {entry.ref for entry in ctx.journal.entries() if entry.ref}
    recovered: list[NumberRecord] = []
    for entry in ctx.journal.entries():
        if (
            entry.action != "buy"
            or entry.status != "started"
            or entry.id in closed
            or entry.account_sid != account.sid
            or not entry.phone_number
        ):
            continue
        raw = _owned(ctx, account, entry.phone_number)
        base = ctx.config.webhook_base
        record = twilio_number(raw, account.sid, account.name, base) if raw else None
        ctx.journal.append(
            action="buy",
            status="done" if record else "failed",
            account_sid=account.sid,
            number_sid=record.sid if record else None,
            phone_number=entry.phone_number,
            after=(
                {**record.routing, "friendly_name": record.friendly_name}
                if record
                else None
            ),
            detail=(
                "bought by a run that was interrupted"
                if record
                else "interrupted before Twilio sold it"
            ),
            run=entry.run,
            ref=entry.id,
        )
        if record is not None:
            recovered.append(record)
    return recovered


def _purchase(
    ctx: Context, account: Account, e164: str, papers: Paperwork
) -> dict[str, Any]:
    """One purchase, and one more only once the account shows it did not happen."""
    # The gateway's modules load twilio-python: import them once buying.
    from meetzy_numbers.gateway.errors import NUMBER_NOT_AVAILABLE
    from meetzy_numbers.gateway.http import UncertainOutcome

    uncertain = False
    for attempt in (1, 2):
        try:
            return ctx.gateway.buy_number(
                account,
                e164,
                bundle_sid=papers.bundle_sid,
                address_sid=papers.address_sid,
                routing=papers.routing,
                friendly_name=papers.friendly_name,
            )
        except UncertainOutcome as error:
            log.info("buying %s: %s; checking the account", e164, error.message)
            owned = _owned(ctx, account, e164)
            if owned is not None:
                return owned
            if attempt == 2:
                raise UncertainOutcome(
                    f"buying {e164} got no clear answer twice, and the number is "
                    f"not in {account.label()} yet",
                    hint="check later with: meetzy-numbers list --refresh",
                ) from None
            uncertain = True
        except MeetzyError as error:
            # After an unclear first try, "not available" may mean "ours now".
            if uncertain and getattr(error, "code", None) == NUMBER_NOT_AVAILABLE:
                owned = _owned(ctx, account, e164)
                if owned is not None:
                    return owned
            raise
    raise AssertionError("unreachable")  # pragma: no cover


def _owned(ctx: Context, account: Account, e164: str) -> dict[str, Any] | None:
    from meetzy_numbers.gateway.http import UncertainOutcome

    try:
        return ctx.gateway.find_number(account, e164)
    except MeetzyError as error:
        raise UncertainOutcome(
            f"buying {e164} got no clear answer, and checking the account failed "
            f"too ({error.message})",
            hint="check with: meetzy-numbers list --refresh before buying again",
        ) from None
