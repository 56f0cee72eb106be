"""The swap command: one number, or every number of a health, for a new one."""

from __future__ import annotations

import sys
from enum import Enum
from typing import Annotated, Any

import typer

from meetzy_numbers.cli.app import Format, Run, abort, command_app, confirm, run_of
from meetzy_numbers.cli.options import (
    AccountOption,
    DryRunOption,
    OutputOption,
    YesOption,
)
from meetzy_numbers.cli.provision import AddressOption, BundleOption
from meetzy_numbers.errors import ExitCode, MeetzyError, NotFound, UsageError
from meetzy_numbers.model.numbers import NumberRecord
from meetzy_numbers.operations import inventory, provision, replacements, swap
from meetzy_numbers.operations.swap import SwapPlan, SwapResult

# Registered lazily by the root command: see LAZY_COMMANDS in cli/app.py.
commands = command_app()


class HealthChoice(str, Enum):
    spam = "spam"
    warning = "warning"


ForceOption = Annotated[
    bool, typer.Option("--force", help="Swap a partial number linked to an agent.")
]
AnyAreaOption = Annotated[
    bool,
    typer.Option(
        "--any-area",
        help="Buy the nearest number when none is for sale in the old area code.",
    ),
]


@commands.command("swap")
def swap_number(
    ctx: typer.Context,
    number: Annotated[
        str | None, typer.Argument(help="The number to replace, or PN….")
    ] = None,
    health: Annotated[
        HealthChoice | None,
        typer.Option("--health", help="Swap every number with this cached health."),
    ] = None,
    agent: Annotated[
        str | None, typer.Option("--agent", help="With --health: only this agent.")
    ] = None,
    buy: Annotated[
        bool, typer.Option("--buy", help="Buy the replacement instead of a free one.")
    ] = False,
    undo: Annotated[
        bool,
        typer.Option("--undo", help="Undo an unfinished swap: unroute its new number."),
    ] = False,
    any_area: AnyAreaOption = False,
    bundle: BundleOption = None,
    address: AddressOption = None,
    account: AccountOption = None,
    force: ForceOption = False,
    yes: YesOption = False,
    dry_run: DryRunOption = False,
    output: OutputOption = Format.table,
) -> None:
    """Move an agent to a new number, then unlink the old one and mark it for return.

    Example: meetzy-numbers swap +34611230105 --yes
    """
    run = run_of(ctx)
    run.output.format = output.value
    context = run.context
    if (number is None) == (health is None):
        raise UsageError("name one number to swap, or use --health spam")
    if agent and health is None:
        raise UsageError("--agent goes with --health")
    papers = None
    if bundle or address:
        papers = provision.paperwork(
            context, bundle_sid=bundle, address_sid=address, agent=None
        )
    accounts = [inventory.resolve_account(context, account)] if account else None
    if number is not None:
        record = inventory.locate(context, number, accounts)
        plan = swap.plan_swap(
            context,
            record,
            force=force,
            buy=buy,
            undo=undo,
            papers=papers,
            any_area=any_area,
        )
        _swap_one(run, plan, undo=undo, yes=yes, dry_run=dry_run)
        return
    assert health is not None
    records = replacements.by_health(
        context, accounts or inventory.list_accounts(context), health.value, agent
    )
    _swap_many(
        run,
        records,
        force=force,
        buy=buy,
        papers=papers,
        yes=yes,
        dry_run=dry_run,
        any_area=any_area,
    )


def _at_terminal() -> bool:
    return sys.stdin.isatty()


def _swap_one(
    run: Run, plan: SwapPlan, *, undo: bool, yes: bool, dry_run: bool
) -> None:
    if plan.resume is None and plan.new is None and plan.buy is None:
        if dry_run:
            _show_plans(run, [plan], dry_run=True)
            return
        _agree_to_buy(run, plan, yes=yes)
        plan = swap.plan_swap(
            run.context,
            plan.old,
            buy=True,
            force=True,
            papers=plan.papers,
            any_area=plan.any_area,
        )
    if not dry_run and not _outside_area_accepted(plan, yes=yes):
        abort(run)
    _show_plans(run, [plan], undo=undo, dry_run=dry_run)
    if dry_run:
        return
    confirm(run, _question(plan, undo=undo), yes=yes)
    _report_swaps(run, [swap.execute(run.context, plan, undo=undo)])


def _agree_to_buy(run: Run, plan: SwapPlan, *, yes: bool) -> None:
    """No free number: buying one costs money, so it takes --buy or a yes typed."""
    where = plan.account.label()
    if yes or not _at_terminal():
        raise UsageError(
            f"{where} has no free number to replace {plan.old.phone_number}",
            hint="pass --buy to buy one",
        )
    confirm(
        run,
        f"{where} has no free number to replace {plan.old.phone_number}. Buy one?",
        yes=False,
    )


def _outside_area_accepted(plan: SwapPlan, *, yes: bool) -> bool:
    """Whether to buy a number outside the old area code: --any-area, or a yes
    typed at a terminal. With --yes alone, or no terminal to ask on, the swap
    is refused: --yes agrees to the swap, not to a number from elsewhere."""
    if not plan.needs_area_consent:
        return True
    if yes or not _at_terminal():
        raise swap.area_refusal(plan)
    try:
        plan.any_area = typer.confirm(
            f"No number for sale in area code {plan.outside_area}: buy "
            f"{plan.new_number}, the nearest, to replace {plan.old.phone_number}?",
            default=False,
            err=True,
        )
    except typer.Abort:  # Ctrl-C at the prompt
        raise KeyboardInterrupt from None
    return plan.any_area


def _question(plan: SwapPlan, *, undo: bool) -> str:
    old, new = plan.old.phone_number, plan.new_number
    if plan.resume is not None and undo:
        return f"Undo the unfinished swap: take agent {plan.agent} off {new}?"
    if plan.resume is not None:
        return f"Finish the swap: unlink {old} from {plan.agent} and mark it?"
    bought = " (bought now)" if plan.buy else ""
    return f"Swap {old} -> {new}{bought} for agent {plan.agent}?"


def _swap_many(
    run: Run,
    records: list[NumberRecord],
    *,
    force: bool,
    buy: bool,
    papers: provision.Paperwork | None,
    yes: bool,
    dry_run: bool,
    any_area: bool,
) -> None:
    if not records:
        if run.output.format == "json":
            run.output.document([])
        run.output.message("no numbers with that health: nothing to swap")
        return
    plans: list[SwapPlan] = []
    results: list[SwapResult] = []
    taken: set[str] = set()
    for record in records:
        try:
            plan = swap.plan_swap(
                run.context,
                record,
                force=force,
                buy=buy,
                papers=papers,
                taken=taken,
                any_area=any_area,
            )
        except MeetzyError as error:
            results.append(
                SwapResult(record, "failed", detail=error.message, error=error)
            )
            continue
        if not dry_run and not _area_agreed_in_bulk(plan, yes=yes, results=results):
            continue
        if plan.new is not None:
            taken.add(plan.new.sid)
        if plan.resume or plan.new or plan.buy:
            plans.append(plan)
        else:
            results.append(_no_replacement(plan))
    _show_plans(run, plans, dry_run=dry_run, refused=results)
    if dry_run:
        return
    if plans:
        confirm(run, f"Swap {len(plans)} numbers?", yes=yes)
    with run.output.progress(len(plans), f"swap {len(plans)} numbers") as tick:
        for plan in plans:
            results.append(swap.execute(run.context, plan))
            tick()
    _report_swaps(run, results, bulk=True)


def _area_agreed_in_bulk(
    plan: SwapPlan, *, yes: bool, results: list[SwapResult]
) -> bool:
    """A purchase outside the area code nobody agreed to is a failed item."""
    try:
        if _outside_area_accepted(plan, yes=yes):
            return True
        error: MeetzyError = swap.area_refusal(plan)
    except MeetzyError as refused:
        error = refused
    failed = SwapResult(plan.old, "failed", None, plan.agent, plan.account)
    failed.detail, failed.error = error.message, error
    results.append(failed)
    return False


def _no_replacement(plan: SwapPlan) -> SwapResult:
    error = NotFound(
        f"{plan.account.label()} has no free number to replace {plan.old.phone_number}",
        hint="pass --buy to buy replacements",
    )
    return SwapResult(
        plan.old,
        "failed",
        agent=plan.agent,
        account=plan.account,
        detail="no free number in the account (pass --buy)",
        error=error,
    )


def _plan_row(plan: SwapPlan, *, undo: bool) -> dict[str, Any]:
    if plan.resume is not None:
        step = "undo: unroute new" if undo else "finish: unlink and mark old"
    elif plan.buy is not None:
        step = "buy new, route it, unlink and mark old"
    elif plan.new is not None:
        step = "route new, unlink and mark old"
    else:
        step = "none: no free number (pass --buy)"
    return {
        "old": plan.old.phone_number,
        "new": plan.new_number,
        "agent": plan.agent,
        "account": plan.account.name or plan.account.sid,
        "plan": step,
        "note": plan.note,
        "outcome": "planned",
    }


def _refused_row(result: SwapResult) -> dict[str, Any]:
    return {
        "old": result.old.phone_number,
        "new": None,
        "agent": result.agent or result.old.agent,
        "account": result.old.account_name,
        "plan": "refused",
        "note": result.detail,
        "outcome": "planned",
    }


def _show_plans(
    run: Run,
    plans: list[SwapPlan],
    *,
    undo: bool = False,
    dry_run: bool,
    refused: list[SwapResult] | None = None,
) -> None:
    """The proposal; in JSON or CSV only for a dry run, where it is the output.

    Numbers a dry run would refuse are rows of the plan; a real run reports
    them with the results.
    """
    if run.output.format != "table" and not dry_run:
        return
    rows = [_plan_row(p, undo=undo) for p in plans]
    if dry_run:
        rows += [_refused_row(r) for r in refused or []]
    if rows:
        run.output.records(
            rows,
            [
                ("old", "old"),
                ("new", "new"),
                ("agent", "agent"),
                ("account", "account"),
                ("plan", "plan"),
                ("note", "note"),
            ],
        )
    if dry_run:
        planned = f"{len(plans)} swap{'' if len(plans) == 1 else 's'} planned"
        run.output.message(f"dry run: {planned}, nothing changed")


def _result_row(result: SwapResult) -> dict[str, Any]:
    account = result.account
    return {
        "old": result.old.phone_number,
        "new": result.new.phone_number if result.new else None,
        "agent": result.agent,
        "account": (account.name or account.sid) if account else None,
        "outcome": result.outcome,
        "journal_id": result.journal_id,
        "old_sid": result.old.sid,
        "new_sid": result.new.sid if result.new else None,
        "detail": result.detail,
    }


def _report_swaps(run: Run, results: list[SwapResult], *, bulk: bool = False) -> None:
    """Print what happened and exit with the code the outcomes add up to.

    One swap in JSON is one object; ``--health`` always gives a list.
    """
    output = run.output
    rows = [_result_row(r) for r in results]
    if output.format == "json" and not bulk:
        output.document(rows[0])
    elif results and (output.format != "table" or bulk):
        output.records(
            rows,
            [
                ("old", "old"),
                ("new", "new"),
                ("agent", "agent"),
                ("outcome", "outcome"),
                ("detail", "detail"),
            ],
            styles={"outcome:failed": "red", "outcome:swapped": "green"},
        )
    one = len(results) == 1
    for result in results:
        if result.outcome == "failed":
            hint = result.error.hint if result.error and one else None
            output.error(f"{result.old.phone_number}: {result.detail}", hint)
        else:
            output.message(_said(result))
    failed = [r for r in results if r.outcome == "failed"]
    if bulk:
        output.message(f"swap: {len(results) - len(failed)} done, {len(failed)} failed")
    if failed:
        # As for every bulk command: all failed for one reason gives that
        # reason's code; anything done, or mixed reasons, gives 3.
        codes = {r.error.exit_code if r.error else ExitCode.FAILED for r in failed}
        code = codes.pop() if len(failed) == len(results) and len(codes) == 1 else None
        raise typer.Exit(int(code if code is not None else ExitCode.PARTIAL))


def _said(result: SwapResult) -> str:
    old = result.old.phone_number
    new = result.new.phone_number if result.new else "?"
    if result.outcome == "undone":
        return (
            f"undid the unfinished swap: {new} is no longer routed to "
            f"{result.agent}; {old} keeps it"
        )
    finished = "finished the earlier swap: " if result.outcome == "finished" else ""
    return (
        f"{finished}agent {result.agent} now answers on {new}; {old} is unlinked "
        f"and marked for return"
    )
