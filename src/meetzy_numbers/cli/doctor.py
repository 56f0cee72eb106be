"""``doctor``: config, keyring, credentials and reachability, checked in order."""

from __future__ import annotations

import typer

from meetzy_numbers.cli.app import Format, command_app, run_of
from meetzy_numbers.cli.options import OutputOption
from meetzy_numbers.operations.doctor import run_checks

# Registered lazily by the root command: see LAZY_COMMANDS in cli/app.py.
commands = command_app()


@commands.command()
def doctor(ctx: typer.Context, output: OutputOption = Format.table) -> None:
    """Check config, keyring, credentials and that Twilio answers.

    Example: meetzy-numbers doctor
    """
    run = run_of(ctx)
    run.output.format = output.value
    rows = [check.to_dict() for check in run_checks(run.context)]
    run.output.records(
        rows,
        [("check", "check"), ("status", "status"), ("detail", "detail")],
        styles={"status:ok": "green", "status:warn": "yellow", "status:fail": "red"},
    )
    failing = [row["code"] for row in rows if row["status"] == "fail"]
    if failing:
        raise typer.Exit(failing[0])
