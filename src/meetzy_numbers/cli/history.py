"""The journal: history, and undo of a change it recorded."""

from __future__ import annotations

from typing import Annotated, Any

import typer

from meetzy_numbers.cli.app import Format, Run, command_app, confirm, run_of
from meetzy_numbers.cli.bulk import exit_code_for
from meetzy_numbers.cli.options import ForceOption, OutputOption, YesOption
from meetzy_numbers.operations.changes import Outcome
from meetzy_numbers.operations.history import (
    Change,
    UndoPlan,
    differences,
    find_change,
    history,
    prepare_undo,
    undo,
)

# Registered lazily by the root command: see LAZY_COMMANDS in cli/app.py.
commands = command_app()

HISTORY_COLUMNS: list[tuple[str, str]] = [
    ("id", "id"),
    ("when", "time"),
    ("action", "action"),
    ("phone_number", "number"),
    ("account", "account"),
    ("outcome", "outcome"),
    ("changed", "what changed"),
]
OUTCOME_STYLES = {
    "outcome:done": "green",
    "outcome:failed": "red",
    "outcome:unfinished": "yellow",
    "changed": "bright_black",
}


@commands.command("history")
def show_history(
    ctx: typer.Context,
    number: Annotated[
        str | None, typer.Argument(help="Only changes to this number (or PN…).")
    ] = None,
    limit: Annotated[
        int, typer.Option("--limit", min=1, help="Show at most this many changes.")
    ] = 50,
    action: Annotated[
        str | None,
        typer.Option("--action", help="Only this action (assign, reset, undo…)."),
    ] = None,
    output: OutputOption = Format.table,
) -> None:
    """The changes the tool made, newest first, with what each changed.

    Example: meetzy-numbers history +34911230104 --limit 5
    """
    run = run_of(ctx)
    run.output.format = output.value
    changes = history(run.context, number, action=action, limit=limit)
    if output is Format.json:
        run.output.document([change.to_dict() for change in changes])
        return
    base = run.context.config.webhook_base
    names = _account_names(run)
    rows = [_history_row(change, names, base) for change in changes]
    run.output.records(rows, HISTORY_COLUMNS, styles=OUTCOME_STYLES)
    if not changes:
        filtered = number is not None or action is not None
        run.output.message(
            "no change in the journal matches" if filtered else "the journal is empty"
        )


def _account_names(run: Run) -> dict[str, str]:
    """Names from the cache, best effort: history must work offline."""
    names: dict[str, str] = {}
    try:
        for sid, _, _ in run.context.cache.entries():
            entry = run.context.cache.load(sid, allow_stale=True)
            if entry is not None and entry.account_name:
                names[sid] = entry.account_name
    except (OSError, ValueError):
        pass
    return names


def _history_row(
    change: Change, names: dict[str, str], webhook_base: str
) -> dict[str, Any]:
    return {
        "id": change.id,
        "when": change.time.strftime("%Y-%m-%d %H:%M:%S UTC"),
        "time": change.time.isoformat(),
        "action": change.action,
        "phone_number": change.phone_number,
        "number_sid": change.number_sid,
        "account": names.get(change.account_sid, change.account_sid),
        "account_sid": change.account_sid,
        "outcome": change.outcome,
        "changed": _what_changed(change, webhook_base),
        "detail": change.detail,
        "run": change.run,
    }


def _what_changed(change: Change, webhook_base: str) -> str:
    if change.outcome == "failed":
        return f"failed: {change.detail or 'no details'}"
    if change.after is None:
        gone = {"return": "released to Twilio", "callerid-remove": "removed"}
        return gone.get(change.action) or change.detail or ""
    fields = differences(change.before, change.after)
    # Methods only qualify their URL; shown when nothing else moved.
    shown = [f for f in fields if not f.endswith("_method")] or fields
    parts = [
        f"{name}: {_short(change.before, name, webhook_base)} → "
        f"{_short(change.after, name, webhook_base)}"
        for name in shown
    ]
    text = "; ".join(parts)
    if change.detail and not text:
        return change.detail
    return f"{text} ({change.detail})" if change.detail and text else text


def _short(values: dict[str, Any] | None, name: str, webhook_base: str) -> str:
    value = (values or {}).get(name)
    if value in (None, ""):
        return "-"
    return str(value)


@commands.command("undo")
def undo_change(
    ctx: typer.Context,
    change_id: Annotated[
        str, typer.Argument(metavar="ID", help="The journal id (its start will do).")
    ],
    yes: YesOption = False,
    force: ForceOption = False,
    output: OutputOption = Format.table,
) -> None:
    """Restore the routing an assign, disconnect, reset or swap changed.

    Example: meetzy-numbers undo 20261203-160102-3fa9
    """
    run = run_of(ctx)
    run.output.format = output.value
    plan = prepare_undo(run.context, change_id, force=force)
    _show_plan(run, plan)
    if any(step.updates for step in plan.steps):
        confirm(run, f"Undo {plan.change.action} {plan.change.id}?", yes=yes)
    results = undo(run.context, plan, force=force)
    if output is not Format.table:
        rows = [
            {
                "undone": plan.change.id,
                "phone_number": r.record.phone_number,
                "sid": r.record.sid,
                "account_sid": r.record.account_sid,
                "outcome": r.outcome.value,
                "detail": r.detail,
                "changes": r.changes,
                "journal_id": r.journal_id,
            }
            for r in results
        ]
        run.output.records(rows, [(key, key) for key in rows[0]] if rows else [])
    for result in results:
        number = result.record.phone_number
        if result.outcome is Outcome.DONE:
            run.output.message(
                f"restored {number} as before {plan.change.id} "
                f"(journal {_change_id(run, result.journal_id)})"
            )
        elif result.outcome is Outcome.SKIPPED:
            run.output.message(f"nothing to do for {number}: {result.detail}")
        else:
            hint = result.error.hint if result.error else None
            run.output.error(f"{number}: {result.detail}", hint)
    raise typer.Exit(int(exit_code_for(results)))


def _change_id(run: Run, line_id: str | None) -> str | None:
    """The id ``history`` shows for the change a journal line belongs to."""
    return find_change(run.context, line_id).id if line_id else None


def _show_plan(run: Run, plan: UndoPlan) -> None:
    base = run.context.config.webhook_base
    for step in plan.steps:
        if not step.updates:
            run.output.message(f"{step.record.phone_number}: already as before")
            continue
        current = {**step.record.routing, "friendly_name": step.record.friendly_name}
        parts = [
            f"{name}: {_short(current, name, base)} → "
            f"{_short(step.updates, name, base)}"
            for name in step.updates
        ]
        run.output.message(f"{step.record.phone_number}: " + "; ".join(parts))
