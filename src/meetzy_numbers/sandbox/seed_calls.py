"""Call records of the seed: each assigned number follows one health profile.

A profile lists the outcomes of the outbound calls in each 7-day window. The
outcomes are interleaved evenly in time, so a window that starts a little later
(the tool runs some hours after the seed was made) still sees the same rates.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

from .state import Json, make_sid

DAY: Final = 86_400
HOUR: Final = 3_600

# (status, count, short): short calls were answered but lasted under 10 s.
Outcomes = tuple[tuple[str, int, bool], ...]


@dataclass(frozen=True)
class Profile:
    health: str
    recent: Outcomes
    older: Outcomes
    inbound: int = 0


_HEALTHY: Final[Outcomes] = (
    ("completed", 14, False),
    ("completed", 1, True),
    ("no-answer", 3, False),
    ("busy", 1, False),
    ("failed", 1, False),
)
_HEALTHY2: Final[Outcomes] = (
    ("completed", 21, False),
    ("no-answer", 6, False),
    ("busy", 3, False),
)
_WARNING: Final[Outcomes] = (
    ("completed", 7, False),
    ("completed", 1, True),
    ("no-answer", 9, False),
    ("busy", 2, False),
    ("failed", 1, False),
)
_SPAM_LOW: Final[Outcomes] = (
    ("completed", 4, False),
    ("no-answer", 17, False),
    ("busy", 3, False),
    ("failed", 1, False),
)
_SPAM_SHORT: Final[Outcomes] = (
    ("completed", 5, False),
    ("completed", 9, True),
    ("no-answer", 5, False),
    ("busy", 1, False),
)

# healthy: 75 % answered, 7 % short; healthy2: 70 %, none short;
# warning: 40 % answered; spam_low: 16 % answered; spam_short: 70 % answered but
# 64 % of those under 10 s; unknown: 5 calls a week (8 over 14 days).
PROFILES: Final = {
    "healthy": Profile("healthy", _HEALTHY, _HEALTHY, inbound=3),
    "healthy2": Profile("healthy", _HEALTHY2, _HEALTHY2),
    "warning": Profile("warning", _WARNING, _WARNING),
    "spam_low": Profile("spam", _SPAM_LOW, _SPAM_LOW),
    "spam_short": Profile("spam", _SPAM_SHORT, _SPAM_SHORT),
    "unknown": Profile(
        "unknown",
        (("completed", 3, False), ("no-answer", 2, False)),
        (("completed", 2, False), ("no-answer", 1, False)),
    ),
}

_CUSTOMERS: Final = {
    "+1": "+1650555",
    "+34": "+3491555",
    "+52": "+52551555",
    "+54": "+54114555",
    "+57": "+57601555",
    "+44": "+44207946",
}
_RING: Final = {"busy": 4, "failed": 0}


def customer(phone: str, k: int) -> str:
    """A plausible callee in the caller's own country."""
    for cc, prefix in _CUSTOMERS.items():
        if phone.startswith(cc):
            return f"{prefix}{2000 + k % 40:04d}"
    raise ValueError(phone)


def interleave(outcomes: Outcomes) -> list[tuple[str, bool]]:
    """Outcomes spread evenly: each group's k-th item sits at (k + 0.5) / count."""
    slots: list[tuple[float, int, str, bool]] = []
    for g, (status, count, short) in enumerate(outcomes):
        slots += [((k + 0.5) / count, g, status, short) for k in range(count)]
    return [(status, short) for _, _, status, short in sorted(slots)]


def duration(status: str, short: bool, j: int) -> int:
    if status != "completed":
        return 0
    return 3 + j % 6 if short else 35 + (j * 37) % 260


def outbound(
    phone: str, pn: str, window: str, outcomes: Outcomes, span: tuple[float, float]
) -> list[tuple[str, Json]]:
    lo, hi = span
    plan = interleave(outcomes)
    step = (hi - lo) / len(plan)
    out: list[tuple[str, Json]] = []
    for j, (status, short) in enumerate(plan):
        call: Json = {
            "from": phone,
            "to": customer(phone, j),
            "status": status,
            "start": int(lo + (j + 0.5) * step),
            "duration": duration(status, short, j),
            "direction": "outbound-api",
            "pn": pn,
        }
        if status in _RING:
            call["ring"] = _RING[status]
        out.append((make_sid("CA", "meetzy-sandbox", phone, window, j), call))
    return out


def calls_for(
    numbers: list[tuple[str, str, str, str]], now: float
) -> list[tuple[str, str, Json]]:
    """(account, CA, call) for (account, PN, phone, profile) rows, oldest first."""
    recent = (now - 7 * DAY + HOUR, now - HOUR)
    older = (now - 14 * DAY + HOUR, now - 7 * DAY - HOUR)
    rows: list[tuple[str, str, Json]] = []
    for account, pn, phone, name in numbers:
        profile = PROFILES[name]
        for window, outcomes, span in (
            ("recent", profile.recent, recent),
            ("older", profile.older, older),
        ):
            rows += [
                (account, sid, call)
                for sid, call in outbound(phone, pn, window, outcomes, span)
            ]
        for k in range(profile.inbound):
            start = int(
                recent[0] + (k + 0.3) * (recent[1] - recent[0]) / profile.inbound
            )
            call = {
                "from": customer(phone, 30 + k),
                "to": phone,
                "status": "completed",
                "start": start,
                "duration": 120 + 45 * k,
                "direction": "inbound",
                "pn": pn,
            }
            rows.append(
                (account, make_sid("CA", "meetzy-sandbox", phone, "in", k), call)
            )
    rows.sort(key=lambda row: row[2]["start"])
    return rows
