"""Phone health and the number to call from: health, pick."""

from __future__ import annotations

import sys
from collections import Counter
from typing import Annotated, Any

import typer

from meetzy_numbers.cli.app import Format, command_app, run_of
from meetzy_numbers.cli.options import AccountOption, AllOption, OutputOption
from meetzy_numbers.errors import ExitCode
from meetzy_numbers.model.health import HealthStatus
from meetzy_numbers.model.numbers import NumberRecord
from meetzy_numbers.operations import health as operations
from meetzy_numbers.render import HEALTH_STYLES

# Registered lazily by the root command: see LAZY_COMMANDS in cli/app.py.
commands = command_app()

HEALTH_COLUMNS: list[tuple[str, str]] = [
    ("phone_number", "number"),
    ("account_name", "account"),
    ("agent", "agent"),
    ("health", "health"),
    ("answered_pct", "answered"),
    ("short_pct", "short"),
    ("calls", "calls"),
]
PICK_COLUMNS: list[tuple[str, str]] = [
    ("rank", "#"),
    ("phone_number", "number"),
    ("account_name", "account"),
    ("health", "health"),
    ("reason", "why"),
]


@commands.command()
def health(
    ctx: typer.Context,
    numbers: Annotated[
        list[str] | None,
        typer.Argument(help="Numbers in any writing, PN…, or - for stdin."),
    ] = None,
    account: AccountOption = None,
    all_accounts: AllOption = False,
    days: Annotated[
        int | None,
        typer.Option(
            "--days", help="Window of calls to read (default: health.window_days)."
        ),
    ] = None,
    output: OutputOption = Format.table,
) -> None:
    """Phone health from outbound calls: answer rate and short-call share.

    Example: meetzy-numbers health -A --days 14
    """
    run = run_of(ctx)
    run.output.format = output.value
    report = operations.check_health(
        run.context,
        numbers or [],
        account_ref=account,
        all_accounts=all_accounts,
        days=days,
        stdin=sys.stdin,
    )
    for skipped in report.skipped:
        run.output.message(
            f"skipped {skipped.phone_number}: a caller ID, not a Twilio number"
        )
    records = sorted(
        report.records, key=lambda r: (r.account_name.lower(), r.phone_number)
    )
    rows = [health_row(r) for r in records]
    if output is Format.table and not rows:
        return  # only caller IDs were named, and each got its note
    if output is Format.table:
        for row in rows:
            row["answered_pct"] = _percent(row["answer_rate"])
            row["short_pct"] = _percent(row["short_share"])
    run.output.records(
        rows,
        HEALTH_COLUMNS,
        footer=_footer(records, report.window_days),
        styles=_styles(),
    )
    for text in report.missing:
        run.output.warning(f"{text} is not a number in any account")
    for sid, error in report.failures.items():
        run.output.warning(f"skipped {sid}: {error.message}")
    if report.missing and not report.records:
        raise typer.Exit(int(ExitCode.NOT_FOUND))
    if report.missing or report.failures:
        raise typer.Exit(int(ExitCode.PARTIAL))


def health_row(record: NumberRecord) -> dict[str, Any]:
    """One number's health record; JSON and CSV keep the rates as fractions."""
    result = record.health or {}
    status = result.get("status") or HealthStatus.UNKNOWN.value
    return {
        "phone_number": record.phone_number,
        "sid": record.sid,
        "account_sid": record.account_sid,
        "account_name": record.account_name,
        "agent": record.agent,
        "health": status,
        "answer_rate": result.get("answer_rate"),
        "short_share": result.get("short_share"),
        "calls": result.get("calls", 0),
        "answered": result.get("answered", 0),
        "window_days": result.get("window_days"),
        "computed_at": result.get("computed_at"),
    }


def _percent(value: float | None) -> str:
    return "" if value is None else f"{value:.0%}"


def _footer(records: list[NumberRecord], window_days: int) -> str:
    counts = Counter((r.health or {}).get("status") for r in records)
    parts = [f"{counts.get(s.value, 0)} {s.value}" for s in HealthStatus]
    plural = "s" if len(records) != 1 else ""
    return (
        f"{len(records)} number{plural}, outbound calls of the last "
        f"{window_days} days: " + " · ".join(parts)
    )


def _styles() -> dict[str, str]:
    return {f"health:{word}": style for word, style in HEALTH_STYLES.items()}


@commands.command()
def pick(
    ctx: typer.Context,
    agent: Annotated[
        str, typer.Option("--agent", help="The agent that will place the call.")
    ],
    to: Annotated[
        str | None,
        typer.Option("--to", help="The number to call, to prefer its country."),
    ] = None,
    output: OutputOption = Format.table,
) -> None:
    """The number an agent should call from: best health, then country, area code.

    Example: meetzy-numbers pick --agent sales-es --to "+34 91 123 45 67"
    """
    run = run_of(ctx)
    run.output.format = output.value
    result = operations.pick(run.context, agent, to)
    for sid, error in result.failures.items():
        run.output.warning(f"skipped {sid}: {error.message}")
    if output is Format.table:
        best = result.ranking[0]
        # The number alone on stdout, so that scripts can use it as it is.
        print(best.record.phone_number, file=run.output.out)
        others = len(result.ranking) - 1
        rest = f"; {others} more ranked below (-o json)" if others else ""
        run.output.message(
            f"{best.record.phone_number} for {agent}: {best.reason}{rest}"
        )
        return
    rows = [choice.to_dict() for choice in result.ranking]
    run.output.records(rows, PICK_COLUMNS, styles=_styles())
