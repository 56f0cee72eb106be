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


class MeetzyGroup(TyperGroup):
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


def _configure_logging(verbose: int, quiet: bool) -> None:
    level = logging.WARNING
    if verbose == 1:
        level = logging.INFO
    elif verbose >= 2:
        level = logging.DEBUG
    elif quiet:
        level = logging.ERROR
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("%(levelname)s %(name)s: %(message)s"))
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
            f"{question} needs confirmation, and there is no terminal to ask on",
            hint="pass --yes to go ahead without asking",
        )
    if not typer.confirm(question, default=False, err=True):
        abort(run)


def confirm_typed(run: Run, question: str, expected: str, *, yes: bool) -> None:
    """For what cannot be undone: the user types ``expected`` back."""
    if yes:
        return
    if not sys.stdin.isatty():
        raise ConfirmationNeeded(
            f"{question} needs confirmation, and there is no terminal to ask on",
            hint="pass --yes to go ahead without asking",
        )
    answer = typer.prompt(f"{question}\nType {expected} to confirm", err=True)
    if answer.strip() != expected:
        abort(run)


def abort(run: Run) -> NoReturn:
    run.output.message("nothing changed")
    raise typer.Exit(int(ExitCode.FAILED))
