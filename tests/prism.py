"""Prism serving Twilio's API description: found, started and read by the tests.

`.ci/run` starts Prism and exports MEETZY_PRISM_URL and MEETZY_PRISM_LOG. On a
developer's machine the fixture starts `node_modules/.bin/prism` itself when
`npm ci` has been run, and skips with the reason when it has not. Under CI a
missing Prism is a failure, never a skip.
"""

from __future__ import annotations

import os
import socket
import subprocess
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
SPEC_RELATIVE = (
    "node_modules/@twilio/cli-core/src/services/twilio-api/twilio_api_v2010.json"
)


def in_ci() -> bool:
    return os.environ.get("CI", "").lower() in ("1", "true", "yes")


def missing(reason: str) -> None:
    if in_ci():
        pytest.fail(f"{reason} (CI must run this test)")
    pytest.skip(reason)


def spec_path() -> Path | None:
    env = os.environ.get("TWILIO_OPENAPI_SPEC")
    if env and Path(env).is_file():
        return Path(env)
    candidate = ROOT / SPEC_RELATIVE
    return candidate if candidate.is_file() else None


@dataclass
class Prism:
    url: str
    log: Path
    _offset: int = 0

    def mark(self) -> None:
        """Forget what the log said so far."""
        self._offset = self.log.stat().st_size if self.log.exists() else 0

    def new_log(self) -> str:
        if not self.log.exists():
            return ""
        with self.log.open("rb") as handle:
            handle.seek(self._offset)
            return handle.read().decode("utf-8", "replace")


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _wait(url: str, seconds: float) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            urllib.request.urlopen(f"{url}/2010-04-01/Accounts.json", timeout=2)
            return True
        except urllib.error.HTTPError:
            return True  # any HTTP answer means it is serving
        except OSError:
            time.sleep(0.3)
    return False


def prism_server(tmp_dir: Path) -> Iterator[Prism]:
    url = os.environ.get("MEETZY_PRISM_URL")
    log = os.environ.get("MEETZY_PRISM_LOG")
    if url and log:
        yield Prism(url.rstrip("/"), Path(log))
        return
    binary = ROOT / "node_modules/.bin/prism"
    spec = spec_path()
    if not binary.exists() or spec is None:
        missing("Prism is not installed: run `npm ci` in the repository first")
        return
    port = _free_port()
    log_path = tmp_dir / "prism.log"
    with log_path.open("wb") as handle:
        process = subprocess.Popen(
            [str(binary), "mock", "--host", "127.0.0.1", "-p", str(port), str(spec)],
            stdout=handle,
            stderr=subprocess.STDOUT,
        )
    try:
        url = f"http://127.0.0.1:{port}"
        if not _wait(url, 60):
            missing(f"Prism did not start: {log_path.read_text()[-500:]}")
        yield Prism(url, log_path)
    finally:
        process.terminate()
        process.wait(timeout=10)
