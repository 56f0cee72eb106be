"""Choosing numbers for a swap: the old ones by health, the new one to move to.

A replacement stays as close to the old number as it can: same account and
country, then same area code, then the most leading digits in common, so
the people an agent calls keep seeing a familiar number.
"""

from __future__ import annotations

from typing import Any

from meetzy_numbers.errors import NotFound, Refused, UsageError
from meetzy_numbers.model.accounts import Account
from meetzy_numbers.model.numbers import Kind, NumberRecord, State
from meetzy_numbers.model.phone import SUPPORTED_COUNTRIES, describe, kind_of
from meetzy_numbers.operations import provision
from meetzy_numbers.operations.context import Context
from meetzy_numbers.operations.inventory import load_inventory


def by_health(
    ctx: Context,
    accounts: list[Account],
    status: str,
    agent: str | None,
) -> list[NumberRecord]:
    """Numbers whose cached health is ``status``, of one agent or all."""
    inventory = load_inventory(ctx, accounts)
    if inventory.failures:
        raise next(iter(inventory.failures.values()))
    numbers = [r for r in inventory.records if r.kind is Kind.TWILIO]
    if not any(r.health for r in numbers):
        raise UsageError(
            "no phone health is cached for these numbers yet",
            hint="run: meetzy-numbers health -A, then swap --health again",
        )
    return [
        r
        for r in numbers
        if (r.health or {}).get("status") == status
        and r.agent is not None
        and (agent is None or r.agent == agent)
    ]


def free_numbers(
    ctx: Context, account: Account, old: NumberRecord, taken: set[str]
) -> list[NumberRecord]:
    """Unassigned, unmarked numbers of the account in the old number's country.

    Those in the same area code come first, then those sharing the most
    leading digits with the old number.
    """
    region = describe(old.phone_number).region
    needs_voice = old.capabilities.get("voice", False)
    inventory = load_inventory(ctx, [account])
    if inventory.failures:
        raise next(iter(inventory.failures.values()))
    free = [
        r
        for r in inventory.records
        if r.kind is Kind.TWILIO
        and r.state is State.UNASSIGNED
        and r.marked_for_return is None
        and r.sid != old.sid
        and r.sid not in taken
        and describe(r.phone_number).region == region
        and (r.capabilities.get("voice", False) or not needs_voice)
    ]
    by_number = {r.phone_number: r for r in free}
    ranked = provision.closest(
        [{"phone_number": r.phone_number} for r in free], old.phone_number
    )
    return [by_number[str(c["phone_number"])] for c in ranked]


def candidate_to_buy(
    ctx: Context, account: Account, old: NumberRecord
) -> tuple[dict[str, Any], str | None]:
    """The number for sale nearest the old one: same country and type.

    The same area code when Twilio has one for sale; otherwise the nearest
    outside it, which the caller buys only with the user's consent.
    """
    region = describe(old.phone_number).region
    if region not in SUPPORTED_COUNTRIES:
        raise Refused(f"the tool cannot buy numbers in {region or 'that country'}")
    kind = kind_of(old.phone_number)
    voice = old.capabilities.get("voice", False)
    area = describe(old.phone_number).area_code
    found: list[dict[str, Any]] = []
    if area:
        found = provision.search(
            ctx, account, provision.Search(region, kind, area_code=area, voice=voice)
        )
    if not found:
        found = provision.search(
            ctx, account, provision.Search(region, kind, voice=voice)
        )
    if not found:
        raise NotFound(f"Twilio has no {region} {kind} numbers for sale")
    best = provision.closest(found, old.phone_number)[0]
    return best, area_note(old, str(best["phone_number"]))


def outside_area(old: NumberRecord, new: str) -> str | None:
    """The old number's area code when ``new`` is not in it, else None."""
    area = describe(old.phone_number).area_code
    if area and describe(new).area_code != area:
        return area
    return None


def area_note(old: NumberRecord, new: str) -> str | None:
    area = outside_area(old, new)
    return f"not in area code {area}: the nearest found" if area else None
