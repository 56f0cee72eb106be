"""Caller-ID validations Twilio does not list: the one state kept only locally.

Twilio lists verified caller IDs and nothing else. A validation that was
started but not yet finished, or that failed, exists only as the call Twilio
placed, so the tool remembers it here (phone number, account, the validation
call's SID, the agent to link, when it started) until ``callerid list`` finds
the caller ID in Twilio or judges the validation failed.

The file is small JSON, rewritten whole with :func:`write_atomic` under
:func:`file_lock`, so two runs never lose each other's entries.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from meetzy_numbers.store.atomic import file_lock, write_atomic

log = logging.getLogger(__name__)

STATE_VERSION = 1
PENDING = "pending"
DISABLED = "disabled"


@dataclass(frozen=True)
class PendingValidation:
    phone_number: str
    account_sid: str
    call_sid: str
    started_at: datetime
    agent: str | None = None
    status: str = PENDING
    reason: str | None = None

    @property
    def key(self) -> tuple[str, str]:
        return self.account_sid, self.phone_number

    def disabled(self, reason: str) -> PendingValidation:
        return replace(self, status=DISABLED, reason=reason)

    def to_dict(self) -> dict[str, Any]:
        return {
            "phone_number": self.phone_number,
            "account_sid": self.account_sid,
            "call_sid": self.call_sid,
            "agent": self.agent,
            "started_at": self.started_at.isoformat(),
            "status": self.status,
            "reason": self.reason,
        }


def _from_dict(data: object) -> PendingValidation | None:
    if not isinstance(data, dict):
        return None
    texts = ("phone_number", "account_sid", "call_sid", "started_at")
    if not all(isinstance(data.get(key), str) for key in texts):
        return None
    try:
        started = datetime.fromisoformat(data["started_at"])
    except ValueError:
        return None
    if started.tzinfo is None:
        started = started.replace(tzinfo=UTC)
    status = data.get("status")
    agent, reason = data.get("agent"), data.get("reason")
    return PendingValidation(
        phone_number=data["phone_number"],
        account_sid=data["account_sid"],
        call_sid=data["call_sid"],
        started_at=started,
        agent=agent if isinstance(agent, str) else None,
        status=status if status in (PENDING, DISABLED) else PENDING,
        reason=reason if isinstance(reason, str) else None,
    )


class PendingStore:
    def __init__(self, path: Path) -> None:
        self.path = path

    def load(self) -> list[PendingValidation]:
        """Every readable entry; an unreadable file counts as empty."""
        try:
            content = self.path.read_bytes()
        except FileNotFoundError:
            return []
        try:
            data = json.loads(content)
        except ValueError:
            log.warning("%s is unreadable; treating it as empty", self.path)
            return []
        if not isinstance(data, dict) or data.get("version") != STATE_VERSION:
            log.warning("%s has an unknown format; treating it as empty", self.path)
            return []
        items = data.get("validations")
        found = [_from_dict(item) for item in items] if isinstance(items, list) else []
        return [entry for entry in found if entry is not None]

    def modify(
        self, change: Callable[[list[PendingValidation]], list[PendingValidation]]
    ) -> list[PendingValidation]:
        """Read, change and write back under the lock; returns what was written."""
        with file_lock(self.path):
            entries = change(self.load())
            document = {
                "version": STATE_VERSION,
                "validations": [entry.to_dict() for entry in entries],
            }
            write_atomic(self.path, json.dumps(document, indent=2) + "\n")
        return entries

    def put(self, entry: PendingValidation) -> None:
        """Add an entry, replacing any for the same number in the same account."""
        self.modify(lambda old: [e for e in old if e.key != entry.key] + [entry])

    def drop(self, account_sid: str, phone_number: str) -> PendingValidation | None:
        """Remove the entry for this number and account; return it, if there was one."""
        key = (account_sid, phone_number)
        dropped = [e for e in self.load() if e.key == key]
        if dropped:
            self.modify(lambda old: [e for e in old if e.key != key])
        return dropped[0] if dropped else None
