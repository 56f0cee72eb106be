"""The per-account JSON cache: freshness, damage recovery, concurrent writers."""

from __future__ import annotations

import json
import logging
import multiprocessing
import threading
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from meetzy_numbers.store.cache import Cache, CacheEntry

ACCOUNT = "AC" + "1" * 32
OTHER = "AC" + "2" * 32
WARNING = f"cache for {ACCOUNT} was unreadable and will be rebuilt"


def number(index: int, **fields: Any) -> dict[str, Any]:
    return {
        "sid": f"PN{index:032x}",
        "phone_number": f"+3461{index:07d}",
        "friendly_name": f"number {index}",
        **fields,
    }


def entry(account: str = ACCOUNT, *, age: float = 0, count: int = 3) -> CacheEntry:
    return CacheEntry(
        account_sid=account,
        account_name="Meetzy Spain",
        fetched_at=datetime.now(UTC) - timedelta(seconds=age),
        numbers=[number(i) for i in range(count)],
        caller_ids=[{"sid": "PN" + "c" * 32, "phone_number": "+34911222333"}],
        extra={"health": {"PN1": "healthy"}},
    )


@pytest.fixture
def cache(tmp_path: Path) -> Cache:
    return Cache(tmp_path / "cache", ttl=900)


def test_round_trip(cache: Cache) -> None:
    saved = entry()
    cache.save(saved)

    loaded = cache.load(ACCOUNT)

    assert loaded == saved
    assert loaded is not None
    assert loaded.fetched_at.tzinfo is not None
    document = json.loads(cache.path_for(ACCOUNT).read_text(encoding="utf-8"))
    assert document["version"] == 1
    assert sorted(document) == [
        "account_name",
        "account_sid",
        "caller_ids",
        "extra",
        "fetched_at",
        "numbers",
        "version",
    ]


def test_missing_is_none(cache: Cache) -> None:
    assert cache.load(ACCOUNT) is None
    assert cache.entries() == []


def test_ttl_and_allow_stale(cache: Cache) -> None:
    cache.save(entry(age=1000))

    assert cache.load(ACCOUNT) is None
    stale = cache.load(ACCOUNT, allow_stale=True)
    assert stale is not None
    assert len(stale.numbers) == 3
    assert Cache(cache.directory, ttl=2000).load(ACCOUNT) is not None
    assert Cache(cache.directory, ttl=0).load(ACCOUNT) is None


def test_a_future_timestamp_is_stale(cache: Cache) -> None:
    cache.save(entry(age=-3600))

    assert cache.load(ACCOUNT) is None
    assert cache.load(ACCOUNT, allow_stale=True) is not None


@pytest.mark.parametrize(
    "content",
    [
        b'{"version": 1, "account_sid": ',
        b"[]",
        b"\xff\xfe not text",
        b"",
        "unknown-version",
        "numbers-not-a-list",
        "wrong-account",
        "naive-time",
    ],
)
def test_damaged_file_is_deleted_with_a_warning(
    cache: Cache, caplog: pytest.LogCaptureFixture, content: bytes | str
) -> None:
    cache.save(entry())
    path = cache.path_for(ACCOUNT)
    good = json.loads(path.read_text(encoding="utf-8"))
    damaged = {
        "unknown-version": {**good, "version": 99},
        "numbers-not-a-list": {**good, "numbers": {"PN1": {}}},
        "wrong-account": {**good, "account_sid": OTHER},
        "naive-time": {**good, "fetched_at": "2026-01-01T10:00:00"},
    }
    if isinstance(content, str):
        content = json.dumps(damaged[content]).encode()
    path.write_bytes(content)

    with caplog.at_level(logging.WARNING, logger="meetzy_numbers.store.cache"):
        assert cache.load(ACCOUNT, allow_stale=True) is None

    assert [r.getMessage() for r in caplog.records] == [WARNING]
    assert caplog.records[0].levelno == logging.WARNING
    assert not path.exists()


def test_update_and_remove_number(cache: Cache) -> None:
    cache.save(entry(count=2))

    cache.update_number(ACCOUNT, number(1, friendly_name="renamed"))
    cache.update_number(ACCOUNT, number(7))
    cache.remove_number(ACCOUNT, number(0)["sid"])
    cache.remove_number(ACCOUNT, "PN" + "c" * 32)
    cache.update_extra(ACCOUNT, "health", {"PN7": "spam"})

    loaded = cache.load(ACCOUNT)
    assert loaded is not None
    assert [r["sid"] for r in loaded.numbers] == [number(1)["sid"], number(7)["sid"]]
    assert loaded.numbers[0]["friendly_name"] == "renamed"
    assert loaded.caller_ids == []
    assert loaded.extra == {"health": {"PN7": "spam"}}


def test_updates_without_a_cache_do_nothing(cache: Cache) -> None:
    cache.update_number(ACCOUNT, number(1))
    cache.remove_number(ACCOUNT, number(1)["sid"])
    cache.update_extra(ACCOUNT, "health", {})

    assert not cache.path_for(ACCOUNT).exists()


def test_updates_keep_fetched_at(cache: Cache) -> None:
    saved = entry(age=100)
    cache.save(saved)

    cache.update_number(ACCOUNT, number(9))

    loaded = cache.load(ACCOUNT)
    assert loaded is not None
    assert loaded.fetched_at == saved.fetched_at


def test_entries_and_clear(cache: Cache) -> None:
    cache.save(entry(ACCOUNT, count=3))
    cache.save(entry(OTHER, count=5, age=5000))

    listed = cache.entries()
    assert [(sid, count) for sid, _, count in listed] == [(ACCOUNT, 3), (OTHER, 5)]
    assert all(fetched.tzinfo is not None for _, fetched, _ in listed)

    assert cache.clear(ACCOUNT) == 1
    assert cache.clear(ACCOUNT) == 0
    assert cache.clear() == 1
    assert cache.entries() == []


def test_path_like_sids_are_refused(cache: Cache) -> None:
    with pytest.raises(ValueError, match="not an account SID"):
        cache.load("../config")


def test_ten_thousand_records_load_quickly(cache: Cache) -> None:
    big = entry(count=10_000)
    cache.save(big)

    started = time.perf_counter()
    loaded = cache.load(ACCOUNT)
    elapsed = time.perf_counter() - started

    assert loaded is not None
    assert len(loaded.numbers) == 10_000
    # Generous for slow CI; a plain json.loads of this takes some milliseconds.
    assert elapsed < 1.0


# -- concurrent writers -------------------------------------------------------

PROCESSES = 4
THREADS = 3
UPDATES = 10


def _updater(directory: str, worker: int) -> None:
    """Each thread adds its own numbers; none of them may be lost."""
    cache = Cache(Path(directory), ttl=900)

    def run(thread: int) -> None:
        for step in range(UPDATES):
            index = (worker * THREADS + thread) * UPDATES + step
            cache.update_number(ACCOUNT, number(index))

    threads = [threading.Thread(target=run, args=(t,)) for t in range(THREADS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()


def _saver(directory: str, worker: int) -> None:
    cache = Cache(Path(directory), ttl=900)

    def run(thread: int) -> None:
        for step in range(UPDATES):
            cache.save(entry(count=50 + worker * 10 + thread))
            cache.update_number(ACCOUNT, number(10_000 + step, worker=worker))

    threads = [threading.Thread(target=run, args=(t,)) for t in range(THREADS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()


def _context() -> Any:
    methods = multiprocessing.get_all_start_methods()
    return multiprocessing.get_context("fork" if "fork" in methods else "spawn")


def _run_workers(target: Any, directory: Path) -> None:
    context = _context()
    workers = [
        context.Process(target=target, args=(str(directory), index))
        for index in range(PROCESSES)
    ]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join(timeout=60)
        assert worker.exitcode == 0


def test_concurrent_updates_lose_nothing(cache: Cache) -> None:
    cache.save(entry(count=0))

    _run_workers(_updater, cache.directory)

    loaded = cache.load(ACCOUNT)
    assert loaded is not None
    sids = [record["sid"] for record in loaded.numbers]
    assert len(sids) == PROCESSES * THREADS * UPDATES
    assert sorted(sids) == sorted(number(i)["sid"] for i in range(len(sids)))


def test_concurrent_saves_never_tear_the_file(
    cache: Cache, caplog: pytest.LogCaptureFixture
) -> None:
    cache.save(entry(count=0))
    context = _context()
    workers = [
        context.Process(target=_saver, args=(str(cache.directory), index))
        for index in range(PROCESSES)
    ]
    for worker in workers:
        worker.start()

    # Read while they write: every read sees a whole file.
    reads = 0
    with caplog.at_level(logging.WARNING, logger="meetzy_numbers.store.cache"):
        while any(worker.is_alive() for worker in workers) or reads == 0:
            assert cache.load(ACCOUNT) is not None
            reads += 1
    for worker in workers:
        worker.join(timeout=60)
        assert worker.exitcode == 0

    assert caplog.records == []
    json.loads(cache.path_for(ACCOUNT).read_text(encoding="utf-8"))
    assert not list(cache.directory.glob(".*.tmp"))
