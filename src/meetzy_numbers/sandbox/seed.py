"""The sandbox's sample world, and `SEED`: the facts about it other code needs.

Everything is deterministic except call times, which are laid out over the 14
days before the moment the state is created (or reset), so health always has
recent calls to read. Every 7-day window inside those 14 days gives each number
the same health class, because each number's outcomes are spread evenly in time.
"""

from __future__ import annotations

import calendar
from dataclasses import dataclass
from typing import Final, NamedTuple

from .pool import build_pool
from .render import formatted
from .seed_calls import DAY, PROFILES, calls_for
from .state import (
    Json,
    empty_document,
    make_sid,
    rfc2822,
    set_number_field,
)

WEBHOOK_BASE: Final = "https://voice.meetzy.example"
UNKNOWN_AGENT: Final = "legacy-ivr"


def _sid(prefix: str, label: str) -> str:
    return make_sid(prefix, "meetzy-sandbox", label)


def _secret(label: str) -> str:
    return make_sid("", "meetzy-sandbox-secret", label)


MAIN, SPAIN, LATAM, UK = (_sid("AC", k) for k in ("main", "spain", "latam", "uk"))
APPROVED_BUNDLE: Final = _sid("BU", "gb-approved")
PENDING_BUNDLE: Final = _sid("BU", "gb-pending")
AR_ADDRESS: Final = _sid("AD", "ar-buenos-aires")
APP_SID: Final = _sid("AP", "legacy-app")
SMS_APP_SID: Final = _sid("AP", "sms-app")
TRUNK_SID: Final = _sid("TK", "uk-trunk")


@dataclass(frozen=True)
class SeedNumber:
    """One IncomingPhoneNumber of the seed and what the tool should make of it.

    `health` is the class over any 7-day window (answer rate = completed / all
    outbound calls; short = completed calls under 10 s), `unknown` below 10 calls.
    """

    sid: str
    phone_number: str
    account_sid: str
    friendly_name: str
    state: str
    reason: str | None
    agent: str | None
    health: str
    marked_for_return: bool = False


@dataclass(frozen=True)
class SeedFacts:
    main_account_sid: str
    webhook_base: str
    accounts: tuple[tuple[str, str, str, bool], ...]
    agents: tuple[tuple[str, str], ...]
    api_keys: tuple[tuple[str, str, str], ...]
    unknown_agent: str
    numbers: tuple[SeedNumber, ...]
    caller_ids: tuple[tuple[str, str, str, str], ...]
    approved_bundle_sid: str
    pending_bundle_sid: str
    address_sid: str
    bundle_required: tuple[tuple[str, str], ...]
    address_required: tuple[str, ...]
    failing_validation_suffix: str


def voice(agent: str) -> str:
    return f"{WEBHOOK_BASE}/agents/{agent}/voice"


def status(agent: str) -> str:
    return f"{WEBHOOK_BASE}/agents/{agent}/status"


class Row(NamedTuple):
    phone: str
    account: str
    capabilities: str
    kind: str
    agent: str | None
    profile: str | None
    name: str | None


# (phone, account, capabilities, routing kind, agent, profile, friendly name)
_ROWS: Final = (
    ("+14155550101", MAIN, "vsm", "assigned", "billing-us", "healthy", None),
    ("+12125550102", MAIN, "vsm", "assigned", "billing-us", "warning", None),
    ("+13055550103", MAIN, "vsmf", "assigned", "billing-us", "healthy2", None),
    ("+34911230104", SPAIN, "v", "assigned", "sales-es", "healthy", None),
    ("+34611230105", SPAIN, "vs", "assigned", "sales-es", "spam_low", None),
    ("+34931230106", SPAIN, "v", "assigned", "sales-es", "healthy2", None),
    ("+34911230107", SPAIN, "v", "assigned", "sales-es", "unknown", None),
    ("+525512300108", LATAM, "vs", "assigned", "support-mx", "healthy", None),
    ("+523312300109", LATAM, "vs", "assigned", "support-mx", "spam_short", None),
    ("+525512300110", LATAM, "vs", "assigned", "support-mx", "warning", None),
    ("+576011230111", LATAM, "v", "assigned", "collections-co", "healthy", None),
    ("+541123000112", LATAM, "v", "assigned", "retention-ar", "unknown", None),
    ("+5491123000114", LATAM, "vs", "assigned", "retention-ar", "healthy2", None),
    ("+442079460115", UK, "v", "assigned", "onboarding-uk", "healthy", None),
    ("+447400123116", UK, "vs", "assigned", "onboarding-uk", "warning", None),
    ("+14155550117", MAIN, "vsm", "assigned", UNKNOWN_AGENT, "healthy", None),
    ("+34911230118", SPAIN, "v", "voice-only", "sales-es", None, "meetzy:sales-es"),
    ("+525512300119", LATAM, "vs", "status-only", "support-mx", None, None),
    ("+14155550120", MAIN, "vsm", "two-agents", "billing-us", None, None),
    ("+12125550121", MAIN, "vsm", "foreign-url", None, None, "Acme legacy IVR"),
    ("+13055550122", MAIN, "vsm", "application", None, None, "Studio flow"),
    ("+442079460123", UK, "v", "trunk", None, None, "UK SIP trunk"),
    ("+573101230124", LATAM, "vs", "sms-url", None, None, None),
    ("+34611230125", SPAIN, "vs", "sms-app", "sales-es", None, "meetzy:sales-es"),
    ("+34911230126", SPAIN, "v", "marked", None, None, None),
    ("+14155550127", MAIN, "vsm", "none", None, None, None),
    ("+14155550128", MAIN, "vsm", "none", None, None, None),
    ("+12125550129", MAIN, "vsm", "none", None, None, None),
    ("+14165550130", MAIN, "vs", "none", None, None, None),
    ("+18885550131", MAIN, "v", "none", None, None, None),
    ("+442079460132", MAIN, "v", "none", None, None, None),
    ("+34911230133", SPAIN, "v", "none", None, None, None),
    ("+34611230134", SPAIN, "vs", "none", None, None, None),
    ("+525512300135", LATAM, "vs", "none", None, None, None),
    ("+541123000136", LATAM, "v", "none", None, None, None),
    ("+576011230137", LATAM, "v", "none", None, None, None),
    ("+442079460138", UK, "v", "none", None, None, None),
    ("+447400123139", UK, "vs", "none", None, None, None),
)

_NUMBERS: Final = tuple(Row(*row) for row in _ROWS)

_PARTIAL_REASONS: Final = {
    "voice-only": "status callback missing",
    "status-only": "voice URL missing",
    "two-agents": "voice URL and status callback of two agents",
    "foreign-url": "non-Meetzy voice URL",
    "application": f"routed by voice application {APP_SID}",
    "trunk": f"routed by trunk {TRUNK_SID}",
    "sms-url": "SMS URL set",
    "sms-app": f"SMS application {SMS_APP_SID} set",
}

MARK: Final = "RETURN 2026-11-20 | meetzy:sales-es"


def _routing(kind: str, agent: str | None) -> dict[str, str]:
    a = agent or ""
    return {
        "assigned": {"voice_url": voice(a), "status_callback": status(a)},
        "voice-only": {"voice_url": voice(a)},
        "status-only": {"status_callback": status(a)},
        "two-agents": {"voice_url": voice(a), "status_callback": status("support-mx")},
        "foreign-url": {"voice_url": "https://ivr.acme-legacy.example/voice"},
        "application": {"voice_application_sid": APP_SID},
        "trunk": {"trunk_sid": TRUNK_SID},
        "sms-url": {"sms_url": "https://sms.acme-legacy.example/inbound"},
        "sms-app": {
            "voice_url": voice(a),
            "status_callback": status(a),
            "sms_application_sid": SMS_APP_SID,
        },
    }.get(kind, {})


def _friendly(phone: str, kind: str, agent: str | None, given: str | None) -> str:
    if given:
        return given
    if kind == "assigned":
        return f"meetzy:{agent}"
    if kind == "marked":
        return MARK
    return formatted(phone)


def _seed_number(row: Row) -> SeedNumber:
    phone, account, _, kind, agent, profile, given = row
    state = {"assigned": "assigned", "none": "unassigned", "marked": "unassigned"}.get(
        kind, "partial"
    )
    return SeedNumber(
        sid=_sid("PN", phone),
        phone_number=phone,
        account_sid=account,
        friendly_name=_friendly(phone, kind, agent, given),
        state=state,
        reason=_PARTIAL_REASONS.get(kind),
        agent=agent if kind == "assigned" else None,
        health=PROFILES[profile].health if profile else "unknown",
        marked_for_return=kind == "marked",
    )


SEED: Final = SeedFacts(
    main_account_sid=MAIN,
    webhook_base=WEBHOOK_BASE,
    accounts=(
        (MAIN, "Meetzy", _secret("token/main"), True),
        (SPAIN, "Meetzy Spain", _secret("token/spain"), True),
        (LATAM, "Meetzy LatAm", _secret("token/latam"), True),
        (UK, "Meetzy UK", _secret("token/uk"), False),
    ),
    agents=(
        ("sales-es", "Sales Spain"),
        ("support-mx", "Support Mexico"),
        ("billing-us", "Billing US"),
        ("onboarding-uk", "Onboarding UK"),
        ("collections-co", "Collections Colombia"),
        ("retention-ar", "Retention Argentina"),
    ),
    api_keys=(
        (_sid("SK", "main-key"), _secret("key/main"), MAIN),
        (_sid("SK", "spain-key"), _secret("key/spain"), SPAIN),
    ),
    unknown_agent=UNKNOWN_AGENT,
    numbers=tuple(_seed_number(row) for row in _NUMBERS),
    caller_ids=(
        (_sid("PN", "cid-1"), "+16505550141", MAIN, "Acme HQ"),
        (_sid("PN", "cid-2"), "+14085550142", MAIN, "Acme Support Line"),
        (_sid("PN", "cid-3"), "+34915550143", SPAIN, "Clínica Sol Madrid"),
        (_sid("PN", "cid-4"), "+34600550144", SPAIN, "Luis Ortega móvil"),
    ),
    approved_bundle_sid=APPROVED_BUNDLE,
    pending_bundle_sid=PENDING_BUNDLE,
    address_sid=AR_ADDRESS,
    bundle_required=(("GB", "Local"), ("GB", "Mobile")),
    address_required=("AR",),
    failing_validation_suffix="13",
)


def _when(year: int, month: int, day: int) -> str:
    return rfc2822(calendar.timegm((year, month, day, 9, 30, 0)))


def build_seed(now: float) -> Json:
    """The seed document, with call records over the 14 days before `now`."""
    doc = empty_document(now)
    for i, (sid, name, token, _) in enumerate(SEED.accounts):
        created = _when(2025, 3 + i, 2)
        doc["accounts"][sid] = {
            "friendly_name": name,
            "status": "active",
            "auth_token": token,
            "owner_account_sid": MAIN,
            "date_created": created,
            "date_updated": created,
            "type": "Full",
        }
    for key_sid, secret, account in SEED.api_keys:
        doc["api_keys"][key_sid] = {"secret": secret, "account_sid": account}
    doc["bundles"] = {
        APPROVED_BUNDLE: {"status": "twilio-approved", "iso_country": "GB"},
        PENDING_BUNDLE: {"status": "pending-review", "iso_country": "GB"},
    }
    doc["addresses"] = {AR_ADDRESS: {"iso_country": "AR"}}
    for item in (*doc["bundles"].values(), *doc["addresses"].values()):
        item["account_sid"] = MAIN
    for sid, *_ in SEED.accounts:
        doc["numbers"][sid] = {}
        doc["caller_ids"][sid] = {}
        doc["calls"][sid] = {}
    for i, (row, fact) in enumerate(zip(_NUMBERS, SEED.numbers, strict=True)):
        created = rfc2822(calendar.timegm((2026, 1, 5, 9, 30, 0)) + i * 5 * DAY)
        rec = _number_record(row, fact, created)
        doc["numbers"][fact.account_sid][fact.sid] = rec
    for i, (sid, phone, account, name) in enumerate(SEED.caller_ids):
        created = _when(2025, 9, 10 + i)
        doc["caller_ids"][account][sid] = {
            "phone_number": phone,
            "friendly_name": name,
            "date_created": created,
            "date_updated": created,
        }
    for account, sid, call in calls_for(_profiled(), now):
        doc["calls"][account][sid] = call
    doc["available"] = build_pool()
    return doc


def _number_record(row: Row, fact: SeedNumber, created: str) -> Json:
    rec: Json = {
        "phone_number": fact.phone_number,
        "friendly_name": fact.friendly_name,
        "capabilities": row.capabilities,
        "date_created": created,
        "date_updated": created,
    }
    for field, value in _routing(row.kind, row.agent).items():
        set_number_field(rec, field, value)
    # Regulated numbers carry the paperwork they were bought with.
    if row.phone.startswith("+44"):
        set_number_field(rec, "bundle_sid", APPROVED_BUNDLE)
    if row.phone.startswith("+54"):
        set_number_field(rec, "address_requirements", "local")
        set_number_field(rec, "address_sid", AR_ADDRESS)
    return rec


def _profiled() -> list[tuple[str, str, str, str]]:
    """(account, PN, phone number, profile) of every number with call records."""
    return [
        (fact.account_sid, fact.sid, fact.phone_number, row.profile)
        for row, fact in zip(_NUMBERS, SEED.numbers, strict=True)
        if row.profile
    ]
