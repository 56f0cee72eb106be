"""The typer application, its global options, and the one place errors end.

Every MeetzyError raised under any command reaches ``MeetzyGroup.invoke``,
which prints it as one line (plus a hint) and exits with its code. Anything
else is a bug: one line too, with the traceback only at ``-vv``.
"""

from __future__ import annotations

import logging
import os
import sys
from dataclasses import dataclass, field
from enum import Enum
from typing import Annotated, Any, NoReturn

import typer
from typer.core import TyperGroup

from meetzy_numbers import __version__
from meetzy_numbers.errors import ConfirmationNeeded, ExitCode, MeetzyError
from meetzy_numbers.operations.context import API_URL_ENV, SANDBOX_ENV, Context
from meetzy_numbers.paths import default_paths
from meetzy_numbers.render import Output


class Format(str, Enum):
    table = "table"
    json = "json"
    csv = "csv"


@dataclass
class Run:
    """What the global options decided, shared by every command of one run."""

    output: Output
    context: Context
    verbosity: int = 0
    extra: dict[str, Any] = field(default_factory=dict)


# The root's commands, each with the module that defines it and its one-line
# help. Listing them here lets `--help` and every command import only the
# module they need: importing all of them costs more than Python's start-up.
LAZY_COMMANDS: dict[str, tuple[str, str]] = {
    "list": ("numbers", "Numbers and caller IDs with their assignment state."),
    "show": (
        "numbers",
        "One number in full: routing, state and why, agent, health, account.",
    ),
    "subaccounts": (
        "numbers",
        "Accounts with their credential badge and counts by state.",
    ),
    "assign": ("changes", "Route unassigned numbers to an agent and label them."),
    "disconnect": (
        "changes",
        "Unlink numbers from their agent without replacing them.",
    ),
    "reset": (
        "changes",
        "Clear every routing field and the return mark; numbers stay in the account.",
    ),
    "return": ("changes", "Release numbers to Twilio."),
    "swap": (
        "swap",
        "Move an agent to a new number, then unlink the old one and mark it for "
        "return.",
    ),
    "health": (
        "health",
        "Phone health from outbound calls: answer rate and short-call share.",
    ),
    "pick": (
        "health",
        "The number an agent should call from: best health, then country, area code.",
    ),
    "request": ("provision", "Search Twilio's numbers for sale and buy some."),
    "callerid": (
        "callerid",
        "Caller IDs: numbers you own, verified for outbound calls.",
    ),
    "history": (
        "history",
        "The changes the tool made, newest first, with what each changed.",
    ),
    "undo": (
        "history",
        "Restore the routing an assign, disconnect, reset or swap changed.",
    ),
    "creds": ("admin", "Credentials per account, in the OS keyring."),
    "config": ("admin", "The config file."),
    "agents": ("admin", "The registry of agents."),
    "cache": ("admin", "The local cache of Twilio's records."),
    "doctor": ("doctor", "Check config, keyring, credentials and that Twilio answers."),
    "sandbox": ("admin", "The built-in Twilio simulation."),
}


class MeetzyGroup(TyperGroup):
    def list_commands(self, ctx: Any) -> list[str]:
        if ctx.parent is not None:
            return list(super().list_commands(ctx))
        return list(LAZY_COMMANDS)

    def get_command(self, ctx: Any, name: str) -> Any:
        found = super().get_command(ctx, name)
        if found is not None or ctx.parent is not None or name not in LAZY_COMMANDS:
            return found
        import importlib

        module = importlib.import_module(f"meetzy_numbers.cli.{LAZY_COMMANDS[name][0]}")
        built = typer.main.get_command(module.commands)
        command = built.commands.get(name) if hasattr(built, "commands") else built
        if command is not None:
            self.commands[name] = command
        return command

    def format_commands(self, ctx: Any, formatter: Any) -> None:
        """The command list from LAZY_COMMANDS, without importing a module."""
        if ctx.parent is not None:
            super().format_commands(ctx, formatter)
            return
        rows = [(name, summary) for name, (_, summary) in LAZY_COMMANDS.items()]
        with formatter.section("Commands"):
            formatter.write_dl(rows)

    def invoke(self, ctx: Any) -> Any:
        try:
            return super().invoke(ctx)
        except MeetzyError as error:
            _output_of(ctx).error(error.message, error.hint)
            raise typer.Exit(int(error.exit_code)) from None
        except BrokenPipeError:
            # The reader (`| head`) has what it wanted; stop quietly. Point
            # stdout at nothing so the interpreter's final flush cannot fail.
            devnull = os.open(os.devnull, os.O_WRONLY)
            os.dup2(devnull, sys.stdout.fileno())
            raise typer.Exit(0) from None
        except KeyboardInterrupt:
            _output_of(ctx).error("interrupted")
            raise typer.Exit(130) from None
        except Exception as error:
            # Exit, Abort and usage errors are the framework's own signals.
            if isinstance(error, typer.Abort) or hasattr(error, "exit_code"):
                raise
            run = ctx.find_root().obj
            if isinstance(run, Run) and run.verbosity >= 2:
                raise
            _output_of(ctx).error(
                f"unexpected {type(error).__name__}: {_first_line(error)}",
                "run again with -vv for the full traceback",
            )
            raise typer.Exit(int(ExitCode.FAILED)) from None
        finally:
            run = ctx.find_root().obj
            if isinstance(run, Run) and ctx.parent is None:
                run.context.flush_cache()


def _first_line(error: BaseException) -> str:
    text = str(error).strip()
    return text.splitlines()[0] if text else "no details"


def _output_of(ctx: Any) -> Output:
    obj = ctx.find_root().obj
    return obj.output if isinstance(obj, Run) else Output()


app = typer.Typer(
    cls=MeetzyGroup,
    name="meetzy-numbers",
    help="Run the Twilio phone numbers of Meetzy voice agents.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    rich_markup_mode=None,
    context_settings={"help_option_names": ["-h", "--help"]},
)


def command_app() -> typer.Typer:
    """A module's own set of commands, registered lazily on the root."""
    return typer.Typer(rich_markup_mode=None, pretty_exceptions_enable=False)


def group_app(help_text: str) -> typer.Typer:
    """A group of subcommands, such as `creds`."""
    return typer.Typer(
        cls=MeetzyGroup,
        help=help_text,
        no_args_is_help=True,
        rich_markup_mode=None,
        pretty_exceptions_enable=False,
    )


def _version(value: bool) -> None:
    if value:
        print(f"meetzy-numbers {__version__}")
        raise typer.Exit()


@app.callback()
def main_options(
    ctx: typer.Context,
    sandbox: Annotated[
        bool,
        typer.Option(
            "--sandbox",
            help="Use the built-in Twilio simulation: no credentials, no network.",
        ),
    ] = False,
    api_url: Annotated[
        str | None,
        typer.Option(
            "--api-url",
            envvar=API_URL_ENV,
            help="Send every API call to this Twilio-compatible server.",
        ),
    ] = None,
    verbose: Annotated[
        int,
        typer.Option(
            "-v", "--verbose", count=True, help="Log each HTTP call; twice: debug."
        ),
    ] = 0,
    quiet: Annotated[
        bool, typer.Option("-q", "--quiet", help="Print only data and errors.")
    ] = False,
    no_color: Annotated[
        bool, typer.Option("--no-color", help="No colour (NO_COLOR is honoured).")
    ] = False,
    version: Annotated[
        bool,
        typer.Option(
            "--version",
            callback=_version,
            is_eager=True,
            help="Show the version and exit.",
        ),
    ] = False,
) -> None:
    """Run the Twilio phone numbers of Meetzy voice agents."""
    use_sandbox = sandbox or os.environ.get(SANDBOX_ENV, "") not in ("", "0")
    if api_url and not api_url.startswith(("http://", "https://")):
        raise typer.BadParameter(
            f"{api_url!r} is not an http:// or https:// URL", param_hint="--api-url"
        )
    if use_sandbox and api_url:
        raise typer.BadParameter(
            "the sandbox runs in-process; use --sandbox or --api-url, not both",
            param_hint="--api-url",
        )
    paths = default_paths()
    if use_sandbox:
        paths = paths.sandboxed()
    color: bool | None = None
    if no_color or os.environ.get("NO_COLOR"):
        color = False
    elif os.environ.get("FORCE_COLOR"):
        color = True
    output = Output(color=color, quiet=quiet)
    context = Context(paths=paths, sandbox=use_sandbox, api_url=api_url or None)
    ctx.obj = Run(output=output, context=context, verbosity=verbose)
    _configure_logging(verbose, quiet)


class _LowerLevel(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        text = super().format(record)
        if record.levelno >= logging.WARNING and "%(levelname)s" not in (
            self._fmt or ""
        ):
            return f"{record.levelname.lower()}: {text}"
        return text


def _configure_logging(verbose: int, quiet: bool) -> None:
    level = logging.WARNING
    if verbose == 1:
        level = logging.INFO
    elif verbose >= 2:
        level = logging.DEBUG
    elif quiet:
        level = logging.ERROR
    handler = logging.StreamHandler(sys.stderr)
    # Plain "warning: …" lines like the tool's own; logger names only when
    # someone asked for the detail.
    shape = "%(levelname)s %(name)s: %(message)s" if verbose else "%(message)s"
    handler.setFormatter(_LowerLevel(shape))
    root = logging.getLogger("meetzy_numbers")
    root.handlers[:] = [handler]
    root.setLevel(level)
    root.propagate = False
    # twilio-python's own logger repeats every call with its headers.
    logging.getLogger("twilio").setLevel(logging.WARNING)


def run_of(ctx: typer.Context) -> Run:
    obj = ctx.find_root().obj
    if not isinstance(obj, Run):  # pragma: no cover - the callback always runs
        raise RuntimeError("global options were not parsed")
    return obj


def confirm(run: Run, question: str, *, yes: bool) -> None:
    """Go on only with --yes or a yes typed at a terminal."""
    if yes:
        return
    if not sys.stdin.isatty():
        raise ConfirmationNeeded(
            f"{question.rstrip('?')}: needs confirmation, and there is no "
            "terminal to ask on",
            hint="pass --yes to go ahead without asking",
        )
    try:
        agreed = typer.confirm(question, default=False, err=True)
    except typer.Abort:  # Ctrl-C or end of input at the prompt
        raise KeyboardInterrupt from None
    if not agreed:
        abort(run)


def confirm_typed(run: Run, question: str, expected: str, *, yes: bool) -> None:
    """For what cannot be undone: the user types ``expected`` back."""
    if yes:
        return
    if not sys.stdin.isatty():
        raise ConfirmationNeeded(
            f"{question.rstrip('?')}: needs confirmation, and there is no "
            "terminal to ask on",
            hint="pass --yes to go ahead without asking",
        )
    try:
        answer = typer.prompt(f"{question}\nType {expected} to confirm", err=True)
    except typer.Abort:  # Ctrl-C or end of input at the prompt
        raise KeyboardInterrupt from None
    if answer.strip() != expected:
        abort(run)


def abort(run: Run) -> NoReturn:
    run.output.message("nothing changed")
    raise typer.Exit(int(ExitCode.FAILED))
