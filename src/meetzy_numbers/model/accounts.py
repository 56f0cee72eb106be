"""Twilio accounts: the main account and its subaccounts."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any


@dataclass(frozen=True)
class Account:
    sid: str
    name: str
    status: str = "active"
    is_main: bool = False

    def label(self) -> str:
        return f"{self.name} ({self.sid})" if self.name else self.sid

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Account:
        return cls(
            sid=str(data["sid"]),
            name=str(data.get("name") or ""),
            status=str(data.get("status") or "active"),
            is_main=bool(data.get("is_main")),
        )
