"""The command line: one module per group of commands, over one typer app."""

from __future__ import annotations

from meetzy_numbers.cli import (  # noqa: F401 - registers the commands
    admin,
    callerid,
    changes,
    doctor,
    health,
    history,
    numbers,
    provision,
    swap,
)
from meetzy_numbers.cli.app import app


def main() -> None:
    app()


__all__ = ["app", "main"]
