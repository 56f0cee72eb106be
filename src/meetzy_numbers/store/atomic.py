"""Writing files so that a reader never sees half of one.

Every store writes through :func:`write_atomic`: the new content goes to a
temporary file in the same folder, is flushed to disk, and then replaces the
old file in one ``os.replace``. A crash at any point leaves either the old
file or the new one, never a mix. :func:`file_lock` serialises the
read-modify-write cycles that two cron jobs could otherwise interleave.
"""

from __future__ import annotations

import contextlib
import os
import threading
from collections.abc import Iterator
from pathlib import Path

from meetzy_numbers.errors import MeetzyError

# Long enough for a slow disk under a big bulk run, short enough that a hung
# process cannot block every cron job behind it forever.
LOCK_TIMEOUT = 30.0
_THREAD_LOCKS: dict[str, threading.Lock] = {}
_THREAD_LOCKS_GUARD = threading.Lock()


def write_atomic(
    path: Path, data: bytes | str, *, mode: int | None = None, durable: bool = True
) -> None:
    """Replace ``path`` with ``data`` in one step, creating parent folders.

    ``mode`` sets the file's permission bits exactly (use ``0o600`` for files
    that may hold secrets). Without it an existing file keeps its mode and a
    new one gets the usual ``0o666`` less the umask. ``durable=False`` skips
    the fsyncs: still atomic for other processes, but a power cut may lose
    the write, which is fine for a cache.
    """
    payload = data.encode("utf-8") if isinstance(data, str) else data
    path.parent.mkdir(parents=True, exist_ok=True)

    target_mode = mode
    if target_mode is None:
        with contextlib.suppress(FileNotFoundError):
            target_mode = path.stat().st_mode & 0o7777

    # A dot-name in the same folder: os.replace is only atomic within one
    # file system, and the leading dot keeps it out of casual listings.
    temp = path.with_name(f".{path.name}.{os.urandom(4).hex()}.tmp")
    # The secret-safe mode is applied at creation, so the content is never
    # readable by others even for the instant before the chmod.
    create_mode = 0o600 if target_mode is not None else 0o666
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_BINARY", 0)
    fd = os.open(temp, flags, create_mode)
    try:
        try:
            if target_mode is not None:
                _fchmod(fd, temp, target_mode)
            _write_all(fd, payload)
            if durable:
                os.fsync(fd)
        finally:
            os.close(fd)
        temp.replace(path)
    except BaseException:
        with contextlib.suppress(OSError):
            temp.unlink()
        raise
    if durable:
        _fsync_dir(path.parent)


def _write_all(fd: int, payload: bytes) -> None:
    view = memoryview(payload)
    while view:
        written = os.write(fd, view)
        view = view[written:]


def _fchmod(fd: int, path: Path, mode: int) -> None:
    if hasattr(os, "fchmod"):
        os.fchmod(fd, mode)
    else:  # Windows has no fchmod; chmod by name does the same there.
        path.chmod(mode)


def _fsync_dir(directory: Path) -> None:
    """Make the rename itself durable; not every platform can open a folder."""
    try:
        fd = os.open(directory, os.O_RDONLY)
    except OSError:
        return
    try:
        with contextlib.suppress(OSError):
            os.fsync(fd)
    finally:
        os.close(fd)


@contextlib.contextmanager
def file_lock(path: Path, *, timeout: float = LOCK_TIMEOUT) -> Iterator[None]:
    """Hold an inter-process lock on ``<path>.lock`` for the ``with`` block.

    The lock file is left in place afterwards: deleting it while another
    process waits on it would let a third process take a second "lock".
    """
    import filelock

    lock_path = path.with_name(path.name + ".lock")
    lock_path.parent.mkdir(parents=True, exist_ok=True)
    # Threads of this process queue on a plain lock first: filelock polls
    # every 50 ms, which would make a bulk run's own threads sleep on each
    # other. The file lock then only ever waits for other processes.
    with _THREAD_LOCKS_GUARD:
        local = _THREAD_LOCKS.setdefault(str(lock_path), threading.Lock())
    if not local.acquire(timeout=timeout):
        raise _held(lock_path, timeout)
    try:
        lock = filelock.FileLock(lock_path, timeout=timeout)
        try:
            lock.acquire(poll_interval=0.005)
        except filelock.Timeout:
            raise _held(lock_path, timeout) from None
        try:
            yield
        finally:
            lock.release()
    finally:
        local.release()


def _held(lock_path: Path, timeout: float) -> MeetzyError:
    return MeetzyError(
        f"another meetzy-numbers process has held {lock_path} for more than "
        f"{timeout:g} seconds; try again when it has finished"
    )
