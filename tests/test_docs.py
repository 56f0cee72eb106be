"""Every command has a one-line help and an example in the README."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import typer

from meetzy_numbers.cli import app

README = (Path(__file__).resolve().parent.parent / "README.md").read_text()


def command_paths(group: Any, prefix: tuple[str, ...] = ()) -> list[tuple[str, ...]]:
    paths: list[tuple[str, ...]] = []
    for name, command in group.commands.items():
        path = (*prefix, name)
        if hasattr(command, "commands"):
            paths.extend(command_paths(command, path))
        else:
            paths.append(path)
    return paths


COMMANDS = command_paths(typer.main.get_command(app))


def test_every_command_is_found() -> None:
    assert len(COMMANDS) >= 30


@pytest.mark.parametrize("path", COMMANDS, ids=" ".join)
def test_command_has_help_and_an_example_in_the_readme(path: tuple[str, ...]) -> None:
    group: Any = typer.main.get_command(app)
    command = group
    for name in path:
        command = command.commands[name]
    assert command.help, f"{' '.join(path)} has no help"
    assert "Example:" in command.help and "meetzy-numbers" in command.help
    for parameter in command.params:
        if parameter.name not in ("ctx",):
            assert getattr(parameter, "help", None), f"{path}: {parameter.name}"
    assert f"meetzy-numbers {' '.join(path)}" in README, " ".join(path)
