"""The command line: one module per group of commands, loaded when needed.

The root app and its global options live in `cli/app.py`; each command
module defines its own `commands` and is imported only when one of them runs
(see LAZY_COMMANDS there).
"""

from __future__ import annotations

from meetzy_numbers.cli.app import app


def main() -> None:
    app()


__all__ = ["app", "main"]
