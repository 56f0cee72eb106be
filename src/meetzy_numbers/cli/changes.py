"""Commands that change numbers: assign, disconnect, reset, return."""

from __future__ import annotations

import sys
from typing import Annotated

import typer

from meetzy_numbers.cli.app import (
    Format,
    Run,
    command_app,
    confirm,
    confirm_typed,
    run_of,
)
from meetzy_numbers.cli.bulk import plan_one, plan_row, report, run_all, show_plan
from meetzy_numbers.cli.options import (
    AccountOption,
    AllOption,
    DryRunOption,
    ForceOption,
    OutputOption,
    YesOption,
)
from meetzy_numbers.errors import NotFound, UsageError
from meetzy_numbers.model.health import HealthStatus
from meetzy_numbers.model.numbers import NumberRecord, State
from meetzy_numbers.operations import changes
from meetzy_numbers.operations.changes import ChangeResult, Outcome, Planner
from meetzy_numbers.operations.select import Selection, Selector, parse_age, select

# Registered lazily by the root command: see LAZY_COMMANDS in cli/app.py.
commands = command_app()

NumbersArgument = Annotated[
    list[str] | None,
    typer.Argument(help="Numbers in any writing, PN… SIDs, or - to read stdin."),
]
MarkedOption = Annotated[
    bool, typer.Option("--marked", help="Numbers marked for return.")
]
OlderThanOption = Annotated[
    str | None,
    typer.Option(
        "--older-than", help="With --marked: marked at least this long ago (7d, 2w)."
    ),
]
StateOption = Annotated[
    list[State] | None, typer.Option("--state", help="Numbers in this state.")
]
HealthSelectOption = Annotated[
    str | None,
    typer.Option("--health", help="Numbers with this cached health (spam, warning…)."),
]
AgentSelectOption = Annotated[
    str | None, typer.Option("--agent", help="Numbers of this agent.")
]


@commands.command()
def assign(
    ctx: typer.Context,
    targets: Annotated[
        list[str], typer.Argument(help="NUMBER… AGENT: numbers, then the agent id.")
    ],
    force: ForceOption = False,
    dry_run: DryRunOption = False,
    output: OutputOption = Format.table,
) -> None:
    """Route unassigned numbers to an agent and label them.

    Example: meetzy-numbers assign +14155550134 sales-es
    """
    run = run_of(ctx)
    run.output.format = output.value
    if len(targets) < 2:
        raise UsageError("give a number and an agent: assign NUMBER… AGENT")
    *refs, agent = targets
    planner = changes.plan_assign(run.context, agent, force=force)
    selection = _select(run, refs, Selector())
    _execute(run, "assign", selection, planner, dry_run=dry_run, suffix=f" to {agent}")


@commands.command()
def disconnect(
    ctx: typer.Context,
    numbers: NumbersArgument = None,
    agent: AgentSelectOption = None,
    health: HealthSelectOption = None,
    account: AccountOption = None,
    force: ForceOption = False,
    yes: YesOption = False,
    dry_run: DryRunOption = False,
    output: OutputOption = Format.table,
) -> None:
    """Unlink numbers from their agent without replacing them.

    Example: meetzy-numbers disconnect +34612345678 --yes
    """
    run = run_of(ctx)
    run.output.format = output.value
    selector = Selector(agent=agent, health=_health(health))
    selection = _select(run, numbers or [], selector, account=account)
    planner = changes.plan_disconnect(run.context, force=force)
    _execute(run, "disconnect", selection, planner, dry_run=dry_run, yes=yes)


@commands.command()
def reset(
    ctx: typer.Context,
    numbers: NumbersArgument = None,
    marked: MarkedOption = False,
    older_than: OlderThanOption = None,
    state: StateOption = None,
    agent: AgentSelectOption = None,
    health: HealthSelectOption = None,
    account: AccountOption = None,
    all_accounts: AllOption = False,
    yes: YesOption = False,
    dry_run: DryRunOption = False,
    output: OutputOption = Format.table,
) -> None:
    """Clear every routing field and the return mark; numbers stay in the account.

    Example: meetzy-numbers reset +14155550123 +14155550124 --yes
    """
    run = run_of(ctx)
    run.output.format = output.value
    selector = Selector(
        marked=marked,
        older_than=parse_age(older_than) if older_than else None,
        states=state,
        agent=agent,
        health=_health(health),
    )
    selection = _select(run, numbers or [], selector, account, all_accounts)
    _execute(run, "reset", selection, changes.plan_reset(), dry_run=dry_run, yes=yes)


@commands.command("return")
def return_numbers(
    ctx: typer.Context,
    numbers: NumbersArgument = None,
    marked: MarkedOption = False,
    older_than: OlderThanOption = None,
    account: AccountOption = None,
    force: ForceOption = False,
    yes: YesOption = False,
    dry_run: DryRunOption = False,
    output: OutputOption = Format.table,
) -> None:
    """Release numbers to Twilio. Irreversible: asks for the number to be typed.

    Example: meetzy-numbers return --marked --older-than 7d --yes
    """
    run = run_of(ctx)
    run.output.format = output.value
    selector = Selector(
        marked=marked, older_than=parse_age(older_than) if older_than else None
    )
    selection = _select(run, numbers or [], selector, account)
    records = selection.records
    gone = [
        ChangeResult(
            "return", _placeholder(text), Outcome.SKIPPED, "not in any account"
        )
        for text in selection.missing
    ]
    if dry_run:
        rows = [plan_row("return", r, "release to Twilio", None) for r in records]
        show_plan(run, rows)
        return
    if not records:
        report(run, "return", gone)
        return
    _confirm_release(run, records, yes=yes)
    ident = changes.new_run_id()
    results = run_all(
        run,
        "return",
        records,
        lambda r: changes.release(run.context, r, force=force, run=ident),
    )
    report(run, "return", gone + results)


def _confirm_release(run: Run, records: list[NumberRecord], *, yes: bool) -> None:
    if len(records) == 1:
        number = records[0].phone_number
        confirm_typed(
            run, f"Return {number} to Twilio? This cannot be undone.", number, yes=yes
        )
        return
    accounts = sorted({r.account_name for r in records})
    confirm_typed(
        run,
        f"Return {len(records)} numbers from {', '.join(accounts)} to Twilio? "
        "This cannot be undone.",
        str(len(records)),
        yes=yes,
    )


# Shared machinery


HEALTH_WORDS = tuple(status.value for status in HealthStatus)


def _health(word: str | None) -> str | None:
    if word is None:
        return None
    if word not in HEALTH_WORDS:
        raise UsageError(
            f"--health takes one of {', '.join(HEALTH_WORDS)}, not {word!r}"
        )
    return word


def _select(
    run: Run,
    refs: list[str],
    selector: Selector,
    account: str | None = None,
    all_accounts: bool = False,
) -> Selection:
    return select(
        run.context,
        refs,
        selector,
        account_ref=account,
        all_accounts=all_accounts,
        stdin=sys.stdin,
    )


def _where(selection: Selection) -> str:
    """Where the numbers were looked for: one account by name, or all."""
    if len(selection.accounts) == 1:
        return selection.accounts[0].name or selection.accounts[0].sid
    return "any account"


def _placeholder(text: str) -> NumberRecord:
    from meetzy_numbers.model.numbers import Kind

    return NumberRecord(
        sid="", phone_number=text, kind=Kind.TWILIO, account_sid="", account_name=""
    )


def _execute(
    run: Run,
    action: str,
    selection: Selection,
    planner: Planner,
    *,
    dry_run: bool,
    yes: bool = True,
    suffix: str = "",
) -> None:
    where = _where(selection)
    missing = [
        ChangeResult(
            action,
            _placeholder(text),
            Outcome.FAILED,
            f"not in {where}",
            error=NotFound(f"{text} is not a number in {where}"),
        )
        for text in selection.missing
    ]
    records = selection.records
    if dry_run:
        show_plan(run, [plan_one(action, planner, r) for r in records])
        report(run, action, missing, quiet_success=True)
        return
    if records and not yes:
        accounts = sorted({r.account_name for r in records})
        what = (
            records[0].phone_number if len(records) == 1 else f"{len(records)} numbers"
        )
        confirm(run, f"{action.capitalize()} {what} in {', '.join(accounts)}?", yes=yes)
    ident = changes.new_run_id()
    results = run_all(
        run,
        action,
        records,
        lambda r: changes.apply_update(run.context, action, r, planner, ident),
    )
    report(run, action, missing + results, suffix=suffix)
