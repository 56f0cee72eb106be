"""Shared fixtures: an isolated home per test and a runner for the CLI."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner, Result

from meetzy_numbers.cli import app

CLEARED_ENV = (
    "TWILIO_ACCOUNT_SID",
    "TWILIO_AUTH_TOKEN",
    "TWILIO_API_KEY",
    "TWILIO_API_SECRET",
    "MEETZY_NUMBERS_API_URL",
    "MEETZY_NUMBERS_SANDBOX",
    "NO_COLOR",
)


@pytest.fixture(autouse=True)
def isolated_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    home = tmp_path / "home"
    monkeypatch.setenv("MEETZY_NUMBERS_HOME", str(home))
    monkeypatch.setenv("COLUMNS", "200")
    for name in CLEARED_ENV:
        monkeypatch.delenv(name, raising=False)
    return home


Invoke = Callable[..., Result]


def _invoke(prefix: list[str]) -> Invoke:
    runner = CliRunner()

    def invoke(
        *args: str, input: str | None = None, env: dict[str, str] | None = None
    ) -> Result:
        return runner.invoke(app, [*prefix, *args], input=input, env=env)

    return invoke


@pytest.fixture
def cli() -> Invoke:
    """The CLI with no global options."""
    return _invoke([])


@pytest.fixture
def sandbox() -> Invoke:
    """The CLI on a freshly seeded sandbox."""
    return _invoke(["--sandbox"])


@pytest.fixture
def numbers(sandbox: Invoke) -> Callable[..., list[dict[str, Any]]]:
    """Records from `list -A -o json`, filtered by exact field values."""

    def find(**where: Any) -> list[dict[str, Any]]:
        result = sandbox("list", "-A", "-o", "json")
        assert result.exit_code == 0, result.stderr
        rows: list[dict[str, Any]] = json.loads(result.stdout)
        return [r for r in rows if all(r.get(k) == v for k, v in where.items())]

    return find


@pytest.fixture
def sandbox_state(isolated_home: Path) -> Iterator[Callable[[], dict[str, Any]]]:
    """What the sandbox's Twilio holds right now, read from its file."""

    def read() -> dict[str, Any]:
        path = isolated_home / "sandbox" / "twilio.json"
        data: dict[str, Any] = json.loads(path.read_text())
        return data

    yield read
