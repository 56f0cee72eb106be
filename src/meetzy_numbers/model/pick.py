"""Which of an agent's numbers to call out from: the pure ranking behind ``pick``.

Health comes first because a number carriers flag as spam loses the call
whatever its country. Among equally healthy numbers, a caller ID from the
callee's own country, then from their own area code, is the one people pick
up. The phone number breaks the remaining ties, so scripts get a stable answer.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from meetzy_numbers.model.health import Health, HealthStatus
from meetzy_numbers.model.numbers import NumberRecord
from meetzy_numbers.model.phone import PhoneNumber, describe

HEALTH_ORDER: tuple[HealthStatus, ...] = (
    HealthStatus.HEALTHY,
    HealthStatus.UNKNOWN,
    HealthStatus.WARNING,
    HealthStatus.SPAM,
)


@dataclass(frozen=True)
class Choice:
    """One number in the ranking, with what placed it there."""

    rank: int
    record: NumberRecord
    health: Health | None
    same_country: bool | None  # None when no destination was given
    same_area: bool | None
    reason: str

    @property
    def status(self) -> HealthStatus:
        return self.health.status if self.health else HealthStatus.UNKNOWN

    def to_dict(self) -> dict[str, Any]:
        health = self.health
        return {
            "rank": self.rank,
            "phone_number": self.record.phone_number,
            "sid": self.record.sid,
            "account_sid": self.record.account_sid,
            "account_name": self.record.account_name,
            "health": self.status.value,
            "answer_rate": health.to_dict()["answer_rate"] if health else None,
            "short_share": health.to_dict()["short_share"] if health else None,
            "calls": health.calls if health else 0,
            "same_country": self.same_country,
            "same_area": self.same_area,
            "reason": self.reason,
        }


def rank_numbers(
    records: Iterable[NumberRecord], destination: PhoneNumber | None
) -> list[Choice]:
    """The numbers best first: health, then country, then area code, then number."""
    scored = []
    for record in records:
        health = Health.from_dict(record.health)
        status = health.status if health else HealthStatus.UNKNOWN
        same_country, same_area = _closeness(record.phone_number, destination)
        key = (
            HEALTH_ORDER.index(status),
            same_country is False,
            same_area is False,
            record.phone_number,
        )
        scored.append((key, record, health, same_country, same_area))
    scored.sort(key=lambda item: item[0])
    return [
        Choice(
            rank=index,
            record=record,
            health=health,
            same_country=same_country,
            same_area=same_area,
            reason=_reason(health, same_country, same_area, destination),
        )
        for index, (_, record, health, same_country, same_area) in enumerate(
            scored, start=1
        )
    ]


def _closeness(
    e164: str, destination: PhoneNumber | None
) -> tuple[bool | None, bool | None]:
    if destination is None:
        return None, None
    info = describe(e164)
    same_country = info.region is not None and info.region == destination.region
    # An area code means something only inside one country's numbering plan.
    same_area = (
        same_country
        and info.area_code is not None
        and info.area_code == destination.area_code
    )
    return same_country, same_area


def _reason(
    health: Health | None,
    same_country: bool | None,
    same_area: bool | None,
    destination: PhoneNumber | None,
) -> str:
    if health is None:
        parts = ["unknown (no health computed)"]
    elif health.answer_rate is None:
        parts = [f"{health.status.value} (no calls in {health.window_days} days)"]
    else:
        parts = [
            f"{health.status.value} ({health.answer_rate:.0%} of "
            f"{health.calls} calls answered)"
        ]
    if destination is not None:
        country = destination.country
        parts.append(f"in {country}" if same_country else f"not in {country}")
        if same_country and destination.area_code:
            area = destination.area_code
            parts.append(f"area code {area}" if same_area else f"not area code {area}")
    return ", ".join(parts)
