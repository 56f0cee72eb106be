"""The journal: an append-only JSON-lines record of every change the tool makes.

Each change writes a ``started`` line before touching Twilio and a ``done`` or
``failed`` line after, pointing back to it with ``ref``; a ``started`` line
with nothing closing it marks a run that was killed halfway. ``history``
reads the lines back and ``undo`` restores the routing in ``before``.

Entry ids look like ``20261203-160102-3fa9``: the UTC date and time, then
four hex digits that grow within the second. Ids therefore sort by time, are
unique within one journal, and a short prefix such as ``20261203-1601`` is
enough to name an entry on the command line.
"""

from __future__ import annotations

import json
import logging
import os
import re
from dataclasses import asdict, dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from meetzy_numbers.errors import NotFound, UsageError
from meetzy_numbers.store.atomic import file_lock

log = logging.getLogger(__name__)

STATUSES = ("started", "done", "failed")
ID_RE = re.compile(r"^(\d{8}-\d{6})-([0-9a-f]{4})$")
_ID_TIME_FORMAT = "%Y%m%d-%H%M%S"
# Enough of the file's end to hold its last line, however long a detail is.
_TAIL_BYTES = 64 * 1024


@dataclass(frozen=True)
class JournalEntry:
    id: str
    time: datetime
    action: str
    status: str
    account_sid: str
    number_sid: str | None
    phone_number: str | None
    before: dict[str, Any] | None
    after: dict[str, Any] | None
    detail: str | None = None
    run: str | None = None
    ref: str | None = None


def new_run_id() -> str:
    """An id for one command run, grouping the entries of a bulk change."""
    return f"{datetime.now(UTC).strftime(_ID_TIME_FORMAT)}-{os.urandom(2).hex()}"


class Journal:
    def __init__(self, path: Path) -> None:
        self.path = path

    def append(
        self,
        *,
        action: str,
        status: str,
        account_sid: str,
        number_sid: str | None = None,
        phone_number: str | None = None,
        before: dict[str, Any] | None = None,
        after: dict[str, Any] | None = None,
        detail: str | None = None,
        run: str | None = None,
        ref: str | None = None,
    ) -> JournalEntry:
        """Write one line and return the entry it holds.

        The line goes out in a single ``os.write`` on an ``O_APPEND`` file,
        under a lock: two processes never interleave, and a killed process
        leaves at most one torn final line. There is no fsync: it would cost
        a bulk run milliseconds a line, serialised, to guard only against a
        power cut; and a lost line never leads to a wrong change, since every
        run fetches a number live before it changes it.
        """
        if status not in STATUSES:
            raise ValueError(f"journal status must be one of {STATUSES}: {status!r}")

        self.path.parent.mkdir(parents=True, exist_ok=True)
        with file_lock(self.path):
            # Read access too: the tail tells the last id and whether the
            # file ends mid-line.
            flags = os.O_RDWR | os.O_APPEND | os.O_CREAT | getattr(os, "O_BINARY", 0)
            fd = os.open(self.path, flags, 0o666)
            try:
                tail = _read_tail(fd)
                now = datetime.now(UTC)
                entry = JournalEntry(
                    id=_next_id(now, _last_id(tail)),
                    time=now,
                    action=action,
                    status=status,
                    account_sid=account_sid,
                    number_sid=number_sid,
                    phone_number=phone_number,
                    before=before,
                    after=after,
                    detail=detail,
                    run=run,
                    ref=ref,
                )
                line = _encode(entry)
                # A torn last line would swallow this one; end it first.
                if tail and not tail.endswith(b"\n"):
                    line = b"\n" + line
                _write_once(fd, line)
            finally:
                os.close(fd)
        return entry

    def entries(self) -> list[JournalEntry]:
        """Every readable entry, newest first; unreadable lines are skipped."""
        try:
            content = self.path.read_bytes()
        except FileNotFoundError:
            return []

        found: list[JournalEntry] = []
        lines = content.split(b"\n")
        last_line = max((n for n, raw in enumerate(lines, 1) if raw.strip()), default=0)
        for number, raw in enumerate(lines, start=1):
            if not raw.strip():
                continue
            entry = _decode(raw)
            if entry is None:
                last = number == last_line
                why = "is incomplete (a write was cut off)" if last else "is unreadable"
                log.warning("journal %s: line %d %s; skipped", self.path, number, why)
                continue
            found.append(entry)
        found.reverse()
        return found

    def get(self, entry_id: str) -> JournalEntry:
        """The entry with this id, or with the one id that starts with it."""
        wanted = entry_id.strip()
        if not wanted:
            raise UsageError("give a journal entry id")
        entries = self.entries()
        for entry in entries:
            if entry.id == wanted:
                return entry

        matches = [entry for entry in entries if entry.id.startswith(wanted)]
        if len(matches) == 1:
            return matches[0]
        if not matches:
            raise NotFound(f"no journal entry {wanted!r}")
        shown = ", ".join(entry.id for entry in matches[:5])
        more = ", …" if len(matches) > 5 else ""
        raise UsageError(
            f"journal entry id {wanted!r} matches {len(matches)} entries "
            f"({shown}{more}); give more of it"
        )

    def unfinished(self) -> dict[str, JournalEntry]:
        """By number SID, each "started" line that no later line closes."""
        open_by_id: dict[str, JournalEntry] = {}
        for entry in reversed(self.entries()):
            if entry.status == "started":
                open_by_id[entry.id] = entry
            elif entry.ref:
                open_by_id.pop(entry.ref, None)
        return {
            entry.number_sid: entry
            for entry in open_by_id.values()
            if entry.number_sid is not None
        }

    def latest_for(self, number_sid: str) -> JournalEntry | None:
        """The newest finished change to this number, if any."""
        for entry in self.entries():
            if entry.number_sid == number_sid and entry.status == "done":
                return entry
        return None


def _next_id(now: datetime, last_id: str | None) -> str:
    """The id of an entry written at ``now``: always after ``last_id``.

    It stays after it even when the clock stepped back or 65,536 entries
    landed in one second, so file order and id order never disagree.
    """
    stamp = now.strftime(_ID_TIME_FORMAT)
    # Fraction of the second, scaled to four hex digits.
    candidate = f"{stamp}-{now.microsecond * 0x10000 // 1_000_000:04x}"
    match = ID_RE.match(last_id or "")
    if match is None or candidate > match.group(0):
        return candidate

    last_stamp, counter = match.group(1), int(match.group(2), 16)
    if counter < 0xFFFF:
        return f"{last_stamp}-{counter + 1:04x}"
    later = datetime.strptime(last_stamp, _ID_TIME_FORMAT) + timedelta(seconds=1)
    return f"{later.strftime(_ID_TIME_FORMAT)}-0000"


def _read_tail(fd: int) -> bytes:
    # O_APPEND sends every write to the end whatever the read position, so
    # seeking here cannot misplace the line written next.
    size = os.fstat(fd).st_size
    start = max(0, size - _TAIL_BYTES)
    os.lseek(fd, start, os.SEEK_SET)
    chunks: list[bytes] = []
    remaining = size - start
    while remaining > 0 and (chunk := os.read(fd, remaining)):
        chunks.append(chunk)
        remaining -= len(chunk)
    return b"".join(chunks)


def _last_id(tail: bytes) -> str | None:
    """The id of the last readable line in the file's tail."""
    for raw in reversed(tail.split(b"\n")):
        if not raw.strip():
            continue
        try:
            data = json.loads(raw)
        except ValueError:
            continue  # a torn or partial line; look further back
        if isinstance(data, dict) and isinstance(data.get("id"), str):
            return str(data["id"])
    return None


def _write_once(fd: int, line: bytes) -> None:
    written = os.write(fd, line)
    if written != len(line):
        # Regular files take a whole write or fail; a short one means a full
        # disk, and the next append's newline fences off the partial line.
        raise OSError(f"journal write was cut short ({written} of {len(line)} bytes)")


def _encode(entry: JournalEntry) -> bytes:
    data = asdict(entry)
    data["time"] = entry.time.isoformat()
    # A value JSON cannot hold (a datetime in a routing dict) is written as
    # text rather than failing the change it records.
    text = json.dumps(data, ensure_ascii=False, separators=(",", ":"), default=str)
    return text.encode() + b"\n"


_REQUIRED = ("id", "time", "action", "status", "account_sid")
_OPTIONAL_TEXT = ("number_sid", "phone_number", "detail", "run", "ref")


def _decode(raw: bytes) -> JournalEntry | None:
    try:
        data = json.loads(raw)
    except ValueError:
        return None
    if not isinstance(data, dict) or not _has_entry_shape(data):
        return None
    try:
        time = datetime.fromisoformat(data["time"])
    except ValueError:
        return None
    if time.tzinfo is None:
        return None

    return JournalEntry(
        id=data["id"],
        time=time.astimezone(UTC),
        action=data["action"],
        status=data["status"],
        account_sid=data["account_sid"],
        number_sid=data.get("number_sid"),
        phone_number=data.get("phone_number"),
        before=data.get("before"),
        after=data.get("after"),
        detail=data.get("detail"),
        run=data.get("run"),
        ref=data.get("ref"),
    )


def _has_entry_shape(data: dict[str, Any]) -> bool:
    return (
        all(isinstance(data.get(key), str) for key in _REQUIRED)
        and all(isinstance(data.get(key), str | None) for key in _OPTIONAL_TEXT)
        and all(isinstance(data.get(key), dict | None) for key in ("before", "after"))
    )
