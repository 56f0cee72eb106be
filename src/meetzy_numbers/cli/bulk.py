"""What every command that changes numbers prints: the plan of a dry run,
the result of each number, the summary, and the exit code they add up to."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import typer

from meetzy_numbers.cli.app import Run
from meetzy_numbers.errors import ExitCode, MeetzyError
from meetzy_numbers.model.numbers import NumberRecord
from meetzy_numbers.operations import changes
from meetzy_numbers.operations.changes import ChangeResult, Outcome, Planner


def run_all(
    run: Run,
    action: str,
    records: list[NumberRecord],
    one: Callable[[NumberRecord], ChangeResult],
) -> list[ChangeResult]:
    with run.output.progress(len(records), f"{action} {len(records)} numbers") as tick:
        return changes.run_many(run.context, records, one, lambda _: tick())


def plan_one(action: str, planner: Planner, record: NumberRecord) -> dict[str, Any]:
    try:
        update, reason = planner(record)
    except MeetzyError as error:
        return plan_row(action, record, None, f"refused: {error.message}")
    if update is None:
        return plan_row(action, record, None, f"skip: {reason}")
    return plan_row(action, record, describe_change(record, update), None)


def describe_change(record: NumberRecord, update: dict[str, str]) -> str:
    parts = []
    for name, value in update.items():
        old = (
            record.routing.get(name)
            if name != "friendly_name"
            else record.friendly_name
        )
        if (old or "") == value:
            continue
        parts.append(f"{name}: {old or '-'} -> {value or '-'}")
    return "; ".join(parts) or "nothing"


def plan_row(
    action: str, record: NumberRecord, change: str | None, note: str | None
) -> dict[str, Any]:
    return {
        "action": action,
        "phone_number": record.phone_number,
        "sid": record.sid,
        "account_sid": record.account_sid,
        "account_name": record.account_name,
        "state": record.state.value if record.state else None,
        "agent": record.agent,
        "change": change,
        "note": note,
    }


def show_plan(run: Run, rows: list[dict[str, Any]]) -> None:
    run.output.records(
        rows,
        [
            ("phone_number", "number"),
            ("account_name", "account"),
            ("state", "state"),
            ("change", "would change"),
            ("note", "note"),
        ],
    )
    count = f"{len(rows)} number{'' if len(rows) == 1 else 's'}"
    run.output.message(f"dry run: {count}, nothing changed")


def result_row(result: ChangeResult) -> dict[str, Any]:
    record = result.record
    return {
        "action": result.action,
        "phone_number": record.phone_number,
        "sid": record.sid or None,
        "account_sid": record.account_sid or None,
        "account_name": record.account_name or None,
        "outcome": result.outcome.value,
        "detail": result.detail,
        "state": record.state.value if record.state else None,
        "agent": record.agent,
        "journal_id": result.journal_id,
    }


PAST = {
    "assign": "assigned",
    "disconnect": "disconnected",
    "reset": "reset",
    "return": "returned",
}


def report(
    run: Run,
    action: str,
    results: list[ChangeResult],
    *,
    quiet_success: bool = False,
    suffix: str = "",
) -> None:
    """Print what happened and exit with the code the outcomes add up to."""
    output = run.output
    done = [r for r in results if r.outcome is Outcome.DONE]
    skipped = [r for r in results if r.outcome is Outcome.SKIPPED]
    failed = [r for r in results if r.outcome is Outcome.FAILED]

    wanted = output.format != "table" or len(results) > 1
    if wanted and not (quiet_success and not results):
        output.records(
            [result_row(r) for r in results],
            [
                ("phone_number", "number"),
                ("account_name", "account"),
                ("outcome", "outcome"),
                ("detail", "detail"),
            ],
            styles={
                "outcome:done": "green",
                "outcome:skipped": "bright_black",
                "outcome:failed": "red",
            },
        )
    for result in done:
        if len(results) == 1:
            output.message(f"{PAST[action]} {result.record.phone_number}{suffix}")
    for result in skipped:
        if len(results) == 1:
            output.message(
                f"nothing to do for {result.record.phone_number}: {result.detail}"
            )
    for result in failed:
        hint = result.error.hint if result.error and len(results) == 1 else None
        output.error(f"{result.record.phone_number}: {result.detail}", hint)
    if len(results) > 1:
        output.message(
            f"{action}: {len(done)} done, {len(skipped)} skipped, {len(failed)} failed"
        )
    raise typer.Exit(int(exit_code_for(results)))


def exit_code_for(results: list[ChangeResult]) -> ExitCode:
    failed = [r for r in results if r.outcome is Outcome.FAILED]
    if not failed:
        return ExitCode.OK
    if len(failed) < len(results):
        return ExitCode.PARTIAL
    codes = {r.error.exit_code if r.error else ExitCode.FAILED for r in failed}
    return codes.pop() if len(codes) == 1 else ExitCode.PARTIAL
