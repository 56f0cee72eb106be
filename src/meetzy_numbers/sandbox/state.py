"""The sandbox's data: one JSON document, the indexes derived from it, and helpers.

Records are stored compactly: an IncomingPhoneNumber keeps only the fields whose
value differs from `NUMBER_DEFAULTS`, and a call keeps a handful of facts from
which `render` rebuilds Twilio's full record. That keeps the persisted file small
enough that rewriting a 10,000-number state after one update stays cheap.
"""

from __future__ import annotations

import hashlib
import time
from typing import Any, Final

Json = dict[str, Any]

FORMAT_VERSION: Final = 1

NUMBER_DEFAULTS: Final[dict[str, Any]] = {
    "voice_url": None,
    "voice_method": "POST",
    "voice_fallback_url": None,
    "voice_fallback_method": "POST",
    "voice_application_sid": None,
    "trunk_sid": None,
    "status_callback": None,
    "status_callback_method": "POST",
    "sms_url": None,
    "sms_method": "POST",
    "sms_fallback_url": None,
    "sms_fallback_method": "POST",
    "sms_application_sid": None,
    "voice_caller_id_lookup": False,
    "voice_receive_mode": "voice",
    "address_requirements": "none",
    "address_sid": None,
    "bundle_sid": None,
    "identity_sid": None,
    "emergency_status": "Inactive",
    "emergency_address_sid": None,
    "emergency_address_status": "unregistered",
    "beta": False,
    "origin": "twilio",
    "status": "in-use",
    "api_version": "2010-04-01",
}

RING_SECONDS: Final = 25

CAPABILITY_FLAGS: Final = (("v", "voice"), ("s", "sms"), ("m", "mms"), ("f", "fax"))

_DAYS: Final = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")
_MONTHS: Final = (
    "Jan",
    "Feb",
    "Mar",
    "Apr",
    "May",
    "Jun",
    "Jul",
    "Aug",
    "Sep",
    "Oct",
    "Nov",
    "Dec",
)


def rfc2822(ts: float) -> str:
    """Twilio's date format; names are spelled out so the C locale never matters."""
    t = time.gmtime(ts)
    return (
        f"{_DAYS[t.tm_wday]}, {t.tm_mday:02d} {_MONTHS[t.tm_mon - 1]} {t.tm_year} "
        f"{t.tm_hour:02d}:{t.tm_min:02d}:{t.tm_sec:02d} +0000"
    )


def make_sid(prefix: str, *parts: object) -> str:
    """A deterministic SID: prefix plus 32 lowercase hex digits."""
    text = "/".join(str(p) for p in (prefix, *parts))
    return prefix + hashlib.sha256(text.encode()).hexdigest()[:32]


def caps_to_flags(voice: bool, sms: bool, mms: bool, fax: bool) -> str:
    return "".join(
        flag for flag, on in zip("vsmf", (voice, sms, mms, fax), strict=True) if on
    )


def caps_dict(flags: str, *, search_spelling: bool = False) -> dict[str, bool]:
    """Capabilities as Twilio spells them: searches say SMS/MMS, numbers sms/mms."""
    out: dict[str, bool] = {}
    for flag, name in CAPABILITY_FLAGS:
        key = name.upper() if search_spelling and name in ("sms", "mms") else name
        out[key] = flag in flags
    return out


def call_end(call: Json) -> float:
    """When a call ended: unanswered calls still rang for a while."""
    if call["status"] == "completed":
        return float(call["start"] + call["duration"])
    return float(call["start"] + call.get("ring", RING_SECONDS))


def set_number_field(record: Json, field: str, value: Any) -> None:
    """Store a field only when it differs from the default."""
    if value == NUMBER_DEFAULTS.get(field, object()):
        record.pop(field, None)
    else:
        record[field] = value


def number_field(record: Json, field: str) -> Any:
    if field in record:
        return record[field]
    return NUMBER_DEFAULTS.get(field)


class State:
    """The document plus O(1) indexes rebuilt lazily after every reload."""

    def __init__(self, doc: Json) -> None:
        self.doc = doc
        self.dirty = False
        self._number_index: dict[str, tuple[str, str]] | None = None
        self._call_index: dict[str, dict[str, list[str]]] | None = None

    # -- plain accessors ---------------------------------------------------------

    @property
    def accounts(self) -> dict[str, Json]:
        accounts: dict[str, Json] = self.doc["accounts"]
        return accounts

    def numbers(self, account_sid: str) -> dict[str, Json]:
        return self._bucket("numbers", account_sid)

    def caller_ids(self, account_sid: str) -> dict[str, Json]:
        return self._bucket("caller_ids", account_sid)

    def calls(self, account_sid: str) -> dict[str, Json]:
        return self._bucket("calls", account_sid)

    def _bucket(self, kind: str, account_sid: str) -> dict[str, Json]:
        buckets: dict[str, dict[str, Json]] = self.doc[kind]
        bucket = buckets.get(account_sid)
        if bucket is None:
            bucket = buckets[account_sid] = {}
        return bucket

    def subaccounts_of(self, account_sid: str) -> list[str]:
        return [
            sid
            for sid, acct in self.accounts.items()
            if acct["owner_account_sid"] == account_sid and sid != account_sid
        ]

    def next_sid(self, prefix: str) -> str:
        """A new SID, unique within this document's history (reset included)."""
        self.doc["counter"] += 1
        self.dirty = True
        return make_sid(prefix, self.doc["created"], self.doc["counter"])

    def next_code(self) -> str:
        self.doc["counter"] += 1
        self.dirty = True
        digest = hashlib.sha256(f"code/{self.doc['counter']}".encode()).digest()
        return f"{int.from_bytes(digest[:4], 'big') % 1_000_000:06d}"

    # -- IncomingPhoneNumbers ----------------------------------------------------

    def find_number(self, phone_number: str) -> tuple[str, str] | None:
        """(account SID, PN SID) owning a phone number, from the index."""
        return self._numbers_by_phone().get(phone_number)

    def _numbers_by_phone(self) -> dict[str, tuple[str, str]]:
        if self._number_index is None:
            self._number_index = {
                rec["phone_number"]: (acct, sid)
                for acct, bucket in self.doc["numbers"].items()
                for sid, rec in bucket.items()
            }
        return self._number_index

    def add_number(self, account_sid: str, sid: str, record: Json) -> None:
        self.numbers(account_sid)[sid] = record
        self._numbers_by_phone()[record["phone_number"]] = (account_sid, sid)
        self.dirty = True

    def remove_number(self, account_sid: str, sid: str) -> Json:
        record = self.numbers(account_sid).pop(sid)
        self._numbers_by_phone().pop(record["phone_number"], None)
        self.dirty = True
        return record

    # -- Calls -------------------------------------------------------------------

    def calls_touching(self, account_sid: str, phone_number: str) -> list[str]:
        """Call SIDs whose From or To is the number, oldest first."""
        index = self._calls_by_number()
        return index.get(account_sid, {}).get(phone_number, [])

    def _calls_by_number(self) -> dict[str, dict[str, list[str]]]:
        if self._call_index is None:
            index: dict[str, dict[str, list[str]]] = {}
            for acct, bucket in self.doc["calls"].items():
                per = index.setdefault(acct, {})
                for sid, call in bucket.items():
                    _index_call(per, sid, call)
            self._call_index = index
        return self._call_index

    def add_call(self, account_sid: str, sid: str, call: Json) -> None:
        self.calls(account_sid)[sid] = call
        _index_call(self._calls_by_number().setdefault(account_sid, {}), sid, call)
        self.dirty = True

    # -- Caller IDs and the pool -------------------------------------------------

    def find_caller_id(self, account_sid: str, phone_number: str) -> str | None:
        for sid, rec in self.caller_ids(account_sid).items():
            if rec["phone_number"] == phone_number:
                return sid
        return None

    def pool_entry(self, phone_number: str) -> tuple[str, int] | None:
        """(country, position) of an available number; the pool is a few hundred."""
        for country, entries in self.doc["available"].items():
            for i, entry in enumerate(entries):
                if entry["phone_number"] == phone_number:
                    return country, i
        return None

    def take_from_pool(self, country: str, position: int) -> Json:
        entry: Json = self.doc["available"][country].pop(position)
        self.dirty = True
        return entry


def _index_call(per_number: dict[str, list[str]], sid: str, call: Json) -> None:
    per_number.setdefault(call["from"], []).append(sid)
    if call["to"] != call["from"]:
        per_number.setdefault(call["to"], []).append(sid)


def empty_document(created: float) -> Json:
    """The skeleton every state document has; `created` (ms) seeds new SIDs."""
    return {
        "stamp": "",
        "version": FORMAT_VERSION,
        "created": int(created * 1000),
        "counter": 0,
        "accounts": {},
        "api_keys": {},
        "numbers": {},
        "caller_ids": {},
        "calls": {},
        "available": {},
        "bundles": {},
        "addresses": {},
    }
