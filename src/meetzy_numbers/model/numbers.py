"""Numbers as the tool sees them, and the pure derivation of assignment state."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import date
from enum import Enum
from typing import Any

# The IncomingPhoneNumber fields that decide where calls and messages go.
ROUTING_FIELDS: tuple[str, ...] = (
    "voice_url",
    "voice_method",
    "voice_fallback_url",
    "voice_fallback_method",
    "voice_application_sid",
    "trunk_sid",
    "status_callback",
    "status_callback_method",
    "sms_url",
    "sms_method",
    "sms_fallback_url",
    "sms_fallback_method",
    "sms_application_sid",
)

# Of those, the ones whose presence routes the number somewhere. Methods only
# qualify a URL, so they never make a number partial on their own.
_ROUTES: tuple[tuple[str, str], ...] = (
    ("voice_application_sid", "routed by voice application {}"),
    ("trunk_sid", "routed by trunk {}"),
    ("sms_application_sid", "routed by SMS application {}"),
    ("sms_url", "SMS URL set ({})"),
    ("sms_fallback_url", "SMS fallback URL set ({})"),
    ("voice_fallback_url", "voice fallback URL set ({})"),
)

MARK_RE = re.compile(r"^RETURN (\d{4}-\d{2}-\d{2})(?: \| )?(.*)$", re.DOTALL)
FRIENDLY_NAME_LIMIT = 64


class State(str, Enum):
    ASSIGNED = "assigned"
    PARTIAL = "partial"
    UNASSIGNED = "unassigned"


class Kind(str, Enum):
    TWILIO = "twilio"
    CALLER_ID = "caller-id"


@dataclass(frozen=True)
class Assignment:
    state: State
    agent: str | None = None
    reason: str | None = None


def is_set(value: object) -> bool:
    """Twilio writes an unset field as null or as an empty string."""
    return value not in (None, "")


def agent_urls(webhook_base: str, agent: str) -> tuple[str, str]:
    base = webhook_base.rstrip("/")
    return f"{base}/agents/{agent}/voice", f"{base}/agents/{agent}/status"


def _agent_in(url: object, webhook_base: str, suffix: str) -> str | None:
    if not is_set(url) or not webhook_base:
        return None
    prefix = webhook_base.rstrip("/") + "/agents/"
    text = str(url)
    if not text.startswith(prefix) or not text.endswith("/" + suffix):
        return None
    agent = text[len(prefix) : -(len(suffix) + 1)]
    return agent if agent and "/" not in agent else None


def derive_assignment(routing: dict[str, Any], webhook_base: str) -> Assignment:
    """The assignment state of one IncomingPhoneNumber, from its routing alone."""
    voice_url = routing.get("voice_url")
    status_callback = routing.get("status_callback")
    voice_agent = _agent_in(voice_url, webhook_base, "voice")
    status_agent = _agent_in(status_callback, webhook_base, "status")
    agent = voice_agent or status_agent

    reasons = [
        template.format(routing[name])
        for name, template in _ROUTES
        if is_set(routing.get(name))
    ]
    if is_set(voice_url) and voice_agent is None:
        reasons.insert(0, f"voice URL points outside Meetzy ({voice_url})")
    if is_set(status_callback) and status_agent is None:
        reasons.insert(0, f"status callback points outside Meetzy ({status_callback})")
    if voice_agent and status_agent and voice_agent != status_agent:
        reasons.insert(
            0,
            f"voice URL and status callback name different agents "
            f"({voice_agent}, {status_agent})",
        )
    elif voice_agent and not is_set(status_callback):
        reasons.insert(0, "status callback missing")
    elif status_agent and not is_set(voice_url):
        reasons.insert(0, "voice URL missing")

    if reasons:
        return Assignment(State.PARTIAL, agent, "; ".join(reasons))
    if agent:
        return Assignment(State.ASSIGNED, agent)
    return Assignment(State.UNASSIGNED)


def routing_of(record: dict[str, Any]) -> dict[str, Any]:
    """The routing fields of a record, with every unset value as None."""
    return {
        name: (record.get(name) if is_set(record.get(name)) else None)
        for name in ROUTING_FIELDS
    }


def cleared_routing(routing: dict[str, Any]) -> dict[str, str]:
    """Update parameters that clear every routing field that is set.

    Twilio clears a field sent as an empty string. Fields already unset are
    left out: a smaller update changes less by accident, and validators that
    reject empty URLs (Prism) see only the clears that matter.
    """
    return {
        name: ""
        for name in ROUTING_FIELDS
        if not name.endswith("_method") and is_set(routing.get(name))
    }


def assigned_routing(webhook_base: str, agent: str) -> dict[str, str]:
    voice, status = agent_urls(webhook_base, agent)
    return {
        "voice_url": voice,
        "voice_method": "POST",
        "status_callback": status,
        "status_callback_method": "POST",
    }


def read_mark(friendly_name: str | None) -> tuple[date | None, str]:
    """The return mark in a friendly name, and the name without it."""
    if not friendly_name:
        return None, ""
    match = MARK_RE.match(friendly_name)
    if not match:
        return None, friendly_name
    try:
        marked = date.fromisoformat(match.group(1))
    except ValueError:
        return None, friendly_name
    return marked, match.group(2)


def with_mark(friendly_name: str | None, day: date) -> str:
    _, rest = read_mark(friendly_name)
    name = f"RETURN {day.isoformat()}"
    if rest:
        name = f"{name} | {rest}"
    return name[:FRIENDLY_NAME_LIMIT]


def without_mark(friendly_name: str | None) -> str:
    return read_mark(friendly_name)[1]


def agent_label(agent: str) -> str:
    return f"meetzy:{agent}"[:FRIENDLY_NAME_LIMIT]


@dataclass
class NumberRecord:
    """One Twilio number or caller ID, in one account, as a command shows it."""

    sid: str
    phone_number: str
    kind: Kind
    account_sid: str
    account_name: str
    friendly_name: str = ""
    routing: dict[str, Any] = field(default_factory=dict)
    capabilities: dict[str, bool] = field(default_factory=dict)
    state: State | None = None
    agent: str | None = None
    reason: str | None = None
    marked_for_return: date | None = None
    verification: str | None = None
    health: dict[str, Any] | None = None
    raw: dict[str, Any] = field(default_factory=dict, repr=False)


def twilio_number(
    raw: dict[str, Any], account_sid: str, account_name: str, webhook_base: str
) -> NumberRecord:
    """A NumberRecord from an IncomingPhoneNumber as Twilio gives it."""
    routing = routing_of(raw)
    assignment = derive_assignment(routing, webhook_base)
    marked, _ = read_mark(raw.get("friendly_name"))
    capabilities = raw.get("capabilities") or {}
    return NumberRecord(
        sid=str(raw["sid"]),
        phone_number=str(raw.get("phone_number") or ""),
        kind=Kind.TWILIO,
        account_sid=account_sid,
        account_name=account_name,
        friendly_name=str(raw.get("friendly_name") or ""),
        routing=routing,
        capabilities={str(k).lower(): bool(v) for k, v in capabilities.items()},
        state=assignment.state,
        agent=assignment.agent,
        reason=assignment.reason,
        marked_for_return=marked,
        raw=raw,
    )


def caller_id(
    raw: dict[str, Any],
    account_sid: str,
    account_name: str,
    verification: str = "verified",
    agent: str | None = None,
) -> NumberRecord:
    return NumberRecord(
        sid=str(raw.get("sid") or ""),
        phone_number=str(raw.get("phone_number") or ""),
        kind=Kind.CALLER_ID,
        account_sid=account_sid,
        account_name=account_name,
        friendly_name=str(raw.get("friendly_name") or ""),
        agent=agent,
        verification=verification,
        raw=raw,
    )
