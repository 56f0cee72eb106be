"""The append-only journal: ids, lookups, concurrent appends, torn lines."""

from __future__ import annotations

import json
import logging
import multiprocessing
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from meetzy_numbers.errors import ExitCode, NotFound, UsageError
from meetzy_numbers.store.journal import (
    ID_RE,
    Journal,
    JournalEntry,
    _next_id,
    new_run_id,
)

ACCOUNT = "AC" + "1" * 32
PN_A = "PN" + "a" * 32
PN_B = "PN" + "b" * 32
ROUTED = {"voice_url": "https://voice.meetzy.example/agents/sales/voice"}
CLEARED = {"voice_url": ""}


@pytest.fixture
def journal(tmp_path: Path) -> Journal:
    return Journal(tmp_path / "data" / "journal.jsonl")


def change(
    journal: Journal, number_sid: str, status: str, **extra: Any
) -> JournalEntry:
    return journal.append(
        action="reset",
        status=status,
        account_sid=ACCOUNT,
        number_sid=number_sid,
        phone_number="+34612345678",
        before=ROUTED,
        after=CLEARED,
        **extra,
    )


def test_append_returns_what_entries_reads(journal: Journal) -> None:
    run = new_run_id()
    started = change(journal, PN_A, "started", run=run)
    done = change(journal, PN_A, "done", run=run, ref=started.id)
    failed = change(journal, PN_B, "failed", run=run, detail="Twilio said 404")

    assert journal.entries() == [failed, done, started]
    assert done.ref == started.id
    assert failed.detail == "Twilio said 404"
    assert all(entry.time.tzinfo is not None for entry in journal.entries())


def test_ids_are_unique_sortable_and_documented(journal: Journal) -> None:
    entries = [change(journal, PN_A, "done") for _ in range(50)]
    ids = [entry.id for entry in entries]

    assert all(ID_RE.match(entry_id) for entry_id in ids)
    assert ids == sorted(ids)
    assert len(set(ids)) == len(ids)
    assert entries[0].id[:15] == entries[0].time.strftime("%Y%m%d-%H%M%S")


def test_ids_keep_growing_when_the_clock_steps_back() -> None:
    now = datetime(2026, 12, 3, 16, 1, 2, 500_000, tzinfo=UTC)

    assert _next_id(now, None) == "20261203-160102-8000"
    assert _next_id(now, "20261203-160102-8000") == "20261203-160102-8001"
    assert _next_id(now - timedelta(hours=1), "20261203-160102-9000") == (
        "20261203-160102-9001"
    )
    assert _next_id(now, "20261203-160102-ffff") == "20261203-160103-0000"
    assert _next_id(now, "20261203-160101-ffff") == "20261203-160102-8000"


def test_each_append_is_one_json_line(journal: Journal) -> None:
    change(journal, PN_A, "started")
    change(journal, PN_A, "done")

    lines = journal.path.read_text(encoding="utf-8").splitlines()
    assert len(lines) == 2
    first = json.loads(lines[0])
    assert first["action"] == "reset"
    assert first["before"] == ROUTED
    assert first["number_sid"] == PN_A


def test_get_by_id_and_prefix(journal: Journal) -> None:
    journal.path.parent.mkdir(parents=True)
    old = {
        "id": "20250101-000000-0001",
        "time": "2025-01-01T00:00:00+00:00",
        "action": "assign",
        "status": "done",
        "account_sid": ACCOUNT,
    }
    journal.path.write_text(json.dumps(old) + "\n", encoding="utf-8")
    first = change(journal, PN_A, "done")
    second = change(journal, PN_B, "done")

    assert journal.get(first.id) == first
    assert journal.get(f" {second.id} ") == second
    by_prefix = journal.get("2025")
    assert (by_prefix.id, by_prefix.number_sid, by_prefix.before) == (
        "20250101-000000-0001",
        None,
        None,
    )


def test_get_errors(journal: Journal) -> None:
    first = change(journal, PN_A, "done")
    change(journal, PN_B, "done")

    with pytest.raises(NotFound) as missing:
        journal.get("19990101")
    assert missing.value.message == "no journal entry '19990101'"
    assert missing.value.exit_code == ExitCode.NOT_FOUND

    with pytest.raises(UsageError, match=r"matches 2 entries .*; give more of it"):
        journal.get(first.id[:8])
    with pytest.raises(UsageError, match="give a journal entry id"):
        journal.get("  ")


def test_empty_journal(journal: Journal) -> None:
    assert journal.entries() == []
    assert journal.latest_for(PN_A) is None
    with pytest.raises(NotFound):
        journal.get("2026")


def test_latest_for_finds_the_newest_done(journal: Journal) -> None:
    older = change(journal, PN_A, "done")
    change(journal, PN_B, "done")
    change(journal, PN_A, "started")
    change(journal, PN_A, "failed")

    assert journal.latest_for(PN_A) == older
    newer = change(journal, PN_A, "done")
    assert journal.latest_for(PN_A) == newer
    assert journal.latest_for("PN" + "c" * 32) is None


def test_unknown_status_is_a_bug(journal: Journal) -> None:
    with pytest.raises(ValueError, match="journal status must be one of"):
        change(journal, PN_A, "finished")


def test_torn_last_line_is_skipped_and_fenced_off(
    journal: Journal, caplog: pytest.LogCaptureFixture
) -> None:
    first = change(journal, PN_A, "started")
    second = change(journal, PN_A, "done")
    with journal.path.open("ab") as handle:
        handle.write(b'{"id": "20261203-160102-00')  # a write cut off by a kill

    with caplog.at_level(logging.WARNING, logger="meetzy_numbers.store.journal"):
        assert journal.entries() == [second, first]
    assert [r.getMessage() for r in caplog.records] == [
        f"journal {journal.path}: line 3 is incomplete (a write was cut off); skipped"
    ]

    # The next append starts on a line of its own, so it is not lost.
    caplog.clear()
    third = change(journal, PN_B, "done")
    with caplog.at_level(logging.WARNING, logger="meetzy_numbers.store.journal"):
        assert journal.entries() == [third, second, first]
    assert [r.getMessage() for r in caplog.records] == [
        f"journal {journal.path}: line 3 is unreadable; skipped"
    ]


# -- several processes at once ------------------------------------------------

PROCESSES = 4
APPENDS = 25


def _appender(path: str, worker: int) -> None:
    journal = Journal(Path(path))
    for step in range(APPENDS):
        journal.append(
            action="assign",
            status="done",
            account_sid=ACCOUNT,
            number_sid=f"PN{worker:016x}{step:016x}",
            # Long lines make a torn write likelier if locking were wrong.
            detail="x" * 5000,
            run=f"worker-{worker}",
        )


def test_concurrent_appends_all_land_whole(journal: Journal) -> None:
    methods = multiprocessing.get_all_start_methods()
    context: Any = multiprocessing.get_context("fork" if "fork" in methods else "spawn")
    workers = [
        context.Process(target=_appender, args=(str(journal.path), index))
        for index in range(PROCESSES)
    ]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join(timeout=60)
        assert worker.exitcode == 0

    lines = journal.path.read_bytes().split(b"\n")
    assert lines[-1] == b""
    records = [json.loads(line) for line in lines[:-1]]
    assert len(records) == PROCESSES * APPENDS
    ids = [record["id"] for record in records]
    assert len(set(ids)) == len(ids)
    assert ids == sorted(ids)
    entries = journal.entries()
    assert len(entries) == PROCESSES * APPENDS
    for worker in range(PROCESSES):
        mine = [e for e in entries if e.run == f"worker-{worker}"]
        assert len(mine) == APPENDS
