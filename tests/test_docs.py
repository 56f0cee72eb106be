"""Every command has a one-line help and an example in the README, and the
root's lazy command list says what each command's own help says."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import typer

from meetzy_numbers.cli import app
from meetzy_numbers.cli.app import LAZY_COMMANDS

README = (Path(__file__).resolve().parent.parent / "README.md").read_text()
ROOT: Any = typer.main.get_command(app)


def resolve(path: tuple[str, ...]) -> Any:
    ctx = ROOT.make_context("meetzy-numbers", [], resilient_parsing=True)
    command = ROOT
    for name in path:
        command = command.get_command(ctx, name)
        ctx = command.make_context(name, [], parent=ctx, resilient_parsing=True)
    return command


def command_paths() -> list[tuple[str, ...]]:
    paths: list[tuple[str, ...]] = []
    for name in LAZY_COMMANDS:
        command = resolve((name,))
        if hasattr(command, "commands"):
            paths.extend((name, sub) for sub in command.commands)
        else:
            paths.append((name,))
    return paths


COMMANDS = command_paths()


def test_every_command_is_found() -> None:
    assert len(COMMANDS) >= 30


@pytest.mark.parametrize("name", LAZY_COMMANDS)
def test_the_lazy_list_says_what_the_command_says(name: str) -> None:
    command = resolve((name,))
    assert command is not None
    assert command.get_short_help_str(limit=200) == LAZY_COMMANDS[name][1]


@pytest.mark.parametrize("path", COMMANDS, ids=" ".join)
def test_command_has_help_and_an_example_in_the_readme(path: tuple[str, ...]) -> None:
    command = resolve(path)
    assert command.help, f"{' '.join(path)} has no help"
    assert "Example:" in command.help and "meetzy-numbers" in command.help
    for parameter in command.params:
        assert getattr(parameter, "help", None), f"{path}: {parameter.name}"
    assert f"meetzy-numbers {' '.join(path)}" in README, " ".join(path)


def test_help_imports_no_command_module() -> None:
    import subprocess
    import sys

    code = (
        "import sys; from meetzy_numbers.cli import main\n"
        "sys.argv = ['meetzy-numbers', '--help']\n"
        "try:\n    main()\nexcept SystemExit:\n    pass\n"
        "loaded = [m for m in sys.modules if m.startswith('meetzy_numbers.cli.')"
        " and m not in ('meetzy_numbers.cli.app',)]\n"
        "heavy = [m for m in ('twilio', 'requests', 'rich', 'keyring', 'phonenumbers')"
        " if m in sys.modules]\n"
        "print(sorted(loaded), heavy, file=sys.stderr)"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    )
    assert done.stderr.strip() == "[] []"
