"""``doctor``: config, keyring, credentials and reachability, checked in order."""

from __future__ import annotations

from typing import Any

import typer

from meetzy_numbers.cli.app import Format, app, run_of
from meetzy_numbers.cli.options import OutputOption
from meetzy_numbers.errors import ExitCode, MeetzyError
from meetzy_numbers.model.accounts import Account
from meetzy_numbers.operations.context import Context


def _checks(context: Context) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = []

    def add(check: str, status: str, detail: str, code: ExitCode = ExitCode.OK) -> None:
        rows.append(
            {"check": check, "status": status, "detail": detail, "code": int(code)}
        )

    try:
        config = context.config
    except MeetzyError as error:
        add("config", "fail", error.message, error.exit_code)
        return rows
    add("config", "ok", str(context.paths.config_file))
    if config.webhook_base:
        add("webhook base", "ok", config.webhook_base)
    else:
        add("webhook base", "warn", "not set: config set webhook_base https://…")
    add(
        "agents",
        "ok" if config.agents else "warn",
        f"{len(config.agents)} in the config",
    )

    try:
        main_sid = context.main_sid
        credential = context.credentials.get(main_sid)
    except MeetzyError as error:
        add("credentials", "fail", error.message, error.exit_code)
        return rows
    add("credential store", "ok", context.credentials.backend.describe())
    if credential is None:
        add(
            "credentials",
            "fail",
            f"none for the main account {main_sid}: creds set {main_sid}",
            ExitCode.CREDENTIALS,
        )
        return rows
    add(
        "credentials",
        "ok",
        f"{credential.kind} for {main_sid} from {credential.source}",
    )

    try:
        account: Account = context.make_gateway(main_sid).check(credential)
    except MeetzyError as error:
        add("twilio", "fail", error.message, error.exit_code)
        return rows
    add("twilio", "ok", f"reached {account.label()}")
    return rows


@app.command()
def doctor(ctx: typer.Context, output: OutputOption = Format.table) -> None:
    """Check config, keyring, credentials and that Twilio answers.

    Example: meetzy-numbers doctor
    """
    run = run_of(ctx)
    run.output.format = output.value
    rows = _checks(run.context)
    run.output.records(
        rows,
        [("check", "check"), ("status", "status"), ("detail", "detail")],
        styles={"status:ok": "green", "status:warn": "yellow", "status:fail": "red"},
    )
    failing = [row["code"] for row in rows if row["status"] == "fail"]
    if failing:
        raise typer.Exit(failing[0])
