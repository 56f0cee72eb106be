"""Housekeeping commands: creds, config, agents, cache, sandbox, doctor."""

from __future__ import annotations

import sys
from typing import Annotated, Any

import typer

from meetzy_numbers.cli.app import Format, command_app, group_app, run_of
from meetzy_numbers.cli.options import OutputOption
from meetzy_numbers.errors import CredentialsError, ExitCode, MeetzyError, UsageError
from meetzy_numbers.model.accounts import Account
from meetzy_numbers.store.config import config_to_dict
from meetzy_numbers.store.credentials import KeyringUnavailable, make_credential

# Registered lazily by the root command: see LAZY_COMMANDS in cli/app.py.
commands = command_app()

creds_app = group_app("Credentials per account, in the OS keyring.")
config_app = group_app("The config file.")
agents_app = group_app("The registry of agents.")
cache_app = group_app("The local cache of Twilio's records.")
sandbox_app = group_app("The built-in Twilio simulation.")
commands.add_typer(creds_app, name="creds")
commands.add_typer(config_app, name="config")
commands.add_typer(agents_app, name="agents")
commands.add_typer(cache_app, name="cache")
commands.add_typer(sandbox_app, name="sandbox")


# creds


@creds_app.command("set")
def creds_set(
    ctx: typer.Context,
    account_sid: Annotated[str, typer.Argument(help="The account SID, AC….")],
    api_key: Annotated[
        str | None,
        typer.Option(
            "--api-key", help="Store an API key (SK…) instead of the auth token."
        ),
    ] = None,
    stdin: Annotated[
        bool, typer.Option("--stdin", help="Read the secret from stdin (for scripts).")
    ] = False,
) -> None:
    """Check credentials against Twilio, then store them in the keyring.

    Example: printf '%s' "$TOKEN" | meetzy-numbers creds set AC0123… --stdin
    """
    run = run_of(ctx)
    secret = _read_secret(stdin, "API key secret" if api_key else "auth token")
    credential = make_credential(
        account_sid.strip(), secret, api_key=api_key, source="keyring"
    )
    context = run.context
    main_sid = context.config.main_account or credential.account_sid
    try:
        account = context.make_gateway(main_sid).check(credential)
    except CredentialsError as error:
        raise CredentialsError(
            error.message,
            hint=f"Twilio refused this {credential.kind}: copy it again from the "
            "Twilio console; nothing was stored",
        ) from None
    context.credentials.set(credential)
    run.output.message(
        f"stored the {credential.kind} for {account.label()} "
        f"({context.credentials.backend.describe()})"
    )
    if not context.config.main_account and account.is_main:
        context.config_store.set("main_account", account.sid)
        run.output.message(f"{account.sid} is now the main account")
    from meetzy_numbers.operations.inventory import forget_accounts

    # Other credentials may see other subaccounts: list them afresh next time.
    forget_accounts(context, context.config.main_account or account.sid)


def _read_secret(from_stdin: bool, what: str) -> str:
    if from_stdin or not sys.stdin.isatty():
        line = sys.stdin.readline()
        if not line.strip():
            raise UsageError(
                f"no {what} on stdin",
                hint="pipe it in: printf '%s' \"$TOKEN\" | meetzy-numbers creds set "
                "AC… --stdin",
            )
        return line.strip()
    return str(typer.prompt(what.capitalize(), hide_input=True, err=True))


@creds_app.command("list")
def creds_list(
    ctx: typer.Context,
    check: Annotated[
        bool, typer.Option("--check/--no-check", help="Ask Twilio whether each works.")
    ] = True,
    output: OutputOption = Format.table,
) -> None:
    """Each account: configured, missing, invalid or unchecked. Never the secret.

    Example: meetzy-numbers creds list
    """
    run = run_of(ctx)
    run.output.format = output.value
    context = run.context
    accounts = _known_accounts(run)
    rows = []
    for account in accounts:
        row: dict[str, Any] = {
            "account_sid": account.sid,
            "account_name": account.name,
            "role": "main" if account.is_main else "subaccount",
            "status": "missing",
            "kind": None,
            "source": None,
            "detail": None,
        }
        try:
            credential = context.credentials.get(account.sid)
        except KeyringUnavailable as error:
            # No keyring (CI, cron): nothing stored there, which is no fault.
            row.update(detail=error.message)
            rows.append(row)
            continue
        except MeetzyError as error:
            row.update(status="unreadable", detail=error.message)
            rows.append(row)
            continue
        if credential is not None:
            row.update(
                status="configured", kind=credential.kind, source=credential.source
            )
            if check:
                try:
                    context.make_gateway(account.sid).check(credential)
                except CredentialsError as error:
                    row.update(status="invalid", detail=error.message)
                except MeetzyError as error:
                    # Unreachable or failing: says nothing about the secret.
                    row.update(status="unchecked", detail=error.message)
        rows.append(row)
    run.output.records(
        rows,
        [
            ("account_name", "account"),
            ("role", "role"),
            ("status", "credentials"),
            ("kind", "kind"),
            ("source", "from"),
            ("account_sid", "sid"),
            ("detail", "detail"),
        ],
        styles={
            "status:configured": "green",
            "status:missing": "yellow",
            "status:invalid": "red",
            "status:unreadable": "red",
            "status:unchecked": "yellow",
        },
    )
    statuses = {row["status"] for row in rows}
    if statuses & {"invalid", "unreadable"}:
        raise typer.Exit(int(ExitCode.CREDENTIALS))
    if "unchecked" in statuses:
        raise typer.Exit(int(ExitCode.UNREACHABLE))


def _known_accounts(run: Any) -> list[Account]:
    from meetzy_numbers.operations import inventory

    context = run.context
    try:
        return inventory.list_accounts(context)
    except MeetzyError as error:
        run.output.warning(f"could not list subaccounts: {error.message}")
    sids = [context.config.main_account or context.credentials.env_account()]
    sids += list(context.config.aliases.values())
    accounts = []
    for index, sid in enumerate(dict.fromkeys(s for s in sids if s)):
        accounts.append(Account(sid, "", is_main=index == 0))
    return accounts


@creds_app.command("remove")
def creds_remove(
    ctx: typer.Context,
    account_sid: Annotated[str, typer.Argument(help="The account SID, AC….")],
) -> None:
    """Delete an account's stored credentials.

    Example: meetzy-numbers creds remove AC0123…
    """
    run = run_of(ctx)
    if run.context.credentials.remove(account_sid.strip()):
        run.output.message(f"removed the credentials of {account_sid}")
    else:
        from meetzy_numbers.errors import NotFound

        raise NotFound(f"no stored credentials for {account_sid}")


# config


@config_app.command("show")
def config_show(ctx: typer.Context, output: OutputOption = Format.table) -> None:
    """The whole config, with defaults filled in.

    Example: meetzy-numbers config show -o json
    """
    run = run_of(ctx)
    data = config_to_dict(run.context.config)
    if output is Format.json:
        run.output.document(data)
        return
    run.output.format = output.value
    rows = [{"key": k, "value": v} for k, v in _flatten(data)]
    run.output.records(rows, [("key", "key"), ("value", "value")])
    run.output.message(f"file: {run.context.paths.config_file}")


def _flatten(data: dict[str, Any], prefix: str = "") -> list[tuple[str, Any]]:
    pairs: list[tuple[str, Any]] = []
    for key, value in data.items():
        name = f"{prefix}{key}"
        if isinstance(value, dict) and value:
            pairs.extend(_flatten(value, name + "."))
        else:
            pairs.append((name, value))
    return pairs


@config_app.command("get")
def config_get(
    ctx: typer.Context, key: Annotated[str, typer.Argument(help="A dotted key.")]
) -> None:
    """One value.

    Example: meetzy-numbers config get cache_ttl
    """
    run = run_of(ctx)
    run.context.config  # noqa: B018 - seeds the sandbox's config on first use
    value = run.context.config_store.get(key)
    print("" if value is None else value)


@config_app.command("set")
def config_set(
    ctx: typer.Context,
    key: Annotated[str, typer.Argument(help="A dotted key.")],
    value: Annotated[str, typer.Argument(help="The new value.")],
) -> None:
    """Change one value; it is checked before the file is written.

    Example: meetzy-numbers config set webhook_base https://voice.meetzy.example
    """
    run = run_of(ctx)
    run.context.config  # noqa: B018 - seeds the sandbox's config on first use
    run.context.config_store.set(key, value)
    run.output.message(f"{key} = {run.context.config_store.get(key)}")


@config_app.command("unset")
def config_unset(
    ctx: typer.Context, key: Annotated[str, typer.Argument(help="A dotted key.")]
) -> None:
    """Back to the default.

    Example: meetzy-numbers config unset cache_ttl
    """
    run = run_of(ctx)
    run.context.config  # noqa: B018 - seeds the sandbox's config on first use
    run.context.config_store.unset(key)
    run.output.message(f"{key} unset")


# agents


@agents_app.command("list")
def agents_list(ctx: typer.Context, output: OutputOption = Format.table) -> None:
    """Agents in the config.

    Example: meetzy-numbers agents list
    """
    run = run_of(ctx)
    run.output.format = output.value
    agents = run.context.config.agents.values()
    rows = [{"id": a.id, "name": a.name} for a in sorted(agents, key=lambda a: a.id)]
    run.output.records(rows, [("id", "agent"), ("name", "name")])


@agents_app.command("add")
def agents_add(
    ctx: typer.Context,
    agent_id: Annotated[str, typer.Argument(help="Id used in webhook URLs: sales-es.")],
    name: Annotated[str, typer.Argument(help="Display name: 'Sales Team'.")],
) -> None:
    """Register an agent.

    Example: meetzy-numbers agents add sales-es "Sales Team"
    """
    run = run_of(ctx)
    run.context.config  # noqa: B018 - seeds the sandbox's config on first use
    run.context.config_store.add_agent(agent_id, name)
    run.output.message(f"added agent {agent_id} ({name})")


@agents_app.command("remove")
def agents_remove(
    ctx: typer.Context,
    agent_id: Annotated[str, typer.Argument(help="The agent id.")],
) -> None:
    """Forget an agent; numbers routed to it keep their routing.

    Example: meetzy-numbers agents remove sales-es
    """
    run = run_of(ctx)
    run.context.config  # noqa: B018 - seeds the sandbox's config on first use
    run.context.config_store.remove_agent(agent_id)
    run.output.message(f"removed agent {agent_id}")


# cache


@cache_app.command("show")
def cache_show(ctx: typer.Context, output: OutputOption = Format.table) -> None:
    """What is cached, per account, and how old it is.

    Example: meetzy-numbers cache show
    """
    run = run_of(ctx)
    run.output.format = output.value
    rows = [
        {"account_sid": sid, "fetched_at": when, "numbers": count}
        for sid, when, count in run.context.cache.entries()
    ]
    run.output.records(
        rows,
        [("account_sid", "account"), ("fetched_at", "fetched"), ("numbers", "records")],
    )


@cache_app.command("clear")
def cache_clear(ctx: typer.Context) -> None:
    """Delete the cache; nothing is lost, the next command asks Twilio.

    Example: meetzy-numbers cache clear
    """
    run = run_of(ctx)
    removed = run.context.cache.clear()
    run.output.message(f"removed {removed} cache files")


# sandbox


@sandbox_app.command("reset")
def sandbox_reset(ctx: typer.Context) -> None:
    """Restore the sandbox's seed: accounts, numbers, agents, credentials.

    Example: meetzy-numbers sandbox reset
    """
    from meetzy_numbers.operations.sandbox import reset_sandbox

    run = run_of(ctx)
    paths = run.context.paths
    if not run.context.sandbox:
        paths = paths.sandboxed()
    reset_sandbox(paths)
    run.output.message(f"sandbox restored in {paths.data_dir}")
