"""Options that several commands share, declared once."""

from __future__ import annotations

from typing import Annotated

import typer

from meetzy_numbers.cli.app import Format

OutputOption = Annotated[
    Format,
    typer.Option("-o", "--output", help="table, json or csv.", case_sensitive=False),
]
AccountOption = Annotated[
    str | None,
    typer.Option("-s", "--account", help="One account: SID, friendly name or alias."),
]
AllOption = Annotated[bool, typer.Option("-A", "--all-accounts", help="Every account.")]
RefreshOption = Annotated[
    bool, typer.Option("--refresh", help="Ask Twilio instead of using the cache.")
]
YesOption = Annotated[bool, typer.Option("-y", "--yes", help="Do it without asking.")]
ForceOption = Annotated[bool, typer.Option("--force", help="Override the safety rule.")]
DryRunOption = Annotated[
    bool, typer.Option("--dry-run", help="Print the plan and change nothing.")
]
