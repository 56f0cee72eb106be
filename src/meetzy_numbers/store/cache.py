"""The local cache of Twilio records, one JSON file per account.

Twilio is the source of truth; the cache only makes listing fast, so losing
it costs a refetch and nothing else. That is why a file that cannot be read
is deleted with a warning instead of failing the command.

Writers replace the whole file atomically under ``<file>.lock``, so two cron
jobs never leave a torn file, and the read-modify-write helpers
(:meth:`Cache.update_number` and friends) never lose each other's updates.
A full :meth:`Cache.save` is a fresh listing and wins over anything before it.
Readers take no lock: they always see a whole old file or a whole new one.
"""

from __future__ import annotations

import contextlib
import json
import logging
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, TypeGuard

from meetzy_numbers.store.atomic import file_lock, write_atomic

log = logging.getLogger(__name__)

CACHE_VERSION = 1

# A file written on a machine whose clock ran ahead would otherwise look
# fresh until that future moment; a minute covers ordinary clock drift.
_FUTURE_TOLERANCE = timedelta(minutes=1)
_FILE_NAME_RE = re.compile(r"^[A-Za-z0-9_-]+$")


@dataclass
class CacheEntry:
    account_sid: str
    account_name: str
    fetched_at: datetime
    numbers: list[dict[str, Any]] = field(default_factory=list)
    caller_ids: list[dict[str, Any]] = field(default_factory=list)
    extra: dict[str, Any] = field(default_factory=dict)


class Cache:
    def __init__(self, directory: Path, ttl: int) -> None:
        self.directory = directory
        self.ttl = ttl

    def path_for(self, account_sid: str) -> Path:
        # The SID becomes a file name, so nothing path-like may pass.
        if not _FILE_NAME_RE.match(account_sid):
            raise ValueError(f"not an account SID: {account_sid!r}")
        return self.directory / f"{account_sid}.json"

    def load(self, account_sid: str, *, allow_stale: bool = False) -> CacheEntry | None:
        """The cached entry, or None when missing, stale or unreadable."""
        path = self.path_for(account_sid)
        try:
            content = path.read_bytes()
        except FileNotFoundError:
            return None
        except OSError as exc:
            log.warning("cache for %s cannot be read (%s)", account_sid, exc.strerror)
            return None

        entry = _decode(content, account_sid)
        if entry is None:
            self._discard(account_sid, path)
            return None
        if not allow_stale and (self.is_stale(entry) or self._dirty(path).exists()):
            return None
        return entry

    def is_stale(self, entry: CacheEntry, *, now: datetime | None = None) -> bool:
        age = (now or datetime.now(UTC)) - entry.fetched_at
        if self.ttl <= 0 or age < -_FUTURE_TOLERANCE:
            return True
        return age.total_seconds() > self.ttl

    def save(self, entry: CacheEntry) -> None:
        path = self.path_for(entry.account_sid)
        with file_lock(path):
            write_atomic(path, _encode(entry), durable=False)

    def update_number(self, account_sid: str, record: dict[str, Any]) -> None:
        """Replace the number with ``record["sid"]``, or append it."""

        def change(entry: CacheEntry) -> None:
            for index, existing in enumerate(entry.numbers):
                if existing.get("sid") == record["sid"]:
                    entry.numbers[index] = record
                    return
            entry.numbers.append(record)

        self._modify(account_sid, change)

    def remove_number(self, account_sid: str, sid: str) -> None:
        """Drop the record with this SID, whether a number or a caller ID."""

        def change(entry: CacheEntry) -> None:
            entry.numbers = [r for r in entry.numbers if r.get("sid") != sid]
            entry.caller_ids = [r for r in entry.caller_ids if r.get("sid") != sid]

        self._modify(account_sid, change)

    def update_caller_ids(
        self, account_sid: str, caller_ids: list[dict[str, Any]]
    ) -> None:
        """Replace the caller IDs with a fresh listing, keeping the numbers."""

        def change(entry: CacheEntry) -> None:
            entry.caller_ids = list(caller_ids)

        self._modify(account_sid, change)

    def mark_dirty(self, account_sid: str) -> None:
        """Changes are on their way: until :meth:`apply` lands them, the file
        is stale. A run killed before then leaves the mark, and the next
        command fetches afresh instead of showing what was."""
        dirty = self._dirty(self.path_for(account_sid))
        dirty.parent.mkdir(parents=True, exist_ok=True)
        dirty.touch()

    def apply(
        self, account_sid: str, updated: list[dict[str, Any]], removed: set[str]
    ) -> None:
        """Many number changes in one read-modify-write; clears the dirty mark."""
        by_sid = {record["sid"]: record for record in updated}

        def change(entry: CacheEntry) -> None:
            kept = []
            for record in entry.numbers:
                sid = record.get("sid")
                if sid in removed:
                    continue
                kept.append(by_sid.pop(sid, record) if sid in by_sid else record)
            entry.numbers = [*kept, *by_sid.values()]
            entry.caller_ids = [
                r for r in entry.caller_ids if r.get("sid") not in removed
            ]

        self._modify(account_sid, change)
        with contextlib.suppress(FileNotFoundError):
            self._dirty(self.path_for(account_sid)).unlink()

    @staticmethod
    def _dirty(path: Path) -> Path:
        return path.with_name(path.name + ".dirty")

    def update_extra(self, account_sid: str, key: str, value: Any) -> None:
        def change(entry: CacheEntry) -> None:
            entry.extra[key] = value

        self._modify(account_sid, change)

    def clear(self, account_sid: str | None = None) -> int:
        """Delete the cache of one account, or of all; return the files removed."""
        if account_sid is not None:
            paths = [self.path_for(account_sid)]
        else:
            paths = sorted(self.directory.glob("*.json"))
            # Temporary files a killed writer left behind.
            for stray in self.directory.glob(".*.json.*.tmp"):
                with contextlib.suppress(OSError):
                    stray.unlink()
        paths += [self._dirty(path) for path in paths]
        removed = 0
        for path in paths:
            with contextlib.suppress(FileNotFoundError):
                path.unlink()
                removed += 1
        return removed

    def entries(self) -> list[tuple[str, datetime, int]]:
        """(account SID, fetched at, number count) of every readable cache file."""
        found: list[tuple[str, datetime, int]] = []
        for path in sorted(self.directory.glob("*.json")):
            if not _FILE_NAME_RE.match(path.stem):
                continue
            entry = self.load(path.stem, allow_stale=True)
            if entry is not None:
                found.append((entry.account_sid, entry.fetched_at, len(entry.numbers)))
        return found

    def _modify(self, account_sid: str, change: Callable[[CacheEntry], None]) -> None:
        """Read-modify-write under the lock; no file means nothing to update."""
        path = self.path_for(account_sid)
        with file_lock(path):
            try:
                content = path.read_bytes()
            except FileNotFoundError:
                return
            entry = _decode(content, account_sid)
            if entry is None:
                return  # the next load reports and deletes it
            change(entry)
            write_atomic(path, _encode(entry), durable=False)

    def _discard(self, account_sid: str, path: Path) -> None:
        log.warning("cache for %s was unreadable and will be rebuilt", account_sid)
        with file_lock(path):
            # A writer may have replaced the bad file since it was read.
            try:
                content = path.read_bytes()
            except FileNotFoundError:
                return
            if _decode(content, account_sid) is None:
                with contextlib.suppress(FileNotFoundError):
                    path.unlink()


def _encode(entry: CacheEntry) -> str:
    document = {
        "version": CACHE_VERSION,
        "account_sid": entry.account_sid,
        "account_name": entry.account_name,
        "fetched_at": entry.fetched_at.astimezone(UTC).isoformat(),
        "numbers": entry.numbers,
        "caller_ids": entry.caller_ids,
        "extra": entry.extra,
    }
    # Compact: the file is for the machine, and 10,000 records add up.
    return json.dumps(document, separators=(",", ":"), ensure_ascii=False)


def _decode(content: bytes, account_sid: str) -> CacheEntry | None:
    """The entry in a cache file, or None for anything not of the right shape.

    Only the shape is checked, not each record: listing 10,000 numbers must
    stay a single ``json.loads``.
    """
    try:
        data = json.loads(content)
    except ValueError:
        return None
    if not isinstance(data, dict) or data.get("version") != CACHE_VERSION:
        return None

    numbers, caller_ids = data.get("numbers"), data.get("caller_ids")
    extra, name = data.get("extra"), data.get("account_name")
    if (
        data.get("account_sid") != account_sid
        or not isinstance(name, str)
        or not isinstance(extra, dict)
        or not _is_record_list(numbers)
        or not _is_record_list(caller_ids)
    ):
        return None
    try:
        fetched_at = datetime.fromisoformat(data["fetched_at"])
    except (KeyError, TypeError, ValueError):
        return None
    if fetched_at.tzinfo is None:
        return None

    return CacheEntry(
        account_sid=account_sid,
        account_name=name,
        fetched_at=fetched_at.astimezone(UTC),
        numbers=numbers,
        caller_ids=caller_ids,
        extra=extra,
    )


def _is_record_list(value: object) -> TypeGuard[list[dict[str, Any]]]:
    return isinstance(value, list) and all(isinstance(r, dict) for r in value)
