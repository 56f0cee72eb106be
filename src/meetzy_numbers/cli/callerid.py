"""Caller IDs: callerid verify, list, remove."""

from __future__ import annotations

import shlex
from typing import Annotated, Any

import typer

from meetzy_numbers.cli.app import Format, command_app, confirm, group_app, run_of
from meetzy_numbers.cli.options import (
    AccountOption,
    AllOption,
    OutputOption,
    YesOption,
)
from meetzy_numbers.errors import ExitCode
from meetzy_numbers.operations import callerid as operations
from meetzy_numbers.operations import inventory, validations
from meetzy_numbers.render import NUMBER_COLUMNS, number_row, number_styles

# Registered lazily by the root command: see LAZY_COMMANDS in cli/app.py.
commands = command_app()

callerid_app = group_app("Caller IDs: numbers you own, verified for outbound calls.")
commands.add_typer(callerid_app, name="callerid")

NumberArgument = Annotated[
    str, typer.Argument(help="The number in any writing, with its country code.")
]


@callerid_app.command()
def verify(
    ctx: typer.Context,
    number: NumberArgument,
    agent: Annotated[
        str | None,
        typer.Option("--agent", help="Link the caller ID to this agent."),
    ] = None,
    call_delay: Annotated[
        int | None,
        typer.Option(
            "--call-delay", min=0, max=60, help="Seconds before Twilio calls (0-60)."
        ),
    ] = None,
    extension: Annotated[
        str | None,
        typer.Option("--extension", help="Digits to dial after the call connects."),
    ] = None,
    account: AccountOption = None,
    output: OutputOption = Format.table,
) -> None:
    """Start Twilio's validation call and print the code to enter on the phone.

    Example: meetzy-numbers callerid verify "+1 650 555 0199" --agent billing-us
    """
    run = run_of(ctx)
    run.output.format = output.value
    target = inventory.selected_accounts(run.context, account, False)[0]
    started = operations.start_validation(
        run.context,
        target,
        number,
        agent=agent,
        call_delay=call_delay,
        extension=extension,
    )
    if output is Format.json:
        run.output.document(_started_document(started))
        return
    e164 = started.phone_number
    if started.already_verified:
        outcome = f"linked it to {started.agent}" if started.linked else "nothing to do"
        run.output.message(f"{e164} is already verified in {target.label()}; {outcome}")
        return
    run.output.callout("Validation code", started.validation_code or "")
    when = (
        f"will call {e164} in {call_delay} s"
        if call_delay
        else f"is calling {e164} now"
    )
    run.output.message(f"Twilio {when}: answer it and enter the code on the keypad.")
    # Quoted so that an account name with spaces can be pasted as it is.
    run.output.message(
        "Then check with: meetzy-numbers callerid list"
        + (f" -s {shlex.quote(account)}" if account else "")
    )


def _started_document(started: operations.ValidationStarted) -> dict[str, Any]:
    return {
        "phone_number": started.phone_number,
        "account_sid": started.account.sid,
        "call_sid": started.call_sid,
        "validation_code": started.validation_code,
        "status": started.status,
        "agent": started.agent,
        "already_verified": started.already_verified,
    }


@callerid_app.command("list")
def list_caller_ids(
    ctx: typer.Context,
    account: AccountOption = None,
    all_accounts: AllOption = False,
    output: OutputOption = Format.table,
) -> None:
    """Verified, pending and disabled caller IDs, checked against Twilio.

    Example: meetzy-numbers callerid list -A
    """
    run = run_of(ctx)
    run.output.format = output.value
    accounts = inventory.selected_accounts(run.context, account, all_accounts)
    listing = validations.list_caller_ids(run.context, accounts)
    order = {"verified": 0, "pending": 1, "disabled": 2}
    records = sorted(
        listing.records,
        key=lambda r: (
            r.account_name.lower(),
            order.get(r.verification or "", 3),
            r.phone_number,
        ),
    )
    names = {a.id: a.name for a in run.context.config.agents.values()}
    rows = []
    for record in records:
        row = number_row(record, names)
        row["validation_call_sid"] = record.raw.get("call_sid")
        row["validation_started_at"] = record.raw.get("started_at")
        rows.append(row)
    run.output.records(rows, NUMBER_COLUMNS, styles=number_styles())
    for warning in listing.warnings:
        run.output.warning(warning)
    for sid, error in listing.failures.items():
        run.output.warning(f"could not check {sid}: {error.message}")
    if listing.failures:
        raise typer.Exit(int(ExitCode.PARTIAL))


@callerid_app.command()
def remove(
    ctx: typer.Context,
    number: Annotated[
        str, typer.Argument(help="The caller ID: a number in any writing, or PN….")
    ],
    account: AccountOption = None,
    yes: YesOption = False,
) -> None:
    """Delete a caller ID from Twilio, or forget a pending validation.

    Example: meetzy-numbers callerid remove +16505550141 --yes
    """
    run = run_of(ctx)
    accounts = (
        [inventory.resolve_account(run.context, account)]
        if account
        else inventory.list_accounts(run.context)
    )
    target = operations.find_for_removal(run.context, number, accounts)
    where = target.account.name or target.account.sid
    confirm(
        run, f"Remove the {target.what} {target.phone_number} from {where}?", yes=yes
    )
    journal_id = operations.remove(run.context, target)
    run.output.message(
        f"removed the {target.what} {target.phone_number} from {where} "
        f"(journal {journal_id})"
    )
