"""Reading commands: list, show, subaccounts."""

from __future__ import annotations

from collections import Counter
from typing import Annotated, Any

import typer

from meetzy_numbers.cli.app import Format, command_app, run_of
from meetzy_numbers.cli.options import (
    AccountOption,
    AllOption,
    OutputOption,
    RefreshOption,
)
from meetzy_numbers.errors import CredentialsError, ExitCode, NotFound, UsageError
from meetzy_numbers.model.numbers import Kind, State
from meetzy_numbers.model.phone import normalise_country
from meetzy_numbers.operations import inventory
from meetzy_numbers.render import (
    NUMBER_COLUMNS,
    count_footer,
    health_pairs,
    number_row,
    number_styles,
    with_health_column,
)

# Registered lazily by the root command: see LAZY_COMMANDS in cli/app.py.
commands = command_app()


@commands.command("list")
def list_numbers(
    ctx: typer.Context,
    account: AccountOption = None,
    all_accounts: AllOption = False,
    state: Annotated[
        list[State] | None,
        typer.Option("--state", help="Only this state (repeatable)."),
    ] = None,
    kind: Annotated[
        Kind | None, typer.Option("--type", help="twilio or caller-id.")
    ] = None,
    agent: Annotated[
        str | None, typer.Option("--agent", help="Only this agent's numbers.")
    ] = None,
    country: Annotated[
        str | None,
        typer.Option("--country", help="Only this country (US, ES, +44 …)."),
    ] = None,
    refresh: RefreshOption = False,
    output: OutputOption = Format.table,
) -> None:
    """Numbers and caller IDs with their assignment state.

    Example: meetzy-numbers list -A --state partial
    """
    run = run_of(ctx)
    run.context.refresh = refresh
    run.output.format = output.value
    region = normalise_country(country) if country else None

    accounts = inventory.selected_accounts(run.context, account, all_accounts)
    found = inventory.load_inventory(run.context, accounts)
    if found.failures and len(found.failures) == len(accounts):
        raise next(iter(found.failures.values()))  # nothing to show: say why
    records = [
        r
        for r in found.records
        if (kind is None or r.kind is kind)
        and (not state or (r.kind is Kind.TWILIO and r.state in state))
        and (agent is None or r.agent == agent)
        and (region is None or _region(r.phone_number) == region)
    ]
    if agent and agent not in run.context.config.agents and not records:
        raise NotFound(f"no agent {agent!r} in the config, and no number routes to it")
    records.sort(
        key=lambda r: (
            r.account_name.lower(),
            r.kind is not Kind.TWILIO,
            r.phone_number,
        )
    )
    names = {a.id: a.name for a in run.context.config.agents.values()}
    rows = [number_row(r, names) for r in records]
    run.output.records(
        rows,
        with_health_column(NUMBER_COLUMNS, records),
        footer=count_footer(records, len(accounts) - len(found.failures)),
        styles=number_styles(),
    )
    for sid, error in found.failures.items():
        run.output.warning(f"skipped {sid}: {error.message}")
    if found.failures:
        raise typer.Exit(int(ExitCode.PARTIAL))


def _region(e164: str) -> str | None:
    from meetzy_numbers.model.phone import country_of

    region = country_of(e164)
    # +1 numbers of Canada and the US share the plan; --country US finds both.
    return "US" if region == "CA" else region


@commands.command()
def show(
    ctx: typer.Context,
    number: Annotated[str, typer.Argument(help="A number in any writing, or PN….")],
    account: AccountOption = None,
    refresh: RefreshOption = False,
    output: OutputOption = Format.table,
) -> None:
    """One number in full: routing, state and why, agent, health, account.

    Example: meetzy-numbers show "+34 612 34 56 78"
    """
    run = run_of(ctx)
    run.context.refresh = refresh
    run.output.format = output.value
    accounts = [inventory.resolve_account(run.context, account)] if account else None
    record = inventory.locate(run.context, number, accounts)
    names = {a.id: a.name for a in run.context.config.agents.values()}
    row = number_row(record, names)
    if output is not Format.table:
        run.output.records([row], NUMBER_COLUMNS)
        return
    pairs: list[dict[str, Any]] = [
        {"field": key, "value": value}
        for key, value in row.items()
        if key not in ("routing", "capabilities", "badge", "notes")
    ]
    pairs.insert(0, {"field": "badge", "value": row["badge"]})
    pairs = [p for p in pairs if p["field"] != "health"]
    pairs.extend(health_pairs(record.health))
    for key, value in (row["routing"] or {}).items():
        pairs.append({"field": key, "value": value})
    capabilities = row["capabilities"] or {}
    enabled = ", ".join(k for k, v in capabilities.items() if v)
    pairs.append({"field": "capabilities", "value": enabled})
    run.output.records(
        pairs, [("field", "field"), ("value", "value")], styles=_show_styles(row)
    )


def _show_styles(row: dict[str, Any]) -> dict[str, str]:
    styles = {
        f"value:{k}": v
        for k, v in number_styles().items()
        if k.startswith(("badge:", "health:"))
    }
    return {
        key.replace("badge:", "").replace("health:", ""): value
        for key, value in styles.items()
    }


@commands.command()
def subaccounts(
    ctx: typer.Context,
    refresh: RefreshOption = False,
    output: OutputOption = Format.table,
) -> None:
    """Accounts with their credential badge and counts by state.

    Example: meetzy-numbers subaccounts
    """
    run = run_of(ctx)
    run.context.refresh = refresh
    run.output.format = output.value
    accounts = inventory.list_accounts(run.context)
    found = inventory.load_inventory(run.context, accounts)
    counts: dict[str, Counter[str]] = {a.sid: Counter() for a in accounts}
    for record in found.records:
        key = record.state.value if record.state else "caller-id"
        counts[record.account_sid][key] += 1
    rows = []
    for account in accounts:
        tally = counts[account.sid]
        rows.append(
            {
                "sid": account.sid,
                "name": account.name,
                "role": "main" if account.is_main else "subaccount",
                "status": account.status,
                "credentials": _credential_badge(
                    run.context, account.sid, found.failures.get(account.sid)
                ),
                "assigned": tally[State.ASSIGNED.value],
                "partial": tally[State.PARTIAL.value],
                "unassigned": tally[State.UNASSIGNED.value],
                "caller_ids": tally["caller-id"],
            }
        )
    columns = [
        ("name", "account"),
        ("role", "role"),
        ("credentials", "credentials"),
        ("assigned", "🟢 assigned"),
        ("partial", "🟡 partial"),
        ("unassigned", "⚪ unassigned"),
        ("caller_ids", "🔒 caller IDs"),
        ("sid", "sid"),
    ]
    styles = {
        "credentials:configured": "green",
        "credentials:missing": "yellow",
        "credentials:invalid": "red",
    }
    run.output.records(rows, columns, styles=styles)
    for sid, error in found.failures.items():
        run.output.warning(f"could not count {sid}: {error.message}")


def _credential_badge(context: Any, sid: str, failure: Exception | None) -> str:
    try:
        credential = context.credentials.get(sid)
    except (UsageError, CredentialsError):
        return "unreadable"
    if credential is None:
        return "missing"
    return "invalid" if isinstance(failure, CredentialsError) else "configured"
