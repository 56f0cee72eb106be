"""The request command: search Twilio's numbers for sale and buy some."""

from __future__ import annotations

from enum import Enum
from typing import Annotated, Any

import typer

from meetzy_numbers.cli.app import Format, Run, command_app, confirm, run_of
from meetzy_numbers.cli.options import (
    AccountOption,
    OutputOption,
    YesOption,
)
from meetzy_numbers.errors import ExitCode, NotFound
from meetzy_numbers.model.phone import describe, normalise_country
from meetzy_numbers.operations import inventory, provision
from meetzy_numbers.operations.changes import new_run_id

# Registered lazily by the root command: see LAZY_COMMANDS in cli/app.py.
commands = command_app()


class NumberType(str, Enum):
    local = "local"
    mobile = "mobile"
    toll_free = "toll-free"


BundleOption = Annotated[
    str | None,
    typer.Option("--bundle", help="Regulatory bundle (BU…) some countries require."),
]
AddressOption = Annotated[
    str | None,
    typer.Option("--address", help="Address (AD…) some countries require."),
]


@commands.command()
def request(
    ctx: typer.Context,
    country: Annotated[
        str,
        typer.Option("--country", help="US, CA, ES, MX, AR, CO, GB or +1, +34 …"),
    ],
    kind: Annotated[
        NumberType, typer.Option("--type", help="local, mobile or toll-free.")
    ] = NumberType.local,
    area_code: Annotated[
        str | None, typer.Option("--area-code", help="Only in this area code.")
    ] = None,
    contains: Annotated[
        str | None,
        typer.Option("--contains", help="Only numbers matching (digits, letters, *)."),
    ] = None,
    voice: Annotated[
        bool, typer.Option("--voice", help="Only numbers that take calls.")
    ] = False,
    sms: Annotated[
        bool, typer.Option("--sms", help="Only numbers that take SMS.")
    ] = False,
    count: Annotated[
        int, typer.Option("--count", min=1, help="How many numbers to buy.")
    ] = 1,
    bundle: BundleOption = None,
    address: AddressOption = None,
    assign: Annotated[
        str | None,
        typer.Option("--assign", help="Route the numbers to this agent as bought."),
    ] = None,
    account: AccountOption = None,
    yes: YesOption = False,
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="Show the candidates, buy nothing.")
    ] = False,
    output: OutputOption = Format.table,
) -> None:
    """Search Twilio's numbers for sale and buy some.

    Example: meetzy-numbers request --country US --area-code 415 --count 2 --yes
    """
    run = run_of(ctx)
    run.output.format = output.value
    context = run.context
    wanted = provision.check_search(
        provision.Search(
            normalise_country(country),
            provision.KINDS[kind.value],
            area_code,
            contains,
            voice,
            sms,
        )
    )
    papers = provision.paperwork(
        context, bundle_sid=bundle, address_sid=address, agent=assign
    )
    target = inventory.resolve_account(context, account or "main")
    if not dry_run:
        provision.check_can_buy(context, target)

    candidates = provision.search(context, target, wanted)
    if not candidates:
        raise NotFound(f"Twilio has no {wanted.describe()} for sale")
    if dry_run:
        _show_candidates(run, candidates, count, target.label())
        return
    chosen = [str(c["phone_number"]) for c in candidates[:count]]
    short = f" (only {len(candidates)} for sale)" if len(candidates) < count else ""
    routed = f", routed to {assign}" if assign else ""
    confirm(
        run,
        f"Buy {len(chosen)} of the {wanted.describe()}{short} into "
        f"{target.label()}{routed}: {', '.join(chosen)}?",
        yes=yes,
    )
    bought = provision.buy_many(
        context, target, candidates, count, papers, run=new_run_id()
    )
    _report_purchase(run, bought, wanted)


def _show_candidates(
    run: Run, candidates: list[dict[str, Any]], count: int, where: str
) -> None:
    rows = [_candidate_row(c) for c in candidates]
    run.output.records(
        rows,
        [
            ("phone_number", "number"),
            ("national", "national"),
            ("locality", "locality"),
            ("region", "region"),
            ("capabilities", "capabilities"),
            ("address_requirements", "address"),
        ],
    )
    would = min(count, len(candidates))
    more = f"; only {len(candidates)} for sale" if len(candidates) < count else ""
    run.output.message(
        f"dry run: {len(candidates)} candidates in {where}, would buy the first "
        f"{would}{more}; nothing bought"
    )


def _candidate_row(candidate: dict[str, Any]) -> dict[str, Any]:
    capabilities = candidate.get("capabilities") or {}
    return {
        "phone_number": candidate["phone_number"],
        "national": describe(str(candidate["phone_number"])).national,
        "locality": candidate.get("locality"),
        "region": candidate.get("region"),
        "iso_country": candidate.get("iso_country"),
        "capabilities": ",".join(k for k, on in capabilities.items() if on),
        "address_requirements": candidate.get("address_requirements"),
    }


def _report_purchase(
    run: Run, bought: provision.Purchase, wanted: provision.Search
) -> None:
    output = run.output
    rows = [
        {
            "phone_number": r.phone_number,
            "national": describe(r.phone_number).national,
            "sid": r.sid,
            "account_sid": r.account_sid,
            "account_name": r.account_name,
            "agent": r.agent,
            "journal_id": journal_id,
        }
        for r, journal_id in zip(bought.bought, bought.journal_ids, strict=True)
    ]
    if output.format != "table" or len(rows) > 1:
        output.records(
            rows,
            [
                ("phone_number", "number"),
                ("national", "national"),
                ("account_name", "account"),
                ("agent", "agent"),
                ("sid", "sid"),
            ],
        )
    for record in bought.bought:
        agent = f", routed to {record.agent}" if record.agent else ""
        output.message(f"bought {record.phone_number} in {record.account_name}{agent}")
    for e164 in bought.gone:
        output.warning(f"{e164} was sold to someone else first; tried the next")
    if bought.error is not None:
        output.error(bought.error.message, bought.error.hint)
    if bought.short > 0:
        output.message(
            f"bought {len(bought.bought)} of {bought.wanted}: "
            f"{_why_short(bought, wanted)}"
        )
        raise typer.Exit(int(ExitCode.PARTIAL))


def _why_short(bought: provision.Purchase, wanted: provision.Search) -> str:
    if bought.error is not None:
        return "stopped at the error above"
    why = f"Twilio had only {len(bought.candidates)} {wanted.describe()} for sale"
    if bought.gone:
        why += f", and {len(bought.gone)} of them went to someone else first"
    if len(bought.candidates) >= provision.SEARCH_LIMIT:
        why += (
            f" (one search finds at most {provision.SEARCH_LIMIT}: run request again)"
        )
    return why
