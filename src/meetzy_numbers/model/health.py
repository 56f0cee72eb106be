"""Phone health: how a number's outbound calls went, and the class that gives.

Twilio labels none of your own numbers as spam, so health is read from the
Calls list: the share of outbound calls answered, and the share of answered
calls that ended within seconds (people hanging up on a number they distrust).
Everything here is pure: calls come in as the gateway's plain dicts, and the
thresholds as anything shaped like ``store.config.HealthThresholds``.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any, Protocol


class HealthStatus(StrEnum):
    HEALTHY = "healthy"
    WARNING = "warning"
    SPAM = "spam"
    UNKNOWN = "unknown"


OUTBOUND_DIRECTIONS = frozenset({"outbound-api", "outbound-dial"})
ANSWERED = "completed"
# Calls that ended without anyone picking up. Queued, ringing and in-progress
# calls have no outcome yet, so they count neither way.
NOT_ANSWERED = frozenset({"busy", "no-answer", "failed", "canceled"})


class Thresholds(Protocol):
    """The ``[health]`` settings the classification reads."""

    @property
    def min_calls(self) -> int: ...
    @property
    def short_call_seconds(self) -> int: ...
    @property
    def warning_answer_rate(self) -> float: ...
    @property
    def spam_answer_rate(self) -> float: ...
    @property
    def warning_short_share(self) -> float: ...
    @property
    def spam_short_share(self) -> float: ...


@dataclass(frozen=True)
class CallCounts:
    """Outbound calls of one number that reached an outcome."""

    calls: int = 0
    answered: int = 0
    short: int = 0

    def add(self, *, answered: bool, short: bool) -> CallCounts:
        return CallCounts(
            self.calls + 1, self.answered + int(answered), self.short + int(short)
        )


@dataclass(frozen=True)
class Health:
    status: HealthStatus
    answer_rate: float | None
    short_share: float | None
    calls: int
    answered: int
    window_days: int
    computed_at: datetime

    def to_dict(self) -> dict[str, Any]:
        """The JSON form kept in the cache and printed by ``-o json``."""
        return {
            "status": self.status.value,
            "answer_rate": _rounded(self.answer_rate),
            "short_share": _rounded(self.short_share),
            "calls": self.calls,
            "answered": self.answered,
            "window_days": self.window_days,
            "computed_at": self.computed_at.isoformat(),
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any] | None) -> Health | None:
        """A cached result, or None when it is missing or not of this shape."""
        if not data:
            return None
        try:
            return cls(
                status=HealthStatus(data["status"]),
                answer_rate=_rate(data.get("answer_rate")),
                short_share=_rate(data.get("short_share")),
                calls=int(data["calls"]),
                answered=int(data["answered"]),
                window_days=int(data["window_days"]),
                computed_at=datetime.fromisoformat(data["computed_at"]),
            )
        except (KeyError, TypeError, ValueError):
            return None


def _rounded(value: float | None) -> float | None:
    return None if value is None else round(value, 4)


def _rate(value: object) -> float | None:
    if value is None:
        return None
    if isinstance(value, int | float) and not isinstance(value, bool):
        return float(value)
    raise ValueError(f"not a rate: {value!r}")


def _seconds(duration: object) -> int:
    """Twilio sends the duration as a string, empty for unanswered calls."""
    try:
        return int(str(duration))
    except ValueError:
        return 0


def _started_before(call: Mapping[str, Any], since: datetime | None) -> bool:
    if since is None or not call.get("start_time"):
        return False
    try:
        return datetime.fromisoformat(str(call["start_time"])) < since
    except ValueError:
        return False


def count_calls(
    calls: Iterable[Mapping[str, Any]],
    *,
    short_call_seconds: int,
    since: datetime | None = None,
) -> dict[str, CallCounts]:
    """Outbound calls with an outcome, grouped by the number they came from.

    ``since`` drops calls that started earlier: Twilio may read the
    ``StartTime>`` filter by the day, and the window is meant to the second.
    """
    counts: dict[str, CallCounts] = {}
    for call in calls:
        status = call.get("status")
        if call.get("direction") not in OUTBOUND_DIRECTIONS:
            continue
        if status != ANSWERED and status not in NOT_ANSWERED:
            continue
        if _started_before(call, since):
            continue
        answered = status == ANSWERED
        short = answered and _seconds(call.get("duration")) < short_call_seconds
        number = str(call.get("from") or "")
        counts[number] = counts.get(number, CallCounts()).add(
            answered=answered, short=short
        )
    return counts


def classify(
    counts: CallCounts,
    thresholds: Thresholds,
    *,
    window_days: int,
    computed_at: datetime,
) -> Health:
    """The health class of one number from its outbound call counts."""
    answer_rate = counts.answered / counts.calls if counts.calls else None
    short_share = counts.short / counts.answered if counts.answered else None
    rate = answer_rate or 0.0
    share = short_share or 0.0

    if counts.calls == 0 or counts.calls < thresholds.min_calls:
        status = HealthStatus.UNKNOWN
    elif rate < thresholds.spam_answer_rate or share >= thresholds.spam_short_share:
        status = HealthStatus.SPAM
    elif (
        rate < thresholds.warning_answer_rate or share >= thresholds.warning_short_share
    ):
        status = HealthStatus.WARNING
    else:
        status = HealthStatus.HEALTHY

    return Health(
        status=status,
        answer_rate=answer_rate,
        short_share=short_share,
        calls=counts.calls,
        answered=counts.answered,
        window_days=window_days,
        computed_at=computed_at,
    )
