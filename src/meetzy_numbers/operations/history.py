"""The journal read back as changes, and undoing one.

The journal holds lines: ``started`` before Twilio is touched, then ``done``
or ``failed`` pointing back with ``ref``. A change is those lines folded into
one, named by its first line's id. Undo sets a number's routing back to what
the change found (``before``), but only while the number still has what the
change left (``after``): anything else means someone changed it since, and
undoing would throw that away.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from meetzy_numbers.errors import NotFound, Refused
from meetzy_numbers.model.numbers import (
    ROUTING_FIELDS,
    Kind,
    NumberRecord,
    is_set,
)
from meetzy_numbers.operations.changes import (
    ChangeResult,
    Outcome,
    Planner,
    apply_update,
    new_run_id,
    snapshot,
)
from meetzy_numbers.operations.context import Context
from meetzy_numbers.operations.inventory import account_of, parse_reference, refreshed
from meetzy_numbers.store.journal import JournalEntry

UNFINISHED = "unfinished"
# Changes whose lines share a run and are undone together.
GROUPED = frozenset({"swap", "undo"})
UNDOABLE = frozenset({"assign", "disconnect", "reset"}) | GROUPED
COMPARED = (*ROUTING_FIELDS, "friendly_name")


@dataclass
class Change:
    id: str
    time: datetime
    action: str
    outcome: str
    account_sid: str
    number_sid: str | None
    phone_number: str | None
    before: dict[str, Any] | None
    after: dict[str, Any] | None
    detail: str | None = None
    run: str | None = None
    lines: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "time": self.time.isoformat(),
            "action": self.action,
            "outcome": self.outcome,
            "account_sid": self.account_sid,
            "number_sid": self.number_sid,
            "phone_number": self.phone_number,
            "before": self.before,
            "after": self.after,
            "detail": self.detail,
            "run": self.run,
            "lines": self.lines,
        }


def fold(entries: list[JournalEntry]) -> list[Change]:
    """Journal lines (newest first, as the journal gives them) as changes.

    A closing line joins the change its ``ref`` names. One that reports
    another number (a swap's second number) is a change of its own when it
    is done; when it failed, the change it belongs to failed.
    """
    changes: dict[str, Change] = {}
    for line in reversed(entries):
        parent = changes.get(line.ref) if line.ref else None
        if parent is not None and not (
            _other_number(parent, line) and line.status == "done"
        ):
            _close(parent, line)
        else:
            changes[line.id] = _opened(line)
    return sorted(changes.values(), key=lambda change: change.id, reverse=True)


def _opened(line: JournalEntry) -> Change:
    return Change(
        id=line.id,
        time=line.time,
        action=line.action,
        outcome=UNFINISHED if line.status == "started" else line.status,
        account_sid=line.account_sid,
        number_sid=line.number_sid,
        phone_number=line.phone_number,
        before=line.before,
        after=line.after,
        detail=line.detail,
        run=line.run,
        lines=[line.id],
    )


def _other_number(change: Change, line: JournalEntry) -> bool:
    return bool(line.number_sid and change.number_sid) and (
        line.number_sid != change.number_sid
    )


def _close(change: Change, line: JournalEntry) -> None:
    change.outcome = line.status
    change.lines.append(line.id)
    change.detail = line.detail or change.detail
    if line.status == "done" and not _other_number(change, line):
        change.number_sid = change.number_sid or line.number_sid
        change.before = line.before if line.before is not None else change.before
        change.after = line.after


def history(
    ctx: Context,
    number: str | None = None,
    *,
    action: str | None = None,
    limit: int | None = None,
) -> list[Change]:
    """The journal's changes, newest first, filtered."""
    changes = fold(ctx.journal.entries())
    if number is not None:
        kind, value = parse_reference(number)
        wanted = "number_sid" if kind == "sid" else "phone_number"
        changes = [c for c in changes if getattr(c, wanted) == value]
    if action is not None:
        changes = [c for c in changes if c.action == action]
    return changes[:limit] if limit is not None else changes


def find_change(ctx: Context, change_id: str) -> Change:
    """The change a journal id (or the unique start of one) belongs to."""
    line = ctx.journal.get(change_id)
    for change in fold(ctx.journal.entries()):
        if line.id in change.lines:
            return change
    raise NotFound(f"no journal entry {change_id!r}")  # pragma: no cover


def differences(old: dict[str, Any] | None, new: dict[str, Any] | None) -> list[str]:
    """The routing fields and friendly name that differ; unset equals unset."""
    old, new = old or {}, new or {}
    return [name for name in COMPARED if _value(old.get(name)) != _value(new.get(name))]


def _value(value: object) -> str:
    return str(value) if is_set(value) else ""


# Undo


@dataclass
class UndoStep:
    change: Change
    record: NumberRecord
    updates: dict[str, str]


@dataclass
class UndoPlan:
    change: Change
    steps: list[UndoStep]


def prepare_undo(ctx: Context, change_id: str, *, force: bool) -> UndoPlan:
    """Check the change can be undone and each number is as it left it."""
    change = find_change(ctx, change_id)
    parts = _parts(ctx, change)
    _check_undoable(change, parts)
    steps = []
    for part in parts:
        record = _placeholder(part)
        try:
            live = refreshed(ctx, record, account_of(ctx, record))
        except NotFound:
            raise NotFound(
                f"{part.phone_number} is no longer in its account "
                f"({part.account_sid}); there is nothing to restore"
            ) from None
        _check_unchanged(part, live, force=force)
        steps.append(UndoStep(part, live, restoring(live, part.before)))
    return UndoPlan(change, steps)


def _check_undoable(change: Change, parts: list[Change]) -> None:
    if change.action == "return":
        raise Refused(
            "a returned number is released to Twilio and cannot be brought back "
            "by the tool"
        )
    if change.action not in UNDOABLE:
        raise Refused(f"{change.action} changes cannot be undone by the tool")
    if parts:
        return
    if change.outcome == "failed":
        raise Refused(
            f"{change.id} ({change.action} of {change.phone_number}) failed, so "
            f"it changed nothing and there is nothing to undo"
        )
    if change.outcome == UNFINISHED:
        raise Refused(
            f"{change.id} ({change.action} of {change.phone_number}) never "
            "finished, so what it left is unknown",
            hint=f"check the number with: meetzy-numbers show {change.phone_number}",
        )


def _parts(ctx: Context, change: Change) -> list[Change]:
    """The finished changes one undo restores, latest first.

    A swap changes two numbers in one run, and a half-done swap only one:
    undoing any of its entries restores whatever the run did change.
    """
    if change.action not in GROUPED or not change.run:
        return [change] if change.outcome == "done" else []
    parts = [
        other
        for other in fold(ctx.journal.entries())
        if other.run == change.run
        and other.action == change.action
        and other.outcome == "done"
    ]
    # Undone in the reverse order of finishing: a swap's old number gets its
    # agent back before the new one lets it go.
    return sorted(parts, key=lambda part: part.lines[-1], reverse=True)


def _placeholder(change: Change) -> NumberRecord:
    return NumberRecord(
        sid=change.number_sid or "",
        phone_number=change.phone_number or "",
        kind=Kind.TWILIO,
        account_sid=change.account_sid,
        account_name="",
    )


def _check_unchanged(change: Change, live: NumberRecord, *, force: bool) -> None:
    now = snapshot(live)
    changed = differences(change.after, now)
    # Already back as before (undone twice): nothing to overwrite, nothing to do.
    if changed and differences(change.before, now) and not force:
        raise Refused(
            f"{live.phone_number} has changed since {change.id} "
            f"({', '.join(changed)} differ); undoing would overwrite that",
            hint="pass --force to restore the old routing anyway",
        )


def restoring(live: NumberRecord, before: dict[str, Any] | None) -> dict[str, str]:
    """The update that sets every differing field back to ``before``.

    Unset fields are cleared with an empty string. A method or friendly name
    that was unset is left alone: Twilio has no "unset" for them.
    """
    old = before or {}
    updates: dict[str, str] = {}
    for name in differences(old, snapshot(live)):
        value = _value(old.get(name))
        if not value and (name.endswith("_method") or name == "friendly_name"):
            continue
        updates[name] = value
    return updates


def undo(ctx: Context, plan: UndoPlan, *, force: bool) -> list[ChangeResult]:
    """Apply the plan one number at a time; stop at the first failure."""
    run = new_run_id()
    results: list[ChangeResult] = []
    for step in plan.steps:
        if results and results[-1].outcome is Outcome.FAILED:
            results.append(
                ChangeResult(
                    "undo", step.record, Outcome.SKIPPED, "not tried after a failure"
                )
            )
            continue
        planner = _planner(step.change, force=force)
        results.append(
            apply_update(
                ctx,
                "undo",
                step.record,
                planner,
                run,
                detail=f"undo of {step.change.id}",
            )
        )
    return results


def _planner(change: Change, *, force: bool) -> Planner:
    """Checked again on the fresh fetch: the number may change after the plan."""

    def plan(live: NumberRecord) -> tuple[dict[str, str] | None, str | None]:
        _check_unchanged(change, live, force=force)
        updates = restoring(live, change.before)
        if not updates:
            return None, "already as before"
        return updates, None

    return plan
