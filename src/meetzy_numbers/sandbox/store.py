"""Persistence of the sandbox state: one JSON file shared by threads and processes.

Every transaction holds a thread lock and `FileLock(<file>.lock)`. Under the lock
the file is re-read only when it is not the version this process last read or
wrote. The check compares the file's inode, mtime_ns and size, and then the
`stamp` each write puts first in the file: file timestamps are coarse (a few ms
on many filesystems) and inodes get reused, so stat alone could miss a write by
another process that kept the size, and that would lose its update.
"""

from __future__ import annotations

import json
import os
import re
import tempfile
import threading
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

from filelock import FileLock

from .state import FORMAT_VERSION, Json, State

_STAMP = re.compile(rb'^\{"stamp":"([0-9a-f]*)"')


class StateFileError(RuntimeError):
    """The state file exists but cannot be used."""


class Store:
    """Owns the live `State`; `path=None` keeps it in memory only."""

    def __init__(self, path: Path | None, make_document: Callable[[], Json]) -> None:
        self._path = path
        self._make_document = make_document
        self._lock = threading.RLock()
        self._signature: tuple[int, int, int, bytes] | None = None
        self._file_lock = FileLock(str(path) + ".lock") if path else None
        if path is None:
            self.state = State(make_document())
            return
        path.parent.mkdir(parents=True, exist_ok=True)
        self.state = State({})
        with self.transaction():
            pass

    @contextmanager
    def transaction(self) -> Iterator[State]:
        """Run one request against the latest state and persist what it changed.

        If the body raises, a file-backed state drops its in-memory edits by
        forcing a reload next time, so a failed request changes nothing.
        """
        with self._lock:
            if self._file_lock is None:
                yield self.state
                self.state.dirty = False
                return
            with self._file_lock:
                self._refresh()
                try:
                    yield self.state
                except BaseException:
                    self._signature = None
                    raise
                if self.state.dirty:
                    self._write(self.state.doc)
                    self.state.dirty = False

    def replace(self, doc: Json) -> None:
        """Swap in a whole new document (reset) and persist it."""
        with self._lock:
            if self._file_lock is None:
                self.state = State(doc)
                return
            with self._file_lock:
                self.state = State(doc)
                self._write(doc)

    # -- file handling -----------------------------------------------------------

    def _refresh(self) -> None:
        assert self._path is not None
        try:
            signature = _signature(self._path)
        except FileNotFoundError:
            doc = self._make_document()
            self.state = State(doc)
            self._write(doc)
            return
        if signature == self._signature:
            return
        raw = self._path.read_bytes()
        try:
            doc = json.loads(raw)
        except ValueError as exc:
            raise StateFileError(
                f"sandbox state file {self._path} is not valid JSON; "
                "delete it or call Sandbox.reset()"
            ) from exc
        if not isinstance(doc, dict) or doc.get("version") != FORMAT_VERSION:
            raise StateFileError(
                f"sandbox state file {self._path} has an unknown format; "
                "delete it or call Sandbox.reset()"
            )
        self.state = State(doc)
        self._signature = signature

    def _write(self, doc: Json) -> None:
        assert self._path is not None
        doc["stamp"] = uuid.uuid4().hex
        # `stamp` must lead the file so `_signature` can read it from the head.
        ordered = {"stamp": doc["stamp"], **doc}
        data = json.dumps(ordered, separators=(",", ":")).encode()
        fd, tmp = tempfile.mkstemp(
            dir=self._path.parent, prefix=self._path.name + ".", suffix=".tmp"
        )
        try:
            # No fsync: the sandbox needs atomic replacement, not crash durability.
            with os.fdopen(fd, "wb") as fh:
                fh.write(data)
            Path(tmp).replace(self._path)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
        self._signature = _signature(self._path)


def _signature(path: Path) -> tuple[int, int, int, bytes]:
    with path.open("rb") as fh:
        st = os.fstat(fh.fileno())
        match = _STAMP.match(fh.read(64))
    stamp = match.group(1) if match else b""
    return (st.st_ino, st.st_mtime_ns, st.st_size, stamp)
