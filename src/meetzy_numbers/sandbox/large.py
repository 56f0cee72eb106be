"""A big deterministic inventory for benchmarks, kept in memory only.

The main account (same SID and auth token as the seed's) owns N subaccounts
named "Load Test NN", each with M US numbers in mixed states, and K outbound
calls spread over the last 14 days across the assigned numbers.
"""

from __future__ import annotations

from typing import Final

from .pool import build_pool
from .render import formatted
from .seed import (
    APPROVED_BUNDLE,
    AR_ADDRESS,
    MAIN,
    SEED,
    TRUNK_SID,
    build_seed,
    status,
    voice,
)
from .seed_calls import DAY, customer
from .state import Json, empty_document, make_sid, rfc2822, set_number_field

_AREAS: Final = ("415", "212", "305")
# Outcome cycles per number class; the class is the number's position modulo 4.
_PATTERNS: Final = (
    ("completed", "completed", "completed", "no-answer"),
    ("completed", "no-answer", "no-answer", "completed", "busy"),
    ("no-answer", "no-answer", "no-answer", "no-answer", "completed", "busy"),
    ("completed", "completed", "failed", "completed", "no-answer"),
)


def large_account(index: int) -> tuple[str, str]:
    """SID and auth token of the large inventory's subaccount ``index``."""
    return make_sid("AC", "meetzy-large", index), large_token(index)


def large_token(index: int) -> str:
    return make_sid("", "meetzy-large-token", index)


def build_large(
    subaccounts: int, numbers_per_account: int, calls: int, now: float
) -> Json:
    seed = build_seed(now)
    doc = empty_document(now)
    doc["accounts"][MAIN] = seed["accounts"][MAIN]
    doc["api_keys"] = {
        sid: key for sid, key in seed["api_keys"].items() if key["account_sid"] == MAIN
    }
    doc["bundles"] = {APPROVED_BUNDLE: seed["bundles"][APPROVED_BUNDLE]}
    doc["addresses"] = {AR_ADDRESS: seed["addresses"][AR_ADDRESS]}
    doc["available"] = build_pool()
    agents = [agent for agent, _ in SEED.agents]
    created = rfc2822(now - 30 * DAY)
    assigned: list[tuple[str, str, str]] = []
    for kind in ("numbers", "caller_ids", "calls"):
        doc[kind][MAIN] = {}
    # With no subaccounts, the numbers go to the main account itself.
    for a in range(max(subaccounts, 1)):
        account = MAIN
        if subaccounts:
            account = make_sid("AC", "meetzy-large", a)
            doc["accounts"][account] = {
                "friendly_name": f"Load Test {a + 1:02d}",
                "status": "active",
                "auth_token": large_token(a),
                "owner_account_sid": MAIN,
                "date_created": created,
                "date_updated": created,
                "type": "Full",
            }
        bucket: dict[str, Json] = {}
        doc["numbers"][account] = bucket
        doc["caller_ids"][account] = {}
        doc["calls"][account] = {}
        for i in range(numbers_per_account):
            k = a * numbers_per_account + i
            phone = f"+1{_AREAS[k % 3]}{200 + (k // 10_000) % 800:03d}{k % 10_000:04d}"
            pn = make_sid("PN", "meetzy-large", k)
            rec: Json = {
                "phone_number": phone,
                "friendly_name": formatted(phone),
                "capabilities": "vsm",
                "date_created": created,
                "date_updated": created,
            }
            agent = agents[(k // 10) % len(agents)]
            slot = k % 10
            if slot <= 5:
                rec["friendly_name"] = f"meetzy:{agent}"
                set_number_field(rec, "voice_url", voice(agent))
                set_number_field(rec, "status_callback", status(agent))
                assigned.append((account, pn, phone))
            elif slot == 8:
                set_number_field(rec, "voice_url", voice(agent))
            elif slot == 9:
                set_number_field(rec, "trunk_sid", TRUNK_SID)
            bucket[pn] = rec
    if assigned:
        _add_calls(doc, assigned, calls, now)
    return doc


def _add_calls(
    doc: Json, assigned: list[tuple[str, str, str]], total: int, now: float
) -> None:
    """Calls in global start order, so each account's calls stay oldest first."""
    span = 14 * DAY
    start0 = now - span
    for c in range(total):
        n = c % len(assigned)
        account, pn, phone = assigned[n]
        j = c // len(assigned)
        pattern = _PATTERNS[n % len(_PATTERNS)]
        status_ = pattern[j % len(pattern)]
        answered = status_ == "completed"
        short = answered and n % len(_PATTERNS) == 3 and j % 2 == 0
        doc["calls"][account][make_sid("CA", "meetzy-large", c)] = {
            "from": phone,
            "to": customer(phone, c),
            "status": status_,
            "start": int(start0 + (c + 0.5) * span / total),
            "duration": (4 if short else 30 + c % 240) if answered else 0,
            "direction": "outbound-api",
            "pn": pn,
        }
